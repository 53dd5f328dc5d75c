//! net-demo as a workshop runs it. Every mode is checked by the traffic it
//! reports; the demo's `nd<pid>` links and namespaces are watched for leaks.

use std::process::{Output, Stdio};

use testkit::TestEnv;

const BIN: &str = env!("CARGO_BIN_EXE_net-demo");

fn demo(env: &mut TestEnv, args: &[&str]) -> String {
    let child = env
        .command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    env.watch(&format!("nd{}", child.id()));
    env.watch(&format!("net-demo-{}", child.id()));
    let out: Output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn none_has_only_loopback() {
    let Some(mut env) = TestEnv::root("netcli-none") else {
        return;
    };
    let out = demo(&mut env, &["none"]);
    assert!(out.contains("container: lo UP 127.0.0.1/8\n"), "{out}");
    assert!(!out.contains("eth0"), "{out}");
    assert!(out.contains("its own 127.0.0.1 works: ping"), "{out}");
    assert!(
        out.contains("anything else: Network is unreachable"),
        "{out}"
    );
}

#[test]
fn host_mode_shares_the_hosts_interfaces_and_ports() {
    let Some(mut env) = TestEnv::root("netcli-host") else {
        return;
    };
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

#[test]
fn bridge_mode_connects_two_containers() {
    let Some(mut env) = TestEnv::root("netcli-bridge") else {
        return;
    };
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

#[test]
fn container_mode_shares_a_namespace() {
    let Some(mut env) = TestEnv::root("netcli-container") else {
        return;
    };
    let out = demo(&mut env, &["container", "--subnet", "10.203.1.0/24"]);
    assert!(out.contains("second: eth0 UP 10.203.1.2/24"), "{out}");
    assert!(
        out.contains("second -> 127.0.0.1:7: same namespace, same loopback"),
        "{out}"
    );
}

#[test]
fn custom_network_with_the_seeds_subnet_and_gateway() {
    let Some(mut env) = TestEnv::root("netcli-custom") else {
        return;
    };
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

#[test]
fn connect_adds_a_second_nic() {
    let Some(mut env) = TestEnv::root("netcli-connect") else {
        return;
    };
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

#[test]
fn publish_reaches_a_web_server_on_loopback() {
    let Some(mut env) = TestEnv::root("netcli-publish") else {
        return;
    };
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

#[test]
fn bad_input_is_refused_in_one_line() {
    let Some(mut env) = TestEnv::root("netcli-bad") else {
        return;
    };
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
        let child = env
            .command(BIN)
            .args(&args)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        env.watch(&format!("nd{}", child.id()));
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim_end(), format!("net-demo: {message}"));
    }
}

/// Ctrl-C while everything is plugged in removes bridges, veths and namespaces.
#[test]
fn interrupted_demo_removes_its_network() {
    let Some(mut env) = TestEnv::root("netcli-interrupt") else {
        return;
    };
    let mut cmd = env.command(BIN);
    cmd.args(["--pause", "bridge", "--subnet", "10.203.5.0/24"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().unwrap();
    let prefix = format!("nd{}", child.id());
    env.watch(&prefix);
    use std::io::Write as _;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let plugged = |p: &str| std::path::Path::new(&format!("/sys/class/net/{p}b0")).exists();
    while !plugged(&prefix) {
        assert!(std::time::Instant::now() < deadline, "never plugged in");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    let left: Vec<String> = std::fs::read_dir("/sys/class/net")
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&prefix))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    assert!(net_demo::netns::named_with_prefix(&prefix).is_empty());
    drop(stdin);
}
