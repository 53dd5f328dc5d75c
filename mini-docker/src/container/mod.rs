//! Containers: what they run, the root filesystem they run in, the process
//! that supervises them, and the lifecycle commands built on those.

pub mod cgroupfs;
pub mod child;
pub mod create;
pub mod devices;
pub mod dir;
pub mod dns;
pub mod files;
pub mod health;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod mounts;
pub mod network_mode;
pub mod options;
pub mod protocol;
pub mod record;
pub mod restart;
pub mod rootfs;
pub mod scope;
pub mod security;
pub mod setup;
pub mod spec;
pub mod status;
pub mod wiring;
