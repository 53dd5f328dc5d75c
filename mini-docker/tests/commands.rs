//! The commands users reach for beyond the lifecycle, on the real kernel:
//! `update` (live cgroup and record), `stats`, `events`, `version`,
//! `info`, `system df`, `top` with ps options, `inspect -s`, `container
//! port`, and the `host`/`none` networks — with the output shapes Docker
//! 20.10 printed for the same commands (compared by hand against a private
//! dockerd). Cgroup files are read for whichever version the host runs.
//! Each test has its own store, run root and cgroup parent, and checks
//! afterwards that nothing is left. Containers use `--network none` (no
//! test here needs a bridge, and the host's address pools are shared).

mod support;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cgroup_demo::{Layout, Version};
use support::*;
use testkit::TestEnv;

/// A file of the container's cgroup, trimmed, on this host's version.
fn cgroup_file(env: &TestEnv, container: &str, controller: &str, name: &str) -> String {
    let id = inspect(env, container, "{{.Id}}");
    let layout = Layout::detect().unwrap();
    let rel = PathBuf::from(format!("mini-docker-{}", env.token())).join(id);
    let dir = match layout.version() {
        Version::V1 => layout.v1_root(controller).unwrap().join(rel),
        Version::V2 => layout.unified.clone().unwrap().join(rel),
    };
    std::fs::read_to_string(dir.join(name))
        .unwrap_or_else(|e| panic!("{controller}/{name}: {e}"))
        .trim()
        .to_string()
}

fn version() -> Version {
    Layout::detect().unwrap().version()
}

const M: u64 = 1 << 20;

fn update_changes_the_live_cgroup_and_the_record() {
    let mut env = with_busybox("cmd-update", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "up",
            "-m",
            "64m",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    // Docker prints each container as named.
    let out = ok(
        &env,
        &[
            "update",
            "--cpu-shares",
            "512",
            "-m",
            "100m",
            "--pids-limit",
            "30",
            "--restart",
            "on-failure:2",
            "up",
        ],
    );
    assert_eq!(out, "up\n");
    assert_eq!(
        inspect(
            &env,
            "up",
            "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        // The swap total run -m 64m implied (128m) stays, as in Docker.
        format!("{} {} 512 30 on-failure:2", 100 * M, 128 * M)
    );
    match version() {
        Version::V1 => {
            assert_eq!(
                cgroup_file(&env, "up", "memory", "memory.limit_in_bytes"),
                (100 * M).to_string()
            );
            assert_eq!(cgroup_file(&env, "up", "cpu", "cpu.shares"), "512");
        }
        Version::V2 => {
            assert_eq!(
                cgroup_file(&env, "up", "memory", "memory.max"),
                (100 * M).to_string()
            );
            assert_eq!(
                cgroup_file(&env, "up", "cpu", "cpu.weight"),
                cgroup_demo::limits::shares_to_weight(512).to_string()
            );
        }
    }
    assert_eq!(cgroup_file(&env, "up", "pids", "pids.max"), "30");

    // Docker's messages: a conflict names the container; a bad value does
    // not; no flag at all is the CLI's own complaint. All exit 1.
    let id = inspect(&env, "up", "{{.Id}}");
    assert_eq!(
        fails(&env, &["update", "-m", "200m", "up"], 1),
        format!("Error response from daemon: Cannot update container {id}: Conflicting options: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time\n")
    );
    assert_eq!(
        fails(&env, &["update", "-m", "1m", "up"], 1),
        "Error response from daemon: Minimum memory limit allowed is 6MB\n"
    );
    assert_eq!(
        fails(&env, &["update", "up"], 1),
        "Error: you must provide one or more flags when using this command\n"
    );
    let out = md_in(
        &env,
        "root",
        &["update", "--cpu-shares", "256", "up", "nosuch"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "up\n");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "Error response from daemon: No such container: nosuch\n"
    );

    // A new restart policy reaches the running monitor.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "flaky",
            "busybox",
            "sh",
            "-c",
            "sleep 1; exit 3",
        ],
    );
    ok(&env, &["update", "--restart", "on-failure:1", "flaky"]);
    testkit::wait_until("one restart, then exited", || {
        inspect(&env, "flaky", "{{.RestartCount}} {{.State.Status}}") == "1 exited"
    });
    ok(&env, &["rm", "flaky"]);

    // A stopped container: recorded now, applied at the next start.
    ok(&env, &["stop", "-t", "0", "up"]);
    ok(&env, &["update", "--pids-limit", "12", "up"]);
    ok(&env, &["start", "up"]);
    assert_eq!(cgroup_file(&env, "up", "pids", "pids.max"), "12");
    ok(&env, &["rm", "-f", "up"]);
    assert_settled(&mut env);
}

