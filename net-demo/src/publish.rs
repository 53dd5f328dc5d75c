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

/// A `-p` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortSpec {
    /// `None`: every host address (0.0.0.0).
    pub host_ip: Option<IpAddr>,
    /// `None`: a random free port (`-p 80`, or `-P`).
    pub host_port: Option<u16>,
    pub container_port: u16,
    pub proto: Proto,
}

impl FromStr for PortSpec {
    type Err = Error;

    /// `80`, `8080:80`, `127.0.0.1:8080:80`, `127.0.0.1::80`, with `/udp`.
    fn from_str(text: &str) -> Result<Self> {
        let invalid =
            |why: &str| Error::Invalid(format!("invalid port specification \"{text}\": {why}"));
        let (ports, proto) = match text.rsplit_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err(invalid("the protocol must be tcp or udp")),
            None => (text, Proto::Tcp),
        };
        let port = |p: &str| -> Result<u16> {
            p.parse::<u16>()
                .ok()
                .filter(|&n| n != 0)
                .ok_or_else(|| invalid(&format!("{p:?} is not a port number")))
        };
        let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
        let (host_ip, host_port, container) = match parts.as_slice() {
            [c] => (None, None, *c),
            [c, h] => (None, Some(*h), *c),
            [c, h, ip] => (Some(*ip), Some(*h), *c),
            _ => return Err(invalid("too many ':'")),
        };
        let host_ip = host_ip
            .map(|ip| {
                ip.trim_matches(|c| c == '[' || c == ']')
                    .parse::<IpAddr>()
                    .map_err(|_| invalid(&format!("{ip:?} is not an IP address")))
            })
            .transpose()?;
        let host_port = match host_port {
            Some("") | None => None,
            Some(p) => Some(port(p)?),
        };
        Ok(PortSpec {
            host_ip,
            host_port,
            container_port: port(container)?,
            proto,
        })
    }
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
    let (host, socket_fd, thread) = match spec.proto {
        Proto::Tcp => {
            let listener = TcpListener::bind(bind).map_err(in_use)?;
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
            let socket = UdpSocket::bind(bind).map_err(in_use)?;
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
        assert_eq!(p("80").unwrap().host_port, None);
        assert_eq!(p("127.0.0.1::80").unwrap().host_port, None);
        assert!(p("80/sctp").unwrap_err().to_string().contains("tcp or udp"));
        assert!(p("x:80")
            .unwrap_err()
            .to_string()
            .contains("not a port number"));
        assert!(p("1.2.3:80:80")
            .unwrap_err()
            .to_string()
            .contains("not an IP address"));
        assert!(p("0").is_err());
    }
}
