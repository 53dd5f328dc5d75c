//! mini-docker's containers on the real kernel: run and its exit codes, the
//! lifecycle, isolation and security defaults, limits, the monitor, files.
//! Each test has its own store, run root and cgroup parent, and checks
//! afterwards that no process, cgroup or mount is left.

mod support;

use std::io::{Read as _, Write as _};
use std::process::{Output, Stdio};

use cgroup_demo::{Layout, Version};
use support::*;
use testkit::{wait_until, TestEnv};

fn md(env: &TestEnv, args: &[&str]) -> Output {
    md_in(env, "root", args)
}

/// Nothing of the test's containers is left: no container directory, no
/// cgroup, no process (the leak check covers the last two as well).
fn assert_all_removed(env: &mut TestEnv) {
    let left = std::fs::read_dir(env.path("root/containers"))
        .map(|d| {
            d.flatten()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count()
        })
        .unwrap_or(0);
    assert_eq!(left, 0, "container directories left");
    support::assert_settled(env);
}

fn run_prints_output_and_returns_dockers_exit_codes() {
    let mut env = with_busybox("md-run-codes", &[]);
    assert_eq!(
        ok(&env, &["run", "--rm", "busybox", "echo", "hello"]),
        "hello\n"
    );
    let out = md(
        &env,
        &[
            "run",
            "--rm",
            "busybox",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");

    let err = fails(&env, &["run", "--rm", "busybox", "nosuch"], 127);
    assert!(
        err.contains("exec: \"nosuch\": executable file not found in $PATH"),
        "{err}"
    );
    let err = fails(&env, &["run", "--rm", "busybox", "/etc/passwd"], 126);
    assert!(err.contains("permission denied"), "{err}");
    // Killed by a signal: 128 + the signal (under --init, as PID 1 is
    // immune to signals it does not handle).
    let out = md(
        &env,
        &["run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"],
    );
    assert_eq!(out.status.code(), Some(137));
    // mini-docker's own failures: 125.
    let err = fails(&env, &["run", "--rm", "--entrypoint", "", "busybox"], 125);
    assert!(err.contains("No command specified"), "{err}");
    let err = fails(&env, &["run", "--rm", "127.0.0.1:9/none/such", "true"], 125);
    assert!(err.contains("Unable to find image"), "{err}");
    let err = fails(
        &env,
        &["run", "--rm", "--memory", "10x", "busybox", "true"],
        125,
    );
    assert!(err.contains("invalid size: '10x'"), "{err}");
    let err = fails(
        &env,
        &["run", "--rm", "--cpus", "-1", "busybox", "true"],
        125,
    );
    assert!(err.contains("--cpus"), "{err}");
    let err = fails(
        &env,
        &[
            "run",
            "--rm",
            "-m",
            "64m",
            "--memory-swap",
            "32m",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(
        err.contains("Minimum memoryswap limit should be larger than memory limit"),
        "{err}"
    );
    let err = fails(&env, &["run", "--bogus-flag", "busybox"], 125);
    assert!(err.contains("--bogus-flag"), "{err}");
    assert_all_removed(&mut env);
}

fn image_defaults_and_run_flags_shape_the_process() {
    let mut env = with_busybox("md-run-flags", &[]);
    let env_file = env.path("vars");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n").unwrap();
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "-e",
            "A=1",
            "--env-file",
            env_file.to_str().unwrap(),
            "-w",
            "/tmp/work",
            "-u",
            "65534:65534",
            "-h",
            "box",
            "busybox",
            "sh",
            "-c",
            "echo $A $FROM_FILE; pwd; id -u; id -g; hostname; cat /etc/hostname",
        ],
    );
    assert_eq!(out, "1 yes\n/tmp/work\n65534\n65534\nbox\nbox\n");
    // --entrypoint replaces the image's entrypoint and its CMD.
    assert_eq!(
        ok(&env, &["run", "--rm", "--entrypoint", "echo", "busybox"]),
        "\n"
    );
    assert_eq!(
        ok(
            &env,
            &["run", "--rm", "--entrypoint", "echo", "busybox", "x"]
        ),
        "x\n"
    );
    // The image's CMD (sh) runs with stdin: `run -i` feeds it.
    let mut child = md_command(&env, "root")
        .args(["run", "--rm", "-i", "busybox"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"echo from stdin\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from stdin\n");
    let err = fails(
        &env,
        &["run", "--rm", "-u", "ghost", "busybox", "true"],
        125,
    );
    assert!(err.contains("unable to find user ghost"), "{err}");
    assert_all_removed(&mut env);
}

fn isolation_and_security_defaults() {
    let mut env = with_busybox("md-security", &[]);
    let script = "echo pid=$$; grep -E '^(CapBnd|CapEff|CapInh|Seccomp):' /proc/self/status; \
                  ls /dev | tr '\\n' ' '; echo; wc -c < /proc/keys; \
                  echo 1 > /proc/sys/kernel/domainname 2>/dev/null || echo proc-sys-ro; \
                  touch /sys/x 2>/dev/null || echo sys-ro; \
                  unshare -U true 2>/dev/null || echo userns-denied; \
                  cat /proc/self/cgroup | grep -c ':/$'; ip -o link | wc -l";
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            script,
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1", "{out}");
    assert!(
        out.contains("CapBnd:\t00000000a80425fb"),
        "Docker's 14 capabilities: {out}"
    );
    assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
    assert!(out.contains("CapInh:\t0000000000000000"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "the filter is loaded: {out}");
    assert_eq!(
        lines[5],
        "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ",
        "{out}"
    );
    assert_eq!(lines[6], "0", "/proc/keys is masked: {out}");
    for expected in ["proc-sys-ro", "sys-ro", "userns-denied"] {
        assert!(out.contains(expected), "{expected}: {out}");
    }
    let tail: Vec<&str> = lines.iter().rev().take(2).copied().collect();
    assert_eq!(tail[0].trim(), "1", "only lo with --network none: {out}");
    assert_ne!(tail[1].trim(), "0", "the cgroup namespace shows /: {out}");

    // The old root is gone: no mount of the host's / below the container's.
    let mounts = ok(
        &env,
        &["run", "--rm", "busybox", "cat", "/proc/self/mountinfo"],
    );
    assert!(
        mounts
            .lines()
            .filter(|l| l.split(' ').nth(4) == Some("/"))
            .count()
            == 1,
        "one root mount: {mounts}"
    );

    // Lifted or adjusted by flags.
    let unconfined = ok(
        &env,
        &[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "busybox",
            "sh",
            "-c",
            "grep Seccomp: /proc/self/status; unshare -U true && echo userns-ok",
        ],
    );
    assert!(
        unconfined.contains("Seccomp:\t0") && unconfined.contains("userns-ok"),
        "{unconfined}"
    );
    let privileged = ok(
        &env,
        &[
            "run",
            "--rm",
            "--privileged",
            "busybox",
            "grep",
            "CapBnd",
            "/proc/self/status",
        ],
    );
    assert!(!privileged.contains("a80425fb"), "{privileged}");
    let dropped = ok(
        &env,
        &[
            "run",
            "--rm",
            "--cap-drop",
            "ALL",
            "--cap-add",
            "chown",
            "busybox",
            "grep",
            "CapEff",
            "/proc/self/status",
        ],
    );
    assert!(dropped.contains("CapEff:\t0000000000000001"), "{dropped}");
    let nnp = ok(
        &env,
        &[
            "run",
            "--rm",
            "--security-opt",
            "no-new-privileges",
            "busybox",
            "grep",
            "NoNewPrivs",
            "/proc/self/status",
        ],
    );
    assert!(nnp.contains("NoNewPrivs:\t1"), "{nnp}");
    let out = md(
        &env,
        &["run", "--rm", "--read-only", "busybox", "touch", "/x"],
    );
    assert_ne!(out.status.code(), Some(0), "--read-only root");
    let host = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "host",
            "busybox",
            "sh",
            "-c",
            "ip -o link | wc -l",
        ],
    );
    assert!(
        host.trim().parse::<u32>().unwrap() > 1,
        "host network: {host}"
    );
    assert_all_removed(&mut env);
}

fn detached_lifecycle_ps_logs_stop_kill_rm() {
    let mut env = with_busybox("md-lifecycle", &[]);
    let id = ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "ticker",
            "-l",
            "team=a",
            "busybox",
            "sh",
            "-c",
            "echo started; echo oops >&2; while true; do sleep 0.1; done",
        ],
    );
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    wait_until("the first log line", || {
        ok(&env, &["logs", "ticker"]).contains("started")
    });
    let ps = ok(&env, &["ps"]);
    let lines: Vec<&str> = ps.lines().collect();
    assert!(
        lines[0].starts_with("CONTAINER ID   IMAGE     COMMAND                  CREATED")
            && lines[0].ends_with("STATUS                  PORTS     NAMES")
            || lines[0].contains("STATUS") && lines[0].ends_with("NAMES"),
        "{ps}"
    );
    assert!(
        lines[1].starts_with(&id[..12]) && lines[1].contains("Up ") && lines[1].ends_with("ticker"),
        "{ps}"
    );
    assert_eq!(ok(&env, &["ps", "-q"]).trim(), &id[..12]);
    assert_eq!(
        ok(
            &env,
            &["ps", "-q", "--no-trunc", "--filter", "label=team=a"]
        )
        .trim(),
        id
    );
    assert_eq!(ok(&env, &["ps", "-q", "--filter", "name=nothing"]), "");
    let json: serde_json::Value =
        serde_json::from_str(ok(&env, &["ps", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Names"], "ticker");
    assert_eq!(json["State"], "running");
    let logs = md(&env, &["logs", "ticker"]);
    assert_eq!(String::from_utf8_lossy(&logs.stdout), "started\n");
    assert_eq!(String::from_utf8_lossy(&logs.stderr), "oops\n");
    let stamped = ok(&env, &["logs", "-t", "--tail", "2", "ticker"]);
    assert!(
        stamped.contains("T") && stamped.ends_with(" started\n"),
        "{stamped}"
    );
    let log_file =
        std::fs::read_to_string(env.path(format!("root/containers/{id}/{id}-json.log"))).unwrap();
    let first: serde_json::Value = serde_json::from_str(log_file.lines().next().unwrap()).unwrap();
    assert_eq!(first["log"], "started\n");
    assert_eq!(first["stream"], "stdout");

    // Inspect speaks Docker's field names.
    let pid: i32 = inspect(&env, "ticker", "{{.State.Pid}}").parse().unwrap();
    assert!(pid > 0);
    assert_eq!(
        inspect(
            &env,
            "ticker",
            "{{.Name}} {{.State.Status}} {{.State.Running}}"
        ),
        "/ticker running true"
    );
    assert_eq!(
        inspect(&env, &id[..5], "{{.Id}}"),
        id,
        "a unique ID prefix finds it"
    );
    let config: serde_json::Value =
        serde_json::from_str(&inspect(&env, "ticker", "{{json .Config}}")).unwrap();
    assert_eq!(config["Labels"]["team"], "a");
    assert!(inspect(&env, "ticker", "{{.GraphDriver.Data.UpperDir}}").ends_with("/upper"));

    // rm of a running container needs -f; a name in use cannot be reused.
    let err = fails(&env, &["rm", "ticker"], 1);
    assert!(
        err.contains("You cannot remove a running container"),
        "{err}"
    );
    let err = fails(
        &env,
        &["run", "-d", "--name", "ticker", "busybox", "true"],
        125,
    );
    assert!(err.contains("is already in use"), "{err}");

    // pause / unpause through the freezer.
    ok(&env, &["pause", "ticker"]);
    assert_eq!(
        inspect(&env, "ticker", "{{.State.Status}} {{.State.Paused}}"),
        "paused true"
    );
    assert!(ok(&env, &["ps"]).contains("(Paused)"));
    // Docker's exit code for an exec that never started: 1, not 125.
    let err = fails(&env, &["exec", "ticker", "true"], 1);
    assert!(err.contains("paused"), "{err}");
    ok(&env, &["unpause", "ticker"]);

    // stop: sh as PID 1 ignores SIGTERM, so SIGKILL follows the timeout.
    ok(&env, &["stop", "-t", "1", "ticker"]);
    assert_eq!(
        inspect(&env, "ticker", "{{.State.Status}} {{.State.ExitCode}}"),
        "exited 137"
    );
    assert!(ok(&env, &["ps", "-a"]).contains("Exited (137)"));
    assert_eq!(ok(&env, &["ps", "-q"]), "", "not running");
    assert_eq!(ok(&env, &["wait", "ticker"]).trim(), "137");

    // start again; kill with a chosen signal; restart; rename; rm -f.
    ok(&env, &["start", "ticker"]);
    assert_eq!(inspect(&env, "ticker", "{{.State.Status}}"), "running");
    ok(&env, &["kill", "-s", "KILL", "ticker"]);
    assert_eq!(inspect(&env, "ticker", "{{.State.ExitCode}}"), "137");
    ok(&env, &["restart", "-t", "0", "ticker"]);
    assert_eq!(inspect(&env, "ticker", "{{.State.Status}}"), "running");
    ok(&env, &["rename", "ticker", "tocker"]);
    assert!(ok(&env, &["top", "tocker"]).contains("while true"));
    let err = fails(&env, &["logs", "ticker"], 1);
    assert!(err.contains("No such container: ticker"), "{err}");
    ok(&env, &["rm", "-f", "tocker"]);
    assert_eq!(ok(&env, &["ps", "-aq"]), "");
    assert_all_removed(&mut env);
}

fn init_forwards_the_stop_signal_and_exec_joins_the_container() {
    let mut env = with_busybox("md-init-exec", &[]);
    ok(
        &env,
        &[
            "run", "-d", "--init", "--name", "svc", "busybox", "sleep", "1000",
        ],
    );
    // PID 1 is the built-in init; the command is its child.
    let ps = ok(&env, &["exec", "svc", "ps", "-o", "pid,comm"]);
    assert!(
        ps.lines()
            .any(|l| l.trim().starts_with("1 ") && !l.contains("sleep")),
        "{ps}"
    );
    assert!(ps.contains("sleep"), "{ps}");
    let out = ok(
        &env,
        &[
            "exec",
            "-e",
            "X=1",
            "-w",
            "/tmp",
            "-u",
            "65534",
            "svc",
            "sh",
            "-c",
            "echo $X $(pwd) $(id -u) $(hostname)",
        ],
    );
    let hostname = inspect(&env, "svc", "{{.Config.Hostname}}");
    assert_eq!(out, format!("1 /tmp 65534 {hostname}\n"));
    let caps = ok(
        &env,
        &[
            "exec",
            "svc",
            "grep",
            "-E",
            "CapBnd|Seccomp:",
            "/proc/self/status",
        ],
    );
    assert!(
        caps.contains("a80425fb") && caps.contains("Seccomp:\t2"),
        "{caps}"
    );
    // -t: a pty of the container's own /dev/pts.
    let tty = ok(
        &env,
        &[
            "exec",
            "-t",
            "svc",
            "sh",
            "-c",
            "tty; test -e $(tty) && echo exists",
        ],
    );
    assert_eq!(tty, "/dev/pts/0\r\nexists\r\n");
    let out = md(&env, &["exec", "svc", "sh", "-c", "exit 7"]);
    assert_eq!(out.status.code(), Some(7));
    fails(&env, &["exec", "svc", "nosuch"], 127);
    ok(&env, &["exec", "-d", "svc", "touch", "/from-detached-exec"]);
    wait_until("the detached exec", || {
        md(&env, &["exec", "svc", "test", "-e", "/from-detached-exec"])
            .status
            .success()
    });
    // The init passes SIGTERM to sleep, which dies of it: 143, not 137.
    ok(&env, &["stop", "-t", "20", "svc"]);
    assert_eq!(inspect(&env, "svc", "{{.State.ExitCode}}"), "143");
    let err = fails(&env, &["exec", "svc", "true"], 1);
    assert!(err.contains("is not running"), "{err}");
    ok(&env, &["rm", "svc"]);
    assert_all_removed(&mut env);
}

/// The trimmed content of a cgroup file.
fn cgroup_file(path: String) -> String {
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

/// `-m 64m --memory-swap 64m -c 512 --cpus 0.5 --pids-limit 20` in the v1
/// files of `cgroup` (relative to each hierarchy's root).
fn assert_v1_limits(cgroup: &str) {
    let file = |controller: &str, name: &str| {
        cgroup_file(format!("/sys/fs/cgroup/{controller}/{cgroup}/{name}"))
    };
    assert_eq!(
        file("memory", "memory.limit_in_bytes"),
        (64 << 20).to_string()
    );
    assert_eq!(
        file("memory", "memory.memsw.limit_in_bytes"),
        (64 << 20).to_string()
    );
    assert_eq!(file("cpu", "cpu.shares"), "512");
    assert_eq!(file("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(file("pids", "pids.max"), "20");
    assert!(file("devices", "devices.list").contains("c 1:3 rwm"));
}

/// The same limits in the v2 files: swap is what exceeds memory (none
/// here), shares become a weight (runc's conversion), quota and period
/// share one file. v2 has no devices files (that needs an eBPF program).
fn assert_v2_limits(cgroup: &str) {
    let file = |name: &str| cgroup_file(format!("/sys/fs/cgroup/{cgroup}/{name}"));
    assert_eq!(file("memory.max"), (64 << 20).to_string());
    assert_eq!(file("memory.swap.max"), "0");
    assert_eq!(
        file("cpu.weight"),
        "59",
        "runc maps 512 shares to weight 59"
    );
    assert_eq!(file("cpu.max"), "50000 100000");
    assert_eq!(file("pids.max"), "20");
}

fn limits_reach_the_cgroup_and_oom_is_reported() {
    let mut env = with_busybox("md-limits", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "lim",
            "-m",
            "64m",
            "--memory-swap",
            "64m",
            "-c",
            "512",
            "--cpus",
            "0.5",
            "--pids-limit",
            "20",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let id = inspect(&env, "lim", "{{.Id}}");
    let cgroup = format!("mini-docker-{}/{id}", env.token());
    match Layout::detect().unwrap().version() {
        Version::V1 => assert_v1_limits(&cgroup),
        Version::V2 => assert_v2_limits(&cgroup),
    }
    assert_eq!(
        inspect(
            &env,
            "lim",
            "{{.HostConfig.Memory}} {{.HostConfig.CpuShares}} {{.HostConfig.NanoCpus}}"
        ),
        "67108864 512 500000000"
    );
    ok(&env, &["rm", "-f", "lim"]);

    let out = md(
        &env,
        &[
            "run",
            "--name",
            "hog",
            "-m",
            "16m",
            "--memory-swap",
            "16m",
            "busybox",
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=64M",
            "count=1",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(137),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        inspect(&env, "hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    ok(&env, &["rm", "hog"]);
    assert_all_removed(&mut env);
}

fn restart_policies_while_the_monitor_lives() {
    let mut env = with_busybox("md-restart", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "flaky",
            "--restart",
            "on-failure:2",
            "busybox",
            "sh",
            "-c",
            "echo run; exit 1",
        ],
    );
    wait_until("two restarts and a final exit", || {
        inspect(&env, "flaky", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    assert_eq!(ok(&env, &["logs", "flaky"]), "run\nrun\nrun\n");
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "always",
            "--restart",
            "always",
            "busybox",
            "true",
        ],
    );
    wait_until("a restart", || {
        inspect(&env, "always", "{{.RestartCount}}")
            .parse::<u32>()
            .unwrap()
            >= 1
    });
    ok(&env, &["stop", "always"]);
    wait_until("the monitor to stop", || {
        inspect(&env, "always", "{{.State.Status}}") == "exited"
    });
    let err = fails(
        &env,
        &["run", "--rm", "--restart", "always", "busybox", "true"],
        125,
    );
    assert!(err.contains("Conflicting options"), "{err}");
    ok(&env, &["rm", "flaky", "always"]);
    assert_all_removed(&mut env);
}

fn concurrent_runs_with_one_name_have_one_winner() {
    let mut env = with_busybox("md-name-race", &[]);
    let runs: Vec<_> = (0..4)
        .map(|_| {
            md_command(&env, "root")
                .args(["create", "--name", "only", "busybox", "true"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Output> = runs
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let won = outputs.iter().filter(|o| o.status.success()).count();
    assert_eq!(won, 1);
    // A taken name is the daemon's refusal, which Docker's `create`
    // returns as is: exit 1 (`run` says 125).
    for lost in outputs.iter().filter(|o| !o.status.success()) {
        assert_eq!(lost.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&lost.stderr).contains("already in use"));
    }
    assert_eq!(
        ok(&env, &["ps", "-aq"]).lines().count(),
        1,
        "nothing half-created"
    );
    ok(&env, &["rm", "only"]);
    assert_all_removed(&mut env);
}

fn a_killed_monitor_leaves_a_dead_container_that_rm_cleans() {
    let mut env = with_busybox("md-monitor-kill", &[]);
    ok(
        &env,
        &["run", "-d", "--name", "orphan", "busybox", "sleep", "1000"],
    );
    kill_monitor(&env, "orphan");
    wait_until("the container to die with its monitor", || {
        inspect(&env, "orphan", "{{.State.Status}}") == "dead"
    });
    assert!(ok(&env, &["ps", "-a"]).contains("Dead"));
    ok(&env, &["rm", "-f", "orphan"]);
    assert_all_removed(&mut env);
}

/// Reads `from` until what it has read contains `needle` (a fixed pause
/// before the next keystroke was too short on a slow machine, such as the
/// emulated guest of the cgroup v2 lane). Fails at end of stream.
fn read_until(from: &mut impl std::io::Read, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut chunk = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = from.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "stream ended before {needle:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

fn attach_and_detach_keep_the_container_running() {
    let mut env = with_busybox("md-attach", &[]);
    ok(
        &env,
        &["run", "-d", "-i", "--name", "cat", "busybox", "cat"],
    );
    let mut client = md_command(&env, "root")
        .args(["attach", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = client.stdin.take().unwrap();
    let mut output = client.stdout.take().unwrap();
    input.write_all(b"echoed back\n").unwrap();
    assert_eq!(read_until(&mut output, "echoed back\n"), "echoed back\n");
    input.write_all(&[0x10, 0x11]).unwrap(); // Ctrl-P Ctrl-Q
    let mut rest = String::new();
    output.read_to_string(&mut rest).unwrap();
    let out = client.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(rest, "", "nothing after the echo");
    assert_eq!(
        inspect(&env, "cat", "{{.State.Running}}"),
        "true",
        "detached, still running"
    );
    // Custom keys, given at run time, work for a foreground run too.
    let mut run = md_command(&env, "root")
        .args([
            "run",
            "-i",
            "--detach-keys",
            "ctrl-x",
            "--name",
            "fg",
            "busybox",
            "cat",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    run.stdin.take().unwrap().write_all(&[0x18]).unwrap();
    assert_eq!(run.wait_with_output().unwrap().status.code(), Some(0));
    assert_eq!(inspect(&env, "fg", "{{.State.Running}}"), "true");

    // -t: a pty from the container's own /dev/pts, sized like ours.
    let out = ok(&env, &["run", "--rm", "-t", "busybox", "tty"]);
    assert_eq!(out, "/dev/pts/0\r\n", "the pty turns \\n into \\r\\n");
    // -it under a terminal (script(1) provides one): raw mode, the size,
    // and Ctrl-P Ctrl-Q detaching from a foreground run.
    let command = format!(
        "stty rows 30 cols 100; {} --root {} --runroot {} run -it --name term busybox sh -c 'stty size; exec cat'",
        support::BIN,
        env.path("root").display(),
        env.path("run").display()
    );
    let mut terminal = env
        .command("script")
        .args(["-qec", &command, "/dev/null"])
        .env(
            "MINI_DOCKER_CGROUP_PARENT",
            format!("mini-docker-{}", env.token()),
        )
        .env("MINI_DOCKER_NAT", "off")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keys = terminal.stdin.take().unwrap();
    let mut screen = terminal.stdout.take().unwrap();
    // The size is printed once the container runs in raw mode; only then
    // do the detach keys mean anything.
    read_until(&mut screen, "30 100");
    keys.write_all(&[0x10, 0x11]).unwrap();
    std::io::copy(&mut screen, &mut std::io::sink()).unwrap();
    assert!(terminal.wait().unwrap().success());
    assert_eq!(
        inspect(&env, "term", "{{.State.Running}}"),
        "true",
        "detached"
    );
    ok(&env, &["rm", "-f", "cat", "fg", "term"]);
    assert_all_removed(&mut env);
}

fn cp_diff_commit_export() {
    let mut env = with_busybox("md-files", &[]);
    ok(&env, &["run", "--name", "work", "busybox", "sh", "-c",
               "echo hi > /hello; rm /bin/vi; mkdir -p /data/sub; echo x > /data/sub/f; ln -s /etc /escape"]);
    let diff = ok(&env, &["diff", "work"]);
    for line in [
        "A /hello",
        "D /bin/vi",
        "C /bin",
        "A /data/sub/f",
        "A /escape",
    ] {
        assert!(
            diff.lines().any(|l| l == line),
            "{line} missing from:\n{diff}"
        );
    }
    assert!(
        !diff.contains("/proc") && !diff.contains("/etc/hosts"),
        "init layer hidden: {diff}"
    );

    // Out of a stopped container: file, directory, directory contents, tar.
    let out = env.path("out");
    std::fs::create_dir(&out).unwrap();
    ok(
        &env,
        &["cp", "work:/hello", out.join("copy").to_str().unwrap()],
    );
    assert_eq!(std::fs::read_to_string(out.join("copy")).unwrap(), "hi\n");
    ok(&env, &["cp", "work:/data", out.to_str().unwrap()]);
    assert!(out.join("data/sub/f").is_file());
    std::fs::create_dir(out.join("flat")).unwrap();
    ok(
        &env,
        &["cp", "work:/data/.", out.join("flat").to_str().unwrap()],
    );
    assert!(out.join("flat/sub/f").is_file());
    let tar = md(&env, &["cp", "work:/hello", "-"]);
    assert!(tar.status.success());
    let mut archive = tar::Archive::new(&tar.stdout[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["hello"]);
    // Into it: a symlink in the container resolves inside the container.
    let host_file = env.path("host.txt");
    std::fs::write(&host_file, "from host\n").unwrap();
    ok(&env, &["cp", host_file.to_str().unwrap(), "work:/escape/"]);
    assert!(
        !std::path::Path::new("/etc/host.txt").exists(),
        "wrote through a symlink onto the host"
    );
    // The same into a running container (through its mount namespace).
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "live",
            "busybox",
            "sh",
            "-c",
            "ln -s /etc /escape; exec sleep 1000",
        ],
    );
    wait_until("the symlink", || {
        md(&env, &["exec", "live", "test", "-L", "/escape"])
            .status
            .success()
    });
    let marker = format!("{}.txt", env.token());
    let marked = env.path(&marker);
    std::fs::write(&marked, "into the running one\n").unwrap();
    ok(&env, &["cp", marked.to_str().unwrap(), "live:/escape/"]);
    assert!(
        !std::path::Path::new("/etc").join(&marker).exists(),
        "wrote onto the host's /etc"
    );
    assert_eq!(
        ok(&env, &["exec", "live", "cat", &format!("/etc/{marker}")]),
        "into the running one\n"
    );
    ok(
        &env,
        &[
            "cp",
            "live:/escape/hostname",
            out.join("from-live").to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out.join("from-live"))
            .unwrap()
            .trim(),
        inspect(&env, "live", "{{.Config.Hostname}}"),
        "the container's /etc/hostname, not the host's"
    );
    ok(&env, &["rm", "-f", "live"]);
    let err = fails(&env, &["cp", "work:/nothing", out.to_str().unwrap()], 1);
    assert!(
        err.contains("No such container:path: work:/nothing"),
        "{err}"
    );

    // commit: a new layer and history entry; the new image runs.
    let image = ok(
        &env,
        &[
            "commit",
            "-c",
            "CMD [\"cat\", \"/etc/host.txt\"]",
            "-m",
            "saved",
            "work",
            "saved:1",
        ],
    );
    assert!(image.trim().starts_with("sha256:"));
    assert_eq!(ok(&env, &["run", "--rm", "saved:1"]), "from host\n");
    assert_eq!(
        ok(&env, &["run", "--rm", "saved:1", "cat", "/hello"]),
        "hi\n"
    );
    let history = ok(&env, &["history", "saved:1"]);
    assert!(history.contains("saved"), "{history}");

    // export: the whole filesystem, without /proc's contents.
    let exported = env.path("export.tar");
    ok(&env, &["export", "-o", exported.to_str().unwrap(), "work"]);
    let mut archive = tar::Archive::new(std::fs::File::open(&exported).unwrap());
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(
        names.iter().any(|n| n == "hello") && names.iter().any(|n| n == "bin/busybox"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("proc/") && n.len() > 5),
        "{names:?}"
    );
    ok(&env, &["rm", "work"]);
    ok(&env, &["rmi", "saved:1"]);
    assert_all_removed(&mut env);
}

fn logs_follow_until_the_container_exits() {
    let mut env = with_busybox("md-logs-follow", &[]);
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "talk",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo line $i; sleep 0.2; done",
        ],
    );
    let out = ok(&env, &["logs", "-f", "talk"]);
    assert_eq!(out, "line 1\nline 2\nline 3\n");
    assert_eq!(ok(&env, &["wait", "talk"]).trim(), "0");
    ok(&env, &["container", "prune", "-f"]);
    assert_all_removed(&mut env);
}

/// `logs` buffers its output (a fast writer's `logs -f` must keep up) yet
/// keeps the order of stdout and stderr records when both go to one pipe.
fn logs_keep_the_order_of_stdout_and_stderr() {
    let mut env = with_busybox("md-logs-order", &[]);
    ok(
        &env,
        &[
            "run",
            "--name",
            "both",
            "busybox",
            "sh",
            "-c",
            "for i in 1 2 3; do echo out $i; sleep 0.05; echo err $i >&2; sleep 0.05; done",
        ],
    );
    let (reader, writer) = std::io::pipe().unwrap();
    let mut logs = md_command(&env, "root")
        .args(["logs", "both"])
        .stdout(writer.try_clone().unwrap())
        .stderr(writer)
        .spawn()
        .unwrap();
    let mut merged = String::new();
    let mut reader = reader;
    reader.read_to_string(&mut merged).unwrap();
    assert!(logs.wait().unwrap().success());
    assert_eq!(merged, "out 1\nerr 1\nout 2\nerr 2\nout 3\nerr 3\n");
    ok(&env, &["rm", "both"]);
    assert_all_removed(&mut env);
}

testkit::main![
    run_prints_output_and_returns_dockers_exit_codes,
    image_defaults_and_run_flags_shape_the_process,
    isolation_and_security_defaults,
    detached_lifecycle_ps_logs_stop_kill_rm,
    init_forwards_the_stop_signal_and_exec_joins_the_container,
    limits_reach_the_cgroup_and_oom_is_reported,
    restart_policies_while_the_monitor_lives,
    concurrent_runs_with_one_name_have_one_winner,
    a_killed_monitor_leaves_a_dead_container_that_rm_cleans,
    attach_and_detach_keep_the_container_running,
    cp_diff_commit_export,
    logs_follow_until_the_container_exits,
    logs_keep_the_order_of_stdout_and_stderr,
];
