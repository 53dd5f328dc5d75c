//! Docker's bridge network in two steps: a bridge on the host with the
//! gateway address, and per container a veth pair — one end on the bridge,
//! the other moved into the container's namespace as `eth0` (or `eth1`, …).
//!
//! ```text
//!   host                                   container netns
//!   ┌────────────────────────────┐         ┌──────────────────────┐
//!   │ bridge  gateway 10.88.0.1  │         │ eth0  10.88.0.2/24   │
//!   │   └── veth host end ───────┼─────────┼── (the veth's peer)  │
//!   └────────────────────────────┘         │ default via 10.88.0.1│
//!                                          └──────────────────────┘
//! ```

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd as _;

use ipnet::Ipv4Net;

use crate::netlink::Netlink;
use crate::netns::NetNs;
use crate::{Error, Result};

/// Creates the bridge if needed, gives it the gateway address and brings it
/// up (`ip link add NAME type bridge; ip addr add GW/PREFIX dev NAME`).
/// Returns whether it was created.
pub fn ensure_bridge(nl: &Netlink, name: &str, gateway: Ipv4Net) -> Result<bool> {
    let created = if nl.link(name)?.is_none() {
        nl.add_bridge(name)?;
        true
    } else {
        false
    };
    if !nl.addresses(name)?.contains(&gateway) {
        nl.add_address(name, gateway.addr(), gateway.prefix_len())?;
    }
    nl.set_up(name)?;
    Ok(created)
}

/// One network interface of a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nic {
    /// The name inside: `eth0`, `eth1`, …
    pub name: String,
    /// The host end of the veth pair (at most 15 bytes; its peer is named
    /// after it with a `p` appended until it is renamed inside).
    pub host_end: String,
    pub address: Ipv4Net,
    /// A default route via this gateway (the first NIC gets it).
    pub default_via: Option<Ipv4Addr>,
    pub mtu: u32,
    /// The address inside, when it must be a known one (Docker derives it
    /// from the IP address: `02:42:` and the four bytes).
    pub mac: Option<[u8; 6]>,
}

/// Plugs `nic` into `bridge` and into the namespace `ns`.
pub fn attach(nl: &Netlink, bridge: &str, ns: &NetNs, nic: &Nic) -> Result<()> {
    let peer = format!("{}p", nic.host_end);
    if peer.len() > 15 {
        return Err(Error::Invalid(format!(
            "{}: interface names are limited to 15 bytes",
            nic.host_end
        )));
    }
    nl.add_veth(&nic.host_end, &peer)?;
    let placed = (|| {
        nl.set_mtu(&nic.host_end, nic.mtu)?;
        nl.set_master(&nic.host_end, bridge)?;
        nl.set_up(&nic.host_end)?;
        let ns_file = ns.open()?;
        nl.move_to_netns(&peer, ns_file.as_raw_fd(), &ns.shown())?;
        ns.run(|| -> Result<()> {
            let inside = Netlink::open()?;
            inside.rename(&peer, &nic.name)?;
            inside.set_mtu(&nic.name, nic.mtu)?;
            if let Some(mac) = nic.mac {
                inside.set_mac(&nic.name, mac)?;
            }
            inside.add_address(&nic.name, nic.address.addr(), nic.address.prefix_len())?;
            inside.set_up(&nic.name)?;
            inside.set_up("lo")?;
            if let Some(gateway) = nic.default_via {
                inside.add_default_route(gateway, &nic.name)?;
            }
            Ok(())
        })?
    })();
    if placed.is_err() {
        // Deleting the host end takes the peer with it, wherever it is.
        let _ = nl.delete(&nic.host_end);
    }
    placed
}

/// `ip link set lo up` inside a namespace (the `none` network mode).
pub fn loopback_only(ns: &NetNs) -> Result<()> {
    ns.run(|| Netlink::open()?.set_up("lo"))?
}

/// `ip link set lo up` for the calling process's own network namespace,
/// with one `ioctl(SIOCSIFFLAGS)` instead of a netlink conversation: what a
/// container's first process does when it starts with `--network none`.
pub fn loopback_up() -> Result<()> {
    tracing::info!(target: "explain", "ip link set lo up");
    let fail = |step: &str| Error::io(format!("lo: {step}"), std::io::Error::last_os_error());
    // SAFETY: a plain datagram socket, used for interface ioctls only.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(fail("socket"));
    }
    // SAFETY: `ifreq` is plain data; an all-zero value is valid.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: `request` is a valid ifreq naming "lo"; the kernel fills or
    // reads its flags field.
    let result = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request) < 0 {
            Err(fail("SIOCGIFFLAGS"))
        } else {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            if libc::ioctl(fd, libc::SIOCSIFFLAGS, &request) < 0 {
                Err(fail("SIOCSIFFLAGS"))
            } else {
                Ok(())
            }
        }
    };
    // SAFETY: fd is ours.
    unsafe { libc::close(fd) };
    result
}
