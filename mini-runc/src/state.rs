//! What mini-runc remembers about a container between commands: one
//! directory per container under `--root` (default `/run/mini-runc`),
//! holding `state.json` (written atomically) and, between `create` and
//! `start`, `exec.fifo` — the pipe the container's process is blocked on.
//!
//! The status is never stored: it is read from the kernel each time (is
//! the process alive and still ours, is the fifo still there, is the cgroup
//! frozen), so a container whose process died while nobody watched is
//! `stopped` without anyone having to say so.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};

use cgroup_demo::{Cgroup, Driver, Version};
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The lifecycle states of the runtime specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(name)
    }
}

/// `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The container's first process, as the host sees it.
    pub pid: i32,
    /// Its start time (`/proc/PID/stat` field 22): a PID reused by another
    /// process after ours exited does not make the container alive again.
    pub start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339; go-runc parses it as a time.
    pub created: String,
    /// The cgroup, relative to each hierarchy's root.
    pub cgroup: PathBuf,
    /// The bundle's configuration as it was at create: `exec` takes its
    /// defaults from it, `delete` its poststop hooks.
    pub spec: Spec,
}

/// A container known to mini-runc.
#[derive(Debug)]
pub struct Container {
    pub dir: PathBuf,
    pub record: Record,
}

/// Checks an ID as runc does: no path tricks in a directory name.
pub fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 1024
        && id != "."
        && id != ".."
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!("invalid container id format: {id}")))
    }
}

/// `/proc/PID/stat`'s start time, `None` when the process is gone or a
/// zombie (it has exited; only its parent's wait is missing).
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

impl Container {
    pub fn path(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<Container> {
        check_id(id)?;
        let dir = Self::path(root, id);
        let file = dir.join("state.json");
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotExist),
            Err(e) => return Err(Error::io(file, e)),
        };
        Ok(Container {
            dir,
            record: serde_json::from_str(&text)?,
        })
    }

    /// Writes `state.json` (temp file, fsync, rename).
    pub fn save(&self) -> Result<()> {
        let tmp = self.dir.join("state.json.tmp");
        let text = serde_json::to_vec(&self.record)?;
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            std::io::Write::write_all(&mut f, &text)?;
            f.sync_all()?;
            std::fs::rename(&tmp, self.dir.join("state.json"))
        };
        write().map_err(|e| Error::io(&tmp, e))
    }

    /// An exclusive lock on the container for the duration of a command
    /// that changes it (two `delete`s, `start` racing `kill`).
    pub fn lock(&self) -> Result<File> {
        lock_dir(&self.dir)
    }

    pub fn fifo(&self) -> PathBuf {
        self.dir.join(FIFO)
    }

    pub fn cgroup(&self) -> Result<Cgroup> {
        Ok(Driver::for_host()?.open(&self.record.cgroup))
    }

    pub fn alive(&self) -> bool {
        start_time(self.record.pid) == Some(self.record.start_time)
    }

    pub fn status(&self) -> Status {
        if !self.alive() {
            Status::Stopped
        } else if self.fifo().exists() {
            Status::Created
        } else if self.cgroup().is_ok_and(|c| frozen(&c)) {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// The state as the specification (and runc's `state`) prints it.
    pub fn oci_state(&self) -> serde_json::Value {
        self.oci_state_as(self.status())
    }

    /// The state with a status the caller knows better (hooks run while
    /// the container is `creating`).
    pub fn oci_state_as(&self, status: Status) -> serde_json::Value {
        let r = &self.record;
        let annotations: BTreeMap<String, String> = r
            .spec
            .annotations()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        serde_json::json!({
            "ociVersion": r.spec.version(),
            "id": r.id,
            "pid": if status == Status::Stopped { 0 } else { r.pid },
            "status": status,
            "bundle": r.bundle,
            "rootfs": r.rootfs,
            "created": r.created,
            "annotations": annotations,
            "owner": "",
        })
    }
}

pub const FIFO: &str = "exec.fifo";

pub fn lock_dir(dir: &Path) -> Result<File> {
    let file = File::open(dir).map_err(|e| Error::io(dir, e))?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(Error::io(dir, std::io::Error::last_os_error()));
    }
    Ok(file)
}

/// Whether the freezer holds the cgroup.
pub fn frozen(cgroup: &Cgroup) -> bool {
    let (file, value) = match cgroup.version() {
        Version::V1 => ("freezer.state", "FROZEN"),
        Version::V2 => ("cgroup.freeze", "1"),
    };
    let controller = if cgroup.version() == Version::V1 {
        "freezer"
    } else {
        "cgroup"
    };
    cgroup
        .dir(controller)
        .and_then(|d| std::fs::read_to_string(d.join(file)).ok())
        .is_some_and(|t| t.trim() == value)
}

/// Every container under `root`.
pub fn list(root: &Path) -> Vec<Container> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut all: Vec<Container> = entries
        .flatten()
        .filter_map(|e| Container::load(root, &e.file_name().to_string_lossy()).ok())
        .collect();
    all.sort_by(|a, b| a.record.id.cmp(&b.record.id));
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_names_not_paths() {
        for good in ["abc", "a-b_c.1+x", "0123456789abcdef"] {
            check_id(good).unwrap();
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b"] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn our_own_start_time_is_readable() {
        assert!(start_time(std::process::id() as i32).is_some());
        assert_eq!(start_time(i32::MAX), None);
    }
}
