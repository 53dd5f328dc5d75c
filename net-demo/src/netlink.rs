//! `ip link`, `ip addr` and `ip route`, spoken as rtnetlink messages.
//!
//! A netlink socket belongs to the network namespace of the thread that
//! opened it, so [`Netlink::open`] talks to the caller's namespace; to
//! configure another one, open it from inside (see [`crate::netns`]).

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use futures::TryStreamExt as _;
use rtnetlink::packet_route::address::AddressAttribute;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
};
use tokio::runtime::Runtime;

use crate::{Error, Result};

/// A link as `ip -brief link` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    pub up: bool,
    /// The bridge it is attached to, if any.
    pub master: Option<u32>,
    /// `ip link set NAME alias TEXT`: a note its owner left on it.
    pub alias: Option<String>,
}

/// A synchronous rtnetlink client for the caller's network namespace.
#[derive(Debug)]
pub struct Netlink {
    runtime: Runtime,
    handle: Handle,
}

fn failed(step: &str, e: impl std::fmt::Display) -> Error {
    Error::Netlink {
        step: step.to_string(),
        reason: e.to_string(),
    }
}

impl Netlink {
    pub fn open() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::io("tokio runtime", e))?;
        let handle = runtime.block_on(async {
            let (connection, handle, _) =
                rtnetlink::new_connection().map_err(|e| failed("netlink socket", e))?;
            tokio::spawn(connection);
            Ok::<_, Error>(handle)
        })?;
        Ok(Netlink { runtime, handle })
    }

    fn run<T>(
        &self,
        step: &str,
        f: impl std::future::Future<Output = Result<T, rtnetlink::Error>>,
    ) -> Result<T> {
        tracing::info!(target: "explain", "{step}");
        self.runtime.block_on(f).map_err(|e| failed(step, e))
    }

    /// Every link of this namespace.
    pub fn links(&self) -> Result<Vec<Link>> {
        let handle = self.handle.clone();
        let messages: Vec<LinkMessage> = self
            .runtime
            .block_on(async move { handle.link().get().execute().try_collect().await })
            .map_err(|e| failed("ip link show", e))?;
        Ok(messages.into_iter().map(to_link).collect())
    }

    /// The link called `name`, if there is one.
    pub fn link(&self, name: &str) -> Result<Option<Link>> {
        Ok(self.links()?.into_iter().find(|l| l.name == name))
    }

    fn index(&self, name: &str) -> Result<u32> {
        self.link(name)?
            .map(|l| l.index)
            .ok_or_else(|| Error::Invalid(format!("no network interface named {name}")))
    }

    /// `ip link add NAME type bridge`.
    pub fn add_bridge(&self, name: &str) -> Result<()> {
        let msg = LinkBridge::new(name).build();
        self.run(
            &format!("ip link add {name} type bridge"),
            self.handle.link().add(msg).execute(),
        )
    }

    /// `ip link add A type veth peer name B`.
    pub fn add_veth(&self, name: &str, peer: &str) -> Result<()> {
        let msg = LinkVeth::new(name, peer).build();
        self.run(
            &format!("ip link add {name} type veth peer name {peer}"),
            self.handle.link().add(msg).execute(),
        )
    }

    /// `ip link add HOST mtu MTU master BRIDGE up type veth peer name PEER
    /// netns PID address MAC` in one request: the peer is born inside the
    /// other namespace under its final name. Moving an existing link
    /// between namespaces would wait for an RCU grace period
    /// (`synchronize_net`), the slowest part of plugging a container in.
    pub fn add_veth_into(
        &self,
        host: &str,
        bridge: &str,
        mtu: u32,
        peer: &str,
        pid: u32,
        mac: Option<[u8; 6]>,
    ) -> Result<()> {
        use rtnetlink::packet_route::link::{InfoData, InfoVeth};
        let mut peer_msg = LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .mtu(mtu)
            .setns_by_pid(pid);
        if let Some(mac) = mac {
            peer_msg = peer_msg.address(mac.to_vec());
        }
        let msg = LinkVeth::new(host, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg.build())))
            .mtu(mtu)
            .controller(self.index(bridge)?)
            .up()
            .build();
        self.run(
            &format!(
                "ip link add {host} master {bridge} up type veth peer name {peer} netns {pid}"
            ),
            self.handle.link().add(msg).execute(),
        )
    }

    /// `ip link set NAME alias TEXT` (at most 255 bytes).
    pub fn set_alias(&self, name: &str, alias: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .alias(alias)
            .build();
        self.run(
            &format!("ip link set {name} alias '{alias}'"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set NAME up`.
    pub fn set_up(&self, name: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(name)?).up().build();
        self.run(
            &format!("ip link set {name} up"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set NAME master BRIDGE`.
    pub fn set_master(&self, name: &str, bridge: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .controller(self.index(bridge)?)
            .build();
        self.run(
            &format!("ip link set {name} master {bridge}"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set NAME netns NS`, given an open namespace file.
    pub fn move_to_netns(&self, name: &str, ns_fd: RawFd, shown: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .setns_by_fd(ns_fd)
            .build();
        self.run(
            &format!("ip link set {name} netns {shown}"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set OLD name NEW` (the link must be down).
    pub fn rename(&self, old: &str, new: &str) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(old)?)
            .name(new.to_string())
            .build();
        self.run(
            &format!("ip link set {old} name {new}"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set NAME address MAC`.
    pub fn set_mac(&self, name: &str, mac: [u8; 6]) -> Result<()> {
        let shown = mac.map(|b| format!("{b:02x}")).join(":");
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .address(mac.to_vec())
            .build();
        self.run(
            &format!("ip link set {name} address {shown}"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link set NAME mtu MTU`.
    pub fn set_mtu(&self, name: &str, mtu: u32) -> Result<()> {
        let msg = LinkUnspec::new_with_index(self.index(name)?)
            .mtu(mtu)
            .build();
        self.run(
            &format!("ip link set {name} mtu {mtu}"),
            self.handle.link().set(msg).execute(),
        )
    }

    /// `ip link del NAME` (a veth's peer goes with it); absent is fine.
    pub fn delete(&self, name: &str) -> Result<()> {
        let Some(link) = self.link(name)? else {
            return Ok(());
        };
        self.run(
            &format!("ip link del {name}"),
            self.handle.link().del(link.index).execute(),
        )
    }

    /// `ip addr add ADDR/PREFIX dev NAME`.
    pub fn add_address(&self, name: &str, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        let index = self.index(name)?;
        self.run(
            &format!("ip addr add {addr}/{prefix} dev {name}"),
            self.handle
                .address()
                .add(index, IpAddr::V4(addr), prefix)
                .execute(),
        )
    }

    /// The IPv4 addresses of a link, as `ADDR/PREFIX`.
    pub fn addresses(&self, name: &str) -> Result<Vec<ipnet::Ipv4Net>> {
        let index = self.index(name)?;
        let handle = self.handle.clone();
        let messages: Vec<_> = self
            .runtime
            .block_on(async move {
                handle
                    .address()
                    .get()
                    .set_link_index_filter(index)
                    .execute()
                    .try_collect::<Vec<_>>()
                    .await
            })
            .map_err(|e| failed(&format!("ip addr show {name}"), e))?;
        Ok(messages
            .into_iter()
            .filter_map(|m| {
                let prefix = m.header.prefix_len;
                m.attributes.into_iter().find_map(|a| match a {
                    AddressAttribute::Address(IpAddr::V4(v4)) => {
                        ipnet::Ipv4Net::new(v4, prefix).ok()
                    }
                    _ => None,
                })
            })
            .collect())
    }

    /// `ip route add default via GATEWAY dev NAME`.
    pub fn add_default_route(&self, gateway: Ipv4Addr, name: &str) -> Result<()> {
        let msg = RouteMessageBuilder::<Ipv4Addr>::new()
            .gateway(gateway)
            .output_interface(self.index(name)?)
            .build();
        self.run(
            &format!("ip route add default via {gateway} dev {name}"),
            self.handle.route().add(msg).execute(),
        )
    }
}

/// A route as `ip route` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `None` for the default route.
    pub destination: Option<ipnet::Ipv4Net>,
    pub gateway: Option<Ipv4Addr>,
    pub device: Option<u32>,
}

impl Netlink {
    /// The IPv4 routes of the main table (`ip route`), with device names.
    pub fn routes(&self) -> Result<Vec<(Route, String)>> {
        use rtnetlink::packet_route::route::{RouteAddress, RouteAttribute};
        let handle = self.handle.clone();
        let messages: Vec<_> = self
            .runtime
            .block_on(async move {
                let filter = RouteMessageBuilder::<Ipv4Addr>::new().build();
                handle
                    .route()
                    .get(filter)
                    .execute()
                    .try_collect::<Vec<_>>()
                    .await
            })
            .map_err(|e| failed("ip route show", e))?;
        let links = self.links()?;
        let mut routes = Vec::new();
        for m in messages.into_iter().filter(|m| m.header.table == 254) {
            let prefix = m.header.destination_prefix_length;
            let mut route = Route {
                destination: None,
                gateway: None,
                device: None,
            };
            for a in m.attributes {
                match a {
                    RouteAttribute::Destination(RouteAddress::Inet(d)) => {
                        route.destination = ipnet::Ipv4Net::new(d, prefix).ok()
                    }
                    RouteAttribute::Gateway(RouteAddress::Inet(g)) => route.gateway = Some(g),
                    RouteAttribute::Oif(i) => route.device = Some(i),
                    _ => {}
                }
            }
            let dev = links
                .iter()
                .find(|l| Some(l.index) == route.device)
                .map(|l| l.name.clone())
                .unwrap_or_default();
            routes.push((route, dev));
        }
        Ok(routes)
    }
}

fn to_link(message: LinkMessage) -> Link {
    let mut link = Link {
        index: message.header.index,
        name: String::new(),
        up: message.header.flags.contains(LinkFlags::Up),
        master: None,
        alias: None,
    };
    for attribute in message.attributes {
        match attribute {
            LinkAttribute::IfName(name) => link.name = name,
            LinkAttribute::Controller(index) => link.master = Some(index),
            LinkAttribute::IfAlias(alias) => link.alias = Some(alias),
            _ => {}
        }
    }
    link
}
