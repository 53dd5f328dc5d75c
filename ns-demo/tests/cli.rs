//! ns-demo driven as a workshop attendee would; every isolation claim is
//! also checked from the outside.

use testkit::{ctrl_c, wait_until, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_ns-demo");

/// What ns-demo names after its PID (cgroups, kept netns, scratch mounts),
/// for the leak check.
fn names(pid: u32) -> Vec<String> {
    vec![format!("ns-demo-{pid}"), format!("ns-demo-mount-{pid}")]
}

fn demo(env: &mut TestEnv, args: &[&str]) -> String {
    env.run_ok(BIN, args, names)
}

fn line_with<'a>(out: &'a str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

/// The number inside the first `kind:[N]` after `after` in a line.
fn ns_id(line: &str, kind: &str) -> u64 {
    let start = line.find(&format!("{kind}:[")).expect("ns label") + kind.len() + 2;
    line[start..].split(']').next().unwrap().parse().unwrap()
}

fn uts_changes_the_hostname_inside_only() {
    let mut env = TestEnv::root("ns-uts");
    let before = nix::unistd::gethostname().unwrap();
    let out = demo(&mut env, &["uts", "--hostname", "tk-inside"]);
    let inside = line_with(&out, "inside:");
    assert!(inside.contains("hostname tk-inside"), "{out}");
    let outside = line_with(&out, "outside:");
    assert_ne!(ns_id(inside, "uts"), ns_id(outside, "uts"));
    assert_eq!(nix::unistd::gethostname().unwrap(), before);
}

fn pid_namespace_has_its_own_pid_1_and_dies_with_it() {
    let mut env = TestEnv::root("ns-pid");
    let out = demo(&mut env, &["pid"]);
    assert!(out.contains("getpid() = 1"), "{out}");
    assert!(
        line_with(&out, "sleep    parent").contains("parent 1: an orphan"),
        "{out}"
    );
    let during = line_with(&out, "the same PID 1 is pid");
    assert!(during.ends_with(": 2"), "PID 1 and the orphan: {out}");
    let ns = ns_id(during, "pid");
    assert!(out.trim_end().ends_with(&format!("pid:[{ns}]: 0")), "{out}");
    // From the outside, independently: nothing is left in that namespace.
    let left = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_link(e.path().join("ns/pid"))
                .is_ok_and(|l| l.to_string_lossy() == format!("pid:[{ns}]"))
        })
        .count();
    assert_eq!(left, 0);
}

fn pid_1_signal_handling_in_three_forms() {
    let mut env = TestEnv::root("ns-signals");
    let out = demo(&mut env, &["pid", "--signals", "--stop-timeout", "1"]);
    let summary: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("summary"))
        .skip(1)
        .take(4)
        .collect();
    let expect = [
        "shell form          ignored SIGTERM; SIGKILL after 1.",
        "exec, no handler    ignored SIGTERM; SIGKILL after 1.",
        "exec, handler       ended with status 0 ",
        "init, no handler    ended with status 143 ",
    ];
    for (line, want) in summary.iter().zip(expect) {
        assert!(line.trim_start().starts_with(want), "{want:?} in:\n{out}");
    }
    assert_eq!(out.matches("app: SIGTERM received").count(), 1, "{out}");
}

fn mounts_stay_inside_and_propagation_follows_its_type() {
    let mut env = TestEnv::root("ns-mount");
    let out = demo(&mut env, &["mount"]);
    assert!(
        line_with(&out, "inside:  /").contains("is a tmpfs mount point: hello.txt"),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains("outside:")) {
        assert!(line.contains("a plain directory: empty"), "{out}");
    }
    let rows: Vec<String> = out
        .lines()
        .skip_while(|l| !l.contains("| host mounts"))
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        rows,
        [
            "private | no | no",
            "shared | yes | yes",
            "slave | yes | no"
        ],
        "{out}"
    );
    let scratch = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("ns-demo-mount-")
        })
        .count();
    assert_eq!(scratch, 0, "scratch directory left behind");
}

