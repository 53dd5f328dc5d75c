//! Build your own container, one lesson at a time. Each step is a module
//! with a few functions to write; the tests in `tests/stepN.rs` run them
//! on the real kernel and pass only when they work. See `README.md`.
//!
//! | step | lesson | what you write |
//! | --- | --- | --- |
//! | [`step1`] | 1. chroot | enter a root filesystem |
//! | [`step2`] | 2. namespaces | PID 1 of a new PID namespace, in a mount namespace of its own |
//! | [`step3`] | 3. cgroups | a cgroup with a process limit |
//! | [`step4`] | 4. overlay | an overlay root: image below, changes above |
//! | [`step5`] | 5. networking | a veth pair from a network namespace into a bridge |
//!
//! With the `learner` feature the steps are your code, in `src/learner/`
//! (`todo!()` until you fill them in); without it, the reference
//! solutions in `src/solution/`, thin wrappers over the lesson libraries —
//! which is what CI tests, so the tests are known to pass when the work is
//! right.

// Unfinished exercises are `todo!()`s (this crate alone allows them), and
// their parameters are unused until they are written: that is the point
// of the skeletons.
#![allow(clippy::todo)]
#![cfg_attr(feature = "learner", allow(unused_variables))]

pub mod check;

#[cfg_attr(feature = "learner", path = "learner/step1.rs")]
#[cfg_attr(not(feature = "learner"), path = "solution/step1.rs")]
pub mod step1;
#[cfg_attr(feature = "learner", path = "learner/step2.rs")]
#[cfg_attr(not(feature = "learner"), path = "solution/step2.rs")]
pub mod step2;
#[cfg_attr(feature = "learner", path = "learner/step3.rs")]
#[cfg_attr(not(feature = "learner"), path = "solution/step3.rs")]
pub mod step3;
#[cfg_attr(feature = "learner", path = "learner/step4.rs")]
#[cfg_attr(not(feature = "learner"), path = "solution/step4.rs")]
pub mod step4;
#[cfg_attr(feature = "learner", path = "learner/step5.rs")]
#[cfg_attr(not(feature = "learner"), path = "solution/step5.rs")]
pub mod step5;

/// What every step returns. Any error will do (`?` works on `io::Error`,
/// `nix` errors and the lesson libraries' errors alike): the tests print
/// it, and the learner should not have to design error types to get a
/// container running.
pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;
