//! Keeping a namespace alive without a process in it.
//!
//! A namespace exists while something refers to it: a member process, an
//! open file descriptor on `/proc/PID/ns/<kind>`, or a bind mount of that
//! file. `ip netns add NAME` is exactly the last: it bind-mounts a network
//! namespace file onto `/run/netns/NAME`.

use std::fs::OpenOptions;
use std::path::Path;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::Pid;

use chroot_demo::error::{step, step_io};

use crate::{Error, Kind, Result};

/// Bind-mounts `/proc/PID/ns/<kind>` onto `path` (created as an empty file).
pub fn persist(pid: Pid, kind: Kind, path: &Path) -> Result<()> {
    persist_file(
        Path::new(&format!("/proc/{pid}/ns/{}", kind.proc_name())),
        path,
    )
}

/// Bind-mounts a namespace file (`/proc/thread-self/ns/net`, …) onto `path`.
pub fn persist_file(source: &Path, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    step(
        format!("mount --bind {} {}", source.display(), path.display()),
        || {
            mount(
                Some(source),
                path,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        },
    )
    .inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })
}

/// Unmounts and removes a namespace file made by [`persist`]: the namespace
/// dies once nothing else refers to it. A missing file counts as released.
pub fn release(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    step(format!("umount {}", path.display()), || {
        umount2(path, MntFlags::MNT_DETACH)
    })
    .or_else(|e| match e.errno() {
        Some(nix::errno::Errno::EINVAL) => Ok(()),
        _ => Err(e),
    })?;
    step_io(format!("rm {}", path.display()), || {
        std::fs::remove_file(path)
    })
}
