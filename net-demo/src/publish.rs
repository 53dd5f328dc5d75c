//! `docker run -p [hostIP:]hostPort:containerPort[/tcp|udp]`, by a userland
//! proxy (Docker's `docker-proxy` plays the same role beside its netfilter
//! rules): the host listens on the published port and relays each
//! connection, or each UDP client's datagrams, to the container's address.
//! It works for 127.0.0.1 without `route_localnet` tricks, and it leaves no
//! kernel state behind: dropping the [`Published`] stops it.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One published port: what a `-p` argument (or one port of its range)
/// asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// `None`: every host address (0.0.0.0 and, where the host has IPv6, ::).
    pub host_ip: Option<IpAddr>,
    /// `None`: a random free port (`-p 80`, or `-P`); `Some(0)` too, but
    /// recorded as Docker records `-p 0:80`.
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub proto: Proto,
}

impl FromStr for PortSpec {
    type Err = Error;

    /// A `-p` argument for exactly one port (see [`parse_publish`]).
    fn from_str(text: &str) -> Result<Self> {
        match parse_publish(text)?.as_slice() {
            [one] => Ok(*one),
            _ => Err(Error::Invalid(format!(
                "invalid port specification \"{text}\": a range publishes several ports"
            ))),
        }
    }
}

/// A port or an inclusive range, `80` or `8000-8010`.
fn port_range(text: &str) -> Option<(u16, u16)> {
    let (lo, hi) = text.split_once('-').unwrap_or((text, text));
    let (lo, hi) = (lo.parse::<u16>().ok()?, hi.parse::<u16>().ok()?);
    (lo <= hi).then_some((lo, hi))
}

/// Everything one `-p` argument publishes, by Docker's rules:
/// `[IP:][HOSTPORT[-END]:]PORT[-END][/PROTO]`, where IP may be IPv6, bare
/// (`:::80:80`, the last two colons separate the ports) or in brackets
/// (`[::1]:80:80`), an empty or `0` host port is a random one, and a range
/// publishes one port per member (host and container ranges as long as
/// each other). Errors carry Docker's wording.
pub fn parse_publish(text: &str) -> Result<Vec<PortSpec>> {
    let invalid = |why: String| Error::Invalid(why);
    let (ports, proto) = match text.rsplit_once('/') {
        Some((p, "tcp")) => (p, Proto::Tcp),
        Some((p, "udp")) => (p, Proto::Udp),
        Some((_, "sctp")) => {
            return Err(invalid(format!(
                "invalid port specification \"{text}\": the protocol must be tcp or udp"
            )))
        }
        Some((_, other)) => return Err(invalid(format!("Invalid proto: {other}"))),
        None => (text, Proto::Tcp),
    };
    let parts: Vec<&str> = ports.split(':').collect();
    let (ip, host, container) = match parts.as_slice() {
        [c] => ("", "", *c),
        [h, c] => ("", *h, *c),
        [ip, h, c] => (*ip, *h, *c),
        [ip @ .., h, c] => (&ports[..ip.join(":").len()], *h, *c),
        [] => unreachable!("split yields at least one part"),
    };
    let host_ip = match ip {
        "" => None,
        ip => {
            let bare = match ip.strip_prefix('[') {
                Some(rest) => rest
                    .strip_suffix(']')
                    .ok_or_else(|| invalid(format!("Invalid ip address: {ip}")))?,
                None => ip,
            };
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|_| invalid(format!("Invalid ip address: {ip}")))?,
            )
        }
    };
    let (c_lo, c_hi) = port_range(container)
        .filter(|(lo, _)| *lo != 0)
        .ok_or_else(|| invalid(format!("Invalid containerPort: {container}")))?;
    let host_range = match host {
        "" => None,
        h => Some(port_range(h).ok_or_else(|| invalid(format!("Invalid hostPort: {h}")))?),
    };
    if let Some((h_lo, h_hi)) = host_range {
        // A host range for one container port is where to pick it from
        // (the first port here); a container range needs its own length.
        if c_lo != c_hi && h_hi - h_lo != c_hi - c_lo {
            return Err(invalid(format!(
                "Invalid ranges specified for container and host Ports: {container} and {host}"
            )));
        }
    }
    Ok((c_lo..=c_hi)
        .map(|port| PortSpec {
            host_ip,
            host_port: host_range.map(|(h_lo, _)| h_lo + (port - c_lo)),
            container_port: port,
            proto,
        })
        .collect())
}

