//! mini-runc under real engines: Docker (`--runtime mini`, the runtime
//! added to dockerd with `--add-runtime`), podman (`--runtime`) and
//! containerd (`ctr run --runc-binary`). Every container runs with
//! `--network none`; busybox comes from a local tar, never a registry.
//!
//! Docker: the shared private dockerd of scripts/test.sh (`DOCKER_HOST`,
//! started there with `--add-runtime mini=…`); run alone, the test starts
//! its own through scripts/dockerd.sh — and under `CI=true` a missing
//! one fails instead.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use testkit::TestEnv;

const DOCKER: &str = "/usr/bin/docker";

fn mini_runc() -> PathBuf {
    testkit::bin("mini-runc")
}

/// Output with stdout/stderr in files (a detached container keeps the
/// stdio of the command that started it: pipes would never close).
fn output(env: &TestEnv, cmd: &mut Command) -> Output {
    let out = env.path("cmd.out");
    let err = env.path("cmd.err");
    let status = cmd
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    Output {
        status,
        stdout: std::fs::read(&out).unwrap(),
        stderr: std::fs::read(&err).unwrap(),
    }
}

/// A busybox rootfs tarball made from the test fixture.
fn busybox_tar(env: &TestEnv) -> PathBuf {
    let tar = env.path("busybox.tar");
    testkit::busybox_tar_at(&tar);
    tar
}

/// One engine's command line, with the checks every engine gets.
struct Engine<'a> {
    env: &'a TestEnv,
    program: &'a str,
    global: Vec<String>,
    /// Flags of every `run` (network, ulimits).
    run_flags: Vec<String>,
    image: String,
}

