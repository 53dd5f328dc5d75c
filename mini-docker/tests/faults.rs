//! Faults on purpose: commands SIGKILLed at seeded random moments, a full
//! disk, registries that misbehave, many starts at once, a chatty container
//! with log rotation. After each, every command works, `ps -a` tells the
//! truth, nothing half-made is left in the store and nothing leaks on the
//! host. `FAULTS_TRIALS` (default 30) and `FAULTS_SEED` (default: the
//! clock, printed) pick the kill trials; `FAULTS_REPORT=FILE` writes their
//! counts as JSON (bench/faults.sh runs 200 and more).

mod support;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::fault::{self, Fault, Registry, Rng};
use support::*;
use testkit::TestEnv;

/// What a kill trial interrupts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Op {
    Run,
    Pull,
    Commit,
    Rm,
    NetworkCreate,
    /// The monitor of a running container, not a command.
    Monitor,
    /// A two-step Dockerfile (`FROM busybox`, `RUN …`), never from the
    /// cache, so that the kill can land in its `RUN` container.
    Build,
}

const OPS: [Op; 7] = [
    Op::Run,
    Op::Pull,
    Op::Commit,
    Op::Rm,
    Op::NetworkCreate,
    Op::Monitor,
    Op::Build,
];

#[derive(Debug, Default)]
struct Counts {
    trials: usize,
    /// The SIGKILL arrived while the command (or monitor) was running.
    landed: usize,
    /// The command had already finished.
    missed: usize,
}

fn trials() -> usize {
    std::env::var("FAULTS_TRIALS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(30)
}

/// The command line of `op` in trial `k` (`Monitor`: the start before it).
fn command(op: Op, k: usize, registry: &str) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect();
    match op {
        Op::Run | Op::Monitor => s(&[
            "run",
            "-d",
            "--name",
            &format!("r{k}"),
            "busybox",
            "sleep",
            "1000",
        ]),
        Op::Pull => s(&["pull", &format!("{registry}/app:t{k}")]),
        Op::Commit => s(&["commit", "target", &format!("committed:t{k}")]),
        Op::Rm => s(&["rm", "-f", &format!("v{k}")]),
        Op::NetworkCreate => s(&["network", "create", &format!("n{k}")]),
        Op::Build => s(&[
            "build",
            "--no-cache",
            "-t",
            &format!("built:t{k}"),
            "context",
        ]),
    }
}

/// What a trial of `op` needs beforehand.
fn prepare(env: &TestEnv, op: Op, k: usize) {
    if op == Op::Build {
        let dir = env.path("context");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("Dockerfile"),
            "FROM busybox\nRUN echo built > /built && sync\n",
        )
        .unwrap();
    }
    if op == Op::Rm {
        ok(
            env,
            &[
                "run",
                "-d",
                "--name",
                &format!("v{k}"),
                "busybox",
                "sleep",
                "1000",
            ],
        );
    }
}

/// How long `op` takes uninterrupted here (the fastest of three: the
/// first of a kind may be slow): the delays are drawn below it.
fn calibrate(env: &TestEnv, registry: &str) -> BTreeMap<Op, Duration> {
    let mut took = BTreeMap::new();
    for op in OPS {
        let fastest = (0..3)
            .map(|_| {
                prepare(env, op, 0);
                let args = command(op, 0, registry);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let start = Instant::now();
                ok(env, &args);
                let t = start.elapsed();
                clean_up(env, op, 0, registry);
                t
            })
            .min()
            .unwrap();
        // A monitor has no end: kill it within its container's first 300 ms.
        let t = if op == Op::Monitor {
            Duration::from_millis(300)
        } else {
            fastest
        };
        took.insert(op, t);
    }
    eprintln!("uninterrupted: {took:?}");
    took
}

/// SIGKILLs the monitor of container `name` after `delay`.
fn kill_monitor_after(env: &TestEnv, name: &str, delay: Duration) -> bool {
    std::thread::sleep(delay);
    let id = inspect(env, name, "{{.Id}}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.path(format!("root/containers/{id}/state.json"))).unwrap(),
    )
    .unwrap();
    let pid = state["MonitorPid"].as_i64().unwrap_or(0) as i32;
    pid > 0
        && nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .is_ok()
}

