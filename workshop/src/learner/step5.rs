//! Step 5 (lesson 5, `lessons/05-networking.md`): a veth pair from a
//! network namespace into a bridge — Docker's default `bridge` network.
//!
//! A network namespace starts with nothing but a `lo` that is down. A veth
//! pair is a cable with two ends: one stays on the host, plugged into a
//! bridge (a virtual switch, which holds the network's gateway address),
//! the other goes into the namespace as `eth0`. Two namespaces plugged
//! into one bridge reach each other. The tests create two namespaces
//! (`ip netns add`), [`connect`] both to one bridge, check the links and
//! addresses, and open a TCP connection from one namespace to the other.
//!
//! The easiest way is the `ip` command (`std::process::Command::new("ip")`,
//! checking each status); netlink by hand (lesson 5's library uses
//! `rtnetlink`) is the way a runtime does it.
//!
//! Check your work: `cargo test -p workshop --features learner --test step5`.

use ipnet::Ipv4Net;

use crate::Result;

/// Plugs the network namespace `netns` (a name under `/run/netns`, as
/// `ip netns add` makes) into the bridge `bridge`:
///
/// 1. The bridge, unless it exists (`ip link show BRIDGE` fails when it
///    does not): `ip link add BRIDGE type bridge`, `ip addr add GATEWAY
///    dev BRIDGE` (`gateway` is an address with its prefix, as `ip` takes
///    it: `10.0.0.1/24`), `ip link set BRIDGE up`.
/// 2. The cable: `ip link add HOST_END type veth peer name HOST_ENDp`
///    (names are at most 15 bytes), `ip link set HOST_END master BRIDGE`,
///    `ip link set HOST_END up`.
/// 3. The other end into the namespace: `ip link set HOST_ENDp netns
///    NETNS`; inside (`ip -n NETNS …` runs `ip` there): rename it `eth0`
///    (`ip -n NETNS link set HOST_ENDp name eth0`), `ip -n NETNS addr add
///    ADDRESS dev eth0`, `ip -n NETNS link set eth0 up`, `ip -n NETNS link
///    set lo up`, and a default route through the bridge: `ip -n NETNS
///    route add default via GATEWAY_ADDRESS` (the address alone, without
///    the prefix: `gateway.addr()`).
pub fn connect(
    bridge: &str,
    gateway: Ipv4Net,
    netns: &str,
    host_end: &str,
    address: Ipv4Net,
) -> Result<()> {
    todo!("step5: the bridge (if missing), a veth pair with one end in the bridge and the other in `netns` as eth0, addresses, links up, default route")
}
