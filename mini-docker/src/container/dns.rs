//! Name resolution, as Docker's daemon provides it, without a daemon.
//!
//! On a user network every container's `resolv.conf` names `127.0.0.11`,
//! and its monitor answers there: a UDP and a TCP socket bound inside the
//! container's network namespace (by a short-lived thread that joins it),
//! served by one thread of the monitor that stays in the host's namespace.
//! Names, short IDs and `--network-alias`es of the running containers on
//! the same networks resolve from their records on disk, read per query
//! (always current, nothing to invalidate); any other name is forwarded to
//! the upstream servers — `--dns`, or the host's — from the host's side,
//! where even a loopback resolver such as systemd-resolved is reachable.
//!
//! The default bridge keeps Docker's legacy arrangement: the host's
//! resolvers in `resolv.conf`, and `--link` targets in `/etc/hosts`.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::thread::JoinHandle;
use std::time::Duration;

use net_demo::dns::{Query, Rcode, CLASS_IN, TYPE_A};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::{Deserialize, Serialize};

use super::dir::Containers;
use super::lifecycle::is_running;
use super::record::Container;

/// The embedded resolver's address, as Docker's.
pub const RESOLVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Where unknown names go instead of the configured servers:
/// `HOST:PORT[,…]`, or `off` to refuse them (the tests' setting: they may
/// not send queries off the machine).
pub const UPSTREAM_ENV: &str = "MINI_DOCKER_DNS_UPSTREAM";
/// How long a forwarded query may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(3);

/// This module's errors.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{0} is not a valid mac address")]
    Mac(String),
    #[error("invalid link format: {0}")]
    Link(String),
    #[error("could not get container for {0}: No such container: {0}")]
    NoLinkTarget(String),
    #[error("Cannot link to a non running container: /{target} AS /{me}/{alias}")]
    NotRunning {
        target: String,
        me: String,
        alias: String,
    },
    #[error("embedded DNS: {step}: {error}")]
    Resolver {
        step: &'static str,
        error: std::io::Error,
    },
}

impl From<DnsError> for crate::Error {
    fn from(e: DnsError) -> Self {
        match e {
            DnsError::NoLinkTarget(_) => crate::Error::NotFound(e.to_string()),
            DnsError::Resolver { .. } => {
                crate::Error::io("127.0.0.11:53", std::io::Error::other(e.to_string()))
            }
            e => crate::Error::Dns(e),
        }
    }
}

/// The naming flags of `create`/`run`, as recorded in `HostConfig`
/// (flattened into it, under Docker's field names where Docker has them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Naming {
    /// `--link NAME[:ALIAS]`, as `NAME:ALIAS`.
    #[serde(default)]
    pub links: Vec<String>,
    /// `--dns-search`.
    #[serde(default)]
    pub dns_search: Vec<String>,
    /// `--dns-option`.
    #[serde(default)]
    pub dns_options: Vec<String>,
    /// mini-docker's own: `--network-alias`, for the first network (Docker
    /// keeps them in the endpoint's settings; `inspect` shows them there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
    /// mini-docker's own: `--mac-address` for the first interface.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<Mac>,
}

/// A MAC address (`--mac-address`), checked as Docker checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mac(pub [u8; 6]);

impl std::str::FromStr for Mac {
    type Err = DnsError;
    /// Six hex pairs separated by `:` or `-`.
    fn from_str(s: &str) -> Result<Self, DnsError> {
        let bad = || DnsError::Mac(s.to_string());
        let sep = if s.contains('-') { '-' } else { ':' };
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
            return Err(bad());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(parts) {
            *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
        }
        Ok(Mac(out))
    }
}

impl TryFrom<String> for Mac {
    type Error = DnsError;
    fn try_from(s: String) -> Result<Self, DnsError> {
        s.parse()
    }
}

impl From<Mac> for String {
    fn from(m: Mac) -> String {
        m.to_string()
    }
}

impl std::fmt::Display for Mac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hex: Vec<String> = self.0.iter().map(|b| format!("{b:02x}")).collect();
        f.write_str(&hex.join(":"))
    }
}

/// The flags as typed.
#[derive(Debug, Clone, Default)]
pub struct NamingFlags {
    pub links: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub network_aliases: Vec<String>,
    pub mac_address: Option<String>,
}

