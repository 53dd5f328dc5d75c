//! The lowest crate: how every lesson library and mini-docker talk to the
//! kernel.
//!
//! - [`error`]: the shared error type, and [`step`], which announces a
//!   system call on the `explain` stream as the shell command it amounts to
//!   and names it in the error when it fails;
//! - [`syscall`]: the seam. The calls whose order is the point (mounts,
//!   `pivot_root`, device nodes, the privilege drop, cgroup writes) go
//!   through [`sys()`], the real kernel unless a test has put a
//!   [`syscall::Recorder`] in its place — so that their order is a unit test
//!   that needs no root;
//! - [`process`]: a step run in a child process.

pub mod error;
pub mod process;
pub mod syscall;

pub use error::{step, step_io, Error, Result};
pub use syscall::{recording, sys, Syscall};
