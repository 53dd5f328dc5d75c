//! `--cpu-period`, `--cpu-quota`, `--memory-reservation` and
//! `--blkio-weight` against faked cgroupfs trees of both versions, in a
//! temporary directory: which file each one writes, the kernel's other file
//! where the preferred one is missing (BFQ on v1, `io.weight` on v2), and
//! Docker's warning where neither exists. No root needed; the real kernels
//! are exercised by mini-docker's `limits` test target (v1 here, v2 in the
//! guest lane).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use cgroup_demo::limits::{NO_BLKIO_WEIGHT, NO_MEMORY_RESERVATION};
use cgroup_demo::{Driver, Limits};
use testkit::TestEnv;

const M: i64 = 1 << 20;

fn read(path: impl AsRef<Path>) -> String {
    fs::read_to_string(path).unwrap()
}

/// A unified root offering `controllers`, as the kernel shows it.
fn v2_root(env: &TestEnv, controllers: &str) -> PathBuf {
    let root = env.path("cgroupfs");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("cgroup.controllers"), controllers).unwrap();
    fs::write(root.join("cgroup.subtree_control"), "").unwrap();
    root
}

/// v1 hierarchies, one directory per controller, for `controllers`.
fn v1_driver(env: &TestEnv, controllers: &[&str]) -> (Driver, PathBuf) {
    let base = env.path("v1");
    let roots: BTreeMap<String, PathBuf> = controllers
        .iter()
        .map(|c| {
            let dir = base.join(c);
            fs::create_dir_all(&dir).unwrap();
            (c.to_string(), dir)
        })
        .collect();
    (Driver::V1 { roots }, base)
}

fn limits() -> Limits {
    Limits {
        cpu_period: Some(50_000),
        cpu_quota: Some(25_000),
        memory: Some(64 * M),
        memory_swap: Some(-1),
        memory_reservation: Some(32 * M),
        blkio_weight: Some(500),
        ..Default::default()
    }
}

#[test]
fn v2_writes_cpu_max_memory_low_and_the_bfq_weight() {
    let env = TestEnv::new("lim-v2-bfq");
    let root = v2_root(&env, "cpuset cpu io memory pids\n");
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    // The io controller is delegated with the others.
    assert_eq!(
        read(root.join("cgroup.subtree_control")),
        "+cpu +cpuset +memory +pids +io"
    );
    let dir = root.join("box");
    // What a kernel with swap accounting, memory and BFQ shows.
    for file in [
        "memory.swap.max",
        "memory.low",
        "io.bfq.weight",
        "io.weight",
    ] {
        fs::write(dir.join(file), "").unwrap();
    }
    let warnings = cgroup.set(&limits().resolve(2).unwrap()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(read(dir.join("cpu.max")), "25000 50000");
    assert_eq!(read(dir.join("memory.max")), (64 * M).to_string());
    assert_eq!(read(dir.join("memory.swap.max")), "max");
    assert_eq!(read(dir.join("memory.low")), (32 * M).to_string());
    // BFQ takes the weight as given; io.weight is left alone.
    assert_eq!(read(dir.join("io.bfq.weight")), "500");
    assert_eq!(read(dir.join("io.weight")), "");
}

#[test]
fn v2_without_bfq_converts_the_weight_for_io_weight() {
    let env = TestEnv::new("lim-v2-iow");
    let root = v2_root(&env, "cpu io memory pids\n");
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    let dir = root.join("box");
    fs::write(dir.join("io.weight"), "default 100\n").unwrap();
    for (weight, expected) in [(10, "1"), (500, "4950"), (1000, "10000")] {
        let limits = Limits {
            blkio_weight: Some(weight),
            ..Default::default()
        };
        let warnings = cgroup.set(&limits.resolve(2).unwrap()).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            read(dir.join("io.weight")),
            expected,
            "--blkio-weight {weight}"
        );
        assert!(!dir.join("io.bfq.weight").exists());
    }
}

#[test]
fn v2_without_io_or_memory_low_warns_like_docker() {
    let env = TestEnv::new("lim-v2-noio");
    // No io controller offered: it is not delegated, and its files do not
    // appear in the child.
    let root = v2_root(&env, "cpu memory pids\n");
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    assert_eq!(
        read(root.join("cgroup.subtree_control")),
        "+cpu +memory +pids"
    );
    let limits = Limits {
        memory_reservation: Some(32 * M),
        blkio_weight: Some(300),
        cpu_quota: Some(-1),
        ..Default::default()
    };
    let warnings = cgroup.set(&limits.resolve(2).unwrap()).unwrap();
    assert_eq!(warnings, [NO_MEMORY_RESERVATION, NO_BLKIO_WEIGHT]);
    let dir = root.join("box");
    assert_eq!(read(dir.join("cpu.max")), "max 100000");
    for file in ["memory.low", "io.bfq.weight", "io.weight"] {
        assert!(!dir.join(file).exists(), "{file} written");
    }
}