impl Naming {
    /// Checks the flags at create: a valid MAC, well-formed links to
    /// containers that exist (whether they run is checked at start).
    pub fn from_flags(flags: &NamingFlags, containers: &Containers) -> Result<Naming, DnsError> {
        let mut links = Vec::new();
        for link in &flags.links {
            let (name, alias) = link.split_once(':').unwrap_or((link, link));
            let name = name.trim_start_matches('/');
            if name.is_empty() || alias.is_empty() || alias.contains(':') {
                return Err(DnsError::Link(link.clone()));
            }
            if containers.find(name).is_err() {
                return Err(DnsError::NoLinkTarget(name.to_string()));
            }
            links.push(format!("{name}:{}", alias.trim_start_matches('/')));
        }
        Ok(Naming {
            links,
            dns_search: flags.dns_search.clone(),
            dns_options: flags.dns_options.clone(),
            network_aliases: flags.network_aliases.clone(),
            mac_address: flags
                .mac_address
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(str::parse)
                .transpose()?,
        })
    }

    /// `(name, alias)` of each link.
    pub fn links(&self) -> impl Iterator<Item = (&str, &str)> {
        self.links
            .iter()
            .map(|l| l.split_once(':').unwrap_or((l.as_str(), l.as_str())))
    }
}

/// Whether a network mode is a user network (one with the embedded DNS).
pub fn is_user_network(mode: &str) -> bool {
    !matches!(mode, "" | "default" | "bridge" | "none" | "host") && !mode.starts_with("container:")
}

/// The container's `resolv.conf`, as Docker writes it. On a user network:
/// the search domains, `nameserver 127.0.0.11`, and the options with
/// `ndots:0` unless one is given (so that a bare name is tried as is
/// first). Elsewhere: `--dns` or the host's servers (without loopback
/// ones), with `--dns-search`/`--dns-option` replacing the host's.
/// The host's resolv.conf, the model of a container's; `None` when real
/// name servers may not be asked (`MINI_DOCKER_DNS_UPSTREAM=off`, as the
/// tests run: no query may leave the machine).
pub fn host_resolv_conf() -> Option<String> {
    if std::env::var(UPSTREAM_ENV).is_ok_and(|v| v == "off") {
        return None;
    }
    Some(std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default())
}

/// After `network connect` to a user network, the container's resolv.conf
/// names the embedded resolver, as Docker rewrites it. Rewritten in place:
/// the file is bind-mounted into the container, which would not see a new
/// inode.
pub fn use_embedded_resolver(containers: &Containers, c: &Container) -> crate::Result<()> {
    use std::io::Write as _;
    let text = resolv_conf(
        host_resolv_conf().as_deref(),
        &c.host_config.dns,
        &c.host_config.naming,
        true,
    );
    let path = containers.dir(&c.id).join("resolv.conf");
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| crate::Error::io(&path, e))
}

