//! mini-docker: a daemonless, Docker-compatible runtime built from the
//! lesson libraries. This half holds images: references, the
//! content-addressed store, layers extracted once and shared, and the
//! local image commands.

pub mod archive;
pub mod auth;
pub mod digest;
pub mod distribution;
mod error;
pub mod human;
pub mod image;
pub mod reference;
pub mod registry;
pub mod spec;
pub mod store;

pub use error::{Error, Result};
