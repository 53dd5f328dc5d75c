//! net-demo as a workshop runs it. Every mode is checked by the traffic it
//! reports; the demo's `nd<pid>` links and namespaces are watched for leaks.

use testkit::{ctrl_c, wait_until, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_net-demo");

fn names(pid: u32) -> Vec<String> {
    vec![format!("nd{pid}"), format!("net-demo-{pid}")]
}

fn demo(env: &mut TestEnv, args: &[&str]) -> String {
    env.run_ok(BIN, args, names)
}

fn none_has_only_loopback() {
    let mut env = TestEnv::root("netcli-none");
    let out = demo(&mut env, &["none"]);
    assert!(out.contains("container: lo UP 127.0.0.1/8\n"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
    assert!(out.contains("its own 127.0.0.1 works: ping"), "{out}");
    assert!(
        out.contains("anything else: Network is unreachable"),
        "{out}"
    );
}

fn host_mode_shares_the_hosts_interfaces_and_ports() {
    let mut env = TestEnv::root("netcli-host");
    let out = demo(&mut env, &["host"]);
    let host = out
        .lines()
        .find(|l| l.contains("host sees interfaces:"))
        .unwrap();
    let container = out
        .lines()
        .find(|l| l.contains("container sees interfaces:"))
        .unwrap();
    assert_eq!(
        host.split(':').nth(1).unwrap().trim(),
        container.split(':').nth(1).unwrap().trim()
    );
    assert!(out.contains(": hello\n"), "{out}");
}

fn bridge_mode_connects_two_containers() {
    let mut env = TestEnv::root("netcli-bridge");
    let out = demo(&mut env, &["bridge", "--subnet", "10.203.0.0/24"]);
    assert!(out.contains("a: eth0 UP 10.203.0.2/24"), "{out}");
    assert!(out.contains("b: eth0 UP 10.203.0.3/24"), "{out}");
    assert!(
        out.contains("a: route default via 10.203.0.1 dev eth0"),
        "{out}"
    );
    assert!(
        out.contains("a (10.203.0.2) -> b (10.203.0.3:7): hello over the bridge"),
        "{out}"
    );
}

fn container_mode_shares_a_namespace() {
    let mut env = TestEnv::root("netcli-container");
    let out = demo(&mut env, &["container", "--subnet", "10.203.1.0/24"]);
    assert!(out.contains("second: eth0 UP 10.203.1.2/24"), "{out}");
    assert!(
        out.contains("second -> 127.0.0.1:7: same namespace, same loopback"),
        "{out}"
    );
}

fn custom_network_with_the_seeds_subnet_and_gateway() {
    let mut env = TestEnv::root("netcli-custom");
    let out = demo(
        &mut env,
        &[
            "custom",
            "--subnet",
            "172.31.0.0/16",
            "--gateway",
            "172.31.0.254",
        ],
    );
    assert!(
        out.contains(": 172.31.0.254/16 (the containers' gateway)"),
        "{out}"
    );
    assert!(out.contains("c: eth0 UP 172.31.0.1/16"), "{out}");
    assert!(
        out.contains("c: route default via 172.31.0.254 dev eth0"),
        "{out}"
    );
    assert!(
        out.contains("host -> 172.31.0.1:7: hello from the host"),
        "{out}"
    );
}

fn connect_adds_a_second_nic() {
    let mut env = TestEnv::root("netcli-connect");
    let out = demo(
        &mut env,
        &[
            "connect",
            "--first",
            "10.203.2.0/24",
            "--second",
            "10.203.3.0/24",
        ],
    );
    assert!(out.contains("a: eth1 UP 10.203.3.3/24"), "{out}");
    assert!(out.contains("a -> c 10.203.3.2:7: hi c"), "{out}");
    assert_eq!(out.matches(": hi b").count(), 2, "{out}");
}

fn publish_reaches_a_web_server_on_loopback() {
    let mut env = TestEnv::root("netcli-publish");
    let out = demo(
        &mut env,
        &["publish", "127.0.0.1::80", "--subnet", "10.203.4.0/24"],
    );
    assert!(out.contains("-> 10.203.4.2:80/tcp"), "{out}");
    assert!(out.contains("HTTP/1.0 200 OK"), "{out}");
    assert!(
        out.contains("hello from the container (you asked: GET / HTTP/1.0)"),
        "{out}"
    );
}

fn bad_input_is_refused_in_one_line() {
    let mut env = TestEnv::root("netcli-bad");
    for (args, message) in [
        (
            vec!["publish", "80/sctp"],
            "invalid port specification \"80/sctp\": the protocol must be tcp or udp",
        ),
        (
            vec![
                "custom",
                "--subnet",
                "10.204.0.0/24",
                "--gateway",
                "10.9.9.9",
            ],
            "gateway 10.9.9.9 is not a host address in subnet 10.204.0.0/24",
        ),
    ] {
        let out = env.run(BIN, &args, names);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim_end(), format!("net-demo: {message}"));
    }
}

/// Ctrl-C while everything is plugged in removes bridges, veths and namespaces.
fn interrupted_demo_removes_its_network() {
    let mut env = TestEnv::root("netcli-interrupt");
    let mut job = env.start_job(
        BIN,
        &["--pause", "bridge", "--subnet", "10.203.5.0/24"],
        names,
    );
    let prefix = format!("nd{}", job.id());
    use std::io::Write as _;
    let mut stdin = job.stdin.take().unwrap();
    stdin.write_all(b"\n").unwrap();
    wait_until("the containers to be plugged in", || {
        std::path::Path::new(&format!("/sys/class/net/{prefix}b0")).exists()
    });
    assert_eq!(ctrl_c(&mut job), Some(130));
    let left: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(net_demo::netns::named_with_prefix(&prefix).is_empty());
    drop(stdin);
}

/// After `kill -9` no handler runs; `clean` finds the dead run's links and
/// namespaces by their `nd<pid>` names.
fn clean_removes_what_a_killed_demo_left() {
    let mut env = TestEnv::root("netcli-clean");
    let mut job = env.start_job(
        BIN,
        &["--pause", "bridge", "--subnet", "10.203.6.0/24"],
        names,
    );
    let bridge = format!("/sys/class/net/nd{}br0", job.id());
    wait_until("the bridge", || std::path::Path::new(&bridge).exists());
    testkit::kill_9(&mut job);
    assert!(
        std::path::Path::new(&bridge).exists(),
        "kill -9 ran no clean-up"
    );
    let out = demo(&mut env, &["clean"]);
    assert!(
        out.contains(&format!("removed link nd{}br0", job.id())),
        "{out}"
    );
    assert!(!std::path::Path::new(&bridge).exists());
}

testkit::main![
    none_has_only_loopback,
    host_mode_shares_the_hosts_interfaces_and_ports,
    bridge_mode_connects_two_containers,
    container_mode_shares_a_namespace,
    custom_network_with_the_seeds_subnet_and_gateway,
    connect_adds_a_second_nic,
    publish_reaches_a_web_server_on_loopback,
    bad_input_is_refused_in_one_line,
    interrupted_demo_removes_its_network,
    clean_removes_what_a_killed_demo_left,
];