/// Without the host's resolvers (`host` is `None`), a container on a
/// network without the embedded resolver asks `127.0.0.1` in its own
/// namespace, where nothing answers.
pub fn resolv_conf(
    host: Option<&str>,
    dns: &[String],
    naming: &Naming,
    user_network: bool,
) -> String {
    let offline = host.is_none();
    let host = host.unwrap_or_default();
    let host_lines = |key: &str| -> Vec<String> {
        host.lines()
            .filter_map(|l| l.strip_prefix(key))
            .filter(|rest| rest.starts_with([' ', '\t']))
            .flat_map(|rest| rest.split_whitespace().map(String::from))
            .collect()
    };
    let search = if naming.dns_search.is_empty() {
        host_lines("search")
    } else {
        naming.dns_search.clone()
    };
    let mut options = if naming.dns_options.is_empty() {
        host_lines("options")
    } else {
        naming.dns_options.clone()
    };
    let servers: Vec<String> = if user_network {
        options.retain(|o| !o.starts_with("ndots:") || !naming.dns_options.is_empty());
        if !options.iter().any(|o| o.starts_with("ndots:")) {
            options.push("ndots:0".into());
        }
        vec![RESOLVER.to_string()]
    } else if !dns.is_empty() {
        dns.to_vec()
    } else if offline {
        vec!["127.0.0.1".into()]
    } else {
        let found: Vec<String> = host_lines("nameserver")
            .into_iter()
            .filter(|a| !a.starts_with("127.") && a != "::1")
            .collect();
        if found.is_empty() {
            vec!["8.8.8.8".into(), "8.8.4.4".into()]
        } else {
            found
        }
    };
    let mut out = String::new();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// `/etc/hosts` lines for the `--link`s of `c`: `IP\tALIAS ID NAME` (or
/// `IP\tNAME ID` when the alias is the name), as Docker writes them. A
/// link to a container that is not running fails the start.
pub fn link_entries(
    containers: &Containers,
    c: &Container,
) -> Result<Vec<(String, String)>, DnsError> {
    let me = c.name.trim_start_matches('/');
    let mut out = Vec::new();
    for (name, alias) in c.host_config.naming.links() {
        let target = containers
            .find(name)
            .map_err(|_| DnsError::NoLinkTarget(name.to_string()))?;
        let runtime = containers.runtime(&target.id);
        let ip = runtime
            .ok()
            .filter(is_running)
            .and_then(|r| r.networks.values().next().map(|e| e.ip_address.clone()));
        let Some(ip) = ip else {
            return Err(DnsError::NotRunning {
                target: name.to_string(),
                me: me.to_string(),
                alias: alias.to_string(),
            });
        };
        let id = &target.id[..12];
        let names = if alias == name {
            format!("{name} {id}")
        } else {
            format!("{alias} {id} {name}")
        };
        out.push((ip, names));
    }
    Ok(out)
}

/// The addresses `name` has for container `mine` on its user networks
/// `nets` — `None` when it is not a name of their containers (it is then
/// forwarded).
pub fn lookup(
    containers: &Containers,
    mine: &Container,
    nets: &[String],
    name: &str,
) -> Option<Vec<Ipv4Addr>> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    // A link on a user network is an alias seen by this container only.
    let wanted = mine
        .host_config
        .naming
        .links()
        .find(|(_, alias)| alias.eq_ignore_ascii_case(&name))
        .map_or(name, |(target, _)| target.to_ascii_lowercase());
    let mut found = Vec::new();
    for other in containers.list().ok()? {
        let Ok(runtime) = containers.runtime(&other.id) else {
            continue;
        };
        if !is_running(&runtime) {
            continue;
        }
        for net in nets {
            let Some(endpoint) = runtime.networks.get(net) else {
                continue;
            };
            let matches = other
                .name
                .trim_start_matches('/')
                .eq_ignore_ascii_case(&wanted)
                || other.id[..12] == wanted
                || endpoint
                    .aliases
                    .iter()
                    .any(|a| a.eq_ignore_ascii_case(&wanted));
            if let (true, Ok(ip)) = (matches, endpoint.ip_address.parse()) {
                if !found.contains(&ip) {
                    found.push(ip);
                }
            }
        }
    }
    (!found.is_empty()).then_some(found)
}

/// Where unknown names go: the environment's override, `--dns`, or the
/// host's name servers. `None`: refuse them.
fn upstreams(c: &Container) -> Option<Vec<SocketAddr>> {
    if let Ok(v) = std::env::var(UPSTREAM_ENV) {
        if v == "off" {
            return None;
        }
        return Some(v.split(',').filter_map(|a| a.trim().parse().ok()).collect());
    }
    let servers: Vec<String> = if c.host_config.dns.is_empty() {
        let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        host.lines()
            .filter_map(|l| l.strip_prefix("nameserver"))
            .map(|a| a.trim().to_string())
            .collect()
    } else {
        c.host_config.dns.clone()
    };
    Some(
        servers
            .iter()
            .filter_map(|s| s.parse::<std::net::IpAddr>().ok())
            .map(|ip| SocketAddr::new(ip, 53))
            .collect(),
    )
}

