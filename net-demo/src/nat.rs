//! Outbound NAT for a bridge subnet: what lets a container reach the
//! outside world through the host's address (`iptables -t nat … MASQUERADE`
//! plus `net.ipv4.ip_forward=1`).
//!
//! This is set up once per network, not per container, so it calls
//! `iptables` rather than speaking nftables netlink. Each rule carries a
//! comment with a tag so clean-up after a crash can find it ([`rules`]).
//! The test suite enables it only to check that `mini-docker system reset`
//! removes it: tests send traffic only to loopback and to their own
//! namespaces.

use std::process::Command;

use ipnet::Ipv4Net;

use crate::{Error, Result};

/// One masquerading rule, as [`enable`] adds it: traffic from `subnet`
/// leaving by any interface but `bridge`, tagged with a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub subnet: Ipv4Net,
    pub bridge: String,
    pub tag: String,
}

impl Rule {
    fn args<'a>(&'a self, action: &'a str, subnet: &'a str) -> [&'a str; 16] {
        [
            "-t",
            "nat",
            action,
            "POSTROUTING",
            "-s",
            subnet,
            "!",
            "-o",
            &self.bridge,
            "-m",
            "comment",
            "--comment",
            &self.tag,
            "-j",
            "MASQUERADE",
            "-w",
        ]
    }

    /// The rule as `iptables -S` prints it.
    fn parse(line: &str) -> Option<Rule> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["-A", "POSTROUTING", "-s", subnet, "!", "-o", bridge, "-m", "comment", "--comment", tag, "-j", "MASQUERADE"] => {
                Some(Rule {
                    subnet: subnet.parse().ok()?,
                    bridge: (*bridge).to_string(),
                    tag: tag.trim_matches('"').to_string(),
                })
            }
            _ => None,
        }
    }
}

fn iptables(args: &[&str]) -> Result<String> {
    let out = Command::new("iptables")
        .args(args)
        .output()
        .map_err(|e| Error::Invalid(format!("iptables: {e} (install the iptables package)")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(Error::Invalid(format!(
            "iptables {} failed: {}",
            args[2],
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

fn change(action: &str, rule: &Rule) -> Result<()> {
    let subnet = rule.subnet.to_string();
    let args = rule.args(action, &subnet);
    tracing::info!(target: "explain", "iptables {}", args[..15].join(" "));
    iptables(&args).map(drop)
}

/// Masquerades traffic from `subnet` leaving by any interface but `bridge`,
/// and turns on IPv4 forwarding.
pub fn enable(subnet: Ipv4Net, bridge: &str, tag: &str) -> Result<()> {
    tracing::info!(target: "explain", "sysctl -w net.ipv4.ip_forward=1");
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
        .map_err(|e| Error::io("/proc/sys/net/ipv4/ip_forward", e))?;
    change("-A", &rule(subnet, bridge, tag))
}

/// Removes the rule added by [`enable`] (forwarding stays on: other
/// networks may need it).
pub fn disable(subnet: Ipv4Net, bridge: &str, tag: &str) -> Result<()> {
    change("-D", &rule(subnet, bridge, tag))
}

/// Removes one rule found by [`rules`].
pub fn remove(rule: &Rule) -> Result<()> {
    change("-D", rule)
}

fn rule(subnet: Ipv4Net, bridge: &str, tag: &str) -> Rule {
    Rule {
        subnet,
        bridge: bridge.to_string(),
        tag: tag.to_string(),
    }
}

/// Every rule of [`enable`]'s shape on the host
/// (`iptables -t nat -S POSTROUTING`), whoever added it.
pub fn rules() -> Result<Vec<Rule>> {
    let listing = iptables(&["-t", "nat", "-S", "POSTROUTING", "-w"])?;
    Ok(listing.lines().filter_map(Rule::parse).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_rules_it_adds_and_nothing_else() {
        let ours = "-A POSTROUTING -s 172.17.0.0/16 ! -o mda108b772ac9ef -m comment --comment 772ac9ef5718 -j MASQUERADE";
        assert_eq!(
            Rule::parse(ours),
            Some(rule(
                "172.17.0.0/16".parse().unwrap(),
                "mda108b772ac9ef",
                "772ac9ef5718"
            ))
        );
        for other in [
            "-P POSTROUTING ACCEPT",
            "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
            "-A POSTROUTING -s nonsense ! -o br -m comment --comment t -j MASQUERADE",
        ] {
            assert_eq!(Rule::parse(other), None, "{other}");
        }
    }

    #[test]
    fn the_explained_command_is_the_one_run() {
        let r = rule("10.0.0.0/24".parse().unwrap(), "br0", "tag");
        let subnet = r.subnet.to_string();
        assert_eq!(
            r.args("-A", &subnet)[..15].join(" "),
            "-t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -m comment --comment tag -j MASQUERADE"
        );
    }
}
