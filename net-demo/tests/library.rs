//! The networking library on the real kernel, with real traffic — only to
//! 127.0.0.1 and to namespaces these tests create.

use std::io::{Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use ipnet::Ipv4Net;
use net_demo::attach::{self, Nic};
use net_demo::ipam::Ipam;
use net_demo::netlink::Netlink;
use net_demo::netns::NetNs;
use net_demo::publish::{publish, PortSpec};
use testkit::TestEnv;

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

/// An echo server inside `ns`, listening on `addr`.
fn echo_server(ns: &NetNs, addr: SocketAddr) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    ns.spawn(move || {
        let listener = TcpListener::bind(addr).unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 256];
            let n = conn.read(&mut buf).unwrap_or(0);
            let _ = conn.write_all(&buf[..n]);
        }
    })
    .unwrap();
    rx.recv_timeout(Duration::from_secs(5)).unwrap()
}

fn exchange(addr: SocketAddr, message: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(message.as_bytes())?;
    stream.shutdown(std::net::Shutdown::Write)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

fn nic(env: &TestEnv, name: &str, host_end: &str, address: &str, via: Option<Ipv4Addr>) -> Nic {
    Nic {
        name: name.into(),
        host_end: env.name(host_end),
        address: net(address),
        default_via: via,
        mtu: 1500,
        mac: {
            let o = net(address).addr().octets();
            Some([0x02, 0x42, o[0], o[1], o[2], o[3]])
        },
    }
}

fn two_namespaces_talk_over_a_bridge_and_a_second_nic_joins_another() {
    let env = TestEnv::root("net-bridge");
    let nl = Netlink::open().unwrap();
    let (br1, br2) = (env.name("b1"), env.name("b2"));
    assert!(attach::ensure_bridge(&nl, &br1, net("10.201.1.1/24")).unwrap());
    assert!(
        !attach::ensure_bridge(&nl, &br1, net("10.201.1.1/24")).unwrap(),
        "idempotent"
    );
    // A bridge that lost its address (the quick check sees none) gets it back.
    let flushed = std::process::Command::new("ip")
        .args(["addr", "flush", "dev", &br1])
        .status()
        .unwrap();
    assert!(flushed.success());
    attach::ensure_bridge(&nl, &br1, net("10.201.1.1/24")).unwrap();
    assert!(nl.addresses(&br1).unwrap().contains(&net("10.201.1.1/24")));
    attach::ensure_bridge(&nl, &br2, net("10.201.2.1/24")).unwrap();
    let (a, b, c) = (
        NetNs::create(&env.name("a")).unwrap(),
        NetNs::create(&env.name("b")).unwrap(),
        NetNs::create(&env.name("c")).unwrap(),
    );
    let gw1 = Some(Ipv4Addr::new(10, 201, 1, 1));
    attach::attach(
        &nl,
        &br1,
        &a,
        &nic(&env, "eth0", "a0", "10.201.1.2/24", gw1),
    )
    .unwrap();
    attach::attach(
        &nl,
        &br1,
        &b,
        &nic(&env, "eth0", "b0", "10.201.1.3/24", gw1),
    )
    .unwrap();
    attach::attach(
        &nl,
        &br2,
        &c,
        &nic(
            &env,
            "eth0",
            "c0",
            "10.201.2.2/24",
            Some(Ipv4Addr::new(10, 201, 2, 1)),
        ),
    )
    .unwrap();

    // Inside: eth0 with its address, lo up, the default route.
    let (addrs, routes) = a
        .run(|| {
            let nl = Netlink::open().unwrap();
            (nl.addresses("eth0").unwrap(), nl.routes().unwrap())
        })
        .unwrap();
    assert_eq!(addrs, [net("10.201.1.2/24")]);
    assert!(routes
        .iter()
        .any(|(r, dev)| r.destination.is_none() && r.gateway == gw1 && dev == "eth0"));

    let to_b = echo_server(&b, "10.201.1.3:7".parse().unwrap());
    assert_eq!(
        a.run(move || exchange(to_b, "over the bridge"))
            .unwrap()
            .unwrap(),
        "over the bridge"
    );
    let to_c = echo_server(&c, "10.201.2.2:7".parse().unwrap());
    // Not connected yet: a has no interface on c's bridge (and the host does not forward here).
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        .unwrap()
        .trim()
        == "1";
    if !forwarding {
        assert!(a.run(move || exchange(to_c, "x")).unwrap().is_err());
    }
    // network connect: eth1 on the second bridge, while "running".
    attach::attach(
        &nl,
        &br2,
        &a,
        &nic(&env, "eth1", "a1", "10.201.2.3/24", None),
    )
    .unwrap();
    assert_eq!(
        a.run(move || exchange(to_c, "second nic"))
            .unwrap()
            .unwrap(),
        "second nic"
    );
    assert_eq!(
        a.run(move || exchange(to_b, "first nic")).unwrap().unwrap(),
        "first nic"
    );

    let removed = net_demo::cleanup::remove_prefixed(&format!("tk{}", env.token())).unwrap();
    assert!(removed.len() >= 7, "{removed:?}");
    assert!(nl.link(&br1).unwrap().is_none());
}

fn a_published_port_on_loopback_reaches_the_container_and_closes_on_drop() {
    let env = TestEnv::root("net-publish");
    let nl = Netlink::open().unwrap();
    let br = env.name("br");
    attach::ensure_bridge(&nl, &br, net("10.201.5.1/24")).unwrap();
    let web = NetNs::create(&env.name("w")).unwrap();
    attach::attach(
        &nl,
        &br,
        &web,
        &nic(
            &env,
            "eth0",
            "w0",
            "10.201.5.2/24",
            Some(Ipv4Addr::new(10, 201, 5, 1)),
        ),
    )
    .unwrap();
    echo_server(&web, "0.0.0.0:80".parse().unwrap());
    let published = publish(
        &"127.0.0.1::80".parse::<PortSpec>().unwrap(),
        Ipv4Addr::new(10, 201, 5, 2),
    )
    .unwrap();
    assert_eq!(published.host.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    let host = published.host;
    assert_eq!(
        exchange(host, "GET / HTTP/1.0\r\n\r\n").unwrap(),
        "GET / HTTP/1.0\r\n\r\n"
    );
    // The same port again is refused, as Docker says it.
    let spec: PortSpec = format!("127.0.0.1:{}:80", host.port()).parse().unwrap();
    let err = publish(&spec, Ipv4Addr::new(10, 201, 5, 2))
        .unwrap_err()
        .to_string();
    assert!(err.contains("port is already allocated"), "{err}");
    drop(published);
    assert!(
        TcpStream::connect_timeout(&host, Duration::from_secs(1)).is_err(),
        "still published"
    );
    net_demo::cleanup::remove_prefixed(&format!("tk{}", env.token())).unwrap();
}

fn udp_is_published_too() {
    let env = TestEnv::root("net-udp");
    let nl = Netlink::open().unwrap();
    let br = env.name("br");
    attach::ensure_bridge(&nl, &br, net("10.201.6.1/24")).unwrap();
    let ns = NetNs::create(&env.name("u")).unwrap();
    attach::attach(
        &nl,
        &br,
        &ns,
        &nic(
            &env,
            "eth0",
            "u0",
            "10.201.6.2/24",
            Some(Ipv4Addr::new(10, 201, 6, 1)),
        ),
    )
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    ns.spawn(move || {
        let socket = UdpSocket::bind("0.0.0.0:53").unwrap();
        tx.send(()).unwrap();
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from);
        }
    })
    .unwrap();
    rx.recv().unwrap();
    let published = publish(
        &"127.0.0.1::53/udp".parse::<PortSpec>().unwrap(),
        Ipv4Addr::new(10, 201, 6, 2),
    )
    .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    client.send_to(b"query", published.host).unwrap();
    let mut buf = [0u8; 64];
    let (n, from) = client.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"echo:query");
    assert_eq!(from, published.host);
    drop(published);
    net_demo::cleanup::remove_prefixed(&format!("tk{}", env.token())).unwrap();
}