/// A running publication; dropping it stops the proxy.
#[derive(Debug)]
pub struct Published {
    /// Where the host listens (with the real port when it was random).
    pub host: SocketAddr,
    pub target: SocketAddr,
    pub proto: Proto,
    stop: Arc<AtomicBool>,
    socket_fd: i32,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Display for Published {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}/{}", self.host, self.target, self.proto)
    }
}

/// Starts relaying `spec`'s host port to `container:container_port`.
pub fn publish(spec: &PortSpec, container: Ipv4Addr) -> Result<Published> {
    let host_ip = spec.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let bind = SocketAddr::new(host_ip, spec.host_port.unwrap_or(0));
    start(spec, bind, container, false)
}

/// For a port published on every address: the same host `port` on `::`
/// too (IPv6 only, beside the IPv4 socket), as Docker's proxy listens on
/// both. `None` when the host has no IPv6 or the port is taken there.
pub fn publish_ipv6_twin(spec: &PortSpec, port: u16, container: Ipv4Addr) -> Option<Published> {
    let bind = SocketAddr::new(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED), port);
    start(spec, bind, container, true).ok()
}

/// A socket bound to `bind`, IPv6-only when asked (so that it does not
/// also claim the IPv4 port).
fn bind_socket(bind: SocketAddr, proto: Proto, v6only: bool) -> io::Result<std::os::fd::OwnedFd> {
    use nix::sys::socket::{self as so, sockopt};
    let family = match bind {
        SocketAddr::V4(_) => so::AddressFamily::Inet,
        SocketAddr::V6(_) => so::AddressFamily::Inet6,
    };
    let kind = match proto {
        Proto::Tcp => so::SockType::Stream,
        Proto::Udp => so::SockType::Datagram,
    };
    let fd = so::socket(family, kind, so::SockFlag::SOCK_CLOEXEC, None)?;
    so::setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    if v6only {
        so::setsockopt(&fd, sockopt::Ipv6V6Only, &true)?;
    }
    so::bind(fd.as_raw_fd(), &so::SockaddrStorage::from(bind))?;
    if proto == Proto::Tcp {
        so::listen(&fd, so::Backlog::new(128)?)?;
    }
    Ok(fd)
}

fn start(
    spec: &PortSpec,
    bind: SocketAddr,
    container: Ipv4Addr,
    v6only: bool,
) -> Result<Published> {
    let target = SocketAddr::new(IpAddr::V4(container), spec.container_port);
    let stop = Arc::new(AtomicBool::new(false));
    let in_use = |e: io::Error| {
        Error::Invalid(format!(
            "cannot publish {bind}/{}: {e}{}",
            spec.proto,
            if e.kind() == io::ErrorKind::AddrInUse {
                " (port is already allocated)"
            } else {
                ""
            }
        ))
    };
    tracing::info!(target: "explain", "proxy {bind}/{} -> {target}   # like docker-proxy", spec.proto);
    let fd = bind_socket(bind, spec.proto, v6only).map_err(in_use)?;
    let (host, socket_fd, thread) = match spec.proto {
        Proto::Tcp => {
            let listener = TcpListener::from(fd);
            let host = listener.local_addr().map_err(in_use)?;
            let fd = listener.as_raw_fd();
            let stop = stop.clone();
            (
                host,
                fd,
                std::thread::spawn(move || serve_tcp(listener, target, &stop)),
            )
        }
        Proto::Udp => {
            let socket = UdpSocket::from(fd);
            socket
                .set_read_timeout(Some(Duration::from_millis(100)))
                .map_err(in_use)?;
            let host = socket.local_addr().map_err(in_use)?;
            let fd = socket.as_raw_fd();
            let stop = stop.clone();
            (
                host,
                fd,
                std::thread::spawn(move || serve_udp(socket, target, &stop)),
            )
        }
    };
    Ok(Published {
        host,
        target,
        proto: spec.proto,
        stop,
        socket_fd,
        thread: Some(thread),
    })
}

impl Drop for Published {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Shutting a listening socket down wakes its blocked accept().
        // SAFETY: the fd is the proxy's socket, still open until the thread ends.
        unsafe { libc::shutdown(self.socket_fd, libc::SHUT_RDWR) };
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve_tcp(listener: TcpListener, target: SocketAddr, stop: &AtomicBool) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        std::thread::spawn(move || {
            if let Ok(upstream) = TcpStream::connect_timeout(&target, Duration::from_secs(5)) {
                relay(client, upstream);
            }
        });
    }
}

