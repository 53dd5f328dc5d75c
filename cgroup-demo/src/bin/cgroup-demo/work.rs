//! The demo's cgroups and the worker processes that run in them.

use anyhow::{Context as _, Result};
use cgroup_demo::{Cgroup, Driver, Limits, Resolved};
use chroot_demo::process::{self, Exit};
use narrate::{Cleanup, Steps};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ns_demo::spawn::spawn;

/// The demo's own parent cgroup, `cgroup-demo-<pid>`, removed (with every
/// child cgroup and process in it) on every exit path.
pub struct Sandbox {
    pub driver: Driver,
    pub parent: Cgroup,
    children: Vec<Cgroup>,
    _cleanup: Cleanup,
}

impl Sandbox {
    pub fn new() -> Result<Self> {
        let driver = Driver::for_host()?;
        let parent = driver.create(format!("cgroup-demo-{}", std::process::id()))?;
        let doomed = parent.clone();
        let cleanup = Cleanup::new(move || {
            // After Ctrl-C this runs on the signal thread while the main
            // thread may still be creating a child cgroup or a worker:
            // try again until nothing is left.
            for _ in 0..10 {
                let destroyed = doomed.destroy().is_ok();
                if destroyed && !doomed.dirs().iter().any(|d| d.exists()) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        });
        Ok(Sandbox {
            driver,
            parent,
            children: Vec::new(),
            _cleanup: cleanup,
        })
    }

    /// A child cgroup `name` with `limits` (checked beforehand with
    /// [`checked`]) applied; warnings are printed.
    pub fn child(&mut self, name: &str, limits: &Resolved) -> Result<Cgroup> {
        let cgroup = self.driver.create(self.parent.path().join(name))?;
        self.children.push(cgroup.clone());
        for warning in cgroup.set(limits)? {
            println!("   warning: {warning}");
        }
        Ok(cgroup)
    }

    /// Kills what is left and removes the child cgroups now (the parent
    /// goes with the sandbox).
    pub fn clear(&mut self) -> Result<()> {
        for cgroup in self.children.drain(..) {
            cgroup.kill_all()?;
            cgroup.remove()?;
        }
        Ok(())
    }
}

/// `clean`: what demos killed with SIGKILL left: their `cgroup-demo-<pid>`
/// cgroups and every process still in them.
pub fn clean() -> Result<i32> {
    let driver = Driver::for_host()?;
    for cgroup in driver.open("").children()? {
        let name = cgroup.path().display().to_string();
        if narrate::left_by_dead_run(&name, "cgroup-demo-") {
            cgroup.destroy()?;
            println!("removed cgroup {name}");
        }
    }
    Ok(0)
}

/// Docker's checks, before anything is created or narrated.
pub fn checked(limits: Limits) -> Result<Resolved> {
    Ok(limits.resolve(online_cpus())?)
}

pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Starts `body` in a child that is put into `cgroup` before it runs a
/// single instruction of `body` — so nothing escapes the limits.
pub fn start_in(cgroup: &Cgroup, body: impl FnOnce() -> i32) -> Result<Pid> {
    let mut child = spawn(&[], |mut channel| match channel.recv() {
        Ok(true) => body(),
        _ => 1,
    })?;
    cgroup.add(child.pid)?;
    child.channel.send()?;
    Ok(child.pid)
}

/// Kills and reaps a worker if the demo ends early.
pub fn reaper(pid: Pid) -> Cleanup {
    Cleanup::new(move || {
        if kill(pid, Signal::SIGKILL).is_ok() {
            let _ = process::wait(pid);
        }
    })
}

pub fn stop(pid: Pid) -> Result<Exit> {
    let _ = kill(pid, Signal::SIGKILL);
    Ok(process::wait(pid)?)
}

/// `--pids-limit`: a process in the cgroup forks until the kernel says no.
pub fn pids(steps: &mut Steps, max: i64) -> Result<i32> {
    let limits = checked(Limits {
        pids_limit: Some(max),
        ..Default::default()
    })?;
    let mut sandbox = Sandbox::new()?;
    steps.step(&format!("a cgroup with pids.max = {max}"));
    let cgroup = sandbox.child("bomb", &limits)?;

    steps.step("a fork bomb inside: fork until fork fails, every child waits forever");
    let (reader, writer) = std::io::pipe()?;
    let bomb = start_in(&cgroup, move || fork_until_refused(writer))?;
    let _reap = reaper(bomb);
    // One line, not to end-of-file: the bomb's children hold the pipe open.
    let mut report = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(reader), &mut report)
        .context("reading the bomb's report")?;
    println!("   {}", report.trim_end());
    let stats = cgroup.stats()?;
    println!(
        "   pids.current = {}: the limit holds, whatever the bomb does",
        stats.pids
    );

    steps.step("meanwhile the host is fine");
    let probe = process::spawn(|| 0)?;
    println!("   the host forked pid {probe} without trouble");
    process::wait(probe)?;

    steps.step("kill every process in the cgroup, then remove it");
    cgroup.kill_all()?;
    sandbox.clear()?;
    println!("   done: the cgroup is gone");
    Ok(0)
}

/// The bomb: fork children that pause, until fork fails; report how far it
/// got through `report` (the write end of a pipe), then wait to be killed.
fn fork_until_refused(report: std::io::PipeWriter) -> i32 {
    use std::io::Write as _;
    let mut forked = 0;
    let error = loop {
        // SAFETY: the child only pauses until it is killed.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => loop {
                nix::unistd::pause();
            },
            Ok(nix::unistd::ForkResult::Parent { .. }) => forked += 1,
            Err(e) => break e,
        }
        if forked >= 10_000 {
            break nix::errno::Errno::UnknownErrno;
        }
    };
    let mut report = report;
    let why = std::io::Error::from_raw_os_error(error as i32);
    let _ = writeln!(
        report,
        "the bomb forked {forked} processes, then fork failed: {error:?} ({why})"
    );
    drop(report);
    loop {
        nix::unistd::pause();
    }
}
