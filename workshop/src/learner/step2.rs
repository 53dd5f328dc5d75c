//! Step 2 (lesson 2, `lessons/02-namespaces.md`): PID 1 of a new PID
//! namespace, in a mount namespace of its own.
//!
//! In a container `ps` shows only the container's processes, and the
//! first one is PID 1. Two namespaces do that: a new **PID namespace**
//! (the first process created in it is its PID 1) and a new **mount
//! namespace** (a private copy of the mount table, so a fresh `proc` can
//! be mounted without the host seeing it). The tests run [`run_isolated`]
//! with a body that checks, from inside, that it is PID 1, that `/proc`
//! lists no other process, and that `/` is not a shared mount; and, from
//! outside, that the `proc` mount did not appear on the host.
//!
//! Check your work: `cargo test -p workshop --features learner --test step2`.

use std::path::Path;

use crate::Result;

/// Runs `body` as PID 1 of a new PID namespace, in a new mount namespace,
/// with a fresh `proc` mounted at `rootfs/proc` and `rootfs` as its root
/// (step 1). Waits for it and returns its exit code (128 + the signal if a
/// signal killed it).
///
/// The order, as a runtime does it:
/// 1. `unshare(CLONE_NEWPID | CLONE_NEWNS)`
///    (`nix::sched::unshare(CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS)`).
///    A new PID namespace applies to the *children* created afterwards,
///    not to the caller (the caller's PID cannot change).
/// 2. `fork()` (`unsafe { nix::unistd::fork() }`): the child is PID 1 in
///    the new namespace. In the child:
///    1. `mount --make-rprivate /`: `nix::mount::mount(None::<&str>, "/",
///       None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)`.
///       On a systemd host `/` is shared, and without this step your
///       mounts would propagate back to the host.
///    2. `mount -t proc proc ROOTFS/proc`: a `proc` mounted by a process
///       of the new PID namespace shows that namespace's processes.
///    3. Enter the rootfs: your step 1, `crate::step1::enter(rootfs)`.
///    4. Run `body()` and leave with its code without returning into the
///       caller's copy of the stack: `unsafe { libc::_exit(code) }`.
/// 3. In the parent: wait for the child (`nix::sys::wait::waitpid`) and
///    turn its status into the code: `WaitStatus::Exited(_, code)` is
///    `code`, `WaitStatus::Signaled(_, signal, _)` is `128 + signal`.
pub fn run_isolated(rootfs: &Path, body: impl FnOnce() -> i32) -> Result<i32> {
    todo!("step2: unshare the PID and mount namespaces, fork, and in the child make / private, mount proc, enter the rootfs and run `body`")
}
