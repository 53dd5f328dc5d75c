//! Lesson 1's mechanisms: entering a root filesystem with `chroot(2)` or with
//! `pivot_root(2)` in a new mount namespace, the classic chroot escape, and the
//! busybox root filesystem every lesson runs in.
//!
//! Nothing here prints. Every step emits a `tracing` event under the
//! `explain` target with the equivalent shell command.

pub mod escape;
pub mod observe;
pub mod root;
pub mod rootfs;

/// The shared error type, `step` and child processes live in the
/// [`kernel`] crate; these names are kept for the lessons' code.
pub use kernel::{error, process, Error, Result};
pub use observe::FileId;
