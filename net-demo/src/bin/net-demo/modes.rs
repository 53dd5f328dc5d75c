//! The four network modes, a custom network, a second NIC, a published port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use anyhow::{bail, Result};
use ipnet::Ipv4Net;
use narrate::Steps;
use net_demo::attach;
use net_demo::netlink::Netlink;
use net_demo::publish::{publish as start_proxy, PortSpec};

use crate::lab::{describe, echo, serve, talk, talk_from, Lab};

const ECHO_PORT: u16 = 7;

fn host_interfaces(nl: &Netlink) -> Result<String> {
    Ok(nl
        .links()?
        .into_iter()
        .map(|l| l.name)
        .collect::<Vec<_>>()
        .join(" "))
}

pub fn none(steps: &mut Steps) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step("--network none: a network namespace with nothing but lo");
    let ns = lab.container("none")?;
    attach::loopback_only(&ns)?;
    describe(&ns, "container")?;
    let server = serve(
        &ns,
        SocketAddr::from((Ipv4Addr::LOCALHOST, ECHO_PORT)),
        echo,
    )?;
    println!(
        "   container: its own 127.0.0.1 works: {}",
        talk_from(&ns, server, "ping")?
    );
    match talk_from(
        &ns,
        SocketAddr::from((Ipv4Addr::new(10, 200, 9, 9), ECHO_PORT)),
        "x",
    ) {
        Ok(_) => bail!("a none container reached another address"),
        Err(e) => println!("   container: anything else: {}", e.root_cause()),
    }
    Ok(0)
}

pub fn host(steps: &mut Steps) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step("--network host: no network namespace at all");
    println!(
        "   host sees interfaces:      {}",
        host_interfaces(&lab.nl)?
    );
    println!(
        "   container sees interfaces: {}",
        host_interfaces(&Netlink::open()?)?
    );
    steps.step("a server in the container listens on 127.0.0.1; the host connects directly");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let listener = std::net::TcpListener::bind(addr).expect("bind on loopback");
        let _ = tx.send(listener.local_addr().expect("local address"));
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let n = std::io::Read::read(&mut conn, &mut buf).unwrap_or(0);
            let _ = std::io::Write::write_all(&mut conn, &buf[..n]);
        }
    });
    let bound = rx.recv()?;
    println!("   container listens on {bound} (the host's own port: nothing to publish)");
    println!("   host -> {bound}: {}", talk(bound, "hello")?);
    Ok(0)
}

pub fn bridge(steps: &mut Steps, subnet: Ipv4Net, nat: bool) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step(&format!("a bridge network {subnet}"));
    let (bridge, gw) = lab.network("br0", "br0", subnet, None)?;
    let _nat = if nat {
        let tag = lab.name("nat");
        net_demo::nat::enable(subnet, &bridge, &tag)?;
        println!("   outbound NAT: {subnet} masqueraded behind the host's address");
        let (b, t) = (bridge.clone(), tag.clone());
        Some(narrate::Cleanup::new(move || {
            let _ = net_demo::nat::disable(subnet, &b, &t);
        }))
    } else {
        None
    };
    steps.step("two containers, each with a veth pair from the bridge as eth0");
    let a = lab.container("a")?;
    let b = lab.container("b")?;
    let ip_a = lab.plug(&a, ("br0", &bridge, gw), "eth0", "a0", true)?;
    let ip_b = lab.plug(&b, ("br0", &bridge, gw), "eth0", "b0", true)?;
    describe(&a, "a")?;
    describe(&b, "b")?;
    let bridge_index = lab.nl.link(&bridge)?.map(|b| b.index);
    let ports: Vec<String> = lab
        .nl
        .links()?
        .into_iter()
        .filter(|l| l.master.is_some() && l.master == bridge_index)
        .map(|l| l.name)
        .collect();
    println!("   host: {bridge} has ports {}", ports.join(" "));
    steps.step("b runs an echo server; a connects to b's address through the bridge");
    let server = serve(
        &b,
        SocketAddr::new(IpAddr::V4(ip_b.addr()), ECHO_PORT),
        echo,
    )?;
    println!(
        "   a ({}) -> b ({server}): {}",
        ip_a.addr(),
        talk_from(&a, server, "hello over the bridge")?
    );
    Ok(0)
}

