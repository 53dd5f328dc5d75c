//! Issue 14's `run`/`create` flags on the real kernel: each flag's effect
//! inside the container, its `inspect` field (Docker's names) and Docker's
//! message with exit 125 for a bad value; health checks through their
//! status transitions; json-file log rotation under a chatty container.
//! Each test has its own store, run root and cgroup parent, and checks
//! afterwards that nothing is left.

mod support;

use std::time::{Duration, Instant};

use support::*;
use testkit::TestEnv;

/// Waits until `inspect -f format` prints `want` (or panics after 20 s).
fn wait_for(env: &TestEnv, container: &str, format: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = inspect(env, container, format);
        if now == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{container} {format}: still {now:?}, want {want:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `State.Health.Log`, from the whole inspect document (the probes'
/// output holds newlines).
fn health_log(env: &TestEnv, container: &str) -> serde_json::Value {
    let all: serde_json::Value = serde_json::from_str(&ok(env, &["inspect", container])).unwrap();
    all[0]["State"]["Health"]["Log"].clone()
}

/// The container's monitor's resident set, in kB.
fn monitor_rss(env: &TestEnv, container: &str) -> u64 {
    let id = inspect(env, container, "{{.Id}}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.path(format!("root/containers/{id}/state.json"))).unwrap(),
    )
    .unwrap();
    let pid = state["MonitorPid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn process_flags_reach_the_container_and_inspect() {
    let mut env = with_busybox("rf-process", &[]);
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--ulimit",
            "nofile=100:200",
            "--ulimit",
            "nproc=50",
            "busybox",
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -u",
        ],
    );
    assert_eq!(out, "100\n200\n50\n");
    // Raising a hard limit needs CAP_SYS_RESOURCE, which this host lacks:
    // refused at create, before anything exists.
    let err = fails(
        &env,
        &["run", "--rm", "--ulimit", "nofile=10:999999999", "busybox"],
        125,
    );
    assert!(
        err.contains("--ulimit nofile: hard limit 999999999"),
        "{err}"
    );
    let err = fails(&env, &["create", "--ulimit", "nofile=10:5", "busybox"], 125);
    assert!(
        err.contains("invalid argument \"nofile=10:5\" for \"--ulimit\" flag: ulimit soft limit must be less than or equal to hard limit: 10 > 5"),
        "{err}"
    );
    let err = fails(&env, &["create", "--ulimit", "bogus=1", "busybox"], 125);
    assert!(err.contains("invalid ulimit type: bogus"), "{err}");

    // /dev/shm's size.
    let df = ok(
        &env,
        &[
            "run",
            "--rm",
            "--shm-size",
            "1m",
            "busybox",
            "df",
            "-k",
            "/dev/shm",
        ],
    );
    assert!(df.lines().nth(1).unwrap().contains(" 1024 "), "{df}");
    let err = fails(&env, &["create", "--shm-size", "foo", "busybox"], 125);
    assert!(
        err.contains("invalid argument \"foo\" for \"--shm-size\" flag: invalid size: 'foo'"),
        "{err}"
    );

    // Groups: numbers as they are, names from the image's /etc/group.
    let id = ok(
        &env,
        &[
            "run",
            "--rm",
            "--group-add",
            "1234",
            "--group-add",
            "nogroup",
            "busybox",
            "id",
            "-G",
        ],
    );
    assert_eq!(
        id.split_whitespace().collect::<Vec<_>>(),
        ["0", "1234", "65534"]
    );
    // Past the CLI's own checks, `create` returns the daemon's error: exit 1.
    let err = fails(&env, &["create", "--group-add", "wheel", "busybox"], 1);
    assert!(
        err.contains("Unable to find group wheel: no matching entries in group file"),
        "{err}"
    );

    // Namespaced sysctls only, written before /proc/sys is read-only.
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--sysctl",
            "kernel.shmmax=12345",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/kernel/shmmax",
            "/proc/sys/net/ipv4/ip_forward",
        ],
    );
    assert_eq!(out, "12345\n1\n");
    let err = fails(
        &env,
        &["create", "--sysctl", "kernel.hostname=x", "busybox"],
        125,
    );
    assert!(
        err.contains("sysctl 'kernel.hostname=x' is not whitelisted"),
        "{err}"
    );
    let err = fails(
        &env,
        &[
            "create",
            "--network",
            "host",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
        ],
        // The runtime's refusal, which `create` returns as is.
        1,
    );
    assert!(
        err.contains("sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"),
        "{err}"
    );

    ok(
        &env,
        &[
            "create",
            "--name",
            "rf-inspect",
            "--ulimit",
            "nofile=100:200",
            "--shm-size",
            "2m",
            "--group-add",
            "1234",
            "--sysctl",
            "kernel.shmmax=1",
            "--pid",
            "host",
            "--log-opt",
            "max-size=10m,max-file=3",
            "busybox",
        ],
    );
    let fields = inspect(
        &env,
        "rf-inspect",
        "{{json .HostConfig.Ulimits}} {{.HostConfig.ShmSize}} {{json .HostConfig.GroupAdd}} {{json .HostConfig.Sysctls}} {{.HostConfig.PidMode}} {{json .HostConfig.LogConfig}}",
    );
    assert_eq!(
        fields,
        "[{\"Name\":\"nofile\",\"Hard\":200,\"Soft\":100}] 2097152 [\"1234\"] {\"kernel.shmmax\":\"1\"} host {\"Type\":\"json-file\",\"Config\":{\"max-file\":\"3\",\"max-size\":\"10m\"}}"
    );
    ok(&env, &["rm", "rf-inspect"]);
    assert_settled(&mut env);
}

