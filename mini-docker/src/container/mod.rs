//! Containers: what they run and the root filesystem they run in. The
//! lifecycle commands (issue 8) build on these.

pub mod rootfs;
pub mod spec;
