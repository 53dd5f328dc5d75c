//! Entering another process's namespaces with `setns(2)`: what `nsenter`
//! and `docker exec` do.
//!
//! All namespace files are opened first, while `/proc` still shows the
//! target (entering its mount namespace changes our root). They are entered
//! in [`Kind`] order: the user namespace first, because it grants the
//! capabilities needed for the others, and the mount namespace last.
//! Entering a PID namespace only affects children created afterwards, so
//! [`spawn_joined`] forks once more when the PID namespace is among them.

use std::fs::File;
use std::os::fd::OwnedFd;

use nix::sched::setns;
use nix::unistd::Pid;

use crate::view::identity;
use crate::{Error, Kind, Result};

/// Open handles on a process's namespaces, ready to enter.
#[derive(Debug)]
pub struct Handles(Vec<(Kind, OwnedFd)>);

/// Opens `/proc/PID/ns/<kind>` for each kind. Namespaces the caller is
/// already in are left out (setns into one's own user namespace fails).
pub fn open(pid: Pid, kinds: &[Kind]) -> Result<Handles> {
    let mut handles = Vec::new();
    let mut kinds = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    for kind in kinds {
        let path = format!("/proc/{pid}/ns/{}", kind.proc_name());
        if identity(None, kind).ok() == identity(Some(pid), kind).ok() {
            continue;
        }
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        handles.push((kind, OwnedFd::from(file)));
    }
    Ok(Handles(handles))
}

/// Opens a namespace file kept by a bind mount (`/run/netns/NAME`, see
/// [`crate::persist`]) — how `ip netns exec` finds its namespace.
pub fn open_path(path: &std::path::Path, kind: Kind) -> Result<Handles> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(Handles(vec![(kind, OwnedFd::from(file))]))
}

impl Handles {
    /// Enters every namespace. The caller must be single-threaded (a forked
    /// child): the kernel refuses to move one thread of many into another
    /// mount or user namespace.
    pub fn enter(self) -> Result<()> {
        for (kind, fd) in self.0 {
            chroot_demo::error::step(format!("setns(/proc/PID/ns/{kind})"), || {
                setns(&fd, kind.flag())
            })?;
        }
        Ok(())
    }
}

/// Forks a child that enters the namespaces of `pid` named by `kinds` and
/// runs `body` there — in a grandchild when the PID namespace is joined, so
/// that `body` really is inside it. Returns the child to wait for; its exit
/// code is `body`'s.
pub fn spawn_joined(pid: Pid, kinds: &[Kind], body: impl FnOnce() -> i32) -> Result<Pid> {
    tracing::info!(
        target: "explain",
        "nsenter --target {pid} {}",
        Kind::options(kinds)
    );
    let handles = open(pid, kinds)?;
    let new_pid_ns = handles.0.iter().any(|(k, _)| *k == Kind::Pid);
    chroot_demo::process::spawn(move || {
        if let Err(e) = handles.enter() {
            eprintln!("{e}");
            return 125;
        }
        if !new_pid_ns {
            return body();
        }
        match chroot_demo::process::spawn(body).and_then(chroot_demo::process::wait) {
            Ok(exit) => exit.code(),
            Err(e) => {
                eprintln!("{e}");
                125
            }
        }
    })
}