fn namespace_modes_share_or_join() {
    let mut env = with_busybox("rf-namespaces", &[]);
    let host_name = nix::unistd::gethostname().unwrap();
    let out = ok(
        &env,
        &["run", "--rm", "--uts", "host", "busybox", "hostname"],
    );
    assert_eq!(out.trim(), host_name.to_string_lossy());
    let err = fails(&env, &["create", "--uts", "host", "-h", "x", "busybox"], 1);
    assert!(
        err.contains("conflicting options: hostname and the UTS mode"),
        "{err}"
    );
    for (flag, what) in [("--pid", "PID"), ("--uts", "UTS"), ("--ipc", "IPC")] {
        let err = fails(&env, &["create", flag, "bogus", "busybox"], 125);
        assert!(
            err.contains(&format!("{flag}: invalid {what} mode")),
            "{err}"
        );
    }
    let err = fails(&env, &["create", "--ipc", "container:nosuch", "busybox"], 1);
    assert!(err.contains("No such container: nosuch"), "{err}");

    // The host's PID namespace: our own process is visible.
    let me = std::process::id().to_string();
    // (A test of its own, not a listing of /proc: other processes come and
    // go meanwhile, and `ls` fails on one that vanished.)
    let probe = format!("test -d /proc/{me} && echo visible");
    let out = ok(
        &env,
        &[
            "run", "--rm", "--pid", "host", "busybox", "sh", "-c", &probe,
        ],
    );
    assert_eq!(out.trim(), "visible");
    let ns = |kind: &str| std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--ipc",
            "host",
            "busybox",
            "readlink",
            "/proc/self/ns/ipc",
        ],
    );
    assert_eq!(out.trim(), ns("ipc").to_string_lossy());

    // Another container's namespaces: its processes and its IPC.
    ok(
        &env,
        &["run", "-d", "--name", "rf-peer", "busybox", "sleep", "60"],
    );
    let peer_ipc = ok(&env, &["exec", "rf-peer", "readlink", "/proc/self/ns/ipc"]);
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--ipc",
            "container:rf-peer",
            "--pid",
            "container:rf-peer",
            "busybox",
            "sh",
            "-c",
            "readlink /proc/self/ns/ipc; cat /proc/1/cmdline | tr '\\0' ' '",
        ],
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some(peer_ipc.trim()));
    assert_eq!(lines.next().map(str::trim), Some("sleep 60"));
    ok(&env, &["stop", "-t", "1", "rf-peer"]);
    ok(
        &env,
        &[
            "create",
            "--name",
            "rf-joiner",
            "--pid",
            "container:rf-peer",
            "busybox",
        ],
    );
    // (`start` reports a failed start with the start path's code.)
    let out = md_in(&env, "root", &["start", "rf-joiner"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot join PID of a non running container: rf-peer"),
        "{err}"
    );
    assert_eq!(
        inspect(&env, "rf-joiner", "{{.HostConfig.PidMode}}"),
        "container:rf-peer"
    );
    ok(&env, &["rm", "rf-peer", "rf-joiner"]);
    assert_settled(&mut env);
}