pub fn container(steps: &mut Steps, subnet: Ipv4Net) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step("container a on a bridge network");
    let (bridge, gw) = lab.network("br0", "br0", subnet, None)?;
    let a = lab.container("a")?;
    lab.plug(&a, ("br0", &bridge, gw), "eth0", "a0", true)?;
    describe(&a, "a")?;
    let server = serve(&a, SocketAddr::from((Ipv4Addr::LOCALHOST, ECHO_PORT)), echo)?;
    println!("   a: echo server on {server}");
    steps
        .step("--network container:a: a second process joins a's namespace instead of getting one");
    describe(&a, "second")?;
    println!(
        "   second -> {server}: {}",
        talk_from(&a, server, "same namespace, same loopback")?
    );
    Ok(0)
}

pub fn custom(steps: &mut Steps, subnet: Ipv4Net, gateway: Ipv4Addr) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step(&format!(
        "network create --driver bridge --subnet {subnet} --gateway {gateway} bridge1"
    ));
    let (bridge, gw) = lab.network("bridge1", "br1", subnet, Some(gateway))?;
    let c = lab.container("c")?;
    let ip = lab.plug(&c, ("bridge1", &bridge, gw), "eth0", "c0", true)?;
    describe(&c, "c")?;
    steps.step("the host reaches the container through the bridge, via the gateway address");
    let server = serve(&c, SocketAddr::new(IpAddr::V4(ip.addr()), ECHO_PORT), echo)?;
    println!(
        "   host -> {server}: {}",
        talk(server, "hello from the host")?
    );
    Ok(0)
}

pub fn connect(steps: &mut Steps, first: Ipv4Net, second: Ipv4Net) -> Result<i32> {
    let lab = Lab::new()?;
    steps.step("two networks: a and b on the first, c on the second");
    let (br1, gw1) = lab.network("br1", "br1", first, None)?;
    let (br2, gw2) = lab.network("br2", "br2", second, None)?;
    let (a, b, c) = (
        lab.container("a")?,
        lab.container("b")?,
        lab.container("c")?,
    );
    lab.plug(&a, ("br1", &br1, gw1), "eth0", "a0", true)?;
    let ip_b = lab.plug(&b, ("br1", &br1, gw1), "eth0", "b0", true)?;
    let ip_c = lab.plug(&c, ("br2", &br2, gw2), "eth0", "c0", true)?;
    let to_b = serve(
        &b,
        SocketAddr::new(IpAddr::V4(ip_b.addr()), ECHO_PORT),
        echo,
    )?;
    let to_c = serve(
        &c,
        SocketAddr::new(IpAddr::V4(ip_c.addr()), ECHO_PORT),
        echo,
    )?;
    println!("   a -> b {to_b}: {}", talk_from(&a, to_b, "hi b")?);
    match talk_from(&a, to_c, "hi c") {
        Ok(_) => println!(
            "   a -> c {to_c}: reached through the host, which forwards between its bridges \
             (Docker adds isolation rules against this)"
        ),
        Err(e) => println!(
            "   a -> c {to_c}: {} (no path between the bridges)",
            e.root_cause()
        ),
    }
    steps.step("network connect br2 a: a gets eth1 on the second bridge, while running");
    lab.plug(&a, ("br2", &br2, gw2), "eth1", "a1", false)?;
    describe(&a, "a")?;
    println!("   a -> b {to_b}: {}", talk_from(&a, to_b, "hi b")?);
    println!("   a -> c {to_c}: {}", talk_from(&a, to_c, "hi c")?);
    Ok(0)
}

fn http_hello(request: &[u8]) -> Vec<u8> {
    let line = String::from_utf8_lossy(request)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    let body = format!("hello from the container (you asked: {line})\n");
    format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

pub fn publish(steps: &mut Steps, spec: &str, subnet: Ipv4Net) -> Result<i32> {
    let spec: PortSpec = spec.parse()?;
    let lab = Lab::new()?;
    steps.step("a container on a bridge runs a web server");
    let (bridge, gw) = lab.network("br0", "br0", subnet, None)?;
    let web = lab.container("web")?;
    let ip = lab.plug(&web, ("br0", &bridge, gw), "eth0", "w0", true)?;
    let server = serve(
        &web,
        SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), spec.container_port),
        http_hello,
    )?;
    println!("   web: listening on {server}, address {}", ip.addr());
    steps.step("publish the port: a proxy on the host relays to the container");
    let published = start_proxy(&spec, ip.addr())?;
    println!("   published {published}");
    steps.step("the host asks its own port");
    let local = match published.host.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, published.host.port()))
        }
        _ => published.host,
    };
    let response = talk(local, "GET / HTTP/1.0\r\n\r\n")?;
    for line in response
        .lines()
        .filter(|l| l.starts_with("HTTP/") || l.starts_with("hello"))
    {
        println!("   host -> {local}: {line}");
    }
    drop(published);
    Ok(0)
}
