//! A minimal init for PID 1 (what `docker run --init` adds, like tini).
//!
//! PID 1 of a PID namespace is special: the kernel delivers it only the
//! signals it has a handler for (SIGKILL from an ancestor namespace aside),
//! and every orphan in the namespace becomes its child. A shell or an
//! application that was not written to be PID 1 therefore ignores
//! `docker stop`'s SIGTERM and leaves zombies behind. This init runs the
//! real command as its child in a process group of its own, forwards every
//! catchable terminating signal to that group, reaps every child, and exits
//! with the command's status.

use nix::sys::signal::{killpg, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{setpgid, Pid};

use chroot_demo::process::{self, Exit};

use crate::{Error, Result};

/// Signals passed on to the command.
const FORWARDED: [Signal; 7] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// Runs `argv` under the init and returns its exit code (128 + signal when
/// killed). Call it as the body of a namespace's PID 1.
pub fn run(argv: &[String]) -> Result<i32> {
    tracing::info!(target: "explain", "init: run {} as a child, forward signals, reap", argv.join(" "));
    let argv = argv.to_vec();
    run_with(
        move || {
            let (err, code) = process::exec(&argv);
            eprintln!("init: {err}");
            code
        },
        || {},
    )
}

/// [`run`] with the caller's own `command` body (it execs the command, and
/// may report a failed exec its own way); `spawned` runs in the init once
/// the command's process exists (to close descriptors only it needs).
pub fn run_with(command: impl FnOnce() -> i32, spawned: impl FnOnce()) -> Result<i32> {
    let mut waited = SigSet::empty();
    for s in FORWARDED {
        waited.add(s);
    }
    waited.add(Signal::SIGCHLD);
    // Blocked signals stay pending until sigwait takes them: none is lost
    // between here and the loop, and none interrupts the loop elsewhere.
    waited
        .thread_block()
        .map_err(|e| Error::sys("sigprocmask", e))?;
    let child = process::spawn(move || {
        let _ = waited.thread_unblock();
        let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
        command()
    })?;
    spawned();
    // Also from this side, so the group exists before the first forward.
    let _ = setpgid(child, child);
    loop {
        let signal = waited.wait().map_err(|e| Error::sys("sigwait", e))?;
        if signal != Signal::SIGCHLD {
            let _ = killpg(child, signal);
            continue;
        }
        if let Some(exit) = reap(child) {
            return Ok(exit.code());
        }
    }
}

/// Reaps every exited child; returns the command's exit once it is among them.
fn reap(command: Pid) -> Option<Exit> {
    let mut result = None;
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => {
                result = Some(Exit::Code(code));
            }
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == command => {
                result = Some(Exit::Signal(signal));
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return result,
            Ok(_) => {}
        }
    }
}
