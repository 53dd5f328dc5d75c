//! The test harness: every root test in this workspace is built from these
//! pieces so that none can pass without touching the real kernel, and none can
//! leave the machine dirtier than it found it.
//!
//! - [`harness`]: the runner (`testkit::main![…]`) under which a test that
//!   cannot run here shows as ignored, or fails under `CI=true`.
//! - [`TestEnv::root`]: a root test's private state directory and a unique
//!   token for names.
//! - [`busybox_rootfs`]: the cached busybox root filesystem fixture.
//! - [`leaks`]: snapshot mounts, netns, links, cgroups and processes, and
//!   report what the test created and left behind.
//! - [`transcript`]: run the `console` blocks of the lessons and compare.
//! - [`compat`]: the differential suite's scenario files and normalisation.

pub mod compat;
mod drive;
mod env;
mod fixtures;
pub mod harness;
pub mod leaks;
pub mod transcript;

pub use drive::{ctrl_c, kill_9, wait_until};
pub use env::{is_root, require_root, TestEnv, ADDRESS_POOL};
pub use fixtures::{bin, busybox_rootfs, busybox_tar_at, target_dir, workspace_dir};
pub use harness::{is_ci, skip};