fn concurrent_allocations_never_collide() {
    let env = TestEnv::root("net-ipam");
    let ipam = Ipam::new(env.path("ipam"));
    ipam.create("n", net("10.202.0.0/24"), None).unwrap();
    let mut all: Vec<Ipv4Addr> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|w| {
                let ipam = ipam.clone();
                s.spawn(move || {
                    (0..20)
                        .map(|i| ipam.allocate("n", &format!("w{w}-{i}"), None).unwrap())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), count, "an address was handed out twice");
    assert_eq!(ipam.network("n").unwrap().allocations.len(), 160);
    assert!(
        !all.contains(&Ipv4Addr::new(10, 202, 0, 1)),
        "the gateway was handed out"
    );
    let err = ipam
        .create("m", net("10.202.0.128/25"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("overlaps with network n"), "{err}");
    // A half-written state file never appears: only the JSON and the lock.
    let names: Vec<String> = std::fs::read_dir(env.path("ipam"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

fn a_named_namespace_has_only_lo_until_told_otherwise() {
    let env = TestEnv::root("net-none");
    let ns = NetNs::create(&env.name("n")).unwrap();
    assert!(NetNs::create(&env.name("n"))
        .unwrap_err()
        .to_string()
        .contains("already exists"));
    let links = ns
        .run(|| Netlink::open().unwrap().links().unwrap())
        .unwrap();
    assert_eq!(
        links.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
        ["lo"]
    );
    assert!(!links[0].up);
    attach::loopback_only(&ns).unwrap();
    assert!(ns
        .run(|| Netlink::open().unwrap().link("lo").unwrap().unwrap().up)
        .unwrap());
    ns.delete().unwrap();
    assert!(!ns.path().exists());
}

testkit::main![
    two_namespaces_talk_over_a_bridge_and_a_second_nic_joins_another,
    a_published_port_on_loopback_reaches_the_container_and_closes_on_drop,
    udp_is_published_too,
    concurrent_allocations_never_collide,
    a_named_namespace_has_only_lo_until_told_otherwise,
];
