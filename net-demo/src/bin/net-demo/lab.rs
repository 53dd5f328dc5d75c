//! The demo's world: a name prefix for everything it creates (`nd<pid>`),
//! its IPAM store, and clean-up of all of it on every exit path.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use ipnet::Ipv4Net;
use narrate::Cleanup;
use net_demo::attach::{self, Nic};
use net_demo::ipam::Ipam;
use net_demo::netlink::Netlink;
use net_demo::netns::NetNs;

pub struct Lab {
    pub prefix: String,
    pub nl: Netlink,
    pub ipam: Ipam,
    _cleanup: Cleanup,
}

impl Lab {
    pub fn new() -> Result<Self> {
        let prefix = format!("nd{}", std::process::id());
        let state: PathBuf = std::env::temp_dir().join(format!("net-demo-{}", std::process::id()));
        let (p, s) = (prefix.clone(), state.clone());
        let cleanup = Cleanup::new(move || {
            let _ = net_demo::cleanup::remove_prefixed(&p);
            let _ = std::fs::remove_dir_all(&s);
        });
        Ok(Lab {
            nl: Netlink::open()?,
            ipam: Ipam::new(state.join("ipam")),
            prefix,
            _cleanup: cleanup,
        })
    }

    /// A name for a link (`nd1234br0`) or namespace.
    pub fn name(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.prefix)
    }

    /// A subnet must not clash with the host's own routes.
    pub fn check_free(&self, subnet: Ipv4Net) -> Result<()> {
        for (route, dev) in self.nl.routes()? {
            if let Some(dest) = route.destination {
                if dest.prefix_len() > 0
                    && (dest.contains(&subnet.network()) || subnet.contains(&dest.network()))
                {
                    bail!("{subnet} overlaps the host's route to {dest} on {dev}; choose another --subnet");
                }
            }
        }
        Ok(())
    }

    /// A network: an IPAM entry `name` plus a bridge `<prefix><bridge>`
    /// holding the gateway address (interface names have 15 bytes at most,
    /// so the bridge gets a short suffix of its own).
    pub fn network(
        &self,
        name: &str,
        bridge: &str,
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
    ) -> Result<(String, Ipv4Net)> {
        self.check_free(subnet)?;
        let net = self.ipam.create(name, subnet, gateway)?;
        let bridge = self.name(bridge);
        let gw = Ipv4Net::new(net.gateway, subnet.prefix_len())?;
        attach::ensure_bridge(&self.nl, &bridge, gw)?;
        println!("   bridge {bridge}: {gw} (the containers' gateway)");
        Ok((bridge, gw))
    }

    /// A "container": a named network namespace.
    pub fn container(&self, name: &str) -> Result<NetNs> {
        Ok(NetNs::create(&self.name(&format!("-{name}")))?)
    }

    /// Plugs a container into a network as `ifname`, with an address from IPAM.
    pub fn plug(
        &self,
        ns: &NetNs,
        (network, bridge, gateway): (&str, &str, Ipv4Net),
        ifname: &str,
        host_end: &str,
        default_route: bool,
    ) -> Result<Ipv4Net> {
        let ip = self.ipam.allocate(network, &ns.shown(), None)?;
        let address = Ipv4Net::new(ip, gateway.prefix_len())?;
        let nic = Nic {
            name: ifname.to_string(),
            host_end: self.name(host_end),
            address,
            default_via: default_route.then_some(gateway.addr()),
            mtu: 1500,
            mac: None,
        };
        attach::attach(&self.nl, bridge, ns, &nic)?;
        Ok(address)
    }
}

/// The name prefixes (`nd<pid>`) to clean: the one asked for, or those of
/// demos that are no longer running.
pub fn leftover_prefixes(asked: Option<String>) -> Result<Vec<String>> {
    if let Some(prefix) = asked {
        return Ok(vec![prefix]);
    }
    let mut names: Vec<String> = Netlink::open()?
        .links()?
        .into_iter()
        .map(|l| l.name)
        .collect();
    names.extend(net_demo::netns::named_with_prefix("nd"));
    let mut prefixes: Vec<String> = names
        .iter()
        .filter(|n| narrate::left_by_dead_run(n, "nd"))
        .map(|n| {
            format!(
                "nd{}",
                n[2..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            )
        })
        .collect();
    prefixes.sort();
    prefixes.dedup();
    Ok(prefixes)
}

/// Inside `ns`: the interfaces with their addresses, and the routes.
pub fn describe(ns: &NetNs, who: &str) -> Result<()> {
    let (links, routes) = ns.run(|| -> net_demo::Result<_> {
        let nl = Netlink::open()?;
        let mut links = Vec::new();
        for link in nl.links()? {
            let addrs: Vec<String> = nl
                .addresses(&link.name)?
                .iter()
                .map(|a| a.to_string())
                .collect();
            links.push(format!(
                "{} {} {}",
                link.name,
                if link.up { "UP" } else { "DOWN" },
                addrs.join(" ")
            ));
        }
        Ok((links, nl.routes()?))
    })??;
    for link in links {
        println!("   {who}: {}", link.trim_end());
    }
    for (route, dev) in routes {
        let dest = route
            .destination
            .map_or("default".to_string(), |d| d.to_string());
        let via = route
            .gateway
            .map(|g| format!(" via {g}"))
            .unwrap_or_default();
        println!("   {who}: route {dest}{via} dev {dev}");
    }
    Ok(())
}

/// Starts a TCP server in `ns` on `addr` that answers each connection with
/// `reply(request)`; returns once it is listening.
pub fn serve(ns: &NetNs, addr: SocketAddr, reply: fn(&[u8]) -> Vec<u8>) -> Result<SocketAddr> {
    let (ready, bound) = mpsc::channel();
    ns.spawn(move || {
        let listener = match TcpListener::bind(addr) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(e.to_string()));
                return;
            }
        };
        let _ = ready.send(listener.local_addr().map_err(|e| e.to_string()));
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let n = conn.read(&mut buf).unwrap_or(0);
            let _ = conn.write_all(&reply(&buf[..n]));
        }
    })?;
    match bound.recv_timeout(Duration::from_secs(5)) {
        Ok(Ok(addr)) => Ok(addr),
        Ok(Err(e)) => bail!("server on {addr}: {e}"),
        Err(_) => bail!("server on {addr} did not start"),
    }
}

pub fn echo(request: &[u8]) -> Vec<u8> {
    request.to_vec()
}

/// Connects to `addr` (from whichever namespace the calling thread is in),
/// sends `message`, returns the answer.
pub fn talk(addr: SocketAddr, message: &str) -> Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .with_context(|| format!("connect to {addr}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(message.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// [`talk`], from inside `ns`.
pub fn talk_from(ns: &NetNs, addr: SocketAddr, message: &str) -> Result<String> {
    let message = message.to_string();
    ns.run(move || talk(addr, &message))?
}
