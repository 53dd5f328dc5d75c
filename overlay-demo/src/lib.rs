//! Lesson 4's mechanisms, and how mini-docker stores image layers and
//! container changes:
//!
//! - [`mount`]: an overlay of any number of read-only lower layers (the
//!   first listed is the top), one writable upper layer and its work dir;
//! - [`changes`]: what an upper dir records — added, changed, deleted
//!   (whiteouts), opaque directories — as `docker diff` shows it;
//! - [`layer`]: an upper dir as an OCI/Docker layer tarball, and a tarball
//!   applied to a directory that can serve as a lower layer, safely;
//! - [`listing`]: `ls -la` of a directory, whiteouts and opaque marks
//!   included, for narration.

pub mod changes;
mod error;
pub mod layer;
pub mod listing;
pub mod mount;
pub mod whiteout;

pub use error::{Error, Result};