/// Runs `args` and SIGKILLs it after `delay` (from this process: an
/// outside timer). True when the kill landed before it finished.
fn killed_after(env: &TestEnv, args: &[String], delay: Duration) -> bool {
    let mut child = md_command(env, "root")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    // Not yet reaped, so the PID is still this child's.
    let _ = child.kill();
    let status = child.wait().unwrap();
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
}

/// What trial `k` made, removed with the ordinary commands. These must
/// work whatever state the kill left (the run ends with `system reset`).
fn clean_up(env: &TestEnv, op: Op, k: usize, registry: &str) {
    match op {
        Op::Run | Op::Monitor => {
            ok(env, &["rm", "-f", &format!("r{k}")]);
        }
        Op::Rm => {
            ok(env, &["rm", "-f", &format!("v{k}")]);
        }
        Op::Commit => {
            let _ = md_in(env, "root", &["rmi", &format!("committed:t{k}")]);
        }
        Op::Pull => {
            let _ = md_in(env, "root", &["rmi", &format!("{registry}/app:t{k}")]);
        }
        Op::Build => {
            // A killed build leaves its RUN container, as Docker's does.
            let _ = md_in(env, "root", &["rmi", &format!("built:t{k}")]);
            let left = ok(env, &["ps", "-aq", "--filter", "status=created"]);
            let left = ok(env, &["ps", "-aq", "--filter", "status=exited"]) + &left;
            let mut args = vec!["rm", "-f"];
            args.extend(left.split_whitespace());
            if args.len() > 2 {
                ok(env, &args);
            }
        }
        Op::NetworkCreate => {
            // Whatever the kill left, the name can be made and removed.
            let name = format!("n{k}");
            let _ = md_in(env, "root", &["network", "rm", &name]);
            ok(env, &["network", "create", &name]);
            ok(env, &["network", "rm", &name]);
        }
    }
}

/// `ps -a` tells the truth: a container shown `Up` has a live process, and
/// one that is not has none. Retried for a few seconds: a container whose
/// monitor was killed is seen dead once its process is.
fn assert_truthful(env: &TestEnv) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match lies(env) {
            None => return,
            Some(lie) if Instant::now() > deadline => panic!("ps -a is not truthful: {lie}"),
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn lies(env: &TestEnv) -> Option<String> {
    let out = md_in(
        env,
        "root",
        &["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.is_empty(), "ps -a: {stderr}");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let (id, status) = line.split_once(' ').unwrap();
        let shown_up = status.starts_with("Up");
        let state = inspect(env, id, "{{.State.Running}} {{.State.Pid}}");
        let (running, pid) = state.split_once(' ').unwrap();
        let pid: i32 = pid.parse().unwrap();
        let alive = pid > 0
            && std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| !s.contains(") Z "));
        if shown_up != (running == "true") || (running == "true") != alive {
            return Some(format!(
                "{id}: ps says {status:?}, inspect {state:?}, alive {alive}"
            ));
        }
    }
    None
}

/// Every command works after the trial, and what was there before it is
/// still there.
fn assert_everything_works(env: &TestEnv) {
    fault::assert_whole(env, "root");
    assert_truthful(env);
    ok(env, &["image", "inspect", "-f", "{{.Id}}", "busybox"]);
    ok(env, &["network", "ls"]);
    ok(env, &["volume", "ls"]);
    assert_eq!(
        ok(env, &["run", "--rm", "busybox", "echo", "alive"]),
        "alive\n"
    );
    assert_eq!(inspect(env, "target", "{{.State.Running}}"), "true");
}

fn kills_leave_every_command_working() {
    let mut env = with_busybox("md-faults-kill", &[]);
    let tar = busybox_tar(&env);
    let registry = Registry::start(&env, &tar, Fault::None);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "target",
            "busybox",
            "sh",
            "-c",
            "echo x > /made; sleep 1000",
        ],
    );
    let took = calibrate(&env, &registry.addr);
    let seed = fault::seed("kills");
    let mut rng = Rng::new(seed);
    let mut counts: BTreeMap<Op, Counts> = BTreeMap::new();
    for k in 1..=trials() {
        let op = OPS[rng.below(OPS.len() as u64) as usize];
        // Up to 1.5 times the uninterrupted duration: most kills land,
        // some come after the end (which must be harmless too).
        let span = took[&op].as_micros() as u64 * 3 / 2 + 1;
        let delay = Duration::from_micros(rng.below(span));
        prepare(&env, op, k);
        let args = command(op, k, &registry.addr);
        let landed = if op == Op::Monitor {
            ok(&env, &args.iter().map(String::as_str).collect::<Vec<_>>());
            kill_monitor_after(&env, &format!("r{k}"), delay)
        } else {
            killed_after(&env, &args, delay)
        };
        let c = counts.entry(op).or_default();
        c.trials += 1;
        if landed {
            c.landed += 1;
        } else {
            c.missed += 1;
        }
        let context = format!("trial {k} ({op:?} killed after {delay:?}, FAULTS_SEED={seed})");
        let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            assert_everything_works(&env);
            clean_up(&env, op, k, &registry.addr);
            assert_everything_works(&env);
        }));
        if let Err(e) = checked {
            panic!(
                "{context}: {}",
                e.downcast_ref::<String>().cloned().unwrap_or_default()
            );
        }
    }
    reset_store(&env);
    report(seed, &counts);
    assert_settled(&mut env);
}