fn cli_forms_pull_platform_cidfile_labels_attach() {
    let mut env = with_busybox("rf-cli", &[]);
    // `=false` forms of the boolean flags; `-it` still combines.
    assert_eq!(
        ok(
            &env,
            &[
                "run",
                "--rm",
                "-t=false",
                "--interactive=false",
                "busybox",
                "echo",
                "x"
            ]
        ),
        "x\n"
    );
    ok(
        &env,
        &["create", "--name", "rf-tty", "--tty=false", "-i", "busybox"],
    );
    assert_eq!(
        inspect(&env, "rf-tty", "{{.Config.Tty}} {{.Config.OpenStdin}}"),
        "false true"
    );

    // --pull: never with a local image runs it; a missing one is an error
    // without any registry lookup; bad values are refused.
    assert_eq!(
        ok(
            &env,
            &["run", "--rm", "--pull", "never", "busybox", "echo", "ok"]
        ),
        "ok\n"
    );
    assert_eq!(
        ok(
            &env,
            &["run", "--rm", "--pull", "missing", "busybox", "echo", "ok"]
        ),
        "ok\n"
    );
    let err = fails(&env, &["run", "--rm", "--pull", "never", "nosuch"], 125);
    assert!(err.contains("No such image: nosuch:latest"), "{err}");
    assert!(!err.contains("Unable to find image"), "{err}");
    let err = fails(&env, &["create", "--pull", "sometimes", "busybox"], 125);
    assert!(err.contains("invalid pull option: 'sometimes'"), "{err}");

    for platform in ["linux/amd64", "linux"] {
        let id = ok(&env, &["create", "--platform", platform, "busybox"]);
        ok(&env, &["rm", id.trim()]);
    }
    let err = fails(
        &env,
        &["create", "--platform", "linux/arm64", "busybox"],
        125,
    );
    assert!(
        err.contains("wanted linux/arm64, actual: linux/amd64"),
        "{err}"
    );

    let cidfile = env.path("cid");
    let cid = cidfile.to_str().unwrap();
    let id = ok(&env, &["create", "--cidfile", cid, "busybox"]);
    assert_eq!(std::fs::read_to_string(&cidfile).unwrap(), id.trim());
    // The daemon's side of `create`: exit 1, as Docker's create.
    let err = fails(&env, &["create", "--cidfile", cid, "busybox"], 1);
    assert!(
        err.contains(&format!(
            "container ID file found, make sure the other container isn't running or delete {cid}"
        )),
        "{err}"
    );
    ok(&env, &["rm", id.trim()]);

    let labels = env.path("labels");
    std::fs::write(&labels, "# comment\na=1\nb=2\n").unwrap();
    ok(
        &env,
        &[
            "create",
            "--name",
            "rf-labels",
            "--label-file",
            labels.to_str().unwrap(),
            "-l",
            "b=3",
            "busybox",
        ],
    );
    assert_eq!(
        inspect(&env, "rf-labels", "{{json .Config.Labels}}"),
        "{\"a\":\"1\",\"b\":\"3\"}"
    );

    // -a: only the named streams are shown.
    let out = md_in(
        &env,
        "root",
        &[
            "run",
            "--rm",
            "-a",
            "stderr",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    let err = fails(&env, &["create", "-a", "foo", "busybox"], 125);
    assert!(
        err.contains("valid streams are STDIN, STDOUT and STDERR"),
        "{err}"
    );
    let err = fails(&env, &["run", "-d", "-a", "stdout", "busybox"], 125);
    assert!(err.contains("Conflicting options: -a and -d"), "{err}");
    ok(&env, &["rm", "rf-tty", "rf-labels"]);
    assert_settled(&mut env);
}

fn health_checks_move_through_their_states() {
    let mut env = with_busybox("rf-health", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "rf-ok",
            "--health-cmd",
            "echo fine",
            "--health-interval",
            "300ms",
            "busybox",
            "sleep",
            "60",
        ],
    );
    assert_eq!(
        inspect(&env, "rf-ok", "{{.State.Health.Status}}"),
        "starting"
    );
    let ps = ok(
        &env,
        &["ps", "--format", "{{.Status}}", "--filter", "name=rf-ok"],
    );
    assert!(ps.contains("(health: starting)"), "{ps}");
    wait_for(&env, "rf-ok", "{{.State.Health.Status}}", "healthy");
    let ps = ok(
        &env,
        &[
            "ps",
            "--format",
            "{{.Status}}",
            "--filter",
            "health=healthy",
        ],
    );
    assert!(
        ps.trim().starts_with("Up ") && ps.trim().ends_with("(healthy)"),
        "{ps}"
    );
    let log = health_log(&env, "rf-ok");
    let first = &log[0];
    assert_eq!(
        (first["ExitCode"].as_i64(), first["Output"].as_str()),
        (Some(0), Some("fine\n"))
    );
    assert!(first["Start"].as_str().unwrap() <= first["End"].as_str().unwrap());
    assert_eq!(
        inspect(&env, "rf-ok", "{{json .Config.Healthcheck}}"),
        "{\"Test\":[\"CMD-SHELL\",\"echo fine\"],\"Interval\":300000000}"
    );
    // The log keeps the last five probes; the monitor, which starts
    // them, does not grow with them (each probe is a process of its own).
    let rss_before = monitor_rss(&env, "rf-ok");
    std::thread::sleep(Duration::from_secs(2));
    let rss_after = monitor_rss(&env, "rf-ok");
    assert!(
        rss_after < rss_before + 512,
        "monitor RSS {rss_before} kB -> {rss_after} kB over ~6 probes"
    );
    assert_eq!(health_log(&env, "rf-ok").as_array().unwrap().len(), 5);

    // Failing: unhealthy after `retries` failures in a row.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "rf-bad",
            "--health-cmd",
            "exit 3",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
            "busybox",
            "sleep",
            "60",
        ],
    );
    wait_for(&env, "rf-bad", "{{.State.Health.Status}}", "unhealthy");
    assert!(
        inspect(&env, "rf-bad", "{{.State.Health.FailingStreak}}")
            .parse::<u32>()
            .unwrap()
            >= 2
    );
    let ps = ok(
        &env,
        &[
            "ps",
            "--format",
            "{{.Names}} {{.Status}}",
            "--filter",
            "health=unhealthy",
        ],
    );
    assert!(
        ps.starts_with("rf-bad Up ") && ps.trim().ends_with("(unhealthy)"),
        "{ps}"
    );

    // A probe past its timeout counts as a failure.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "rf-slow",
            "--health-cmd",
            "sleep 5",
            "--health-interval",
            "200ms",
            "--health-timeout",
            "300ms",
            "--health-retries",
            "1",
            "busybox",
            "sleep",
            "60",
        ],
    );
    wait_for(&env, "rf-slow", "{{.State.Health.Status}}", "unhealthy");
    let log = health_log(&env, "rf-slow");
    assert!(
        log[0]["Output"]
            .as_str()
            .unwrap()
            .starts_with("Health check exceeded timeout"),
        "{log}"
    );
    assert_eq!(log[0]["ExitCode"], -1);

    // No healthcheck: no Health in State, none in ps.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "rf-none",
            "--no-healthcheck",
            "busybox",
            "sleep",
            "60",
        ],
    );
    let all: serde_json::Value = serde_json::from_str(&ok(&env, &["inspect", "rf-none"])).unwrap();
    assert!(all[0]["State"].get("Health").is_none(), "{all}");
    let ps = ok(
        &env,
        &["ps", "--format", "{{.Names}}", "--filter", "health=none"],
    );
    assert_eq!(ps.trim(), "rf-none");

    // Docker's CLI checks the conflict and the signs (125); the daemon the
    // interval (create returns its error: 1).
    for (args, want, code) in [
        (
            vec!["--no-healthcheck", "--health-cmd", "true"],
            "--no-healthcheck conflicts with --health-* options",
            125,
        ),
        (
            vec!["--health-interval", "-1s"],
            "--health-interval cannot be negative",
            125,
        ),
        (
            vec!["--health-retries", "-1"],
            "--health-retries cannot be negative",
            125,
        ),
        (
            vec!["--health-interval", "10us", "--health-cmd", "true"],
            "Interval in Healthcheck cannot be less than 1ms",
            1,
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args);
        all.push("busybox");
        let err = fails(&env, &all, code);
        assert!(err.contains(want), "{err}");
    }
    ok(&env, &["rm", "-f", "rf-ok", "rf-bad", "rf-slow", "rf-none"]);
    assert_settled(&mut env);
}

