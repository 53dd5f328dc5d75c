//! Cgroup limits of containers on the real kernel, on whichever cgroup
//! version the host runs: `--cpu-period`, `--cpu-quota`,
//! `--memory-reservation`, `--blkio-weight` (and the older limits' v2
//! semantics: pause, kill, OOM), read back from the files of the
//! container's cgroup — v1 paths on a v1 or hybrid host, v2 paths on a
//! unified one (`scripts/test-cgroup-v2.sh` runs this target in a v2
//! guest) — plus Docker's messages and exit code 125 for bad values, and
//! where the container's first process starts (born in its cgroup on v2).
//! Each test has its own store, run root and cgroup parent, and checks
//! afterwards that nothing is left.

mod support;

use std::path::PathBuf;
use std::process::Output;

use cgroup_demo::{Layout, Version};
use support::*;
use testkit::TestEnv;

/// The container's cgroup on this host.
struct Cgroup {
    layout: Layout,
    /// `mini-docker-<token>/<id>`, relative to each hierarchy's root.
    path: PathBuf,
}

impl Cgroup {
    fn of(env: &TestEnv, container: &str) -> Self {
        let id = inspect(env, container, "{{.Id}}");
        Cgroup {
            layout: Layout::detect().unwrap(),
            path: PathBuf::from(format!("mini-docker-{}", env.token())).join(id),
        }
    }

    fn version(&self) -> Version {
        self.layout.version()
    }

    /// The directory holding `controller`'s files (one for all on v2).
    fn dir(&self, controller: &str) -> Option<PathBuf> {
        match self.version() {
            Version::V1 => Some(self.layout.v1_root(controller)?.join(&self.path)),
            Version::V2 => Some(self.layout.unified.as_ref()?.join(&self.path)),
        }
    }