/// Back to an empty store with ordinary commands, then `system reset`
/// removes the store itself (and [`assert_settled`] checks the host).
fn reset_store(env: &TestEnv) {
    let ids = ok(env, &["ps", "-aq"]);
    let mut args = vec!["rm", "-f"];
    args.extend(ids.split_whitespace());
    if args.len() > 2 {
        ok(env, &args);
    }
    ok(env, &["network", "prune", "-f"]);
    ok(env, &["image", "prune", "-a", "-f"]);
    assert_eq!(ok(env, &["images", "-q"]), "");
    assert_eq!(
        count(&env.path("root/layers")),
        0,
        "layers left after reset"
    );
    ok(env, &["system", "reset", "-f"]);
    assert!(
        !env.path("root").exists(),
        "system reset left the state root"
    );
}

fn report(seed: u64, counts: &BTreeMap<Op, Counts>) {
    let total = |f: fn(&Counts) -> usize| counts.values().map(f).sum::<usize>();
    let per_op: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|(op, c)| {
            (
                format!("{op:?}"),
                serde_json::json!({"trials": c.trials, "landed": c.landed, "missed": c.missed}),
            )
        })
        .collect();
    let json = serde_json::json!({
        "seed": seed,
        "trials": total(|c| c.trials),
        "kills_landed": total(|c| c.landed),
        "kills_after_the_end": total(|c| c.missed),
        "lost_anything": 0,
        "per_op": per_op,
    });
    eprintln!("kill trials: {json}");
    if let Ok(path) = std::env::var("FAULTS_REPORT") {
        std::fs::write(path, format!("{json:#}\n")).unwrap();
    }
}