fn stats_shows_dockers_columns_once_and_live() {
    let mut env = with_busybox("cmd-stats", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "st",
            "-m",
            "100m",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let id = inspect(&env, "st", "{{.Id}}");
    let out = ok(&env, &["stats", "--no-stream"]);
    let mut lines = out.lines();
    assert_eq!(
        lines.next().unwrap(),
        // `NET I/O` is `0B / 0B` here, narrower than with Docker's bridge.
        "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   BLOCK I/O   PIDS"
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap()
        .split("   ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(row[0], &id[..12]);
    assert_eq!(row[1], "st");
    assert!(row[2].ends_with('%'), "{row:?}");
    assert!(row[3].ends_with(" / 100MiB"), "{row:?}");
    assert!(row[5].contains(" / "), "{row:?}");
    assert_eq!(row[7], "1");
    assert_eq!(lines.next(), None);
    let out = ok(
        &env,
        &[
            "stats",
            "--no-stream",
            "--no-trunc",
            "--format",
            "{{.ID}} {{.Name}} {{.PIDs}} {{.Container}}",
            "st",
        ],
    );
    assert_eq!(out, format!("{id} st 1 st\n"));
    // The usage leaves the page cache out but is never zero for a process.
    let json: serde_json::Value = serde_json::from_str(
        ok(
            &env,
            &["stats", "--no-stream", "--format", "{{json .}}", "st"],
        )
        .trim(),
    )
    .unwrap();
    assert!(
        !json["MemUsage"].as_str().unwrap().starts_with("0B"),
        "{json}"
    );

    // Live: Docker's clear-screen and home before each refresh, every
    // second, until interrupted.
    let mut child = md_command(&env, "root")
        .args(["stats", "st"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2600));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let _ = child.wait();
    let mut text = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.matches("\x1b[2J\x1b[H").count() >= 2, "{text:?}");
    assert!(text.contains("CONTAINER ID"));
    ok(&env, &["rm", "-f", "st"]);
    assert_settled(&mut env);
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The `events` lines of the test so far, IDs replaced by `ID`.
fn events_since(env: &TestEnv, since: u64, extra: &[&str]) -> Vec<String> {
    let since = since.to_string();
    let until = (now_secs() + 1).to_string();
    let mut args = vec!["events", "--since", &since, "--until", &until];
    args.extend(extra);
    ok(env, &args)
        .lines()
        .map(|l| {
            // Drop the timestamp (the default format's); hide 64-hex IDs.
            let rest = if extra.contains(&"--format") {
                l
            } else {
                l.split_once(' ').map_or(l, |(_, r)| r)
            };
            rest.split(' ')
                .map(|w| {
                    let hex = w.trim_start_matches("sha256:");
                    if hex.len() >= 64 && hex[..64].bytes().all(|b| b.is_ascii_hexdigit()) {
                        format!("ID{}", &hex[64..])
                    } else {
                        w.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

fn events_record_the_lifecycle_and_follow() {
    let mut env = with_busybox("cmd-events", &[]);
    let since = now_secs();
    ok(
        &env,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "ev",
            "-l",
            "tier=web",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    ok(&env, &["pause", "ev"]);
    ok(&env, &["unpause", "ev"]);
    ok(&env, &["rename", "ev", "ev2"]);
    // `sleep` as PID 1 ignores SIGTERM: stop ends with SIGKILL.
    ok(&env, &["stop", "-t", "1", "ev2"]);
    ok(&env, &["rm", "ev2"]);
    ok(&env, &["volume", "create", "vol"]);
    ok(&env, &["volume", "rm", "vol"]);
    let lines = events_since(&env, since, &["--filter", "type=container"]);
    let a = "image=busybox, name=ev, tier=web";
    let b = "image=busybox, name=ev2, tier=web";
    // Attributes sorted by key, as Docker (Go's byte order) sorts them.
    let n = "image=busybox, name=ev2";
    // As Docker 20.10 words each line.
    assert_eq!(
        lines,
        [
            format!("container create ID ({a})"),
            format!("container start ID ({a})"),
            format!("container pause ID ({a})"),
            format!("container unpause ID ({a})"),
            format!("container rename ID ({n}, oldName=/ev, tier=web)"),
            format!("container kill ID ({n}, signal=15, tier=web)"),
            format!("container kill ID ({n}, signal=9, tier=web)"),
            format!("container die ID (exitCode=137, {b})"),
            format!("container stop ID ({b})"),
            format!("container destroy ID ({b})"),
        ]
    );
    assert_eq!(
        events_since(&env, since, &["--filter", "type=volume"]),
        [
            "volume create vol (driver=local)",
            "volume destroy vol (driver=local)"
        ]
    );
    let out = events_since(
        &env,
        since,
        &[
            "--filter",
            "event=die",
            "--filter",
            "container=ev2",
            "--format",
            "{{.Status}} {{.Actor.Attributes.exitCode}}",
        ],
    );
    assert_eq!(out, ["die 137"]);
    // --until alone: everything recorded so far (here, the fixture's
    // import: Docker's tag, then import).
    assert_eq!(
        ok(
            &env,
            &[
                "events",
                "--until",
                "0s",
                "--filter",
                "type=image",
                "--format",
                "{{.Action}} {{.Actor.Attributes.name}}"
            ]
        )
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect::<Vec<_>>(),
        ["tag", "import"]
    );
    assert_eq!(
        fails(&env, &["events", "--filter", "bogus=1", "--until", "0s"], 1),
        "Error: Invalid filter 'bogus'\n"
    );

    // Without --until, events follow: a container started afterwards shows.
    let mut child = md_command(&env, "root")
        .args(["events", "--filter", "event=start"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--name",
            "later",
            "busybox",
            "true",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 512];
    while !seen.contains('\n') && Instant::now() < deadline {
        let n = stdout.read(&mut buf).unwrap();
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    child.kill().unwrap();
    let _ = child.wait();
    assert!(
        seen.contains(" container start ") && seen.contains("name=later"),
        "{seen:?}"
    );
    // An attached `run --rm`: attach before start; the monitor removes
    // the container and says so.
    testkit::wait_until("later's destroy event", || {
        events_since(&env, since, &["--filter", "container=later"]).len() == 5
    });
    assert_eq!(
        events_since(&env, since, &["--filter", "container=later"]),
        [
            "container create ID (image=busybox, name=later)",
            "container attach ID (image=busybox, name=later)",
            "container start ID (image=busybox, name=later)",
            "container die ID (exitCode=0, image=busybox, name=later)",
            "container destroy ID (image=busybox, name=later)",
        ]
    );
    assert_settled(&mut env);
}

fn version_info_and_disk_usage() {
    let mut env = with_busybox("cmd-system", &[]);
    let out = ok(&env, &["version"]);
    assert!(out.starts_with("Client:\n Version:           "), "{out}");
    assert!(
        out.contains("\nServer:\n Engine:\n  Version:          "),
        "{out}"
    );
    assert_eq!(
        ok(&env, &["version", "--format", "{{.Client.ApiVersion}}"]),
        "1.41\n"
    );
    ok(
        &env,
        &["create", "--network", "none", "--name", "idle", "busybox"],
    );
    let cgroup = match version() {
        Version::V1 => "1",
        Version::V2 => "2",
    };
    assert_eq!(
        ok(
            &env,
            &[
                "info",
                "--format",
                "{{.Containers}} {{.ContainersStopped}} {{.Images}} {{.CgroupVersion}} {{.Driver}}"
            ]
        ),
        format!("1 1 1 {cgroup} overlay2\n")
    );
    let info = ok(&env, &["info"]);
    for line in [
        "Server:\n Containers: 1\n  Running: 0\n  Paused: 0\n  Stopped: 1\n Images: 1\n",
        " Storage Driver: overlay2\n",
        " Cgroup Driver: cgroupfs\n",
        &format!(" Cgroup Version: {cgroup}\n"),
        &format!(" Docker Root Dir: {}\n", env.path("root").display()),
    ] {
        assert!(info.contains(line), "{line:?} not in {info}");
    }
    let df = ok(&env, &["system", "df"]);
    let lines: Vec<&str> = df.lines().collect();
    assert_eq!(
        lines[0],
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    );
    // The created container uses the image; it is not running.
    assert!(
        lines[1].starts_with("Images          1         1         "),
        "{df}"
    );
    assert!(lines[1].ends_with("0B (0%)"), "{df}");
    assert!(
        lines[2].starts_with("Containers      1         0         "),
        "{df}"
    );
    assert_eq!(lines[3], "Local Volumes   0         0         0B        0B");
    assert_eq!(lines[4], "Build Cache     0         0         0B        0B");
    let verbose = ok(&env, &["system", "df", "-v"]);
    assert!(
        verbose.starts_with("Images space usage:\n\nREPOSITORY   TAG "),
        "{verbose}"
    );
    assert!(verbose.contains("\nBuild cache usage: 0B\n"), "{verbose}");
    ok(&env, &["rm", "idle"]);
    assert_settled(&mut env);
}

fn top_port_inspect_size_and_builtin_networks() {
    let mut env = with_busybox("cmd-misc", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "tp",
            "busybox",
            "sh",
            "-c",
            "head -c 100000 /dev/zero > /big; exec sleep 1000",
        ],
    );
    // Docker's default: `ps -ef`, columns 20 wide.
    let out = ok(&env, &["top", "tp"]);
    assert_eq!(
        out.lines().next(),
        Some("UID                 PID                 PPID                C                   STIME               TTY                 TIME                CMD")
    );
    assert!(out.lines().nth(1).unwrap().ends_with("sleep 1000"), "{out}");
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = ok(&env, &["top", "tp", "-o", "pid,comm"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("PID                 COMMAND"));
    let row = lines.next().unwrap();
    assert!(row.ends_with("sleep"), "{out}");
    assert_eq!(
        fails(&env, &["top", "tp", "-o", "comm"], 1),
        "Error response from daemon: Couldn't find PID field in ps output\n"
    );
    // Nothing published: nothing printed, success (Docker's behaviour).
    assert_eq!(ok(&env, &["container", "port", "tp"]), "");
    let size_rw = || -> u64 {
        ok(&env, &["inspect", "-s", "-f", "{{.SizeRw}}", "tp"])
            .trim()
            .parse()
            .unwrap()
    };
    testkit::wait_until("the file written", || size_rw() >= 100_000);
    let sizes = ok(
        &env,
        &["inspect", "-s", "-f", "{{.SizeRw}} {{.SizeRootFs}}", "tp"],
    );
    let sizes: Vec<u64> = sizes
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    assert!(sizes[1] > sizes[0], "{sizes:?}");

    let ls = ok(&env, &["network", "ls"]);
    let names: Vec<&str> = ls
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["bridge", "host", "none"]);
    assert_eq!(
        ok(
            &env,
            &[
                "network",
                "inspect",
                "-f",
                "{{.Name}} {{.Driver}} {{.Scope}}",
                "host",
                "none"
            ]
        ),
        "host host local\nnone null local\n"
    );
    assert_eq!(
        fails(&env, &["network", "create", "host"], 1),
        "Error response from daemon: operation is not permitted on predefined host network\n"
    );
    assert_eq!(
        fails(&env, &["network", "rm", "none"], 1),
        "Error response from daemon: none is a pre-defined network and cannot be removed\n"
    );
    ok(&env, &["rm", "-f", "tp"]);
    assert_settled(&mut env);
}

testkit::main![
    update_changes_the_live_cgroup_and_the_record,
    stats_shows_dockers_columns_once_and_live,
    events_record_the_lifecycle_and_follow,
    version_info_and_disk_usage,
    top_port_inspect_size_and_builtin_networks,
];
