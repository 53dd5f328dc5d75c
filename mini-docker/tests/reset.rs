//! `system reset`: after containers on the default bridge and on a user
//! network with a published port, a volume and outbound NAT, the host is
//! back where it started — no link, firewall rule, mount, cgroup or
//! process of the store, and no state directories.

mod support;

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};

use support::*;
use testkit::TestEnv;

/// mini-docker on the store "root" as a user runs it: outbound NAT on
/// (each network's MASQUERADE rule is what reset must find; no traffic
/// leaves the machine), and links named with the test's token so the leak
/// checker sees the bridges and their rules.
fn md(env: &TestEnv, args: &[&str], stdin: &str) -> (bool, String) {
    md_in_store(env, "root", args, stdin)
}

fn md_in_store(env: &TestEnv, root: &str, args: &[&str], stdin: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = md_command(env, root)
        .env("MINI_DOCKER_NAT", "on")
        .env("MINI_DOCKER_LINK_PREFIX", env.token())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

fn ok_md(env: &TestEnv, args: &[&str]) -> String {
    let (ok, text) = md(env, args, "");
    assert!(ok, "{args:?}: {text}");
    text
}

/// The NAT rules whose bridge carries the test's token.
fn nat_rules(env: &TestEnv) -> Vec<String> {
    let out = Command::new("iptables")
        .args(["-w", "-t", "nat", "-S", "POSTROUTING"])
        .output()
        .expect("iptables (scripts/setup.sh installs it)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(env.token()))
        .map(str::to_string)
        .collect()
}

fn links(env: &TestEnv) -> Vec<String> {
    std::fs::read_dir("/sys/class/net")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|l| l.contains(env.token()))
        .collect()
}

fn system_reset_leaves_the_host_as_it_found_it() {
    let mut env = TestEnv::root("md-reset");
    // NAT turns forwarding on, which reset leaves on (other networks may
    // need it); put it back as the test found it.
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let tar = busybox_tar(&env);
    ok_md(&env, &["import", "-c", "CMD [\"sh\"]", &tar, "busybox"]);
    ok_md(&env, &["volume", "create", "data"]);
    ok_md(&env, &["network", "create", "app"]);
    ok_md(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "on-bridge",
            "-v",
            "data:/data",
            "busybox",
            "sleep",
            "100",
        ],
    );
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    ok_md(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "on-app",
            "--network",
            "app",
            "-p",
            &publish,
            "busybox",
            "sleep",
            "100",
        ],
    );
    ok_md(&env, &["create", "--name", "stopped", "busybox", "true"]);
    TcpStream::connect(("127.0.0.1", port)).expect("the published port listens");
    // Two bridges and two veths, and one NAT rule per network.
    assert_eq!(links(&env).len(), 4, "{:?}", links(&env));
    assert_eq!(nat_rules(&env).len(), 2, "{:?}", nat_rules(&env));
    // And a rule of this store whose bridge is gone (a removal that
    // stopped half-way). Its bridge name is shorter than a real one's, so
    // the sweep of another store's `network create` (any test running
    // meanwhile) leaves it to this store's reset.
    let stale = format!("{}bgone", env.token());
    let status = Command::new("iptables")
        .args([
            "-w",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "10.167.255.0/24",
            "!",
            "-o",
        ])
        .args([
            stale.as_str(),
            "-m",
            "comment",
            "--comment",
            "deadbeef0000",
            "-j",
            "MASQUERADE",
        ])
        .status()
        .unwrap();
    assert!(status.success());

    // No answer is no: nothing goes.
    let (ok, text) = md(&env, &["system", "reset"], "");
    assert!(ok, "{text}");
    assert!(
        text.ends_with("Are you sure you want to continue? [y/N] "),
        "{text}"
    );
    assert_eq!(ok_md(&env, &["ps", "-q"]).lines().count(), 2);

    let text = ok_md(&env, &["system", "reset", "-f"]);
    for section in &[
        "Deleted Containers:",
        "Deleted Networks:\napp\nbridge\n",
        &format!("Deleted NAT Rules:\n10.167.255.0/24 via {stale}\n"),
        "Deleted Volumes:\ndata\n",
        "Deleted Images:\nsha256:",
        "Removed Directories:",
    ] {
        assert!(text.contains(section), "{section:?} in:\n{text}");
    }
    assert!(!env.path("root").exists() && !env.path("run").exists());
    assert!(links(&env).is_empty(), "{:?}", links(&env));
    assert!(nat_rules(&env).is_empty(), "{:?}", nat_rules(&env));
    TcpListener::bind(("127.0.0.1", port)).expect("the published port is free again");
    std::fs::write("/proc/sys/net/ipv4/ip_forward", forwarding).unwrap();
    env.settle();
    env.assert_no_leaks();
}

/// A state root deleted by hand leaves its bridges and NAT rules; the next
/// `network create` of any store recognises them by the note on each
/// bridge and removes them, so they hold no subnet any more.
fn network_create_reclaims_what_a_deleted_store_left() {
    let mut env = TestEnv::root("md-reclaim");
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    let (ok, text) = md_in_store(&env, "a", &["network", "create", "left"], "");
    assert!(ok, "{text}");
    let (ok, text) = md_in_store(&env, "a", &["network", "ls"], "");
    assert!(ok, "{text}");
    assert_eq!(links(&env).len(), 2, "{:?}", links(&env));
    assert_eq!(nat_rules(&env).len(), 2, "{:?}", nat_rules(&env));
    std::fs::remove_dir_all(env.path("a")).unwrap();
    std::fs::remove_dir_all(env.path("run")).unwrap();

    let (ok, text) = md_in_store(&env, "b", &["network", "create", "fresh"], "");
    assert!(ok, "{text}");
    let left = links(&env);
    assert_eq!(left.len(), 1, "only b's bridge is left: {left:?}");
    assert_eq!(nat_rules(&env).len(), 1, "{:?}", nat_rules(&env));
    assert!(nat_rules(&env)[0].contains(&left[0]));
    let (ok, text) = md_in_store(&env, "b", &["system", "reset", "-f"], "");
    assert!(ok, "{text}");
    std::fs::write("/proc/sys/net/ipv4/ip_forward", forwarding).unwrap();
    env.settle();
    env.assert_no_leaks();
}

testkit::main![
    system_reset_leaves_the_host_as_it_found_it,
    network_create_reclaims_what_a_deleted_store_left,
];
