//! Networks on the real kernel: user networks with names, the default
//! bridge, container: mode, a second NIC, published ports, IPAM. All
//! traffic stays on 127.0.0.1 or between namespaces the test created.

mod support;

use std::process::Stdio;

use support::*;
use testkit::{wait_until, TestEnv};

/// A busybox web server answering `text` on port 80 of its container.
fn web(env: &TestEnv, extra: &[&str], name: &str, text: &str) {
    let script =
        format!("mkdir -p /www && echo {text} > /www/index.html && exec httpd -f -p 80 -h /www");
    let mut args = vec!["run", "-d", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    ok(env, &args);
}

fn user_networks_resolve_names_and_the_default_bridge_does_not() {
    let mut env = with_busybox("md-net-names", &["EXPOSE 80"]);
    let id = ok(
        &env,
        &[
            "network",
            "create",
            "--subnet",
            "10.213.0.0/16",
            "--gateway",
            "10.213.0.1",
            "appnet",
        ],
    );
    assert_eq!(id.trim().len(), 64);
    let listed = ok(&env, &["network", "ls"]);
    assert!(
        listed.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"),
        "{listed}"
    );
    assert!(
        listed.contains(" appnet    bridge    local")
            && listed.contains(" bridge    bridge    local"),
        "{listed}"
    );
    web(&env, &["--network", "appnet"], "web", "by-name");
    let fetched = ok(&env, &["run", "--rm", "--network", "appnet", "busybox", "sh", "-c",
                             "for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://web/ && exit; sleep 0.2; done; exit 1"]);
    assert_eq!(fetched, "by-name\n");
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&env, &["network", "inspect", "appnet"])).unwrap();
    let net = &inspected[0];
    assert_eq!(net["Name"], "appnet");
    assert_eq!(net["Driver"], "bridge");
    assert_eq!(net["IPAM"]["Config"][0]["Subnet"], "10.213.0.0/16");
    assert_eq!(net["IPAM"]["Config"][0]["Gateway"], "10.213.0.1");
    let members = net["Containers"].as_object().unwrap();
    assert_eq!(members.len(), 1);
    let member = members.values().next().unwrap();
    assert_eq!(member["Name"], "web");
    assert_eq!(member["IPv4Address"], "10.213.0.2/16");
    assert_eq!(member["MacAddress"], "02:42:0a:d5:00:02");
    assert_eq!(
        ok(
            &env,
            &[
                "inspect",
                "-f",
                "{{.NetworkSettings.Networks.appnet.IPAddress}}",
                "web"
            ]
        )
        .trim(),
        "10.213.0.2"
    );
    // --ip, --add-host and --dns shape the container's network files.
    let files = ok(
        &env,
        &["run", "--rm", "--network", "appnet", "--ip", "10.213.0.50", "-h", "named",
          "--add-host", "db.local:10.9.9.9", "--dns", "10.213.0.1", "busybox", "sh", "-c",
          "ip -o -4 addr show eth0 | awk '{print $4}'; grep -E 'db.local|named' /etc/hosts; cat /etc/resolv.conf"],
    );
    let lines: Vec<&str> = files.lines().collect();
    assert_eq!(lines[0], "10.213.0.50/16", "{files}");
    assert!(lines.contains(&"10.9.9.9\tdb.local"), "{files}");
    assert!(
        lines.iter().any(|l| l.starts_with("10.213.0.50\tnamed ")),
        "{files}"
    );
    // On a user network --dns is the embedded resolver's upstream: the
    // container itself asks 127.0.0.11, as with Docker.
    assert!(lines.contains(&"nameserver 127.0.0.11"), "{files}");
    assert!(!files.contains("10.213.0.1"), "{files}");
    let err = fails(
        &env,
        &["run", "--rm", "--ip", "172.17.0.99", "busybox", "true"],
        125,
    );
    assert!(err.contains("user defined networks only"), "{err}");
    // On the default bridge, as with Docker, names do not resolve.
    web(&env, &[], "plain", "unnamed");
    let out = md_in(
        &env,
        "root",
        &["run", "--rm", "busybox", "wget", "-qO-", "http://plain/"],
    );
    assert_ne!(out.status.code(), Some(0));
    let ip = ok(
        &env,
        &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "plain"],
    );
    let fetched = ok(&env, &["run", "--rm", "busybox", "sh", "-c",
                             &format!("for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://{}/ && exit; sleep 0.2; done; exit 1", ip.trim())]);
    assert_eq!(fetched, "unnamed\n");
    // Overlapping subnets are refused; a network in use cannot go.
    let err = fails_in(
        &env,
        "root",
        &["network", "create", "--subnet", "10.213.5.0/24", "clash"],
        1,
    );
    assert!(err.contains("overlaps"), "{err}");
    let err = fails_in(&env, "root", &["network", "rm", "appnet"], 1);
    assert!(err.contains("active endpoints"), "{err}");
    ok(&env, &["rm", "-f", "web", "plain"]);
    ok(&env, &["network", "rm", "appnet"]);
    assert_settled(&mut env);
}

