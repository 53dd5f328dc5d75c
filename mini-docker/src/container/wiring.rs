//! A container's network side, done by its monitor (and by `network
//! connect`/`disconnect`): interfaces on bridge networks, `/etc/hosts` kept
//! up to date on user networks, and published ports.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use net_demo::attach::Nic;
use net_demo::netlink::Netlink;
use net_demo::netns::NetNs;
use net_demo::publish::{PortSpec, Published};

use super::dir::Containers;
use super::record::{Container, HostPort, Ports};
use crate::network::{self, Endpoint, Networks};
use crate::{Error, Result};

/// Whether the container's network mode is a bridge network (the default
/// one or a user network), rather than none, host or container:.
pub fn on_bridge(c: &Container) -> bool {
    c.host_config.network_mode.network().is_some()
}

/// Every network the container is on: its network mode first, then those
/// it was connected to.
pub fn network_names(c: &Container) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(name) = c.host_config.network_mode.network() {
        names.push(name.to_string());
    }
    for n in &c.connected_networks {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    names
}

/// Docker's MAC for an address: `02:42:` followed by its four bytes.
fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// One interface-to-be of a container: its address is allocated and its
/// network's bridge exists; the veth comes when the process does.
#[derive(Debug, Clone)]
pub struct Planned {
    pub network: String,
    pub bridge: String,
    pub nic: Nic,
    pub endpoint: Endpoint,
}

/// Allocates `eth<index>`'s address on `name` and makes sure the network's
/// bridge is up.
pub fn plan(
    nl: &Netlink,
    networks: &Networks,
    containers: &Containers,
    c: &Container,
    name: &str,
    index: usize,
) -> Result<Planned> {
    let net = networks.get(name)?;
    let requested = (index == 0 && !c.host_config.ipv4_address.is_empty())
        .then(|| c.host_config.ipv4_address.parse().ok())
        .flatten();
    let address = networks.allocate(&net, &c.id, requested, containers)?;
    let gateway = net.gateway()?;
    let bridge_addr = Ipv4Net::new(gateway, address.prefix_len()).expect("valid prefix");
    let bridged = networks.ensure_bridge(nl, &net, bridge_addr);
    if let Err(e) = bridged {
        networks.release(&net.name, &address.addr().to_string());
        return Err(e);
    }
    // `--mac-address` names the first interface's; Docker derives the rest.
    let mac = match (index, c.host_config.naming.mac_address) {
        (0, Some(mac)) => mac.0,
        _ => mac_for(address.addr()),
    };
    // Docker's endpoint aliases: `--network-alias` on the first network,
    // and the short ID on any user network.
    let mut aliases = Vec::new();
    if net.resolves_names() {
        if index == 0 {
            aliases.extend(c.host_config.naming.network_aliases.iter().cloned());
        }
        aliases.push(c.id[..12].to_string());
    }
    let nic = Nic {
        name: format!("eth{index}"),
        host_end: networks.host_end(&c.id, index),
        address,
        default_via: (index == 0).then_some(gateway),
        mtu: 1500,
        mac: Some(mac),
    };
    Ok(Planned {
        network: net.name.clone(),
        bridge: net.bridge().to_string(),
        endpoint: Endpoint {
            network_id: net.id.clone(),
            endpoint_id: super::dir::random_id(),
            gateway: gateway.to_string(),
            ip_address: address.addr().to_string(),
            ip_prefix_len: address.prefix_len(),
            mac_address: mac.map(|b| format!("{b:02x}")).join(":"),
            host_end: nic.host_end.clone(),
            interface: nic.name.clone(),
            aliases,
        },
        nic,
    })
}

/// `network connect` of a running container: plans `eth<index>` and plugs
/// it into process `pid`'s namespace from outside (lesson 5's `attach`).
pub fn connect(
    networks: &Networks,
    containers: &Containers,
    c: &Container,
    pid: i32,
    name: &str,
    index: usize,
) -> Result<Endpoint> {
    let nl = Netlink::open()?;
    let p = plan(&nl, networks, containers, c, name, index)?;
    let at = NetNs::at(format!("/proc/{pid}/ns/net"));
    let plugged = net_demo::attach::attach(&nl, &p.bridge, &at, &p.nic);
    if let Err(e) = plugged {
        networks.release(&p.network, &p.endpoint.ip_address);
        return Err(e.into());
    }
    Ok(p.endpoint)
}