/// A small tmpfs as the state root: pull, commit and log writing meet a
/// full disk; each fails with a clear error, keeps nothing half-made and
/// works again once space is freed.
fn a_full_disk_fails_cleanly_and_recovers() {
    let mut env = TestEnv::root("md-faults-full");
    let tar = busybox_tar(&env);
    let full = env.path("full");
    std::fs::create_dir(&full).unwrap();
    nix::mount::mount(
        Some("tmpfs"),
        &full,
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        Some("size=24m"),
    )
    .unwrap();
    let on_full = |args: &[&str]| md_in(&env, "full", args);
    let ok_full = |args: &[&str]| ok_in(&env, "full", args);
    ok_full(&["import", "-c", "CMD [\"sh\"]", &tar, "busybox"]);
    let small = fault::noise_tar(&env, 3 << 20);
    let registry = Registry::start(&env, &small, Fault::None);
    ok_full(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "busybox",
        "sh",
        "-c",
        "echo 0123456789abcdef > /made; dd if=/dev/zero of=/big bs=1k count=3072 2>/dev/null; \
         i=0; while true; do echo line $i; i=$((i+1)); usleep 2000; done",
    ]);
    testkit::wait_until("the first log lines", || {
        String::from_utf8_lossy(&on_full(&["logs", "chatty"]).stdout).contains("line 5\n")
    });
    // Fill what is left.
    let filler = full.join("filler");
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 << 10];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
    }
    std::thread::sleep(Duration::from_millis(300)); // the logger meets ENOSPC

    let pull = on_full(&["pull", &format!("{}/app", registry.addr)]);
    let err = String::from_utf8_lossy(&pull.stderr);
    assert_eq!(pull.status.code(), Some(1), "pull on a full disk: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    let commit = on_full(&["commit", "chatty", "snap:1"]);
    let err = String::from_utf8_lossy(&commit.stderr);
    assert_eq!(
        commit.status.code(),
        Some(1),
        "commit on a full disk: {err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    let context = env.path("context");
    std::fs::create_dir(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), "FROM busybox\nCOPY big /big\n").unwrap();
    std::fs::write(context.join("big"), vec![7u8; 2 << 20]).unwrap();
    let context = context.to_str().unwrap();
    let build = on_full(&["build", "-q", "-t", "built:1", context]);
    let err = String::from_utf8_lossy(&build.stderr);
    assert_eq!(build.status.code(), Some(1), "build on a full disk: {err}");
    assert!(err.contains("No space left on device"), "{err}");
    let images = ok_full(&["images", "--format", "{{.Repository}}"]);
    assert_eq!(images, "busybox\n", "nothing half-made is listed");
    assert_logs_whole(&String::from_utf8_lossy(
        &on_full(&["logs", "chatty"]).stdout,
    ));
    assert_records_whole(&ok_full(&["inspect", "-f", "{{.LogPath}}", "chatty"]));
    let last_before = last_line(&env);

    std::fs::remove_file(&filler).unwrap();
    fault::assert_whole(&env, "full");
    ok_full(&["pull", &format!("{}/app", registry.addr)]);
    ok_full(&["commit", "chatty", "snap:1"]);
    ok_full(&["build", "-q", "-t", "built:1", context]);
    assert_eq!(
        ok_full(&["run", "--rm", "built:1", "wc", "-c", "/big"]),
        format!("{} /big\n", 2 << 20)
    );
    assert_eq!(
        ok_full(&["run", "--rm", "snap:1", "cat", "/made"]),
        "0123456789abcdef\n"
    );
    testkit::wait_until("log lines after space is freed", || {
        last_line(&env) > last_before
    });
    assert_logs_whole(&String::from_utf8_lossy(
        &on_full(&["logs", "chatty"]).stdout,
    ));
    assert_records_whole(&ok_full(&["inspect", "-f", "{{.LogPath}}", "chatty"]));
    assert_eq!(inspect_in(&env, "full", "chatty"), "true");
    ok_full(&["rm", "-f", "chatty"]);
    env.drop_default_bridge(&full);
    drop(registry);
    nix::mount::umount2(&full, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert_settled(&mut env);
}

fn inspect_in(env: &TestEnv, root: &str, name: &str) -> String {
    ok_in(env, root, &["inspect", "-f", "{{.State.Running}}", name])
        .trim()
        .to_string()
}

fn last_line(env: &TestEnv) -> i64 {
    let out = md_in(env, "full", &["logs", "--tail", "1", "chatty"]);
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .strip_prefix("line ")
        .and_then(|n| n.parse().ok())
        .unwrap_or(-1)
}

/// The log file itself (`logs` skips what it cannot parse) holds whole
/// JSON records only: a write cut short by the full disk was cut off.
fn assert_records_whole(log_path: &str) {
    let text = std::fs::read_to_string(log_path.trim()).unwrap();
    for line in text.split_inclusive('\n') {
        assert!(
            line.ends_with('\n') && serde_json::from_str::<serde_json::Value>(line).is_ok(),
            "torn record in {}: {line:?}",
            log_path.trim()
        );
    }
}

/// Every log line is whole (`line N`) and in order; lines lost while the
/// disk was full may leave a gap, never a torn line.
fn assert_logs_whole(logs: &str) {
    let mut last = -1i64;
    for line in logs.lines() {
        let n: i64 = line
            .strip_prefix("line ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("torn log line {line:?}"));
        assert!(n > last, "log out of order at {line:?}");
        last = n;
    }
}

/// Registries that stall, reset, redirect or send more than they declare:
/// a clear error (or, where Docker's client copes, a correct pull), nothing
/// kept, and the next pull from a sound registry works.
fn misbehaving_registries_fail_cleanly() {
    let env = TestEnv::new("md-faults-registry");
    let tar = fault::noise_tar(&env, 256 << 10);
    let sound = Registry::start(&env, &tar, Fault::None);
    let cases = [
        (Fault::Stall, Some("timeout")),
        (Fault::Reset, Some("")),
        (Fault::Redirect, None),
        (Fault::RedirectLoop, Some("redirect")),
        (Fault::TrailingGarbage, None),
        (Fault::Oversized, Some("")),
    ];
    for (fault, expected) in cases {
        let registry = Registry::start(&env, &tar, fault);
        let start = Instant::now();
        let out = md_command(&env, "dst")
            .args(["pull", &format!("{}/app", registry.addr)])
            .env("MINI_DOCKER_REGISTRY_TIMEOUT", "2")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let took = start.elapsed();
        match expected {
            None => {
                assert!(out.status.success(), "{fault:?}: {err}");
                let id = ok_in(&env, "dst", &["images", "-q"]);
                assert_eq!(id.lines().count(), 1, "{fault:?}");
                ok_in(&env, "dst", &["rmi", &format!("{}/app", registry.addr)]);
            }
            Some(words) => {
                assert_eq!(out.status.code(), Some(1), "{fault:?}: {err}");
                assert!(
                    err.starts_with("Error") && err.contains(words),
                    "{fault:?}: {err}"
                );
                assert_eq!(
                    err.trim_end().lines().count(),
                    1,
                    "{fault:?}: one line: {err}"
                );
            }
        }
        assert!(took < Duration::from_secs(30), "{fault:?} took {took:?}");
        assert!(
            !registry
                .leaked_auth
                .load(std::sync::atomic::Ordering::SeqCst),
            "{fault:?}: credentials followed the redirect"
        );
        assert_eq!(ok_in(&env, "dst", &["images", "-q"]), "", "{fault:?}");
        for dir in ["dst/layers", "dst/blobs/sha256", "dst/tmp"] {
            assert_eq!(count(&env.path(dir)), 0, "{fault:?}: {dir} not empty");
        }
        fault::assert_whole(&env, "dst");
    }
    ok_in(&env, "dst", &["pull", &format!("{}/app", sound.addr)]);
}

/// The load suite's CI sample (bench/load.sh runs 1,000 and 100): starts
/// in sequence and at once all succeed, and nothing leaks.
fn starts_in_sequence_and_at_once_all_succeed() {
    let mut env = with_busybox("md-faults-load", &[]);
    for i in 0..20 {
        assert_eq!(
            ok(&env, &["run", "--rm", "busybox", "echo", &i.to_string()]),
            format!("{i}\n")
        );
    }
    std::thread::scope(|s| {
        let env = &env;
        let handles: Vec<_> = (0..10)
            .map(|i| {
                s.spawn(move || {
                    md_in(
                        env,
                        "root",
                        &["run", "--rm", "busybox", "echo", &i.to_string()],
                    )
                })
            })
            .collect();
        for (i, h) in handles.into_iter().enumerate() {
            let out = h.join().unwrap();
            assert!(
                out.status.success(),
                "start {i}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
        }
    });
    assert_eq!(ok(&env, &["ps", "-aq"]), "");
    assert_settled(&mut env);
}

/// With `max-size`/`max-file`, the kept logs are exactly the newest lines:
/// none of those that fit is lost, none torn, none out of order.
fn a_chatty_container_with_rotation_loses_no_line_that_fits() {
    let mut env = with_busybox("md-faults-rotate", &[]);
    let lines = 20_000;
    ok(
        &env,
        &[
            "run",
            "--name",
            "chatty",
            "--log-opt",
            "max-size=64k",
            "--log-opt",
            "max-file=3",
            "busybox",
            "sh",
            "-c",
            &format!("i=0; while [ $i -lt {lines} ]; do echo line $i; i=$((i+1)); done"),
        ],
    );
    let logs = ok(&env, &["logs", "chatty"]);
    let kept: Vec<i64> = logs
        .lines()
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("torn line {l:?}"))
        })
        .collect();
    assert_eq!(kept.last(), Some(&(lines - 1)), "the newest line is kept");
    let first = kept[0];
    assert_eq!(
        kept,
        (first..lines).collect::<Vec<_>>(),
        "kept lines are contiguous"
    );
    // Each JSON record is about 80 bytes: two full 64 KiB files at least.
    assert!(
        kept.len() > 2 * (64 << 10) / 100,
        "only {} lines kept",
        kept.len()
    );
    ok(&env, &["rm", "chatty"]);
    assert_settled(&mut env);
}

testkit::main![
    kills_leave_every_command_working,
    a_full_disk_fails_cleanly_and_recovers,
    misbehaving_registries_fail_cleanly,
    starts_in_sequence_and_at_once_all_succeed,
    a_chatty_container_with_rotation_loses_no_line_that_fits,
];