fn ipc_objects_are_invisible_outside() {
    let mut env = TestEnv::root("ns-ipc");
    let out = demo(&mut env, &["ipc"]);
    let key = "key 0x6e73646d";
    let inside: Vec<&str> = out.lines().filter(|l| l.contains("inside:")).collect();
    assert!(
        inside
            .iter()
            .any(|l| l.contains(&format!("shared-memory segment {key}"))),
        "{out}"
    );
    assert!(
        inside
            .iter()
            .any(|l| l.contains(&format!("message queue {key}"))),
        "{out}"
    );
    for line in out.lines().filter(|l| l.contains("outside:")) {
        assert!(line.contains(": no "), "{out}");
    }
    // 0x6e73646d, as /proc/sysvipc prints keys: in decimal.
    for kind in ["shm", "msg"] {
        let table = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap();
        assert!(
            !table.contains(&format!(" {} ", 0x6e73_646d)),
            "{kind} leaked"
        );
    }
}

fn network_namespace_has_only_lo_and_can_be_kept_alive() {
    let mut env = TestEnv::root("ns-net");
    let out = demo(&mut env, &["net"]);
    let inside: Vec<&str> = out.lines().filter(|l| l.contains("inside:")).collect();
    assert!(inside[1].ends_with("interfaces lo (DOWN)"), "{out}");
    assert!(inside[2].contains("Network is unreachable"), "{out}");
    assert!(inside[3].ends_with("interfaces lo (UP)"), "{out}");
    assert!(inside[4].ends_with("connect to 127.0.0.1 works"), "{out}");
    let kept = line_with(&out, "the child's was");
    let ids: Vec<u64> = kept
        .split("net:[")
        .skip(1)
        .map(|s| s.split(']').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1], "the kept file is the child's namespace");
    assert!(
        inside[5].ends_with("interfaces lo (UP)"),
        "re-entered: {out}"
    );
}

fn user_namespace_maps_root_to_an_unprivileged_uid() {
    let mut env = TestEnv::root("ns-user");
    let out = demo(&mut env, &["user"]);
    assert!(out.contains("inside:  uid 0 gid 0, user:["), "{out}");
    assert!(out.contains("uid_map: 0 100000 1"), "{out}");
    assert!(
        out.contains("outside: the same process runs as uid 100000"),
        "{out}"
    );
    assert!(out.contains("hostname ns-demo-user: EPERM"), "{out}");
    assert!(out.contains("hostname ns-demo-user: allowed"), "{out}");
    assert!(
        out.contains("outside: now uid 65534, capabilities 0x0"),
        "{out}"
    );
    assert!(out.contains("uid_map: 0 65534 1"), "{out}");
    assert!(
        out.contains("outside: the same process runs as uid 65534"),
        "{out}"
    );
}

fn cgroup_namespace_shows_its_cgroup_as_root() {
    let mut env = TestEnv::root("ns-cgroup");
    let out = demo(&mut env, &["cgroup"]);
    let name = line_with(&out, "make a cgroup ")
        .split_whitespace()
        .nth(6)
        .unwrap()
        .to_string();
    assert!(
        out.contains(&format!("before unshare: my cgroup is /{name}")),
        "{out}"
    );
    assert!(
        line_with(&out, "in its own cgroup namespace").ends_with("my cgroup is /"),
        "{out}"
    );
    assert!(
        line_with(&out, "outside: /proc/").ends_with(&format!("says /{name}")),
        "{out}"
    );
}

fn all_namespaces_differ_from_the_hosts() {
    let mut env = TestEnv::root("ns-all");
    let out = demo(&mut env, &["all", "/bin/sh", "-c", "echo shell-pid=$$"]);
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("ns "))
        .skip(1)
        .take(7)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 7, "{out}");
    for row in rows {
        assert_ne!(row[1], row[2], "{out}");
    }
    assert!(
        out.contains("inside: pid 1, hostname container, uid 0"),
        "{out}"
    );
    assert!(out.contains("shell-pid=1"), "{out}");
}

