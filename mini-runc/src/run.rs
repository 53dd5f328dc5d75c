//! `run`: `create`, then `start`; in the foreground, mini-runc stays the
//! container's parent, forwards the signals it gets, and exits with the
//! container's status once it is gone (deleting it, as runc does).

use nix::sys::signal::{SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::create::{self, Options};
use crate::{lifecycle, Error, Result};

/// Signals a foreground `run` or `exec` passes on to the container.
const FORWARDED: [Signal; 8] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
    Signal::SIGCONT,
];

pub fn run(o: &Options) -> Result<i32> {
    let (c, mut errors) = create::create(o)?;
    // Blocked before the container can exit, so no SIGCHLD is missed.
    let mask = mask();
    mask.thread_block().map_err(Error::sys("sigprocmask"))?;
    if let Err(e) = lifecycle::release(&c) {
        let _ = lifecycle::delete(&o.root, &o.id, true);
        let mut message = String::new();
        let _ = std::io::Read::read_to_string(&mut errors, &mut message);
        return Err(if message.is_empty() {
            e
        } else {
            Error::Child(message)
        });
    }

    lifecycle::run_poststart(&c);
    if o.detach {
        return Ok(0);
    }
    let code = wait_blocked(Pid::from_raw(c.record.pid), &mask);
    // A failure between start and execve (dropping privileges) is only
    // on the error pipe now.
    let mut message = String::new();
    let _ = std::io::Read::read_to_string(&mut errors, &mut message);
    if !message.is_empty() {
        crate::log::error(&message);
    }
    lifecycle::destroy(&c)?;
    code
}

fn mask() -> SigSet {
    let mut mask = SigSet::empty();
    for s in FORWARDED {
        mask.add(s);
    }
    mask.add(Signal::SIGCHLD);
    mask
}

/// Waits for `pid` (our child), passing signals on; its exit status as a
/// shell reports it.
pub fn wait_forwarding(pid: Pid) -> Result<i32> {
    let mask = mask();
    mask.thread_block().map_err(Error::sys("sigprocmask"))?;
    wait_blocked(pid, &mask)
}

fn wait_blocked(pid: Pid, mask: &SigSet) -> Result<i32> {
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(128 + signal as i32),
            Ok(_) => {}
            Err(nix::errno::Errno::ECHILD) => return Ok(0),
            Err(e) => return Err(Error::Sys("waitpid".into(), e)),
        }
        let signal = mask.wait().map_err(Error::sys("sigwait"))?;
        if signal != Signal::SIGCHLD {
            let _ = nix::sys::signal::kill(pid, signal);
        }
    }
}
