//! What a process can see: the facts each lesson compares inside and
//! outside a namespace.

use std::collections::BTreeSet;
use std::path::Path;

use nix::net::if_::InterfaceFlags;
use nix::unistd::Pid;

use crate::{Error, Kind, Result};

/// The inode of a namespace: `/proc/PID/ns/uts -> 'uts:[4026531838]'`. Two
/// processes are in the same namespace exactly when these are equal.
/// `None` means the calling process.
pub fn identity(pid: Option<Pid>, kind: Kind) -> Result<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/ns/{}", kind.proc_name()),
        None => format!("/proc/self/ns/{}", kind.proc_name()),
    };
    let link = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
    let text = link.to_string_lossy();
    text.rsplit_once('[')
        .and_then(|(_, rest)| rest.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| Error::Invalid(format!("{path} -> {text}: not a namespace link")))
}

pub fn hostname() -> Result<String> {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .map_err(|e| Error::sys("hostname", e))
}

/// A network interface as `ip link` would list it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interface {
    pub name: String,
    pub up: bool,
}

/// The interfaces of the caller's network namespace.
pub fn interfaces() -> Result<Vec<Interface>> {
    let all = nix::ifaddrs::getifaddrs().map_err(|e| Error::sys("getifaddrs", e))?;
    let set: BTreeSet<Interface> = all
        .map(|a| Interface {
            up: a.flags.contains(InterfaceFlags::IFF_UP),
            name: a.interface_name,
        })
        .collect();
    let mut list: Vec<Interface> = set.into_iter().collect();
    list.dedup_by(|a, b| a.name == b.name);
    Ok(list)
}

/// System V IPC objects of the caller's IPC namespace, as `ipcs` lists
/// them: `(key, id)` pairs from `/proc/sysvipc/shm` or `/proc/sysvipc/msg`.
pub fn sysv_objects(kind: &str) -> Result<Vec<(i32, i32)>> {
    let path = format!("/proc/sysvipc/{kind}");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect())
}

/// A cgroup hierarchy to demonstrate with: the unified (v2) one where it is
/// mounted, otherwise the v1 `pids` hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: std::path::PathBuf,
    /// `None` for v2; the controller name for v1.
    pub controller: Option<String>,
}

impl Hierarchy {
    pub fn find() -> Result<Self> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::io("/proc/self/mountinfo", e))?;
        let mut v1 = None;
        for line in text.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mount_point = left.split(' ').nth(4).unwrap_or_default().into();
            let mut fields = right.split(' ');
            let fstype = fields.next().unwrap_or_default();
            let options = fields.nth(1).unwrap_or_default();
            if fstype == "cgroup2" {
                return Ok(Hierarchy {
                    mount_point,
                    controller: None,
                });
            }
            if fstype == "cgroup" && options.split(',').any(|o| o == "pids") && v1.is_none() {
                v1 = Some(Hierarchy {
                    mount_point,
                    controller: Some("pids".into()),
                });
            }
        }
        v1.ok_or_else(|| Error::Invalid("no cgroup2 mount and no v1 pids hierarchy".into()))
    }

    /// A process's cgroup in this hierarchy, from `/proc/PID/cgroup`.
    pub fn cgroup_of(&self, pid: Option<Pid>) -> Result<String> {
        let path = match pid {
            Some(pid) => format!("/proc/{pid}/cgroup"),
            None => "/proc/self/cgroup".to_string(),
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        text.lines()
            .filter_map(|l| {
                let mut f = l.splitn(3, ':');
                Some((f.next()?, f.next()?, f.next()?))
            })
            .find(|(id, controllers, _)| match &self.controller {
                None => *id == "0" && controllers.is_empty(),
                Some(c) => controllers.split(',').any(|x| x == c),
            })
            .map(|(_, _, cgroup)| cgroup.to_string())
            .ok_or_else(|| Error::Invalid(format!("{path}: no line for this hierarchy")))
    }
}

/// Whether `path` is a mount point in the caller's mount namespace.
pub fn is_mount_point(path: &Path) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .any(|m| Path::new(m) == path)
}

/// Processes (host PIDs, as the caller's `/proc` numbers them) whose PID
/// namespace has the given identity.
pub fn pid_namespace_members(ns: u64) -> Vec<Pid> {
    let mut members: Vec<Pid> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(Pid::from_raw)
        .filter(|&pid| identity(Some(pid), Kind::Pid).ok() == Some(ns))
        .collect();
    members.sort();
    members
}

/// Numeric entries of a `/proc` directory: the PIDs visible there.
pub fn visible_pids(proc_dir: &Path) -> Vec<i32> {
    let mut pids: Vec<i32> = std::fs::read_dir(proc_dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort();
    pids
}

/// A process's command name (`/proc/PID/comm`).
pub fn comm(proc_dir: &Path, pid: i32) -> String {
    std::fs::read_to_string(proc_dir.join(pid.to_string()).join("comm"))
        .map(|s| s.trim_end().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The effective capability mask of the calling process (`CapEff`).
pub fn effective_capabilities() -> Result<u64> {
    let text = std::fs::read_to_string("/proc/self/status")
        .map_err(|e| Error::io("/proc/self/status", e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .ok_or_else(|| Error::Invalid("no CapEff in /proc/self/status".into()))
}

/// The real uid of a process as its own namespace's parent sees it.
pub fn uid_of(pid: Pid) -> Result<u32> {
    let path = format!("/proc/{pid}/status");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    text.lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| Error::Invalid(format!("no Uid in {path}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_identities_are_readable_and_stable() {
        for kind in Kind::ALL {
            let a = identity(None, kind).unwrap();
            let b = identity(Some(Pid::this()), kind).unwrap();
            assert_eq!(a, b, "{kind}");
        }
    }

    #[test]
    fn loopback_is_listed_once() {
        let list = interfaces().unwrap();
        assert_eq!(list.iter().filter(|i| i.name == "lo").count(), 1);
    }
}