fn join_enters_another_process_namespaces() {
    let mut env = TestEnv::root("ns-join");
    let name = env.name("h");
    let mut target = env
        .command("unshare")
        .args(["--uts", "--net", "sh", "-c"])
        .arg(format!("hostname {name}; exec sleep 60"))
        .spawn()
        .unwrap();
    let pid = target.id().to_string();
    // Wait for the hostname to be set inside the target.
    wait_until("the target to start", || {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default() == "sleep\n"
    });
    let out = demo(&mut env, &["join", &pid, "--ns", "uts,net", "hostname"]);
    assert!(out.trim_end().ends_with(&name), "{out}");
    assert_eq!(out.matches("same as the target").count(), 2, "{out}");
    let all = demo(&mut env, &["join", &pid]);
    assert_eq!(all.matches("same as the target").count(), 6, "{all}");
    target.kill().unwrap();
    target.wait().unwrap();
}

fn bad_namespace_names_are_refused() {
    let mut env = TestEnv::root("ns-bad");
    let out = env.run(BIN, &["join", "1", "--ns", "net,bogus"], names);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown namespace \"bogus\""));
}

/// `ns-demo --pause net`, paused before step 4 with its network namespace
/// kept at `/run/netns/ns-demo-<pid>` (Enter was pressed for steps 2 and 3).
fn net_demo_holding_a_kept_netns(
    env: &mut TestEnv,
) -> (
    std::process::Child,
    std::path::PathBuf,
    std::process::ChildStdin,
) {
    let mut job = env.start_job(BIN, &["--pause", "net"], names);
    let kept = std::path::PathBuf::from(format!("/run/netns/ns-demo-{}", job.id()));
    use std::io::Write as _;
    let mut stdin = job.stdin.take().unwrap();
    stdin.write_all(b"\n\n").unwrap();
    wait_until("the kept namespace", || {
        testkit::leaks::mount_points().contains(&*kept.to_string_lossy())
    });
    (job, kept, stdin)
}

/// Ctrl-C while the demo holds a kept network namespace releases it.
fn interrupted_net_demo_releases_its_namespace() {
    let mut env = TestEnv::root("ns-net-interrupt");
    let (mut job, kept, stdin) = net_demo_holding_a_kept_netns(&mut env);
    assert_eq!(ctrl_c(&mut job), Some(130));
    assert!(!kept.exists(), "{} left behind", kept.display());
    drop(stdin);
}

/// After `kill -9` no handler runs; `clean` releases the kept namespace.
fn clean_removes_what_a_killed_demo_left() {
    let mut env = TestEnv::root("ns-clean");
    let (mut job, kept, stdin) = net_demo_holding_a_kept_netns(&mut env);
    testkit::kill_9(&mut job);
    drop(stdin);
    assert!(kept.exists(), "kill -9 ran no clean-up");
    let out = demo(&mut env, &["clean"]);
    assert!(
        out.contains(&format!("removed {}", kept.display())),
        "{out}"
    );
    assert!(!kept.exists());
}

testkit::main![
    uts_changes_the_hostname_inside_only,
    pid_namespace_has_its_own_pid_1_and_dies_with_it,
    pid_1_signal_handling_in_three_forms,
    mounts_stay_inside_and_propagation_follows_its_type,
    ipc_objects_are_invisible_outside,
    network_namespace_has_only_lo_and_can_be_kept_alive,
    user_namespace_maps_root_to_an_unprivileged_uid,
    cgroup_namespace_shows_its_cgroup_as_root,
    all_namespaces_differ_from_the_hosts,
    join_enters_another_process_namespaces,
    bad_namespace_names_are_refused,
    interrupted_net_demo_releases_its_namespace,
    clean_removes_what_a_killed_demo_left,
];
