//! The differential suite: every scenario of `tests/compat/*.txt` runs
//! against Docker and against mini-docker, and what they print must agree
//! (see `tests/compat/README.md`). One trial per scenario.
//!
//! One dockerd serves the whole run: `DOCKER_HOST` when the environment
//! has one (scripts/test.sh starts it), otherwise one this suite starts
//! with scripts/dockerd.sh and stops at the end. Without root or Docker
//! every scenario is skipped with the reason (a failure under `CI=true`).

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed};
use testkit::compat::{self, ExpectKind, Outcome, Scenario, StepKind};
use testkit::{harness, TestEnv};

const DOCKER: &str = "/usr/bin/docker";
const DOCKERD: &str = "/usr/sbin/dockerd";
/// The longest one command of a scenario may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Exclusive scenarios (prunes) take this for writing; the others read.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

/// The dockerd this run talks to; stopped on drop if we started it.
struct Daemon {
    host: String,
    started: Option<PathBuf>,
}

impl Daemon {
    fn get() -> Result<Daemon, String> {
        if let Ok(host) = std::env::var("DOCKER_HOST") {
            return Ok(Daemon {
                host,
                started: None,
            });
        }
        if !Path::new(DOCKER).exists() || !Path::new(DOCKERD).exists() {
            return Err(format!(
                "{DOCKER} or {DOCKERD} is missing (scripts/setup.sh installs docker.io)"
            ));
        }
        let dir = std::env::temp_dir().join(format!("compat-dockerd-{}", std::process::id()));
        let script = testkit::workspace_dir().join("scripts/dockerd.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(&dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{}: {e}", script.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let host = text
            .lines()
            .find_map(|l| l.strip_prefix("DOCKER_HOST="))
            .filter(|_| out.status.success())
            .ok_or_else(|| {
                format!(
                    "dockerd.sh start failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            })?
            .to_string();
        Ok(Daemon {
            host,
            started: Some(dir),
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let _ = Command::new(testkit::workspace_dir().join("scripts/dockerd.sh"))
                .arg("stop")
                .arg(dir)
                .status();
        }
    }
}

/// The busybox fixture as a tarball, made once per run.
fn busybox_tar() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let tar = testkit::target_dir()
            .join(format!("testkit/compat-busybox-{}.tar", std::process::id()));
        testkit::busybox_tar_at(&tar);
        tar
    })
}

/// The trial's own /16 for mini-docker's networks (the default `bridge`
/// included), in 10.100–163.0.0/16 by its token: parallel trials, and
/// other stores on the host, do not compete for Docker's default pools.
/// (Scenarios that name a subnet use 10.194–199.)
fn address_pool(token: &str) -> String {
    let n = u32::from_str_radix(token, 16).unwrap_or(0);
    format!("10.{}.0.0/16", 100 + n % 64)
}

/// Which tool a command line's `docker` stands for.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Docker,
    Mini,
}

struct Side<'a> {
    tool: Tool,
    env: &'a TestEnv,
    host: &'a str,
    prefix: &'a str,
}

