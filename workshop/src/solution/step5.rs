//! Step 5 (lesson 5): a veth pair from a network namespace into a bridge —
//! lesson 5's library, over netlink. The exercise, with its hints, is
//! `src/learner/step5.rs`.

use ipnet::Ipv4Net;
use net_demo::attach::{attach, ensure_bridge, Nic};
use net_demo::netlink::Netlink;
use net_demo::netns::{NetNs, NETNS_DIR};

use crate::Result;

/// The bridge (if missing) with the gateway address, a veth pair from it
/// into `netns` as `eth0` with `address`, links up, a default route.
pub fn connect(
    bridge: &str,
    gateway: Ipv4Net,
    netns: &str,
    host_end: &str,
    address: Ipv4Net,
) -> Result<()> {
    let nl = Netlink::open()?;
    ensure_bridge(&nl, bridge, gateway)?;
    let nic = Nic {
        name: "eth0".into(),
        host_end: host_end.into(),
        address,
        default_via: Some(gateway.addr()),
        mtu: 1500,
        mac: None,
    };
    attach(
        &nl,
        bridge,
        &NetNs::at(std::path::Path::new(NETNS_DIR).join(netns)),
        &nic,
    )?;
    Ok(())
}
