//! Lesson 2's mechanisms, and what mini-docker uses to create and join
//! namespaces: spawn a child into any set of namespaces with a
//! synchronisation channel, write user-namespace id maps, join another
//! process's namespaces, persist a namespace with a bind mount, report
//! namespace identities, and a minimal init for PID 1.
//!
//! Errors are [`chroot_demo::Error`]: the step that failed and its errno.

pub mod idmap;
pub mod init;
pub mod ipc;
pub mod join;
pub mod kind;
pub mod net;
pub mod persist;
pub mod spawn;
mod stack;
pub mod view;

pub use chroot_demo::{Error, Result};
pub use kind::Kind;