impl Side<'_> {
    /// `bash -c` with `docker` a function calling the tool.
    fn run(&self, command: &str) -> Result<(i32, String, String), String> {
        let function = match self.tool {
            Tool::Docker => format!("docker() {{ {DOCKER} \"$@\"; }}"),
            Tool::Mini => format!(
                "docker() {{ {} \"$@\"; }}",
                testkit::bin("mini-docker").display()
            ),
        };
        let mut cmd = self.env.command("bash");
        cmd.arg("-c")
            .arg(format!("{function}\n{command}"))
            .env("P", self.prefix)
            .env("BUSYBOX_TAR", busybox_tar())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match self.tool {
            Tool::Docker => {
                cmd.env("DOCKER_HOST", self.host);
            }
            Tool::Mini => {
                cmd.env_remove("DOCKER_HOST")
                    .env("MINI_DOCKER_ADDRESS_POOL", address_pool(self.env.token()))
                    .env("MINI_DOCKER_ROOT", self.env.path("root"))
                    .env("MINI_DOCKER_RUNROOT", self.env.path("run"))
                    .envs(self.env.mini_docker_env());
            }
        }
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| format!("spawn bash: {e}"))?;
        let mut out = child.stdout.take().expect("piped stdout");
        let mut err = child.stderr.take().expect("piped stderr");
        let reader = std::thread::spawn(move || {
            let mut s = Vec::new();
            let _ = out.read_to_end(&mut s);
            s
        });
        let mut stderr = Vec::new();
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        let err_reader = std::thread::spawn(move || {
            let _ = err.read_to_end(&mut stderr);
            stderr
        });
        let status = loop {
            if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                return Err(format!("{:?}: `{command}` timed out", self.tool));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let stdout = reader.join().unwrap_or_default();
        let stderr = err_reader.join().unwrap_or_default();
        Ok((
            status.code().unwrap_or(128),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        ))
    }

    /// Runs every step; returns the compared steps' outcomes. Cleanup
    /// steps run even after a failure.
    fn play(&self, scenario: &Scenario) -> (Result<Vec<Outcome>, String>, Vec<String>) {
        let mut outcomes = Vec::new();
        let mut failure = None;
        let mut cleanup_notes = Vec::new();
        for step in &scenario.steps {
            if failure.is_some() && step.kind != StepKind::Cleanup {
                continue;
            }
            let result = self.run(&step.command);
            match (&step.kind, result) {
                (_, Err(e)) if step.kind != StepKind::Cleanup => failure = Some(e),
                (StepKind::Cleanup, Err(e)) => cleanup_notes.push(e),
                (StepKind::Cleanup, Ok(_)) => {}
                (StepKind::Setup { may_fail }, Ok((code, out, err))) => {
                    if code != 0 && !may_fail {
                        failure = Some(format!(
                            "{:?}: setup `{}` (line {}) exited {code}: {out}{err}",
                            self.tool, step.command, step.line
                        ));
                    }
                }
                (StepKind::Compare, Ok((exit, out, err))) => outcomes.push(Outcome {
                    exit,
                    stdout: compat::normalise_stdout(&out, self.prefix, step.marks.sort),
                    stderr: if step.marks.ignore_stderr {
                        Vec::new()
                    } else {
                        compat::normalise_stderr(&err, self.prefix)
                    },
                }),
                (_, Err(_)) => unreachable!(),
            }
        }
        (failure.map_or(Ok(outcomes), Err), cleanup_notes)
    }
}

fn show(o: &Outcome) -> String {
    format!(
        "exit {}\nstdout:\n  {}\nstderr:\n  {}",
        o.exit,
        o.stdout.join("\n  "),
        o.stderr.join("\n  ")
    )
}

/// What the shared daemon still holds of this scenario (by its prefix).
fn docker_leftovers(host: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (kind, args) in [
        ("container", vec!["ps", "-a", "--format", "{{.Names}}"]),
        ("volume", vec!["volume", "ls", "--format", "{{.Name}}"]),
        ("network", vec!["network", "ls", "--format", "{{.Name}}"]),
    ] {
        let out = Command::new(DOCKER)
            .args(&args)
            .env("DOCKER_HOST", host)
            .output();
        if let Ok(out) = out {
            for name in String::from_utf8_lossy(&out.stdout).lines() {
                if name.starts_with(prefix) {
                    found.push(format!("{kind} {name}"));
                    let rm: &[&str] = match kind {
                        "container" => &["rm", "-f", "-v"],
                        "volume" => &["volume", "rm", "-f"],
                        _ => &["network", "rm"],
                    };
                    let _ = Command::new(DOCKER)
                        .args(rm)
                        .arg(name)
                        .env("DOCKER_HOST", host)
                        .output();
                }
            }
        }
    }
    found
}