/// Copies both ways until each side has finished sending.
fn relay(a: TcpStream, b: TcpStream) {
    let (Ok(a2), Ok(b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let forward = std::thread::spawn(move || pipe(a, b2));
    pipe(b, a2);
    let _ = forward.join();
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// UDP has no connections: one upstream socket per client address, forgotten
/// after a minute of silence.
fn serve_udp(socket: UdpSocket, target: SocketAddr, stop: &AtomicBool) {
    let sessions: Arc<Mutex<HashMap<SocketAddr, (UdpSocket, Instant)>>> = Arc::default();
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, client)) = socket.recv_from(&mut buf) else {
            sessions
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .retain(|_, (_, seen)| seen.elapsed() < Duration::from_secs(60));
            continue;
        };
        let mut table = sessions.lock().unwrap_or_else(|e| e.into_inner());
        let session = match table.entry(client) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                let Some(upstream) = open_session(&socket, target, client) else {
                    continue;
                };
                v.insert((upstream, Instant::now()))
            }
        };
        session.1 = Instant::now();
        let _ = session.0.send(&buf[..n]);
    }
}

/// A socket connected to the container for one client, and a thread that
/// relays the container's replies back to that client.
fn open_session(socket: &UdpSocket, target: SocketAddr, client: SocketAddr) -> Option<UdpSocket> {
    let upstream = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    upstream.connect(target).ok()?;
    let replies = upstream.try_clone().ok()?;
    let back = socket.try_clone().ok()?;
    let _ = replies.set_read_timeout(Some(Duration::from_secs(60)));
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = replies.recv(&mut buf) {
            if back.send_to(&buf[..n], client).is_err() {
                break;
            }
        }
    });
    Some(upstream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_port_syntax() {
        let p = |s: &str| s.parse::<PortSpec>();
        assert_eq!(
            p("127.0.0.1:18080:80").unwrap(),
            PortSpec {
                host_ip: Some("127.0.0.1".parse().unwrap()),
                host_port: Some(18080),
                container_port: 80,
                proto: Proto::Tcp
            }
        );
        assert_eq!(p("8080:80/udp").unwrap().proto, Proto::Udp);
        assert_eq!(p("8080:80").unwrap().host_ip, None);
        assert_eq!(p("8080:80").unwrap().host_port, Some(8080));
        assert_eq!(p("80").unwrap().host_port, None);
        assert_eq!(p("0:80").unwrap().host_port, Some(0));
        assert_eq!(p("127.0.0.1::80").unwrap().host_port, None);
        assert!(p("80/sctp").unwrap_err().to_string().contains("tcp or udp"));
        assert_eq!(p("80/x").unwrap_err().to_string(), "Invalid proto: x");
        assert_eq!(p("x:80").unwrap_err().to_string(), "Invalid hostPort: x");
        assert_eq!(
            p("80000:80").unwrap_err().to_string(),
            "Invalid hostPort: 80000"
        );
        assert_eq!(
            p("1.2.3:80:80").unwrap_err().to_string(),
            "Invalid ip address: 1.2.3"
        );
        assert_eq!(p("0").unwrap_err().to_string(), "Invalid containerPort: 0");
    }

    #[test]
    fn ipv6_host_addresses_bare_or_in_brackets() {
        let v6 = |s: &str| s.parse::<PortSpec>().unwrap().host_ip.unwrap();
        assert_eq!(v6("[::]:80:80"), "::".parse::<IpAddr>().unwrap());
        assert_eq!(v6(":::80:80"), "::".parse::<IpAddr>().unwrap());
        assert_eq!(v6("[::1]:8080:80"), "::1".parse::<IpAddr>().unwrap());
        assert_eq!(v6("fe80::1:8080:80"), "fe80::1".parse::<IpAddr>().unwrap());
        assert!("[::1:80:80".parse::<PortSpec>().is_err());
    }

    #[test]
    fn ranges_publish_one_port_each() {
        let r = parse_publish("127.0.0.1:8000-8001:80-81/udp").unwrap();
        let pairs: Vec<_> = r.iter().map(|s| (s.host_port, s.container_port)).collect();
        assert_eq!(pairs, [(Some(8000), 80), (Some(8001), 81)]);
        assert!(r.iter().all(|s| s.proto == Proto::Udp));
        let random: Vec<_> = parse_publish("80-82")
            .unwrap()
            .iter()
            .map(|s| s.host_port)
            .collect();
        assert_eq!(random, [None, None, None]);
        assert_eq!(
            parse_publish("8000-8002:80-81").unwrap_err().to_string(),
            "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"
        );
        assert!(parse_publish("8000:80-81").is_err());
        assert_eq!(
            parse_publish("8000-8009:80").unwrap()[0].host_port,
            Some(8000)
        );
        assert!("8000-8001:80-81".parse::<PortSpec>().is_err());
    }
}
