//! Finding what a crashed run left behind: everything this library creates
//! for a user is named with the user's prefix (`nd1234…` for a demo,
//! `md…` for mini-docker), so removal needs no other record.

use crate::netlink::Netlink;
use crate::netns::{named_with_prefix, NetNs, NETNS_DIR};
use crate::Result;

/// Deletes the host's links and the named network namespaces whose names
/// start with `prefix`; returns what it removed.
pub fn remove_prefixed(prefix: &str) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    let nl = Netlink::open()?;
    for link in nl.links()? {
        // A veth's peer may already be gone with its other end.
        if link.name.starts_with(prefix) && nl.link(&link.name)?.is_some() {
            nl.delete(&link.name)?;
            removed.push(format!("link {}", link.name));
        }
    }
    for name in named_with_prefix(prefix) {
        NetNs::at(std::path::Path::new(NETNS_DIR).join(&name)).delete()?;
        removed.push(format!("netns {name}"));
    }
    Ok(removed)
}
