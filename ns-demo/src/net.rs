//! The smallest network facts: bringing an interface up, and whether
//! loopback traffic flows.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd as _;

use crate::{Error, Result};

/// `ip link set NAME up`, by the old `SIOCSIFFLAGS` ioctl: enough for `lo`
/// (lesson 5 talks netlink for everything else).
pub fn set_up(name: &str) -> Result<()> {
    tracing::info!(target: "explain", "ip link set {name} up");
    let socket = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))
        .map_err(|e| Error::io("socket", e))?;
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    if name.len() >= req.ifr_name.len() {
        return Err(Error::Invalid(format!("{name}: interface name too long")));
    }
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    let fd = socket.as_raw_fd();
    // SAFETY: fd is a valid socket and req a valid ifreq for both requests.
    unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut req) < 0 {
            return Err(Error::sys(
                format!("ioctl SIOCGIFFLAGS {name}"),
                nix::errno::Errno::last(),
            ));
        }
        req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(fd, libc::SIOCSIFFLAGS, &req) < 0 {
            return Err(Error::sys(
                format!("ip link set {name} up"),
                nix::errno::Errno::last(),
            ));
        }
    }
    Ok(())
}

/// Opens a listener on 127.0.0.1 and connects to it: `Ok(())` when loopback
/// works, or the connect error (e.g. "Network is unreachable" while `lo` is
/// down).
pub fn loopback_connect() -> std::io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let addr: SocketAddr = listener.local_addr()?;
    TcpStream::connect(addr).map(drop)
}
