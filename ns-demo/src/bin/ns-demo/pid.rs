//! The PID namespace: PID 1, a private process tree, orphans, PID 1's death,
//! and why PID 1 and `docker stop` need care.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use chroot_demo::process::{self, Exit};
use chroot_demo::root;
use narrate::Steps;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use ns_demo::spawn::spawn;
use ns_demo::view::{self, identity};
use ns_demo::{init, Kind};

use crate::common::{fail, meanwhile, ns_label, reaper};

pub fn tree(steps: &mut Steps) -> Result<i32> {
    steps.step("outside, on the host");
    println!(
        "   my pid is {}, {}; /proc lists {} processes",
        std::process::id(),
        ns_label(None, Kind::Pid),
        view::visible_pids(Path::new("/proc")).len()
    );

    steps.step("a child in new PID and mount namespaces mounts its own /proc");
    let child = spawn(&[Kind::Pid, Kind::Mount], |mut channel| {
        let setup = root::make_root_private().and_then(|()| root::mount_proc(Path::new("/proc")));
        if let Err(e) = setup {
            return fail(e);
        }
        println!(
            "   inside:  getpid() = {}, {}",
            std::process::id(),
            ns_label(None, Kind::Pid)
        );
        let orphan = match make_orphan() {
            Ok(pid) => pid,
            Err(e) => return fail(e),
        };
        println!("   inside:  started sleep via a parent that exited at once; /proc lists:");
        for pid in view::visible_pids(Path::new("/proc")) {
            let comm = view::comm(Path::new("/proc"), pid);
            let note = if pid == orphan.as_raw() {
                format!("parent {}: an orphan, adopted by PID 1", parent_of(pid))
            } else {
                "this process".into()
            };
            println!("     {pid:>3} {comm:<8} {note}");
        }
        // PID 1 now exits without stopping its adopted child.
        match channel.send().and_then(|()| channel.recv()) {
            Ok(_) => 0,
            Err(e) => fail(e),
        }
    })?;
    let pid = child.pid;
    let ns = identity(Some(pid), Kind::Pid)?;
    meanwhile(child, || {
        let members = view::pid_namespace_members(ns);
        println!(
            "   outside: the same PID 1 is pid {pid} here; processes in pid:[{ns}]: {}",
            members.len()
        );
        Ok(())
    })?;

    steps.step("PID 1 exited: the kernel killed every other process of its namespace");
    println!(
        "   outside: processes in pid:[{ns}]: {}",
        view::pid_namespace_members(ns).len()
    );
    Ok(0)
}

/// Starts `sleep` through an intermediate process that exits at once, so
/// that `sleep` is orphaned and re-parented to PID 1; returns its PID.
fn make_orphan() -> chroot_demo::Result<Pid> {
    let (mut reader, writer) = std::io::pipe().map_err(|e| chroot_demo::Error::io("pipe", e))?;
    let middle =
        process::spawn(
            move || match std::process::Command::new("sleep").arg("1000").spawn() {
                Ok(sleeper) => {
                    use std::io::Write as _;
                    let _ = (&writer).write_all(&sleeper.id().to_le_bytes());
                    0
                }
                Err(e) => fail(e),
            },
        )?;
    process::wait(middle)?;
    let mut buf = [0u8; 4];
    use std::io::Read as _;
    reader
        .read_exact(&mut buf)
        .map_err(|e| chroot_demo::Error::io("orphan pid", e))?;
    Ok(Pid::from_raw(u32::from_le_bytes(buf) as i32))
}

/// The parent PID field of `/proc/PID/stat`.
fn parent_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1.to_string();
            after.split_whitespace().nth(1).map(str::to_string)
        })
        .unwrap_or_else(|| "?".into())
}

