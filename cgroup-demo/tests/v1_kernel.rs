//! The v1 driver on this host's real kernel (it has cgroup v1 with memsw,
//! pids and freezer). Every cgroup is named with the test's token, so the
//! leak check finds any that survive.

use std::time::{Duration, Instant};

use cgroup_demo::{Cgroup, Driver, Layout, Limits, Version};
use chroot_demo::process::{self, Exit};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use ns_demo::spawn::spawn;
use testkit::TestEnv;

const M: i64 = 1 << 20;

/// The host driver; the test is skipped (a failure under CI, which runs on
/// a cgroup v1 host) when this kernel has no v1 hierarchies — these tests
/// are about v1.
fn v1_driver() -> Driver {
    let driver = Driver::for_host().expect("a cgroup driver for this host");
    if driver.version() != Version::V1 {
        testkit::skip(format!(
            "this host has no cgroup v1 ({:?})",
            Layout::detect().map(|l| l.setup)
        ));
    }
    driver
}

/// Starts `body` in a child already placed in `cgroup`.
fn start_in(cgroup: &Cgroup, body: impl FnOnce() -> i32) -> Pid {
    let mut child = spawn(&[], |mut channel| {
        channel.recv().unwrap();
        body()
    })
    .unwrap();
    cgroup.add(child.pid).unwrap();
    child.channel.send().unwrap();
    child.pid
}

fn resolved(limits: Limits) -> cgroup_demo::Resolved {
    limits.resolve(2).unwrap()
}

fn create_add_and_remove_on_every_hierarchy() {
    let env = TestEnv::root("v1-lifecycle");
    let driver = v1_driver();
    let parent = driver.create(env.name("cg")).unwrap();
    let cgroup = driver.create(parent.path().join("child")).unwrap();
    for dir in cgroup.dirs() {
        assert!(dir.is_dir(), "{}", dir.display());
    }
    // A new v1 cpuset cgroup inherits its parent's CPUs and memory nodes.
    let cpuset = cgroup.dir("cpuset").unwrap();
    assert!(!std::fs::read_to_string(cpuset.join("cpuset.cpus"))
        .unwrap()
        .trim()
        .is_empty());
    let pid = start_in(&cgroup, || {
        std::thread::sleep(Duration::from_millis(200));
        0
    });
    assert_eq!(cgroup.processes().unwrap(), [pid.as_raw()]);
    let line = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        line.contains(&format!(":memory:/{}/child", env.name("cg"))),
        "{line}"
    );
    assert_eq!(process::wait(pid).unwrap(), Exit::Code(0));
    cgroup.remove().unwrap();
    parent.remove().unwrap();
    for dir in cgroup.dirs() {
        assert!(!dir.exists());
    }
    // Removing again is fine.
    cgroup.remove().unwrap();
}

fn memory_limit_ooms_and_the_oom_kill_is_counted() {
    let env = TestEnv::root("v1-oom");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("oom")).unwrap();
    // memsw = memory: no swap; with swap accounting failcnt stays 0 here,
    // the OOM kill count is the reliable signal.
    cgroup
        .set(&resolved(Limits {
            memory: Some(32 * M),
            memory_swap: Some(32 * M),
            ..Default::default()
        }))
        .unwrap();
    let pid = start_in(&cgroup, || {
        let hog: Vec<Vec<u8>> = (0..128).map(|_| vec![1u8; M as usize]).collect();
        std::hint::black_box(hog);
        0
    });
    assert_eq!(process::wait(pid).unwrap(), Exit::Signal(Signal::SIGKILL));
    let stats = cgroup.stats().unwrap();
    assert_eq!(stats.oom_kills, 1);
    let peak = stats.memory_peak_bytes.unwrap();
    assert!(peak <= 32 * M as u64 && peak > 16 * M as u64, "peak {peak}");
    cgroup.remove().unwrap();
}

fn raising_memory_above_the_current_memsw_reorders_the_writes() {
    let env = TestEnv::root("v1-memsw-order");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("order")).unwrap();
    let set = |m, s| {
        cgroup.set(&resolved(Limits {
            memory: Some(m),
            memory_swap: Some(s),
            ..Default::default()
        }))
    };
    set(64 * M, 64 * M).unwrap();
    // 128M memory > current memsw 64M: memsw must be raised first.
    set(128 * M, 256 * M).unwrap();
    let read = |f: &str| std::fs::read_to_string(cgroup.dir("memory").unwrap().join(f)).unwrap();
    assert_eq!(read("memory.limit_in_bytes").trim(), (128 * M).to_string());
    assert_eq!(
        read("memory.memsw.limit_in_bytes").trim(),
        (256 * M).to_string()
    );
    cgroup.remove().unwrap();
}

