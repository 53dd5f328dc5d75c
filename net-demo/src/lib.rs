//! Lesson 5's mechanisms, and mini-docker's networking:
//!
//! - [`netlink`]: links, addresses and routes over rtnetlink — what `ip`
//!   does, without spawning it;
//! - [`netns`]: named network namespaces (`ip netns add`) and running code
//!   inside any network namespace;
//! - [`ipam`]: address allocation per subnet, persisted under a lock;
//! - [`attach`]: a bridge, and a veth pair from it into a namespace;
//! - [`publish`]: `-p [hostIP:]hostPort:containerPort[/proto]` by a
//!   userland proxy;
//! - [`nat`]: outbound masquerading for a bridge subnet;
//! - [`dns`]: the DNS messages of an embedded resolver (Docker's
//!   127.0.0.11).

pub mod attach;
pub mod cleanup;
pub mod dns;
mod error;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod publish;

pub use error::{Error, Result};
