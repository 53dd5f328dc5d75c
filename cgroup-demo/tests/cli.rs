//! cgroup-demo as a workshop runs it, on this host's real cgroups: v1 here,
//! v2 in the guest of scripts/test-cgroup-v2.sh. Where the two differ the
//! test expects what this host's version shows.

use std::path::PathBuf;
use std::process::Output;

use cgroup_demo::{Layout, Version};
use testkit::{ctrl_c, wait_until, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_cgroup-demo");

/// What the demo names after its PID, for the leak check.
fn names(pid: u32) -> Vec<String> {
    vec![format!("cgroup-demo-{pid}")]
}

fn demo(env: &mut TestEnv, args: &[&str]) -> Output {
    env.run(BIN, args, names)
}

fn ok(env: &mut TestEnv, args: &[&str]) -> String {
    env.run_ok(BIN, args, names)
}

fn version() -> Version {
    Layout::detect().unwrap().version()
}

/// The v1 expectation on v1 hosts, the v2 one on v2 hosts.
fn by_version<'a>(v1: &'a str, v2: &'a str) -> &'a str {
    match version() {
        Version::V1 => v1,
        Version::V2 => v2,
    }
}

/// Where the demo's cgroup `cgroup-demo-<pid>` is made for `controller`.
fn demo_cgroup(controller: &str, pid: u32) -> PathBuf {
    let layout = Layout::detect().unwrap();
    let root = match layout.version() {
        Version::V1 => layout.v1_root(controller).unwrap().to_path_buf(),
        Version::V2 => layout.unified.unwrap(),
    };
    root.join(format!("cgroup-demo-{pid}"))
}

fn shares_divide_a_contended_cpu_by_weight() {
    let mut env = TestEnv::root("cg-shares");
    let out = ok(
        &mut env,
        &["cpu-shares", "--shares", "1024,256", "--seconds", "1"],
    );
    // v2 divides by runc's weights for those shares: 100 and 35.
    let (a, b, ratio) = match version() {
        Version::V1 => ("cpu.shares = 1024 (v1)", "cpu.shares = 256 (v1)", "4.00"),
        Version::V2 => ("cpu.weight = 100 (v2)", "cpu.weight = 35 (v2)", "2.86"),
    };
    assert!(
        out.contains(&format!("a: {a}")) && out.contains(&format!("b: {b}")),
        "{out}"
    );
    assert!(
        out.contains(&format!("configured {ratio} : 1 (within 25%: yes)")),
        "{out}"
    );
}

fn quota_caps_a_busy_loop() {
    let mut env = TestEnv::root("cg-quota");
    let out = ok(&mut env, &["cpu-quota", "--cpus", "0.3", "--seconds", "1"]);
    let quota = by_version(
        "cpu.cfs_quota_us = 30000 (v1)",
        "cpu.max = 30000 100000 (v2)",
    );
    assert!(out.contains(quota), "{out}");
    assert!(out.contains("(at most 0.3: yes)"), "{out}");
}

fn memory_limit_kills_a_hog_and_spares_a_small_one() {
    let mut env = TestEnv::root("cg-memory");
    let out = ok(&mut env, &["memory", "--limit", "32m", "--alloc", "100m"]);
    assert!(out.contains("killed by SIGKILL, the OOM killer"), "{out}");
    assert!(out.contains("OOM kills counted by the cgroup: 1"), "{out}");
    let out = ok(&mut env, &["memory", "--limit", "64m", "--alloc", "16m"]);
    assert!(out.contains("child: exited with status 0"), "{out}");
    assert!(out.contains("OOM kills counted by the cgroup: 0"), "{out}");
}

fn memory_swap_writes_the_total_on_v1_and_the_difference_on_v2() {
    let mut env = TestEnv::root("cg-swap");
    let out = ok(
        &mut env,
        &[
            "memory-swap",
            "--memory",
            "32m",
            "--memory-swap",
            "96m",
            "--alloc",
            "16m",
        ],
    );
    assert!(
        out.contains(
            "cgroup v1 files: memory.limit_in_bytes=33554432 memory.memsw.limit_in_bytes=100663296"
        ),
        "{out}"
    );
    assert!(
        out.contains("cgroup v2 files: memory.max=33554432 memory.swap.max=67108864"),
        "{out}"
    );
    let read_back = by_version(
        "read back: memory.memsw.limit_in_bytes = 100663296",
        "read back: memory.swap.max = 67108864",
    );
    assert!(out.contains(read_back), "{out}");
    let unlimited = ok(
        &mut env,
        &[
            "memory-swap",
            "--memory",
            "32m",
            "--memory-swap",
            "-1",
            "--alloc",
            "8m",
        ],
    );
    assert!(unlimited.contains("memory.swap.max=max"), "{unlimited}");
    assert!(unlimited.contains("then unlimited swap"), "{unlimited}");
}

fn a_fork_bomb_is_contained() {
    let mut env = TestEnv::root("cg-pids");
    let out = ok(&mut env, &["pids", "--max", "10"]);
    assert!(
        out.contains("the bomb forked 9 processes, then fork failed: EAGAIN"),
        "{out}"
    );
    assert!(out.contains("pids.current = 10"), "{out}");
    assert!(out.contains("without trouble"), "{out}");
}

fn bad_flags_get_dockers_errors_and_create_nothing() {
    let mut env = TestEnv::root("cg-bad");
    for (args, message) in [
        (
            vec!["memory", "--limit", "1m"],
            "Minimum memory limit allowed is 6MB",
        ),
        (
            vec!["memory-swap", "--memory", "64m", "--memory-swap", "32m"],
            "Minimum memoryswap limit should be larger than memory limit, see usage",
        ),
        (
            vec!["cpu-quota", "--cpus", "64"],
            "Range of CPUs is from 0.01 to",
        ),
    ] {
        let out = demo(&mut env, &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_ne!(out.status.code(), Some(0));
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
    // Usage errors come from clap: the problem first, then a hint.
    let out = demo(&mut env, &["memory", "--limit", "12x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .next()
            .unwrap()
            .contains("invalid size: '12x'"),
        "{stderr}"
    );
}

fn info_and_show_describe_this_host() {
    let mut env = TestEnv::root("cg-info");
    let info = ok(&mut env, &["info"]);
    let (setup, driver) = match version() {
        Version::V1 => ("setup:  hybrid", "driver: cgroup v1"),
        Version::V2 => ("setup:  unified", "driver: cgroup v2"),
    };
    assert!(info.starts_with(setup), "{info}");
    assert!(info.contains(driver), "{info}");
    let show = ok(&mut env, &["show"]);
    assert!(
        show.contains(by_version("cpu.shares=", "cpu.weight=")),
        "{show}"
    );
}

/// Ctrl-C in the middle of a measurement removes every cgroup and worker.
fn interrupted_demo_removes_its_cgroups() {
    let mut env = TestEnv::root("cg-interrupt");
    let mut job = env.start_job(BIN, &["cpu-shares", "--seconds", "60"], names);
    let a = demo_cgroup("cpu", job.id()).join("a");
    wait_until("the workers to start", || {
        !std::fs::read_to_string(a.join("cgroup.procs"))
            .unwrap_or_default()
            .trim()
            .is_empty()
    });
    assert_eq!(ctrl_c(&mut job), Some(130));
    assert!(!a.parent().unwrap().exists(), "cgroup left behind");
    // A worker cloned but not yet moved into its cgroup when Ctrl-C came
    // exits on its own once the demo is gone; on a slow machine (the v2
    // lane's emulated guest) that is after the demo's exit status arrives.
    env.settle();
}

/// After `kill -9` no handler runs; `clean` removes what the run left.
fn clean_removes_what_a_killed_demo_left() {
    let mut env = TestEnv::root("cg-clean");
    let mut job = env.start_job(BIN, &["--pause", "pids"], names);
    let bomb = demo_cgroup("pids", job.id()).join("bomb");
    wait_until("the demo's cgroups", || bomb.exists());
    testkit::kill_9(&mut job);
    assert!(bomb.exists(), "kill -9 ran no clean-up");
    let out = ok(&mut env, &["clean"]);
    assert!(
        out.contains(&format!("removed cgroup cgroup-demo-{}", job.id())),
        "{out}"
    );
    assert!(!bomb.parent().unwrap().exists());
}

testkit::main![
    shares_divide_a_contended_cpu_by_weight,
    quota_caps_a_busy_loop,
    memory_limit_kills_a_hog_and_spares_a_small_one,
    memory_swap_writes_the_total_on_v1_and_the_difference_on_v2,
    a_fork_bomb_is_contained,
    bad_flags_get_dockers_errors_and_create_nothing,
    info_and_show_describe_this_host,
    interrupted_demo_removes_its_cgroups,
    clean_removes_what_a_killed_demo_left,
];