fn pids_limit_stops_forks() {
    let env = TestEnv::root("v1-pids");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("pids")).unwrap();
    cgroup
        .set(&resolved(Limits {
            pids_limit: Some(5),
            ..Default::default()
        }))
        .unwrap();
    let pid = start_in(&cgroup, || {
        let mut children = Vec::new();
        while let Ok(child) = std::process::Command::new("sleep").arg("30").spawn() {
            children.push(child);
        }
        // 4 children + this process = 5.
        let forked = children.len() as i32;
        for mut c in children {
            let _ = c.kill();
            let _ = c.wait();
        }
        forked
    });
    assert_eq!(process::wait(pid).unwrap(), Exit::Code(4));
    cgroup.remove().unwrap();
}

fn freeze_stops_cpu_use_and_kill_all_empties_the_cgroup() {
    let env = TestEnv::root("v1-freeze");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("frz")).unwrap();
    let mut pids = Vec::new();
    for _ in 0..3 {
        pids.push(start_in(&cgroup, || loop {
            std::hint::black_box(0u64);
        }));
    }
    std::thread::sleep(Duration::from_millis(100));
    cgroup.freeze(true).unwrap();
    let frozen_at = cgroup.stats().unwrap().cpu_usage_ns;
    std::thread::sleep(Duration::from_millis(300));
    let later = cgroup.stats().unwrap().cpu_usage_ns;
    assert!(
        later - frozen_at < 20_000_000,
        "frozen cgroup used {}ns",
        later - frozen_at
    );
    cgroup.freeze(false).unwrap();
    cgroup.kill_all().unwrap();
    for pid in pids {
        assert_eq!(process::wait(pid).unwrap(), Exit::Signal(Signal::SIGKILL));
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cgroup.processes().unwrap().is_empty() {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    cgroup.remove().unwrap();
}

fn removing_a_busy_cgroup_names_its_processes() {
    let env = TestEnv::root("v1-busy");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("busy")).unwrap();
    let pid = start_in(&cgroup, || {
        std::thread::sleep(Duration::from_secs(30));
        0
    });
    let err = cgroup.remove().unwrap_err().to_string();
    assert!(
        err.contains("still has processes") && err.contains(&pid.to_string()),
        "{err}"
    );
    cgroup.kill_all().unwrap();
    process::wait(pid).unwrap();
    cgroup.remove().unwrap();
}

fn cpuset_and_quota_are_applied_to_the_process() {
    let env = TestEnv::root("v1-cpuset");
    let driver = v1_driver();
    let cgroup = driver.create(env.name("cpus")).unwrap();
    cgroup
        .set(&resolved(Limits {
            cpuset_cpus: Some("0".into()),
            cpus: Some(0.5),
            ..Default::default()
        }))
        .unwrap();
    let pid = start_in(&cgroup, || {
        let set = nix::sched::sched_getaffinity(Pid::from_raw(0)).unwrap();
        let only_zero = set.is_set(0).unwrap()
            && !(1..nix::sched::CpuSet::count()).any(|c| set.is_set(c).unwrap_or(false));
        i32::from(!only_zero)
    });
    assert_eq!(
        process::wait(pid).unwrap(),
        Exit::Code(0),
        "the process may run on CPU 0 only"
    );
    let read = |c: &str, f: &str| std::fs::read_to_string(cgroup.dir(c).unwrap().join(f)).unwrap();
    assert_eq!(read("cpuset", "cpuset.cpus").trim(), "0");
    assert_eq!(read("cpu", "cpu.cfs_quota_us").trim(), "50000");
    cgroup.remove().unwrap();
}

testkit::main![
    create_add_and_remove_on_every_hierarchy,
    memory_limit_ooms_and_the_oom_kill_is_counted,
    raising_memory_above_the_current_memsw_reorders_the_writes,
    pids_limit_stops_forks,
    freeze_stops_cpu_use_and_kill_all_empties_the_cgroup,
    removing_a_busy_cgroup_names_its_processes,
    cpuset_and_quota_are_applied_to_the_process,
];