/// Gives an endpoint's address back; with `unplug`, deletes the veth too
/// (its host end takes its peer along). A container that has exited needs
/// no unplugging: its network namespace takes the veth with it, and
/// deleting a link waits for an RCU grace period.
pub fn disconnect(networks: &Networks, name: &str, endpoint: &Endpoint, unplug: bool) {
    if unplug {
        if let Ok(nl) = Netlink::open() {
            let _ = nl.delete(&endpoint.host_end);
        }
    }
    networks.release(name, &endpoint.ip_address);
}

/// Rewrites the `/etc/hosts` of container `c` from its endpoints: its own
/// name and addresses, `--add-host` entries, and its `--link` targets (on
/// user networks peers are found by the embedded DNS instead, as with
/// Docker).
pub fn write_hosts(
    containers: &Containers,
    c: &Container,
    endpoints: &BTreeMap<String, Endpoint>,
) -> Result<()> {
    let names = |c: &Container| {
        format!(
            "{} {} {}",
            c.config.hostname,
            c.name.trim_start_matches('/'),
            &c.id[..12]
        )
    };
    let own: Vec<(String, String)> = endpoints
        .values()
        .map(|e| (e.ip_address.clone(), names(c)))
        .collect();
    let peers = super::dns::link_entries(containers, c)?;
    let text = network::hosts_file(&own, &c.host_config.extra_hosts, &peers);
    network::rewrite_in_place(&containers.dir(&c.id).join("hosts"), &text)
}

/// Starts the proxies of `-p` and `-P` towards `address`; returns them and
/// the ports as `inspect` and `ps` show them.
pub fn publish(c: &Container, address: Ipv4Addr) -> Result<(Vec<Published>, Ports)> {
    let mut wanted: Vec<(String, HostPort)> = Vec::new();
    for (key, hosts) in &c.host_config.port_bindings {
        for h in hosts {
            wanted.push((key.clone(), h.clone()));
        }
    }
    if c.host_config.publish_all_ports {
        for key in c.config.exposed_ports.keys() {
            if !c.host_config.port_bindings.contains_key(key) {
                wanted.push((key.clone(), HostPort::default()));
            }
        }
    }
    let mut published = Vec::new();
    let mut shown = Ports::new();
    for (key, host) in wanted {
        let spec = port_spec(&key, &host)?;
        let p = net_demo::publish::publish(&spec, address).map_err(|e| match e {
            net_demo::Error::Invalid(m) => Error::from(crate::network::NetworkError::Publish(m)),
            e => e.into(),
        })?;
        let mut bound = vec![p];
        // Every address means IPv6 too, on the same port, as Docker does.
        if spec.host_ip.is_none() {
            let port = bound[0].host.port();
            bound.extend(net_demo::publish::publish_ipv6_twin(&spec, port, address));
        }
        for p in bound {
            shown.entry(key.clone()).or_default().push(HostPort {
                host_ip: p.host.ip().to_string(),
                host_port: p.host.port().to_string(),
            });
            published.push(p);
        }
    }
    Ok((published, shown))
}

/// One recorded binding (`"80/tcp"` → `{HostIp, HostPort}`) as the proxy
/// takes it: an empty address is every address, an empty or `0` port a
/// random one.
fn port_spec(key: &str, host: &HostPort) -> Result<PortSpec> {
    let bad = || Error::Corrupt(format!("a recorded port binding: {key} {host:?}"));
    let (port, proto) = key.split_once('/').unwrap_or((key, "tcp"));
    Ok(PortSpec {
        host_ip: match host.host_ip.as_str() {
            "" => None,
            ip => Some(ip.parse().map_err(|_| bad())?),
        },
        host_port: match host.host_port.as_str() {
            "" => None,
            p => Some(p.parse().map_err(|_| bad())?),
        },
        container_port: port.parse().map_err(|_| bad())?,
        proto: match proto {
            "udp" => net_demo::publish::Proto::Udp,
            _ => net_demo::publish::Proto::Tcp,
        },
    })
}

/// `0.0.0.0:8080->80/tcp, …`: the PORTS column of `ps`.
pub fn ports_column(ports: &Ports) -> String {
    ports
        .iter()
        .flat_map(|(key, hosts)| {
            hosts
                .iter()
                .map(move |h| format!("{}:{}->{key}", h.host_ip, h.host_port))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
