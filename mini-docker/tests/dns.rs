//! Name resolution on the real kernel: the embedded DNS of user networks
//! (names, aliases, short IDs, a trailing dot, any case; unknown names
//! refused, or relayed to a stub upstream on 127.0.0.1 — never further),
//! and the default bridge's `/etc/hosts` with `--link`, `--dns-search`,
//! `--dns-option` and `--mac-address`.

mod support;

use std::net::UdpSocket;
use std::sync::mpsc;
use std::time::Duration;

use net_demo::dns::{Query, Rcode};
use support::*;

/// A shell loop printing `ok NAME` or `bad NAME` for each name, by whether
/// busybox's nslookup finds `address` for it.
fn finds(names: &[&str], address: &str) -> String {
    format!(
        "for n in {}; do if nslookup $n 2>&1 | grep -qx 'Address: {address}'; then echo ok $n; else echo bad $n; fi; done",
        names.join(" ")
    )
}

fn user_networks_resolve_names_aliases_and_short_ids() {
    let mut env = with_busybox("md-dns-names", &[]);
    ok(
        &env,
        &["network", "create", "--subnet", "10.241.7.0/24", "dnsnet"],
    );
    let id = ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "web",
            "--network",
            "dnsnet",
            "--network-alias",
            "db",
            "--network-alias",
            "Cache",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let short = &id.trim()[..12];
    let names = ["web", "WEB", "web.", "db", "cache", "CACHE.", short];
    let script = format!(
        "{}; cat /etc/resolv.conf; nslookup -type=AAAA web 2>&1 | grep -c '^Address'; \
         ping -c1 -W1 db | head -1; nslookup nowhere 2>&1 | grep -m1 REFUSED",
        finds(&names, "10.241.7.2")
    );
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    for (line, name) in lines.iter().zip(names) {
        assert_eq!(*line, format!("ok {name}"), "{out}");
    }
    assert!(lines.contains(&"nameserver 127.0.0.11"), "{out}");
    assert!(lines.contains(&"options ndots:0"), "{out}");
    assert!(!out.contains("nameserver 10."), "{out}");
    // AAAA: an empty answer (only the server's own Address line).
    assert!(lines.contains(&"1"), "{out}");
    // The C library's resolver (as getent hosts or ping use it) asks too.
    assert!(
        lines.iter().any(|l| l.starts_with("PING db (10.241.7.2)")),
        "{out}"
    );
    assert!(out.contains("server can't find nowhere: REFUSED"), "{out}");
    let aliases = ok(
        &env,
        &[
            "inspect",
            "-f",
            "{{json .NetworkSettings.Networks.dnsnet.Aliases}}",
            "web",
        ],
    );
    assert_eq!(aliases.trim(), format!("[\"db\",\"Cache\",\"{short}\"]"));
    // A stopped container's names are gone (read per query, never stale).
    ok(&env, &["stop", "-t", "0", "web"]);
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "dnsnet",
            "busybox",
            "sh",
            "-c",
            &finds(&["web"], "10.241.7.2"),
        ],
    );
    assert_eq!(out, "bad web\n");
    ok(&env, &["rm", "-f", "web"]);
    ok(&env, &["network", "rm", "dnsnet"]);
    assert_settled(&mut env);
}

