//! Step 5: two network namespaces plugged into one bridge by
//! `step5::connect` get their veth ends, addresses and routes, and reach
//! each other over TCP. (Traffic stays between the test's own namespaces.)

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use ipnet::Ipv4Net;
use net_demo::netlink::Netlink;
use net_demo::netns::NetNs;
use testkit::TestEnv;
use workshop::check::attempt;

/// A /24 that no host route uses, from the top of the tests' pool down
/// (mini-docker's tests take theirs from the bottom).
fn free_subnet() -> Ipv4Net {
    let pool: Ipv4Net = testkit::ADDRESS_POOL.parse().unwrap();
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let taken: Vec<Ipv4Addr> = routes
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|d| u32::from_str_radix(d, 16).ok())
        .map(|d| Ipv4Addr::from(d.swap_bytes()))
        .collect();
    let mut subnets: Vec<Ipv4Net> = pool.subnets(24).unwrap().collect();
    subnets.reverse();
    // Spread concurrent runs: start at an offset from the test's PID.
    let start = std::process::id() as usize % 64;
    subnets
        .into_iter()
        .skip(start)
        .find(|s| !taken.contains(&s.network()))
        .expect("a free /24 in the tests' pool")
}

fn host(subnet: Ipv4Net, n: u32) -> Ipv4Net {
    Ipv4Net::new(Ipv4Addr::from(u32::from(subnet.network()) + n), 24).unwrap()
}

fn master_of(link: &str) -> Option<String> {
    std::fs::read_link(format!("/sys/class/net/{link}/master"))
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
}

fn step5_two_namespaces_talk_over_the_bridge() {
    let mut env = TestEnv::root("ws-step5-bridge");
    let subnet = free_subnet();
    let gateway = host(subnet, 1);
    let (bridge, ns_a, ns_b) = (env.name("br"), env.name("a"), env.name("b"));
    let (end_a, end_b) = (env.name("va"), env.name("vb"));
    let a = NetNs::create(&ns_a).unwrap();
    let b = NetNs::create(&ns_b).unwrap();
    let outcome = std::panic::catch_unwind(|| {
        for (ns, end, n) in [(&ns_a, &end_a, 2), (&ns_b, &end_b, 3)] {
            attempt("step5", || {
                workshop::step5::connect(&bridge, gateway, ns, end, host(subnet, n))
            })
            .unwrap_or_else(|e| panic!("step5::connect {ns}: {e}"));
        }
        let nl = Netlink::open().unwrap();
        assert!(nl.link(&bridge).unwrap().is_some(), "no bridge {bridge}");
        assert!(
            nl.addresses(&bridge).unwrap().contains(&gateway),
            "the bridge has no gateway address {gateway}"
        );
        for end in [&end_a, &end_b] {
            assert_eq!(
                master_of(end).as_deref(),
                Some(bridge.as_str()),
                "{end}'s master"
            );
        }
        let inside = a
            .run(|| {
                let nl = Netlink::open().unwrap();
                (
                    nl.addresses("eth0").unwrap_or_default(),
                    nl.routes().unwrap_or_default(),
                )
            })
            .unwrap();
        assert!(
            inside.0.contains(&host(subnet, 2)),
            "eth0 in {ns_a}: {:?}",
            inside.0
        );
        assert!(
            inside.1.iter().any(|(r, dev)| r.destination.is_none()
                && r.gateway == Some(gateway.addr())
                && dev == "eth0"),
            "no default route via {} on eth0 in {ns_a}: {:?}",
            gateway.addr(),
            inside.1
        );
        // Namespace a listens, b connects across the bridge.
        let listener = a
            .run(|| TcpListener::bind((host(subnet, 2).addr(), 0)))
            .unwrap()
            .expect("listen in namespace a");
        let to: SocketAddr = listener.local_addr().unwrap();
        let mut client = b
            .run(move || TcpStream::connect_timeout(&to, Duration::from_secs(5)))
            .unwrap()
            .unwrap_or_else(|e| panic!("connect from {ns_b} to {to}: {e}"));
        let (mut server, peer) = listener.accept().unwrap();
        assert_eq!(
            peer.ip(),
            host(subnet, 3).addr(),
            "b's address as a sees it"
        );
        client.write_all(b"ping").unwrap();
        let mut got = [0u8; 4];
        server.read_exact(&mut got).unwrap();
        assert_eq!(&got, b"ping");
    });
    // Deleting the namespaces takes the veths with them.
    let _ = a.delete();
    let _ = b.delete();
    if let Ok(nl) = Netlink::open() {
        let _ = nl.delete(&bridge);
    }
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    env.settle();
    env.assert_no_leaks();
}

testkit::main![step5_two_namespaces_talk_over_the_bridge,];