fn json_file_log_rotates_without_losing_lines() {
    let mut env = with_busybox("rf-logs", &[]);
    // 3000 lines of ~60 bytes of JSON each (~200 KB): many rotations of a
    // 16 KB file, yet the three files kept hold the last ~48 KB whole.
    ok(
        &env,
        &[
            "run",
            "--name",
            "rf-chatty",
            "--log-opt",
            "max-size=16k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            "i=0; while [ $i -lt 3000 ]; do echo line-$i; i=$((i+1)); done",
        ],
    );
    let log = std::path::PathBuf::from(inspect(&env, "rf-chatty", "{{.LogPath}}"));
    for n in ["", ".1", ".2"] {
        let file = format!("{}{n}", log.display());
        let size = std::fs::metadata(&file).unwrap().len();
        assert!(size <= 16 * 1024, "{file}: {size}");
    }
    assert!(!std::path::Path::new(&format!("{}.3", log.display())).exists());
    let out = ok(&env, &["logs", "rf-chatty"]);
    let numbers: Vec<u32> = out
        .lines()
        .map(|l| l.strip_prefix("line-").unwrap().parse().unwrap())
        .collect();
    let first = numbers[0];
    assert!(first > 0, "rotation dropped nothing?");
    assert_eq!(
        numbers,
        (first..3000).collect::<Vec<_>>(),
        "lines lost or out of order"
    );
    let tail = ok(&env, &["logs", "--tail", "2", "rf-chatty"]);
    assert_eq!(tail, "line-2998\nline-2999\n");

    // --log-driver none: output still reaches the attached client.
    assert_eq!(
        ok(
            &env,
            &[
                "run",
                "--name",
                "rf-quiet",
                "--log-driver",
                "none",
                "busybox",
                "echo",
                "hi"
            ]
        ),
        "hi\n"
    );
    let err = fails(&env, &["logs", "rf-quiet"], 1);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    // The daemon's checks: `create` returns them as they are (exit 1).
    for (args, want) in [
        (
            vec!["--log-driver", "syslog"],
            "error looking up logging plugin syslog: plugin \"syslog\" not found",
        ),
        (
            vec!["--log-driver", "none", "--log-opt", "max-size=1m"],
            "invalid logging opts for driver none",
        ),
        (
            vec!["--log-opt", "foo=bar"],
            "unknown log opt 'foo' for json-file log driver",
        ),
        (
            vec!["--log-opt", "max-size=abc"],
            "failed to initialize logging driver: invalid size: 'abc'",
        ),
    ] {
        let mut all = vec!["create"];
        all.extend(args);
        all.push("busybox");
        let err = fails(&env, &all, 1);
        assert!(err.contains(want), "{err}");
    }
    ok(&env, &["rm", "rf-chatty", "rf-quiet"]);
    assert_settled(&mut env);
}

testkit::main![
    process_flags_reach_the_container_and_inspect,
    namespace_modes_share_or_join,
    cli_forms_pull_platform_cidfile_labels_attach,
    health_checks_move_through_their_states,
    json_file_log_rotates_without_losing_lines,
];