/// Relays a query's bytes to the first upstream that answers.
fn forward(upstreams: &[SocketAddr], query: &[u8]) -> Option<Vec<u8>> {
    for server in upstreams {
        let local: SocketAddr = if server.is_ipv4() {
            "0.0.0.0:0".parse().expect("valid")
        } else {
            "[::]:0".parse().expect("valid")
        };
        let Ok(socket) = UdpSocket::bind(local) else {
            continue;
        };
        let _ = socket.set_read_timeout(Some(FORWARD_TIMEOUT));
        if socket.send_to(query, server).is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok((n, from)) = socket.recv_from(&mut buf) {
            if from == *server && n >= 2 && buf[..2] == query[..2] {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

/// What the resolver needs to answer for one container.
struct Answerer {
    containers: Containers,
    me: Container,
    /// The user networks it serves from the start (the container's own
    /// record may not list them yet when its first query comes); those
    /// joined later (`network connect`) are read from the record.
    nets: Vec<String>,
    upstreams: Option<Vec<SocketAddr>>,
}

impl Answerer {
    fn nets(&self) -> Vec<String> {
        let mut nets = self.nets.clone();
        if let Ok(runtime) = self.containers.runtime(&self.me.id) {
            nets.extend(
                runtime
                    .networks
                    .into_keys()
                    .filter(|n| is_user_network(n) && !self.nets.contains(n)),
            );
        }
        nets
    }

    /// The answer to one message, or none for bytes that are not a query.
    fn answer(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        let query = match Query::parse(bytes) {
            Ok(q) => q,
            Err(_) if bytes.len() >= 12 => {
                // Echo the header with FORMERR, as a server does.
                let mut out = bytes[..12].to_vec();
                out[2] |= 0x80;
                out[3] = (out[3] & 0xF0) | Rcode::FormErr as u8;
                out[4..12].fill(0);
                return Some(out);
            }
            Err(_) => return None,
        };
        if query.qclass == CLASS_IN {
            if let Some(addresses) = lookup(&self.containers, &self.me, &self.nets(), &query.name) {
                // Our names have IPv4 addresses only: other types get an
                // empty answer, not an error, so the client keeps the A.
                let addresses = if query.qtype == TYPE_A {
                    addresses
                } else {
                    Vec::new()
                };
                return Some(query.answer(Rcode::NoError, &addresses));
            }
        }
        match &self.upstreams {
            None => Some(query.answer(Rcode::Refused, &[])),
            Some(servers) => {
                Some(forward(servers, bytes).unwrap_or_else(|| query.answer(Rcode::ServFail, &[])))
            }
        }
    }

    /// One TCP client: length-prefixed messages until it closes.
    fn serve_tcp(&self, mut stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
        loop {
            let mut len = [0u8; 2];
            if stream.read_exact(&mut len).is_err() {
                return;
            }
            let mut message = vec![0u8; u16::from_be_bytes(len) as usize];
            if stream.read_exact(&mut message).is_err() {
                return;
            }
            let Some(reply) = self.answer(&message) else {
                return;
            };
            let mut framed = (reply.len() as u16).to_be_bytes().to_vec();
            framed.extend_from_slice(&reply);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
    }
}

/// The embedded resolver of one run of a container; dropping it stops it.
#[derive(Debug)]
pub struct Resolver {
    /// Closing it wakes the serving thread (`POLLHUP` on the read end).
    stop: Option<OwnedFd>,
    thread: Option<JoinHandle<()>>,
}

/// A socket bound at 127.0.0.11:53 inside the namespace `netns`.
fn bind_inside(netns: &std::fs::File) -> Result<(UdpSocket, TcpListener), DnsError> {
    use nix::sys::socket::{self, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    let fail = |step| {
        move |e: nix::Error| DnsError::Resolver {
            step,
            error: std::io::Error::from(e),
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(fail("setns"))?;
            let address = SockaddrIn::from(std::net::SocketAddrV4::new(RESOLVER, 53));
            let open = |kind| -> Result<OwnedFd, DnsError> {
                let fd = socket::socket(AddressFamily::Inet, kind, SockFlag::SOCK_CLOEXEC, None)
                    .map_err(fail("socket"))?;
                // The container's loopback may not be up yet.
                socket::setsockopt(&fd, sockopt::IpFreebind, &true).map_err(fail("freebind"))?;
                socket::setsockopt(&fd, sockopt::ReuseAddr, &true).map_err(fail("reuseaddr"))?;
                socket::bind(fd.as_raw_fd(), &address).map_err(fail("bind"))?;
                Ok(fd)
            };
            let udp = UdpSocket::from(open(SockType::Datagram)?);
            let tcp = open(SockType::Stream)?;
            socket::listen(&tcp, socket::Backlog::new(16).expect("valid backlog"))
                .map_err(fail("listen"))?;
            Ok((udp, TcpListener::from(tcp)))
        })
        .join()
        .expect("the binding thread does not panic")
    })
}

impl Resolver {
    /// Binds 127.0.0.11:53 in the network namespace of process `pid` (the
    /// container, before its command runs) and serves it from a thread.
    pub fn start(
        containers: Containers,
        c: &Container,
        nets: Vec<String>,
        pid: i32,
    ) -> crate::Result<Resolver> {
        let path = format!("/proc/{pid}/ns/net");
        let netns = std::fs::File::open(&path).map_err(|e| crate::Error::io(&path, e))?;
        let (udp, tcp) = bind_inside(&netns)?;
        let (stop_read, stop_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| crate::Error::System(chroot_demo::Error::sys("pipe", e)))?;
        let answerer = Answerer {
            containers,
            me: c.clone(),
            nets,
            upstreams: upstreams(c),
        };
        let thread = std::thread::Builder::new()
            .name("dns".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(&answerer, &udp, &tcp, &stop_read))
            .map_err(|e| crate::Error::io("dns thread", e))?;
        Ok(Resolver {
            stop: Some(stop_write),
            thread: Some(thread),
        })
    }
}

impl Drop for Resolver {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The serving loop: one message at a time, until the stop pipe closes.
fn serve(answerer: &Answerer, udp: &UdpSocket, tcp: &TcpListener, stop: &OwnedFd) {
    let mut buf = vec![0u8; 4096];
    loop {
        let mut fds =
            [udp.as_fd(), tcp.as_fd(), stop.as_fd()].map(|fd| PollFd::new(fd, PollFlags::POLLIN));
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready = fds.map(|fd| fd.revents().is_some_and(|r| !r.is_empty()));
        if ready[2] {
            return;
        }
        if ready[0] {
            if let Ok((len, from)) = udp.recv_from(&mut buf) {
                if let Some(reply) = answerer.answer(&buf[..len]) {
                    let _ = udp.send_to(&reply, from);
                }
            }
        }
        if ready[1] {
            if let Ok((stream, _)) = tcp.accept() {
                answerer.serve_tcp(stream);
            }
        }
        // Queries are rare and each reads the records afresh: give the
        // thread's heap back, so the monitor stays small between them.
        // SAFETY: malloc_trim only returns free memory.
        unsafe { libc::malloc_trim(0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_checked_as_docker_does() {
        let m: Mac = "02:42:AC:11:00:99".parse().unwrap();
        assert_eq!(m.to_string(), "02:42:ac:11:00:99");
        assert_eq!("02-42-ac-11-00-99".parse::<Mac>().unwrap(), m);
        for bad in ["zz", "02:42:ac:11:00", "02:42:ac:11:00:9g", "0242ac110099"] {
            let e = bad.parse::<Mac>().unwrap_err();
            assert_eq!(e.to_string(), format!("{bad} is not a valid mac address"));
        }
    }

    #[test]
    fn user_networks_name_the_embedded_resolver_with_ndots_0() {
        let host = "search lan\nnameserver 127.0.0.53\noptions edns0\n";
        let none = Naming::default();
        assert_eq!(
            resolv_conf(Some(host), &[], &none, true),
            "search lan\nnameserver 127.0.0.11\noptions edns0 ndots:0\n"
        );
        let given = Naming {
            dns_search: vec!["foo.example".into()],
            dns_options: vec!["timeout:2".into()],
            ..Naming::default()
        };
        assert_eq!(
            resolv_conf(Some(host), &["10.1.1.1".into()], &given, true),
            "search foo.example\nnameserver 127.0.0.11\noptions timeout:2 ndots:0\n"
        );
        let ndots = Naming {
            dns_options: vec!["ndots:3".into()],
            ..Naming::default()
        };
        assert_eq!(
            resolv_conf(Some(""), &[], &ndots, true),
            "nameserver 127.0.0.11\noptions ndots:3\n"
        );
    }

    #[test]
    fn the_default_bridge_keeps_the_hosts_servers_or_dns() {
        let host = "search lan\nnameserver 127.0.0.53\nnameserver 10.0.0.1\n";
        let none = Naming::default();
        assert_eq!(
            resolv_conf(Some(host), &[], &none, false),
            "search lan\nnameserver 10.0.0.1\n"
        );
        assert_eq!(
            resolv_conf(Some("nameserver 127.0.0.53\n"), &[], &none, false),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let given = Naming {
            dns_search: vec!["a.b".into()],
            dns_options: vec!["ndots:1".into()],
            ..Naming::default()
        };
        assert_eq!(
            resolv_conf(Some(host), &["10.9.9.9".into()], &given, false),
            "search a.b\nnameserver 10.9.9.9\noptions ndots:1\n"
        );
        // Offline (the tests): the container's own loopback, never the
        // host's servers nor Google's.
        assert_eq!(
            resolv_conf(None, &[], &none, false),
            "nameserver 127.0.0.1\n"
        );
    }

    #[test]
    fn only_user_networks_get_the_resolver() {
        for mode in ["bridge", "default", "host", "none", "container:x", ""] {
            assert!(!is_user_network(mode), "{mode}");
        }
        assert!(is_user_network("appnet"));
    }
}
