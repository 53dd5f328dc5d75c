//! Step 1 (lesson 1, `lessons/01-chroot.md`): enter a root filesystem.
//!
//! A container's files are a directory on the host — here a busybox root
//! filesystem. `chroot(2)` makes a directory the process's `/`: every
//! absolute path is looked up from there, so `/bin/sh` is the rootfs's
//! shell. The tests give you a fresh rootfs and check, in a child process,
//! that after [`enter`] the rootfs's files are at `/`, the host's are not
//! reachable, and `/bin/sh` is the rootfs's.
//!
//! Check your work: `cargo test -p workshop --features learner --test step1`.

use std::path::Path;

use crate::Result;

/// Makes `rootfs` the root directory of the calling process, and `/` (the
/// new root) its working directory — what `chroot ROOTFS` does before it
/// starts a shell.
///
/// Two calls:
/// 1. `chroot(2)`: `std::os::unix::fs::chroot(rootfs)?` (or
///    `nix::unistd::chroot`). It needs `CAP_SYS_CHROOT`: run as root.
/// 2. `chdir("/")`: `std::env::set_current_dir("/")?`.
///
/// Why the second: chroot changes only where absolute paths start. The
/// working directory stays where it was — outside the new root — and from
/// there `..` leads back to the host. That is lesson 1's escape, and the
/// tests check the working directory.
pub fn enter(rootfs: &Path) -> Result<()> {
    todo!("step1: chroot into `rootfs`, then make `/` the working directory")
}