/// Four ways to run an application as PID 1, as `docker stop` sees them.
pub fn signals(steps: &mut Steps, timeout: Duration) -> Result<i32> {
    let app = std::env::current_exe()?.to_string_lossy().into_owned();
    let sleep = vec!["sleep".to_string(), "1000".into()];
    let cases: [(&str, &str, Vec<String>, bool); 4] = [
        (
            "shell form",
            "/bin/sh -c '<app>; echo done' is PID 1; the app has a handler",
            vec![
                "/bin/sh".into(),
                "-c".into(),
                format!("{app} sigterm-app; echo done"),
            ],
            false,
        ),
        (
            "exec, no handler",
            "sleep 1000 is PID 1 and has no SIGTERM handler",
            sleep.clone(),
            false,
        ),
        (
            "exec, handler",
            "the app itself is PID 1 and handles SIGTERM",
            vec![app.clone(), "sigterm-app".into()],
            false,
        ),
        (
            "init, no handler",
            "a minimal init is PID 1 and runs sleep 1000 (docker run --init)",
            sleep,
            true,
        ),
    ];
    let mut results = Vec::new();
    for (form, title, argv, with_init) in cases {
        steps.step(&format!("{form}: {title}"));
        let (exit, took) = stop_case(argv, with_init, timeout)?;
        let how = match exit {
            Exit::Signal(Signal::SIGKILL) => {
                format!("ignored SIGTERM; SIGKILL after {:.1}s", took.as_secs_f64())
            }
            other => format!(
                "ended with status {} {:.0}ms after SIGTERM",
                other.code(),
                took.as_secs_f64() * 1000.0
            ),
        };
        println!("   docker stop: {how}");
        results.push((form, how));
    }
    steps.step("summary");
    for (form, how) in results {
        println!("   {form:<19} {how}");
    }
    println!("   PID 1 receives only the signals it has a handler for, and a shell neither");
    println!("   handles nor forwards SIGTERM. Use the exec form (CMD [\"app\"]) with an app");
    println!("   that handles SIGTERM, or an init (docker run --init) that forwards it to a");
    println!("   command which, no longer PID 1, dies of it by default.");
    Ok(0)
}

/// Runs `argv` as PID 1 (or under the init) of a new PID namespace, waits
/// for the app to be ready, then stops it as `docker stop` does.
fn stop_case(argv: Vec<String>, with_init: bool, timeout: Duration) -> Result<(Exit, Duration)> {
    let child = spawn(&[Kind::Pid], move |_channel| {
        if with_init {
            return init::run(&argv).unwrap_or_else(fail);
        }
        let (err, code) = process::exec(&argv);
        fail(err);
        code
    })?;
    let pid = child.pid;
    let _reap = reaper(pid);
    let ns = identity(Some(pid), Kind::Pid)?;
    wait_for_command(ns)?;
    println!("   docker stop: SIGTERM to PID 1 (pid {pid} on the host)");
    let started = Instant::now();
    kill(pid, Signal::SIGTERM)?;
    while started.elapsed() < timeout {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG))? {
            WaitStatus::Exited(_, code) => return Ok((Exit::Code(code), started.elapsed())),
            WaitStatus::Signaled(_, sig, _) => return Ok((Exit::Signal(sig), started.elapsed())),
            _ => std::thread::sleep(Duration::from_millis(2)),
        }
    }
    kill(pid, Signal::SIGKILL)?;
    let exit = process::wait(pid)?;
    Ok((exit, started.elapsed()))
}

/// Waits until the command runs: a process of the namespace catches
/// SIGTERM (the app installed its handler) or is `sleep` (exec'd).
fn wait_for_command(ns: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let ready = view::pid_namespace_members(ns).into_iter().any(|pid| {
            catches(pid, Signal::SIGTERM) || view::comm(Path::new("/proc"), pid.as_raw()) == "sleep"
        });
        if ready {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    bail!("the command did not start within 10s")
}

fn catches(pid: Pid, signal: Signal) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            let mask = s.lines().find_map(|l| l.strip_prefix("SigCgt:"))?;
            u64::from_str_radix(mask.trim(), 16).ok()
        })
        .is_some_and(|mask| mask & (1 << (signal as u32 - 1)) != 0)
}

/// The hidden `sigterm-app` subcommand: an application written to stop
/// cleanly on SIGTERM.
pub fn sigterm_app() -> Result<i32> {
    let stop = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGTERM, stop.clone())?;
    println!(
        "   app: running as pid {}, waiting for SIGTERM",
        std::process::id()
    );
    while !stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    println!("   app: SIGTERM received, exiting cleanly");
    Ok(0)
}
