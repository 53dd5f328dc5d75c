//! The narration runtime shared by the lesson binaries and `mini-docker`.
//!
//! Libraries emit `tracing` events under the target [`EXPLAIN`] carrying the
//! shell command or syscall equivalent to what they are doing. A binary calls
//! [`init`] once; with `--explain` those events are printed as `+ command`
//! lines (the `set -x` convention), so a reader sees the same stream whether a
//! lesson or a real container is running.

mod cleanup;
mod entry;
mod explain;
mod leftovers;
mod steps;

pub use cleanup::{exit, install_signal_handlers, Cleanup, ForegroundChild};
pub use entry::{main, Options};
pub use explain::{init, EXPLAIN};
pub use leftovers::left_by_dead_run;
pub use steps::Steps;