    /// A file's content, trimmed; `None` if the host has no such file.
    fn read(&self, controller: &str, name: &str) -> Option<String> {
        let path = self.dir(controller)?.join(name);
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn file(&self, controller: &str, name: &str) -> String {
        self.read(controller, name)
            .unwrap_or_else(|| panic!("{controller}/{name} missing for {}", self.path.display()))
    }

    /// The cgroup path a process of this container shows in
    /// `/proc/PID/cgroup` (for the memory hierarchy on v1).
    fn proc_line(&self) -> String {
        match self.version() {
            Version::V1 => format!(":memory:/{}", self.path.display()),
            Version::V2 => format!("0::/{}", self.path.display()),
        }
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A weight file's default weight: BFQ's v2 files say `default N` (then
/// per-device lines), the others just `N`.
fn default_weight(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("default "))
        .unwrap_or(text)
        .trim()
        .to_string()
}

fn cpu_period_and_quota_reach_the_cgroup() {
    let mut env = with_busybox("lim-cfs", &[]);
    let args = [
        "run",
        "-d",
        "--name",
        "cfs",
        "--cpu-period",
        "50000",
        "--cpu-quota",
        "25000",
        "busybox",
        "sleep",
        "1000",
    ];
    ok(&env, &args);
    let cg = Cgroup::of(&env, "cfs");
    match cg.version() {
        Version::V1 => {
            assert_eq!(cg.file("cpu", "cpu.cfs_period_us"), "50000");
            assert_eq!(cg.file("cpu", "cpu.cfs_quota_us"), "25000");
        }
        Version::V2 => assert_eq!(cg.file("cpu", "cpu.max"), "25000 50000"),
    }
    assert_eq!(
        inspect(
            &env,
            "cfs",
            "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.NanoCpus}}"
        ),
        "50000 25000 0"
    );
    ok(&env, &["rm", "-f", "cfs"]);

    // A quota alone keeps the default period; -1 is unlimited.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "quota",
            "--cpu-quota",
            "30000",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "unlimited",
            "--cpu-quota",
            "-1",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let (q, u) = (Cgroup::of(&env, "quota"), Cgroup::of(&env, "unlimited"));
    match q.version() {
        Version::V1 => {
            assert_eq!(q.file("cpu", "cpu.cfs_quota_us"), "30000");
            assert_eq!(q.file("cpu", "cpu.cfs_period_us"), "100000");
            assert_eq!(u.file("cpu", "cpu.cfs_quota_us"), "-1");
        }
        Version::V2 => {
            assert_eq!(q.file("cpu", "cpu.max"), "30000 100000");
            assert_eq!(u.file("cpu", "cpu.max"), "max 100000");
        }
    }
    assert_eq!(inspect(&env, "unlimited", "{{.HostConfig.CpuQuota}}"), "-1");
    ok(&env, &["rm", "-f", "quota", "unlimited"]);
    assert_settled(&mut env);
}

fn memory_reservation_reaches_the_cgroup() {
    let mut env = with_busybox("lim-reserve", &[]);
    let out = md_in(
        &env,
        "root",
        &[
            "run",
            "-d",
            "--name",
            "soft",
            "-m",
            "64m",
            "--memory-reservation",
            "32m",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cg = Cgroup::of(&env, "soft");
    let (file, expected) = match cg.version() {
        Version::V1 => ("memory.soft_limit_in_bytes", (32 << 20).to_string()),
        Version::V2 => ("memory.low", (32 << 20).to_string()),
    };
    match cg.read("memory", file) {
        Some(value) => assert_eq!(value, expected),
        None => assert!(
            stderr(&out).contains("does not support memory soft limit"),
            "{}",
            stderr(&out)
        ),
    }
    assert_eq!(
        inspect(
            &env,
            "soft",
            "{{.HostConfig.Memory}} {{.HostConfig.MemoryReservation}}"
        ),
        format!("{} {}", 64 << 20, 32 << 20)
    );
    ok(&env, &["rm", "-f", "soft"]);
    assert_settled(&mut env);
}

fn blkio_weight_reaches_the_cgroup_or_is_discarded_with_dockers_warning() {
    let mut env = with_busybox("lim-blkio", &[]);
    let out = md_in(
        &env,
        "root",
        &[
            "run",
            "-d",
            "--name",
            "io",
            "--blkio-weight",
            "300",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let cg = Cgroup::of(&env, "io");
    // The preferred file, else the kernel's other one (with its value).
    let candidates: &[(&str, &str, &str)] = match cg.version() {
        Version::V1 => &[
            ("blkio", "blkio.weight", "300"),
            ("blkio", "blkio.bfq.weight", "300"),
        ],
        // 300 on blkio's scale [10, 1000] is 1 + 290 * 9999 / 990 = 2930
        // on io.weight's [1, 10000] (runc's conversion).
        Version::V2 => &[("io", "io.bfq.weight", "300"), ("io", "io.weight", "2930")],
    };
    let written = candidates
        .iter()
        .find_map(|(c, f, v)| cg.read(c, f).map(|text| (*f, default_weight(&text), *v)));
    match written {
        Some((file, value, expected)) => assert_eq!(value, expected, "{file}"),
        None => assert!(
            stderr(&out).contains(
                "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
            ),
            "no weight file and no warning: {}",
            stderr(&out)
        ),
    }
    assert_eq!(inspect(&env, "io", "{{.HostConfig.BlkioWeight}}"), "300");
    ok(&env, &["rm", "-f", "io"]);
    // 0 means not set.
    ok(
        &env,
        &["run", "--rm", "--blkio-weight", "0", "busybox", "true"],
    );
    assert_settled(&mut env);
}

fn bad_values_get_dockers_errors_and_exit_codes() {
    let mut env = with_busybox("lim-bad", &[]);
    // Docker's CLI refuses a value
    // it cannot parse (125 from run and create); the limits themselves are
    // the daemon's checks, which `create` returns as they are (exit 1).
    let cases: &[(&[&str], &str)] = &[
        (
            &["--cpus", "1", "--cpu-period", "50000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (
            &["--cpus", "1", "--cpu-quota", "50000"],
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set",
        ),
        (
            &["--cpu-period", "999"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            &["--cpu-period", "1000001"],
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        ),
        (
            &["--cpu-quota", "999"],
            "CPU cfs quota can not be less than 1ms (i.e. 1000)",
        ),
        (
            &["--memory-reservation", "1m"],
            "Minimum memory reservation allowed is 6MB",
        ),
        (
            &["-m", "32m", "--memory-reservation", "64m"],
            "Minimum memory limit can not be less than memory reservation limit, see usage",
        ),
        (
            &["--memory-reservation", "10x"],
            "invalid argument \"10x\" for \"--memory-reservation\" flag: invalid size: '10x'",
        ),
        (
            &["--blkio-weight", "5"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (
            &["--blkio-weight", "1001"],
            "Range of blkio weight is from 10 to 1000",
        ),
        (&["--blkio-weight", "70000"], "--blkio-weight"),
        (&["--cpu-period", "x"], "--cpu-period"),
    ];
    for (command, runs) in [("run", &["--rm"][..]), ("create", &[][..])] {
        for (flags, message) in cases {
            let mut args = vec![command];
            args.extend_from_slice(runs);
            args.extend_from_slice(flags);
            args.extend(["busybox", "true"]);
            let parsing = message.starts_with("invalid argument") || message.starts_with("--");
            let code = if command == "create" && !parsing {
                1
            } else {
                125
            };
            let err = fails(&env, &args, code);
            assert!(err.contains(message), "{args:?}: {err}");
        }
    }
    // Nothing was created.
    assert_eq!(ok(&env, &["ps", "-aq"]), "");
    assert_settled(&mut env);
}

fn pause_pid1_placement_kill_and_oom_on_either_version() {
    let mut env = with_busybox("lim-v2sem", &[]);
    let out = md_in(
        &env,
        "root",
        &[
            "--explain",
            "run",
            "-d",
            "--name",
            "box",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let explained = String::from_utf8_lossy(&out.stdout).into_owned();
    let cg = Cgroup::of(&env, "box");
    let pid = inspect(&env, "box", "{{.State.Pid}}");
    // The container's first process is in the container's cgroup.
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        own.lines().any(|l| l.ends_with(&cg.proc_line())),
        "{own} lacks {}",
        cg.proc_line()
    );
    // How it got there: born in it on v2 (no write of its PID to any
    // cgroup.procs), moved into it right after the clone on v1.
    let moved = explained.lines().any(|l| {
        l.starts_with("+ echo ")
            && l.ends_with("/cgroup.procs")
            && l.contains(&*cg.path.to_string_lossy())
    });
    match cg.version() {
        Version::V1 => {
            assert!(moved, "{explained}");
        }
        Version::V2 => {
            assert!(
                explained.contains("CLONE_INTO_CGROUP") && !moved,
                "{explained}"
            );
        }
    }

    // pause and unpause: v1 freezer.state, v2 cgroup.freeze.
    ok(&env, &["pause", "box"]);
    match cg.version() {
        Version::V1 => assert_eq!(cg.file("freezer", "freezer.state"), "FROZEN"),
        Version::V2 => {
            assert_eq!(cg.file("cgroup", "cgroup.freeze"), "1");
            assert!(cg.file("cgroup", "cgroup.events").contains("frozen 1"));
        }
    }
    assert_eq!(inspect(&env, "box", "{{.State.Status}}"), "paused");
    ok(&env, &["unpause", "box"]);
    match cg.version() {
        Version::V1 => assert_eq!(cg.file("freezer", "freezer.state"), "THAWED"),
        Version::V2 => assert_eq!(cg.file("cgroup", "cgroup.freeze"), "0"),
    }

    // kill: SIGKILL, exit 137, and rm -f removes the cgroup (v2: through
    // cgroup.kill where the kernel has it).
    ok(&env, &["kill", "box"]);
    ok(&env, &["wait", "box"]);
    assert_eq!(
        inspect(&env, "box", "{{.State.ExitCode}} {{.State.OOMKilled}}"),
        "137 false"
    );
    ok(&env, &["rm", "-f", "box"]);
    assert!(cg.dir("memory").is_some_and(|d| !d.exists()));

    // OOM: counted from memory.oom_control (v1) or memory.events (v2).
    let out = md_in(
        &env,
        "root",
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
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_eq!(
        inspect(&env, "hog", "{{.State.OOMKilled}} {{.State.ExitCode}}"),
        "true 137"
    );
    ok(&env, &["rm", "hog"]);
    assert_settled(&mut env);
}

fn the_fallback_start_path_moves_the_process_on_any_version() {
    // MINI_DOCKER_NO_CLONE_INTO_CGROUP=1 forces clone-then-move (what v1
    // and old kernels do); the container must end up in the same place.
    let mut env = with_busybox("lim-nocl3", &[]);
    let out = md_command(&env, "root")
        .env("MINI_DOCKER_NO_CLONE_INTO_CGROUP", "1")
        .args([
            "--explain",
            "run",
            "-d",
            "--name",
            "moved",
            "busybox",
            "sleep",
            "1000",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let explained = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!explained.contains("CLONE_INTO_CGROUP)"), "{explained}");
    let cg = Cgroup::of(&env, "moved");
    let path = cg.path.to_string_lossy().into_owned();
    assert!(
        explained
            .lines()
            .any(|l| l.starts_with("+ echo ") && l.ends_with("/cgroup.procs") && l.contains(&path)),
        "not moved into {path}: {explained}"
    );
    let pid = inspect(&env, "moved", "{{.State.Pid}}");
    let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(own.lines().any(|l| l.ends_with(&cg.proc_line())), "{own}");
    ok(&env, &["rm", "-f", "moved"]);
    assert_settled(&mut env);
}

testkit::main![
    cpu_period_and_quota_reach_the_cgroup,
    memory_reservation_reaches_the_cgroup,
    blkio_weight_reaches_the_cgroup_or_is_discarded_with_dockers_warning,
    bad_values_get_dockers_errors_and_exit_codes,
    pause_pid1_placement_kill_and_oom_on_either_version,
    the_fallback_start_path_moves_the_process_on_any_version,
];
