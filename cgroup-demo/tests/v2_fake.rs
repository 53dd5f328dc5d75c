//! The v2 driver against a faked cgroupfs tree in a temporary directory:
//! this host has cgroup v1, most users have v2. The fake has the files a
//! real unified hierarchy would show; the tests check what the driver
//! writes there and how it reads the counters back.

use std::fs;
use std::path::Path;

use cgroup_demo::{Driver, Limits, Version};
use testkit::TestEnv;

const M: i64 = 1 << 20;

/// A unified hierarchy root offering the usual controllers.
fn fake_root(env: &TestEnv) -> std::path::PathBuf {
    let root = env.path("cgroupfs");
    fs::create_dir_all(&root).unwrap();
    fs::write(
        root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    )
    .unwrap();
    fs::write(root.join("cgroup.subtree_control"), "").unwrap();
    root
}

/// Once a directory exists the kernel would populate it; the fake does so
/// for the parent level the driver needs to read.
fn populate(dir: &Path, controllers: &str) {
    fs::write(dir.join("cgroup.controllers"), controllers).unwrap();
    fs::write(dir.join("cgroup.subtree_control"), "").unwrap();
}

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

#[test]
fn create_delegates_controllers_down_the_tree() {
    let env = TestEnv::new("v2-create");
    let root = fake_root(&env);
    fs::create_dir(root.join("parent")).unwrap();
    populate(&root.join("parent"), "cpuset cpu memory pids\n");
    let driver = Driver::V2 { root: root.clone() };
    assert_eq!(driver.version(), Version::V2);
    let cgroup = driver.create("parent/child").unwrap();
    assert!(root.join("parent/child").is_dir());
    // Only the controllers the driver uses, only where available.
    assert_eq!(
        read(root.join("cgroup.subtree_control")),
        "+cpu +cpuset +memory +pids +io"
    );
    assert_eq!(
        read(root.join("parent/cgroup.subtree_control")),
        "+cpu +cpuset +memory +pids"
    );
    assert_eq!(cgroup.dirs(), [root.join("parent/child")]);
}

#[test]
fn limits_are_converted_for_v2() {
    let env = TestEnv::new("v2-limits");
    let root = fake_root(&env);
    let driver = Driver::V2 { root: root.clone() };
    let cgroup = driver.create("box").unwrap();
    let limits = Limits {
        cpu_shares: Some(512),
        cpus: Some(1.5),
        cpuset_cpus: Some("0-1".into()),
        memory: Some(64 * M),
        memory_swap: Some(128 * M),
        pids_limit: Some(20),
        ..Default::default()
    }
    .resolve(2)
    .unwrap();
    // The swap file exists in a real v2 cgroup with swap accounting.
    fs::write(root.join("box/memory.swap.max"), "max").unwrap();
    let warnings = cgroup.set(&limits).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let dir = root.join("box");
    assert_eq!(
        read(dir.join("cpu.weight")),
        cgroup_demo::limits::shares_to_weight(512).to_string()
    );
    assert_eq!(read(dir.join("cpu.max")), "150000 100000");
    assert_eq!(read(dir.join("cpuset.cpus")), "0-1");
    assert_eq!(read(dir.join("memory.max")), (64 * M).to_string());
    // v2 limits swap alone: total − memory.
    assert_eq!(read(dir.join("memory.swap.max")), (64 * M).to_string());
    assert_eq!(read(dir.join("pids.max")), "20");
    // No v1 file was written.
    assert!(!dir.join("cpu.shares").exists() && !dir.join("memory.limit_in_bytes").exists());
}

#[test]
fn swap_semantics_on_v2() {
    let env = TestEnv::new("v2-swap");
    let root = fake_root(&env);
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    let swap_file = root.join("box/memory.swap.max");
    for (swap, expected) in [(Some(64 * M), "0"), (Some(-1), "max"), (None, "67108864")] {
        fs::write(&swap_file, "max").unwrap();
        let limits = Limits {
            memory: Some(64 * M),
            memory_swap: swap,
            ..Default::default()
        };
        cgroup.set(&limits.resolve(2).unwrap()).unwrap();
        assert_eq!(read(&swap_file), expected, "--memory-swap {swap:?}");
    }
    // Without swap accounting the kernel has no memory.swap.max: Docker's warning.
    fs::remove_file(&swap_file).unwrap();
    let limits = Limits {
        memory: Some(64 * M),
        ..Default::default()
    };
    let warnings = cgroup.set(&limits.resolve(2).unwrap()).unwrap();
    assert!(
        warnings[0].contains("does not support swap limit"),
        "{warnings:?}"
    );
    assert!(!swap_file.exists());
}

#[test]
fn stats_are_read_from_v2_files() {
    let env = TestEnv::new("v2-stats");
    let root = fake_root(&env);
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    let dir = root.join("box");
    fs::write(
        dir.join("cpu.stat"),
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\n",
    )
    .unwrap();
    fs::write(dir.join("memory.current"), "1048576\n").unwrap();
    fs::write(dir.join("memory.peak"), "4194304\n").unwrap();
    fs::write(
        dir.join("memory.events"),
        "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n",
    )
    .unwrap();
    fs::write(dir.join("pids.current"), "3\n").unwrap();
    let stats = cgroup.stats().unwrap();
    assert_eq!(stats.cpu_usage_ns, 2_500_000);
    assert_eq!(stats.memory_bytes, 1 << 20);
    assert_eq!(stats.memory_peak_bytes, Some(4 << 20));
    assert_eq!(stats.oom_kills, 1);
    assert_eq!(stats.pids, 3);
    // Kernels before 5.19 have no memory.peak.
    fs::remove_file(dir.join("memory.peak")).unwrap();
    assert_eq!(cgroup.stats().unwrap().memory_peak_bytes, None);
}

#[test]
fn freeze_kill_and_processes_use_v2_files() {
    let env = TestEnv::new("v2-freeze");
    let root = fake_root(&env);
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    let dir = root.join("box");
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
    cgroup.freeze(true).unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "1");
    fs::write(dir.join("cgroup.events"), "populated 1\nfrozen 0\n").unwrap();
    cgroup.freeze(false).unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "0");

    fs::write(dir.join("cgroup.procs"), "").unwrap();
    fs::write(dir.join("cgroup.kill"), "").unwrap();
    cgroup.kill_all().unwrap();
    assert_eq!(read(dir.join("cgroup.kill")), "1");
    cgroup.add(nix::unistd::Pid::from_raw(4242)).unwrap();
    assert_eq!(cgroup.processes().unwrap(), [4242]);
}
