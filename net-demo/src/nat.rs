//! Outbound NAT for a bridge subnet: what lets a container reach the
//! outside world through the host's address (`iptables -t nat … MASQUERADE`
//! plus `net.ipv4.ip_forward=1`).
//!
//! This is set up once per network, not per container, so it calls
//! `iptables` rather than speaking nftables netlink. Each rule carries a
//! comment with a tag so clean-up after a crash can find it. The test suite
//! never enables it: tests send traffic only to loopback and to their own
//! namespaces.

use std::process::Command;

use ipnet::Ipv4Net;

use crate::{Error, Result};

fn iptables(action: &str, subnet: Ipv4Net, bridge: &str, tag: &str) -> Result<()> {
    let args = [
        "-t",
        "nat",
        action,
        "POSTROUTING",
        "-s",
        &subnet.to_string(),
        "!",
        "-o",
        bridge,
        "-m",
        "comment",
        "--comment",
        tag,
        "-j",
        "MASQUERADE",
    ];
    tracing::info!(target: "explain", "iptables {}", args.join(" "));
    let out = Command::new("iptables")
        .args(args)
        .output()
        .map_err(|e| Error::Invalid(format!("iptables: {e} (install the iptables package)")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "iptables {action} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Masquerades traffic from `subnet` leaving by any interface but `bridge`,
/// and turns on IPv4 forwarding.
pub fn enable(subnet: Ipv4Net, bridge: &str, tag: &str) -> Result<()> {
    tracing::info!(target: "explain", "sysctl -w net.ipv4.ip_forward=1");
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(|e| Error::io("/proc/sys/net/ipv4/ip_forward", e))?;
    iptables("-A", subnet, bridge, tag)
}

/// Removes the rule added by [`enable`] (forwarding stays on: other
/// networks may need it).
pub fn disable(subnet: Ipv4Net, bridge: &str, tag: &str) -> Result<()> {
    iptables("-D", subnet, bridge, tag)
}