fn trial(scenario: &Scenario, host: &str) -> Result<(), Failed> {
    let mut env = TestEnv::root(&format!("compat-{}", scenario.name));
    let _guard = if scenario.exclusive {
        (
            None,
            Some(EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())),
        )
    } else {
        (
            Some(EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())),
            None,
        )
    };
    // Names in the shared daemon carry the test's token.
    let prefix = format!("c{}-", env.token());
    let mini = Side {
        tool: Tool::Mini,
        env: &env,
        host,
        prefix: &prefix,
    };
    let import = mini.run(&format!(
        "docker import -c 'CMD [\"sh\"]' {} busybox",
        busybox_tar().display()
    ))?;
    if import.0 != 0 {
        return Err(format!("mini-docker import: {}", import.2).into());
    }
    let docker = Side {
        tool: Tool::Docker,
        ..mini
    };
    let (theirs, _) = docker.play(scenario);
    let (ours, _) = mini.play(scenario);
    let docker_left = docker_leftovers(host, &prefix);
    env.drop_default_bridge(&env.path("root"));
    // Everything a scenario made is gone when its clean-up ran: a stopped
    // store has nothing running, and the leak check proves it.
    let _ = std::fs::remove_dir_all(env.path("root"));
    env.settle();
    let leaks = env.leaks();
    drop(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || env.assert_no_leaks(),
    )));

    let theirs = theirs.map_err(|e| format!("{scenario}: Docker side: {e}"))?;
    let ours = ours.map_err(|e| format!("{scenario}: mini-docker side: {e}"))?;
    let compared: Vec<_> = scenario
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Compare)
        .collect();
    let mut report = String::new();
    for ((step, theirs), ours) in compared.iter().zip(&theirs).zip(&ours) {
        let reference = match &step.marks.expected {
            Some(e) => Outcome {
                exit: e.exit,
                stdout: compat::normalise_stdout(&e.stdout.join("\n"), "", false),
                stderr: compat::normalise_stderr(&e.stderr.join("\n"), ""),
            },
            None => theirs.clone(),
        };
        let mut ours = ours.clone();
        if step.marks.expected.is_some() {
            let mut sorted_ref = reference.clone();
            if step.marks.sort {
                sorted_ref.stdout.sort();
            }
            if step.marks.ignore_stderr {
                ours.stderr.clear();
                sorted_ref.stderr.clear();
            }
            if ours != sorted_ref {
                let kind = match step.marks.expected.as_ref().map(|e| e.kind) {
                    Some(ExpectKind::Current) => "current Docker",
                    _ => "expected (Docker cannot run this here)",
                };
                report.push_str(&format!(
                    "line {}: `{}`\n--- {kind}\n{}\n--- mini-docker\n{}\n",
                    step.line,
                    step.command,
                    show(&sorted_ref),
                    show(&ours)
                ));
            }
        } else if ours != reference {
            report.push_str(&format!(
                "line {}: `{}`\n--- Docker\n{}\n--- mini-docker\n{}\n",
                step.line,
                step.command,
                show(&reference),
                show(&ours)
            ));
        }
    }
    if !docker_left.is_empty() {
        report.push_str(&format!(
            "the scenario's clean-up left in Docker: {docker_left:?}\n"
        ));
    }
    if !leaks.is_empty() {
        report.push_str(&format!("mini-docker leaked: {leaks:?}\n"));
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(format!("{scenario}\n{report}").into())
    }
}

fn scenarios() -> Vec<Scenario> {
    let dir = testkit::workspace_dir().join("tests/compat");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/compat/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read scenario file");
        let name = f
            .strip_prefix(testkit::workspace_dir())
            .unwrap_or(&f)
            .display()
            .to_string();
        all.extend(compat::parse(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    all
}

fn main() {
    let mut args = Arguments::from_args();
    // Most of a scenario's time is spent waiting for Docker.
    args.test_threads.get_or_insert(4);
    let scenarios = scenarios();
    // Why no scenario can run, if so: each trial then skips with it.
    let daemon = if args.list {
        Err("only listing".to_string())
    } else if !testkit::is_root() {
        Err("needs root: mini-docker's side is real".to_string())
    } else {
        Daemon::get().map(Arc::new)
    };
    if let Ok(d) = &daemon {
        let out = Command::new(DOCKER)
            .args(["import", "-c", "CMD [\"sh\"]"])
            .arg(busybox_tar())
            .arg("busybox")
            .env("DOCKER_HOST", &d.host)
            .output()
            .expect("run docker import");
        assert!(
            out.status.success(),
            "docker import busybox: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let trials = scenarios
        .into_iter()
        .map(|s| {
            let daemon = daemon.clone();
            harness::checked_trial(s.name.clone(), move || match daemon {
                Ok(d) => trial(&s, &d.host),
                Err(why) => testkit::skip(why),
            })
        })
        .collect();
    let conclusion = harness::run_with(&args, trials);
    if daemon.is_ok() {
        let _ = std::fs::remove_file(busybox_tar());
    }
    drop(daemon);
    let _ = std::io::stdout().flush();
    conclusion.exit();
}
