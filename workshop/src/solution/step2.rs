//! Step 2 (lesson 2): PID 1 of a new PID namespace in a mount namespace of
//! its own — lesson 2's `spawn` and lesson 1's mounts. The exercise, with
//! its hints, is `src/learner/step2.rs`.

use std::path::Path;

use chroot_demo::root;
use ns_demo::Kind;

use crate::Result;

/// `unshare --pid --mount --fork`, then in the child `mount
/// --make-rprivate /`, `mount -t proc proc ROOTFS/proc`, `chroot ROOTFS`,
/// and `body`; returns its exit code.
pub fn run_isolated(rootfs: &Path, body: impl FnOnce() -> i32) -> Result<i32> {
    let child = ns_demo::spawn::spawn(&[Kind::Pid, Kind::Mount], |_channel| {
        let entered = root::make_root_private()
            .and_then(|()| root::mount_proc(&rootfs.join("proc")))
            .and_then(|()| root::chroot(rootfs));
        match entered {
            Ok(()) => body(),
            Err(e) => {
                eprintln!("{e}");
                125
            }
        }
    })?;
    Ok(chroot_demo::process::wait(child.pid)?.code())
}