impl Engine<'_> {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.command(self.program);
        c.args(&self.global).args(args);
        c
    }

    fn out(&self, args: &[&str]) -> Output {
        output(self.env, &mut self.cmd(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.out(args);
        assert!(
            o.status.success(),
            "{} {args:?}: {}",
            self.program,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn run_args<'b>(&'b self, extra: &[&'b str]) -> Vec<&'b str> {
        let mut args = vec!["run"];
        args.extend(self.run_flags.iter().map(String::as_str));
        args.extend_from_slice(extra);
        args
    }

    /// Exit codes, stdio, a missing command, limits, exec, pause, kill,
    /// stop, rm -f; `-it` through a pty (`script`).
    fn check(&self, name: &str) {
        let image = self.image.as_str();
        let mut args =
            self.run_args(&["--rm", image, "sh", "-c", "echo out; echo err >&2; exit 5"]);
        let o = self.out(&args);
        assert_eq!(
            o.status.code(),
            Some(5),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
        assert!(String::from_utf8_lossy(&o.stderr).contains("err\n"));
        args = self.run_args(&["--rm", image, "no-such-command"]);
        let o = self.out(&args);
        assert_eq!(o.status.code(), Some(127));
        assert!(String::from_utf8_lossy(&o.stderr).contains("executable file not found in $PATH"));
        let limits = self.run_args(&[
            "--rm", "--memory", "64m", "--pids-limit", "20", image, "sh", "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; true",
        ]);
        assert_eq!(self.ok(&limits), "67108864\n20\n");

        let c = format!("tk{}{name}", self.env.token());
        let detached = self.run_args(&["-d", "--name", &c, image, "sleep", "1000"]);
        self.ok(&detached);
        assert_eq!(
            self.ok(&["exec", &c, "sh", "-c", "cat /proc/1/comm"]),
            "sleep\n"
        );
        assert_eq!(
            self.out(&["exec", &c, "sh", "-c", "exit 4"]).status.code(),
            Some(4)
        );
        self.ok(&["pause", &c]);
        assert!(self
            .ok(&["inspect", "--format", "{{.State.Status}}", &c])
            .contains("paused"));
        self.ok(&["unpause", &c]);
        self.ok(&["kill", &c]);
        let status = || {
            self.ok(&[
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                &c,
            ])
        };
        testkit::wait_until("the killed container exits", || {
            status().starts_with("exited 137")
        });
        self.ok(&["start", &c]);
        self.ok(&["stop", "-t", "1", &c]);
        self.ok(&["start", &c]);
        self.ok(&["rm", "-f", &c]);

        // -it: the pty came over the console socket.
        let mut line: Vec<String> = vec![self.program.into()];
        line.extend(self.global.iter().cloned());
        line.extend(
            self.run_args(&["-it", "--rm", image, "sh", "-c", "tty; exit 6"])
                .iter()
                .map(|s| s.to_string()),
        );
        let o = output(
            self.env,
            Command::new("script").args(["-qec", &line.join(" "), "/dev/null"]),
        );
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains("/dev/pts/0"), "{text}");
        assert_eq!(o.status.code(), Some(6), "{text}");
    }
}

/// The dockerd to use: the shared one when it has the `mini` runtime,
/// else one of our own (outside CI).
fn docker_host(env: &TestEnv) -> (String, Option<PathBuf>) {
    if let Ok(host) = std::env::var("DOCKER_HOST") {
        let o = Command::new(DOCKER)
            .args(["info", "--format", "{{json .Runtimes}}"])
            .env("DOCKER_HOST", &host)
            .output()
            .unwrap();
        if String::from_utf8_lossy(&o.stdout).contains("\"mini\"") {
            return (host, None);
        }
        assert!(
            !testkit::is_ci(),
            "the dockerd at {host} has no `mini` runtime (scripts/test.sh adds it)"
        );
    }
    if !Path::new(DOCKER).exists() || !Path::new("/usr/sbin/dockerd").exists() {
        testkit::skip("Docker is not installed (scripts/setup.sh installs docker.io)");
    }
    let dir = env.path("dockerd");
    let out = Command::new(testkit::workspace_dir().join("scripts/dockerd.sh"))
        .arg("start")
        .arg(&dir)
        .arg("--add-runtime")
        .arg(format!("mini={}", mini_runc().display()))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.lines().find_map(|l| l.strip_prefix("DOCKER_HOST="));
    (
        host.expect("scripts/dockerd.sh printed DOCKER_HOST")
            .to_string(),
        Some(dir),
    )
}

/// Stops a dockerd this test started, however the test ends.
struct OwnDockerd(Option<PathBuf>);

impl Drop for OwnDockerd {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = Command::new(testkit::workspace_dir().join("scripts/dockerd.sh"))
                .arg("stop")
                .arg(dir)
                .status();
        }
    }
}

fn docker_runs_containers_on_mini_runc() {
    let mut env = TestEnv::root("clients-docker");
    let (host, own) = docker_host(&env);
    let own = OwnDockerd(own);
    let image = format!("tk{}-busybox", env.token());
    let tar = busybox_tar(&env);
    let mut docker = Engine {
        env: &env,
        program: DOCKER,
        global: Vec::new(),
        run_flags: vec![
            "--runtime".into(),
            "mini".into(),
            "--network".into(),
            "none".into(),
        ],
        image: image.clone(),
    };
    let import = |d: &Engine| {
        d.cmd(&[
            "import",
            "-c",
            "CMD [\"sh\"]",
            tar.to_str().unwrap(),
            &image,
        ])
        .env("DOCKER_HOST", &host)
        .status()
        .unwrap()
    };
    assert!(import(&docker).success());
    // The host is part of the command line the -it check builds.
    docker.global = vec!["--host".into(), host.clone()];
    docker.check("docker");
    docker.ok(&["rmi", &image]);
    drop(own);
    env.settle();
    env.assert_no_leaks();
}

fn podman_runs_containers_on_mini_runc() {
    let mut env = TestEnv::root("clients-podman");
    if !Path::new("/usr/bin/podman").exists() {
        testkit::skip("podman is not installed (scripts/setup.sh installs it)");
    }
    let store = env.path("podman");
    let s = |p: &str| store.join(p).display().to_string();
    let podman = Engine {
        env: &env,
        program: "/usr/bin/podman",
        global: vec![
            "--root".into(),
            s("root"),
            "--runroot".into(),
            s("run"),
            "--tmpdir".into(),
            s("tmp"),
            "--runtime".into(),
            mini_runc().display().to_string(),
            "--cgroup-manager".into(),
            "cgroupfs".into(),
            "--events-backend".into(),
            "file".into(),
            "--storage-driver".into(),
            "overlay".into(),
        ],
        // podman asks for 1048576 open files, above this host's hard
        // limit (no CAP_SYS_RESOURCE here): a clear error from mini-runc,
        // as from runc, so the test asks for what the host allows.
        run_flags: vec![
            "--network".into(),
            "none".into(),
            "--ulimit".into(),
            "nofile=1024:1024".into(),
            "--ulimit".into(),
            "nproc=1024:1024".into(),
            "--cgroup-parent".into(),
            format!("/tk{}", env.token()),
        ],
        image: format!("localhost/tk{}-busybox", env.token()),
    };
    let tar = busybox_tar(&env);
    podman.ok(&["import", "-q", tar.to_str().unwrap(), &podman.image]);
    podman.check("podman");
    podman.ok(&["rm", "-af"]);
    podman.ok(&["rmi", "-af"]);
    let _ = podman.out(&["system", "reset", "-f"]);
    // conmon's cgroup, which podman makes below the cgroup parent and
    // leaves (it is podman's, not the runtime's).
    let parent = format!("tk{}", env.token());
    for dir in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        let _ = std::fs::remove_dir(dir.path().join(&parent).join("conmon"));
        let _ = std::fs::remove_dir(dir.path().join(&parent));
    }
    env.settle();
    env.assert_no_leaks();
}

fn containerd_runs_containers_on_mini_runc() {
    let mut env = TestEnv::root("clients-containerd");
    if !Path::new("/usr/bin/containerd").exists() {
        testkit::skip("containerd is not installed (scripts/setup.sh installs it)");
    }
    let dir = env.path("containerd");
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("containerd.sock");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n\
             disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{1}\"\n[ttrpc]\n  address = \"{1}.ttrpc\"\n[metrics]\n  address = \"\"\n",
            dir.display(),
            socket.display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("containerd.log")).unwrap();
    let mut daemon = env
        .command("/usr/bin/containerd")
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    testkit::wait_until("containerd listens", || socket.exists());
    // The image: busybox imported into a private mini-docker store and
    // saved as a docker archive, which ctr imports.
    let md = |args: &[&str]| {
        let o = output(
            &env,
            env.command(testkit::bin("mini-docker"))
                .args(args)
                .env("MINI_DOCKER_ROOT", dir.join("md"))
                .env("MINI_DOCKER_RUNROOT", dir.join("mdrun")),
        );
        assert!(
            o.status.success(),
            "mini-docker {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let tar = busybox_tar(&env);
    let archive = dir.join("busybox-archive.tar");
    md(&["import", tar.to_str().unwrap(), "busybox:latest"]);
    md(&["save", "-o", archive.to_str().unwrap(), "busybox:latest"]);
    let namespace = format!("tk{}", env.token());
    let ctr = |args: &[&str]| {
        output(
            &env,
            env.command("/usr/bin/ctr")
                .args([
                    "--address",
                    socket.to_str().unwrap(),
                    "--namespace",
                    &namespace,
                ])
                .args(args),
        )
    };
    let ok = |args: &[&str]| {
        let o = ctr(args);
        assert!(
            o.status.success(),
            "ctr {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    ok(&["images", "import", archive.to_str().unwrap()]);
    let image = "docker.io/library/busybox:latest";
    let runc = mini_runc().display().to_string();
    let o = ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &runc,
        image,
        "k1",
        "sh",
        "-c",
        "echo out; exit 5",
    ]);
    assert_eq!(
        o.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout), "out\n");
    // ctr's default spec has no /sys/fs/cgroup: the limit is read on the host.
    ok(&[
        "run",
        "-d",
        "--runc-binary",
        &runc,
        "--memory-limit",
        "67108864",
        image,
        "k3",
        "sleep",
        "1000",
    ]);
    let layout = cgroup_demo::Layout::detect().unwrap();
    let limit = match layout.version() {
        cgroup_demo::Version::V1 => layout
            .v1_root("memory")
            .unwrap()
            .join(format!("{namespace}/k3/memory.limit_in_bytes")),
        cgroup_demo::Version::V2 => layout
            .unified
            .clone()
            .unwrap()
            .join(format!("{namespace}/k3/memory.max")),
    };
    assert_eq!(std::fs::read_to_string(&limit).unwrap().trim(), "67108864");
    let o = ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e1",
        "k3",
        "sh",
        "-c",
        "cat /proc/1/comm; exit 4",
    ]);
    assert_eq!(o.status.code(), Some(4));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sleep\n");
    ok(&["task", "pause", "k3"]);
    assert!(ok(&["task", "ls"]).contains("PAUSED"));
    ok(&["task", "resume", "k3"]);
    ok(&["task", "kill", "-s", "KILL", "k3"]);
    testkit::wait_until("k3 stops", || ok(&["task", "ls"]).contains("STOPPED"));
    ok(&["task", "rm", "k3"]);
    ok(&["containers", "rm", "k3"]);
    ok(&["images", "rm", image]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    daemon.wait().unwrap();
    env.settle();
    env.assert_no_leaks();
}

testkit::main![
    docker_runs_containers_on_mini_runc,
    podman_runs_containers_on_mini_runc,
    containerd_runs_containers_on_mini_runc,
];
