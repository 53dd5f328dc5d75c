//! mini-docker: a daemonless, Docker-compatible runtime built from the
//! lesson libraries: image references, the content-addressed store, layers
//! extracted once and shared, registries and archives, and the pieces
//! containers are made of.

pub mod archive;
pub mod auth;
pub mod build;
pub mod container;
pub mod damage;
pub mod digest;
pub mod distribution;
mod error;
pub mod events;
pub mod gopath;
pub mod human;
pub mod image;
pub mod network;
pub mod reference;
pub mod registry;
pub mod reset;
pub mod spec;
pub mod store;
pub mod volume;

pub use error::{Error, Result};