fn container_mode_shares_the_network_namespace_and_connect_adds_a_nic() {
    let mut env = with_busybox("md-net-share", &["EXPOSE 80"]);
    ok(
        &env,
        &["network", "create", "--subnet", "10.214.0.0/24", "front"],
    );
    ok(
        &env,
        &["network", "create", "--subnet", "10.215.0.0/24", "back"],
    );
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "app",
            "--network",
            "front",
            "busybox",
            "sh",
            "-c",
            "mkdir /w && echo on-loopback > /w/index.html && exec httpd -f -p 127.0.0.1:8080 -h /w",
        ],
    );
    // container: mode — the same addresses, the same loopback.
    let out = ok(&env, &["run", "--rm", "--network", "container:app", "busybox", "sh", "-c",
                         "ip -o -4 addr show eth0 | awk '{print $4}'; for i in 1 2 3 4 5 6 7 8 9 10; do wget -qO- http://127.0.0.1:8080/ && exit; sleep 0.2; done; exit 1"]);
    assert_eq!(out, "10.214.0.2/24\non-loopback\n");
    // A second NIC after `network connect` carries traffic to the other network.
    web(&env, &["--network", "back"], "db", "from-back");
    let db_ip = ok(
        &env,
        &[
            "inspect",
            "-f",
            "{{.NetworkSettings.Networks.back.IPAddress}}",
            "db",
        ],
    );
    let unreachable = md_in(
        &env,
        "root",
        &[
            "exec",
            "app",
            "wget",
            "-qO-",
            "-T",
            "1",
            &format!("http://{}/", db_ip.trim()),
        ],
    );
    assert_ne!(unreachable.status.code(), Some(0), "not connected yet");
    ok(&env, &["network", "connect", "back", "app"]);
    let nics = ok(
        &env,
        &[
            "exec",
            "app",
            "sh",
            "-c",
            "ip -o -4 addr | awk '{print $2, $4}'",
        ],
    );
    assert_eq!(
        nics,
        "lo 127.0.0.1/8\neth0 10.214.0.2/24\neth1 10.215.0.3/24\n"
    );
    assert_eq!(
        ok(&env, &["exec", "app", "wget", "-qO-", "http://db/"]),
        "from-back\n"
    );
    ok(&env, &["network", "disconnect", "back", "app"]);
    assert_eq!(
        ok(&env, &["exec", "app", "sh", "-c", "ip -o -4 addr | wc -l"]).trim(),
        "2"
    );
    ok(&env, &["rm", "-f", "app", "db"]);
    ok(&env, &["network", "rm", "front", "back"]);
    assert_settled(&mut env);
}

fn published_ports_answer_on_loopback() {
    let mut env = with_busybox("md-net-ports", &["EXPOSE 80"]);
    let port = free_port();
    web(
        &env,
        &["-p", &format!("127.0.0.1:{port}:80")],
        "pub",
        "published",
    );
    web(&env, &["-P"], "all", "all-ports");
    let ps = ok(&env, &["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert!(
        ps.contains(&format!("pub 127.0.0.1:{port}->80/tcp")),
        "{ps}"
    );
    let random = ok(&env, &["port", "all", "80"]);
    let random_port: u16 = random.trim().rsplit(':').next().unwrap().parse().unwrap();
    assert_eq!(
        ok(&env, &["port", "pub"]),
        format!("80/tcp -> 127.0.0.1:{port}\n")
    );
    for (p, text) in [(port, "published"), (random_port, "all-ports")] {
        let addr = format!("127.0.0.1:{p}");
        let mut body = String::new();
        wait_until("the web server", || {
            let (status, b) = http_get(&addr, "/");
            body = b;
            status == 200
        });
        assert_eq!(body, format!("{text}\n"));
    }
    let err = fails_in(
        &env,
        "root",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-p",
            "80",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("conflicting options"), "{err}");
    ok(&env, &["rm", "-f", "pub", "all"]);
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "the proxy stopped"
    );
    assert_settled(&mut env);
}

fn addresses_are_distinct_and_reclaimed_after_a_killed_monitor() {
    let mut env = with_busybox("md-net-ipam", &["EXPOSE 80"]);
    ok(
        &env,
        &["network", "create", "--subnet", "10.216.0.0/29", "pool"],
    );
    let runs: Vec<_> = (0..4)
        .map(|i| {
            md_command(&env, "root")
                .args([
                    "run",
                    "-d",
                    "--name",
                    &format!("c{i}"),
                    "--network",
                    "pool",
                    "busybox",
                    "sleep",
                    "1000",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for r in runs {
        let out = r.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ips: Vec<String> = (0..4)
        .map(|i| {
            ok(
                &env,
                &[
                    "inspect",
                    "-f",
                    "{{.NetworkSettings.IPAddress}}",
                    &format!("c{i}"),
                ],
            )
            .trim()
            .to_string()
        })
        .collect();
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 4, "{ips:?}");
    // Kill one monitor: its container dies, and its address is reclaimed
    // once the network (a /29: five addresses besides the gateway) is full.
    let c0_ip = ok(
        &env,
        &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "c0"],
    );
    kill_monitor(&env, "c0");
    wait_until("c0 to be dead", || {
        ok(&env, &["inspect", "-f", "{{.State.Status}}", "c0"]).trim() == "dead"
    });
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "c4",
            "--network",
            "pool",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    assert_ne!(
        ok(
            &env,
            &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "c4"]
        ),
        c0_ip,
        "a free address first"
    );
    let reused = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "pool",
            "busybox",
            "sh",
            "-c",
            "ip -o -4 addr show eth0 | awk '{print $4}'",
        ],
    );
    assert_eq!(reused.trim(), format!("{}/29", c0_ip.trim()));
    ok(&env, &["rm", "-f", "c0", "c1", "c2", "c3", "c4"]);
    ok(&env, &["network", "prune", "-f"]);
    assert_eq!(
        ok(&env, &["network", "ls", "-q", "--filter", "type=custom"])
            .lines()
            .count(),
        0,
        "only the predefined networks"
    );
    assert_settled(&mut env);
}

testkit::main![
    user_networks_resolve_names_and_the_default_bridge_does_not,
    container_mode_shares_the_network_namespace_and_connect_adds_a_nic,
    published_ports_answer_on_loopback,
    addresses_are_distinct_and_reclaimed_after_a_killed_monitor,
];