fn unknown_names_go_to_the_upstream_and_nowhere_else() {
    let mut env = with_busybox("md-dns-forward", &[]);
    // A stub upstream on loopback: every A question is 10.99.0.1.
    let stub = UdpSocket::bind("127.0.0.1:0").unwrap();
    stub.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let upstream = stub.local_addr().unwrap().to_string();
    let (asked_tx, asked) = mpsc::channel();
    let (stop_tx, stop) = mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while stop.try_recv().is_err() {
            let Ok((n, from)) = stub.recv_from(&mut buf) else {
                continue;
            };
            let Ok(q) = Query::parse(&buf[..n]) else {
                continue;
            };
            let _ = asked_tx.send(q.name.clone());
            let addresses = if q.qtype == net_demo::dns::TYPE_A {
                vec!["10.99.0.1".parse().unwrap()]
            } else {
                vec![]
            };
            let _ = stub.send_to(&q.answer(Rcode::NoError, &addresses), from);
        }
    });
    ok(
        &env,
        &["network", "create", "--subnet", "10.241.8.0/24", "fwdnet"],
    );
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "known",
            "--network",
            "fwdnet",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let out = md_command(&env, "root")
        .env(mini_docker::container::dns::UPSTREAM_ENV, &upstream)
        .args([
            "run",
            "--rm",
            "--network",
            "fwdnet",
            "busybox",
            "sh",
            "-c",
            &format!(
                "{}; {}",
                finds(&["outside.example"], "10.99.0.1"),
                finds(&["known"], "10.241.8.2")
            ),
        ])
        .output()
        .unwrap();
    let _ = stop_tx.send(());
    server.join().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout, "ok outside.example\nok known\n");
    let asked: Vec<String> = asked.try_iter().collect();
    assert!(asked.iter().any(|n| n == "outside.example"), "{asked:?}");
    // Names of the network's containers are answered, never relayed.
    assert!(!asked.iter().any(|n| n == "known"), "{asked:?}");
    ok(&env, &["rm", "-f", "known"]);
    ok(&env, &["network", "rm", "fwdnet"]);
    assert_settled(&mut env);
}

fn the_default_bridge_keeps_hosts_links_and_the_resolvers_given() {
    let mut env = with_busybox("md-dns-links", &[]);
    let id = ok(
        &env,
        &["run", "-d", "--name", "lk", "busybox", "sleep", "60"],
    );
    let short = &id.trim()[..12];
    let ip = ok(
        &env,
        &["inspect", "-f", "{{.NetworkSettings.IPAddress}}", "lk"],
    );
    let ip = ip.trim();
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--link",
            "lk:db",
            "--link",
            "lk",
            "--dns",
            "10.9.9.9",
            "--dns-search",
            "a.example",
            "--dns-option",
            "ndots:2",
            "--mac-address",
            "02:42:AC:11:00:99",
            "busybox",
            "sh",
            "-c",
            "tail -n2 /etc/hosts; cat /etc/resolv.conf; cat /sys/class/net/eth0/address",
        ],
    );
    assert_eq!(
        out,
        format!(
            "{ip}\tdb {short} lk\n{ip}\tlk {short}\nsearch a.example\nnameserver 10.9.9.9\noptions ndots:2\n02:42:ac:11:00:99\n"
        )
    );
    // Docker's checks and messages.
    let err = fails(
        &env,
        &["run", "--rm", "--link", "nothere", "busybox", "true"],
        125,
    );
    assert!(
        err.contains("could not get container for nothere: No such container: nothere"),
        "{err}"
    );
    let err = fails(
        &env,
        &["run", "--rm", "--mac-address", "zz", "busybox", "true"],
        125,
    );
    assert!(err.contains("zz is not a valid mac address"), "{err}");
    ok(&env, &["stop", "-t", "0", "lk"]);
    let err = fails(
        &env,
        &[
            "run", "--rm", "--name", "me", "--link", "lk:db", "busybox", "true",
        ],
        125,
    );
    assert!(
        err.contains("Cannot link to a non running container: /lk AS /me/db"),
        "{err}"
    );
    ok(&env, &["rm", "-f", "lk"]);
    let left = ok(&env, &["ps", "-aq"]);
    assert_eq!(left, "");
    assert_settled(&mut env);
}

testkit::main![
    user_networks_resolve_names_aliases_and_short_ids,
    unknown_names_go_to_the_upstream_and_nowhere_else,
    the_default_bridge_keeps_hosts_links_and_the_resolvers_given,
];
