//! Lesson 3's mechanisms, and mini-docker's resource limits: one interface
//! over cgroup v1 and v2.
//!
//! - [`layout`]: which setup the host has — legacy v1, hybrid (v1
//!   controllers plus an empty cgroup2 mount, as on the machine this was
//!   written on) or unified v2 — and where each hierarchy is mounted.
//! - [`limits`]: Docker's flags (`--cpu-shares`, `--cpus`, `--cpu-period`,
//!   `--cpu-quota`, `--cpuset-cpus`, `--memory`, `--memory-swap`,
//!   `--memory-reservation`, `--blkio-weight`, `--pids-limit`) with Docker's
//!   validation and their translation into each version's files.
//! - [`cgroup`]: create a cgroup under a parent, add processes, apply
//!   limits, read stats, freeze, kill everything in it, remove it.
//! - [`devices`]: which device nodes a cgroup may open or create, as the v1
//!   allow-list and as the eBPF program v2 needs ([`bpf`] loads it).
//! - [`usage`]: the counters `docker stats` shows, parsed from either
//!   version's files.

pub mod bpf;
pub mod cgroup;
pub mod devices;
mod error;
pub mod layout;
pub mod limits;
pub mod size;
pub mod usage;

pub use cgroup::{Cgroup, Driver, Primed, Stats};
pub use devices::Rules as DeviceRules;
pub use error::{Error, Result};
pub use layout::{Hierarchy, Layout, Setup, Version};
pub use limits::{CpuMax, Limits, Quota, Resolved};