#[test]
fn v1_writes_cfs_files_soft_limit_and_blkio_weight() {
    let env = TestEnv::new("lim-v1-cfq");
    let (driver, base) = v1_driver(&env, &["cpu", "memory", "blkio"]);
    let cgroup = driver.create("box").unwrap();
    let (cpu, memory, blkio) = (
        base.join("cpu/box"),
        base.join("memory/box"),
        base.join("blkio/box"),
    );
    for file in ["memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes"] {
        fs::write(memory.join(file), "").unwrap();
    }
    // A kernel with CFQ (before 5.0) has blkio.weight, and BFQ's too.
    fs::write(blkio.join("blkio.weight"), "").unwrap();
    fs::write(blkio.join("blkio.bfq.weight"), "").unwrap();
    let warnings = cgroup.set(&limits().resolve(2).unwrap()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(read(cpu.join("cpu.cfs_period_us")), "50000");
    assert_eq!(read(cpu.join("cpu.cfs_quota_us")), "25000");
    assert_eq!(
        read(memory.join("memory.limit_in_bytes")),
        (64 * M).to_string()
    );
    assert_eq!(read(memory.join("memory.memsw.limit_in_bytes")), "-1");
    assert_eq!(
        read(memory.join("memory.soft_limit_in_bytes")),
        (32 * M).to_string()
    );
    assert_eq!(read(blkio.join("blkio.weight")), "500");
    assert_eq!(read(blkio.join("blkio.bfq.weight")), "");
}

#[test]
fn v1_without_cfq_uses_bfq_and_without_blkio_warns() {
    let env = TestEnv::new("lim-v1-bfq");
    let (driver, base) = v1_driver(&env, &["cpu", "memory", "blkio"]);
    let cgroup = driver.create("box").unwrap();
    let blkio = base.join("blkio/box");
    // Linux 5.0 and later: only BFQ's file (this host has exactly that).
    fs::write(blkio.join("blkio.bfq.weight"), "100\n").unwrap();
    let weight = Limits {
        blkio_weight: Some(250),
        ..Default::default()
    }
    .resolve(2)
    .unwrap();
    assert!(cgroup.set(&weight).unwrap().is_empty());
    assert_eq!(read(blkio.join("blkio.bfq.weight")), "250");
    assert!(!blkio.join("blkio.weight").exists());

    // No BFQ either (no scheduler module): Docker's warning, nothing written.
    fs::remove_file(blkio.join("blkio.bfq.weight")).unwrap();
    assert_eq!(cgroup.set(&weight).unwrap(), [NO_BLKIO_WEIGHT]);
    assert!(!blkio.join("blkio.weight").exists());

    // A host that does not mount blkio at all: the same warning, and the
    // other limits still apply.
    let env2 = TestEnv::new("lim-v1-noblk");
    let (driver, base) = v1_driver(&env2, &["cpu", "memory"]);
    let cgroup = driver.create("box").unwrap();
    assert_eq!(cgroup.dirs().len(), 2);
    let both = Limits {
        cpu_quota: Some(20_000),
        blkio_weight: Some(250),
        ..Default::default()
    }
    .resolve(2)
    .unwrap();
    assert_eq!(cgroup.set(&both).unwrap(), [NO_BLKIO_WEIGHT]);
    assert_eq!(read(base.join("cpu/box/cpu.cfs_quota_us")), "20000");
}

#[test]
fn v2_kill_without_cgroup_kill_freezes_kills_and_thaws() {
    // Kernels before 5.14 have no cgroup.kill: freeze, kill each, thaw.
    let env = TestEnv::new("lim-v2-nokill");
    let root = v2_root(&env, "cpu memory pids\n");
    let cgroup = Driver::V2 { root: root.clone() }.create("box").unwrap();
    let dir = root.join("box");
    fs::write(dir.join("cgroup.procs"), "").unwrap();
    // The fake "kernel" answers at once: frozen, then thawed.
    fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 1\n").unwrap();
    let thawer = {
        let dir = dir.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while std::time::Instant::now() < deadline {
                if fs::read_to_string(dir.join("cgroup.freeze")).is_ok_and(|v| v == "0") {
                    fs::write(dir.join("cgroup.events"), "populated 0\nfrozen 0\n").unwrap();
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };
    cgroup.kill_all().unwrap();
    thawer.join().unwrap();
    assert_eq!(read(dir.join("cgroup.freeze")), "0");
    assert!(!dir.join("cgroup.kill").exists());
}

/// v1 keeps `memsw >= memory` at every write, so raising memory above the
/// current memory+swap limit writes memsw first. The order of the writes
/// is recorded at the kernel seam (nothing is written at all).
#[test]
fn v1_raises_memsw_before_memory_in_the_order_of_writes() {
    let env = TestEnv::new("lim-v1-order");
    let (driver, base) = v1_driver(&env, &["memory"]);
    let cgroup = driver.create("box").unwrap();
    let memory = base.join("memory/box");
    for file in ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"] {
        fs::write(memory.join(file), (32 * M).to_string()).unwrap();
    }
    let written = |limits: Limits| {
        let (set, calls) = kernel::recording(|| cgroup.set(&limits.resolve(2).unwrap()));
        set.unwrap();
        calls
            .into_iter()
            .filter_map(|c| match c {
                kernel::syscall::Call::Write { path, contents } => Some((
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    contents,
                )),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let grow = written(Limits {
        memory: Some(64 * M),
        memory_swap: Some(128 * M),
        ..Default::default()
    });
    assert_eq!(
        grow,
        [
            ("memory.memsw.limit_in_bytes".into(), (128 * M).to_string()),
            ("memory.limit_in_bytes".into(), (64 * M).to_string()),
        ]
    );
    // Below the current memsw limit the natural order is kept.
    let shrink = written(Limits {
        memory: Some(16 * M),
        memory_swap: Some(24 * M),
        ..Default::default()
    });
    assert_eq!(shrink[0].0, "memory.limit_in_bytes");
    assert_eq!(
        read(memory.join("memory.limit_in_bytes")),
        (32 * M).to_string()
    );
}
