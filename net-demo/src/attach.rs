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
    // The bridge's own address, asked of it alone (an address dump lists
    // every interface's, a cost that grows with each container's veth);
    // the full list only when that is not the gateway.
    if (created || primary_address(name) != Some(gateway))
        && !nl.addresses(name)?.contains(&gateway)
    {
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

/// Plugs `nic` into `bridge` for the process `pid`, whose namespace gets
/// the peer directly under its final name ([`Netlink::add_veth_into`]);
/// that process then configures it itself with [`configure`].
pub fn plug(nl: &Netlink, bridge: &str, pid: u32, nic: &Nic) -> Result<()> {
    nl.add_veth_into(&nic.host_end, bridge, nic.mtu, &nic.name, pid, nic.mac)
}

/// Inside the namespace (run by the container's own first process):
/// `ip addr add ADDRESS dev NAME; ip link set NAME up; ip route add
/// default via GATEWAY` — by `ioctl`s, which need no netlink client.
pub fn configure(name: &str, address: Ipv4Net, gateway: Option<Ipv4Addr>) -> Result<()> {
    tracing::info!(target: "explain", "ip addr add {address} dev {name}; ip link set {name} up");
    let socket = Socket::datagram()?;
    let mut request = ifreq(name);
    set_sockaddr(&mut request, address.addr());
    socket.ioctl(libc::SIOCSIFADDR, &mut request, "SIOCSIFADDR")?;
    let mut request = ifreq(name);
    set_sockaddr(&mut request, address.netmask());
    socket.ioctl(libc::SIOCSIFNETMASK, &mut request, "SIOCSIFNETMASK")?;
    set_up_by_name(&socket, name)?;
    if let Some(gateway) = gateway {
        tracing::info!(target: "explain", "ip route add default via {gateway}");
        // SAFETY: rtentry is plain data; all-zero is valid.
        let mut route: libc::rtentry = unsafe { std::mem::zeroed() };
        route.rt_dst = sockaddr(Ipv4Addr::UNSPECIFIED);
        route.rt_genmask = sockaddr(Ipv4Addr::UNSPECIFIED);
        route.rt_gateway = sockaddr(gateway);
        route.rt_flags = libc::RTF_UP | libc::RTF_GATEWAY;
        socket.ioctl(libc::SIOCADDRT, &mut route, "SIOCADDRT")?;
    }
    Ok(())
}

/// A datagram socket for interface ioctls, closed on drop.
struct Socket(std::os::fd::OwnedFd);

impl Socket {
    fn datagram() -> Result<Self> {
        use std::os::fd::FromRawFd as _;
        // SAFETY: a plain datagram socket.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(Error::io("socket", std::io::Error::last_os_error()));
        }
        // SAFETY: we own the new descriptor.
        Ok(Socket(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }))
    }

    fn ioctl<T>(&self, request: libc::Ioctl, arg: &mut T, what: &str) -> Result<()> {
        // SAFETY: `arg` is the structure this request reads or fills.
        if unsafe { libc::ioctl(self.0.as_raw_fd(), request, arg as *mut T) } < 0 {
            return Err(Error::io(what, std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: `ifreq` is plain data; an all-zero value is valid.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(name.bytes().take(15)) {
        *dst = src as libc::c_char;
    }
    request
}

fn sockaddr(addr: Ipv4Addr) -> libc::sockaddr {
    let inet = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(addr).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size; the kernel
    // reads it as sockaddr_in because of the family.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(inet) }
}

/// An interface's primary IPv4 address and prefix, by `ioctl`
/// (`SIOCGIFADDR`, `SIOCGIFNETMASK`); None if it has none.
fn primary_address(name: &str) -> Option<Ipv4Net> {
    let socket = Socket::datagram().ok()?;
    let read = |request: libc::Ioctl| {
        let mut ifr = ifreq(name);
        socket.ioctl(request, &mut ifr, "SIOCGIFADDR").ok()?;
        // SAFETY: both requests fill the address member with an AF_INET
        // sockaddr, which has sockaddr_in's layout.
        let inet: libc::sockaddr_in = unsafe { std::mem::transmute(ifr.ifr_ifru.ifru_addr) };
        Some(Ipv4Addr::from(u32::from_be(inet.sin_addr.s_addr)))
    };
    let (address, mask) = (read(libc::SIOCGIFADDR)?, read(libc::SIOCGIFNETMASK)?);
    Ipv4Net::with_netmask(address, mask).ok()
}

fn set_sockaddr(request: &mut libc::ifreq, addr: Ipv4Addr) {
    request.ifr_ifru.ifru_addr = sockaddr(addr);
}

fn set_up_by_name(socket: &Socket, name: &str) -> Result<()> {
    let mut request = ifreq(name);
    socket.ioctl(libc::SIOCGIFFLAGS, &mut request, "SIOCGIFFLAGS")?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    unsafe { request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    socket.ioctl(libc::SIOCSIFFLAGS, &mut request, "SIOCSIFFLAGS")
}

/// `ip link set lo up` for the calling process's own network namespace,
/// with one `ioctl(SIOCSIFFLAGS)` instead of a netlink conversation: what a
/// container's first process does when it starts with `--network none`.
pub fn loopback_up() -> Result<()> {
    tracing::info!(target: "explain", "ip link set lo up");
    set_up_by_name(&Socket::datagram()?, "lo")
}
