//! Small pieces every namespace demo uses.

use anyhow::{bail, Result};
use chroot_demo::process::{self, Exit};
use narrate::Cleanup;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use ns_demo::spawn::Child;
use ns_demo::view::identity;
use ns_demo::Kind;

/// `uts:[4026531838]`, as `ls -l /proc/PID/ns` shows it.
pub fn ns_label(pid: Option<Pid>, kind: Kind) -> String {
    match identity(pid, kind) {
        Ok(id) => format!("{kind}:[{id}]"),
        Err(e) => format!("{kind}:? ({e})"),
    }
}

/// Kills and reaps `pid` if the demo ends early (error, SIGTERM, Ctrl-C).
pub fn reaper(pid: Pid) -> Cleanup {
    Cleanup::new(move || {
        if kill(pid, Signal::SIGKILL).is_ok() {
            let _ = process::wait(pid);
        }
    })
}

/// The choreography most demos share: the child reports from inside and
/// says it is ready; the parent reports from outside while the child still
/// lives; then the child is released and reaped.
pub fn meanwhile(mut child: Child, outside: impl FnOnce() -> Result<()>) -> Result<Exit> {
    let _reap = reaper(child.pid);
    if !child.channel.recv()? {
        let exit = process::wait(child.pid)?;
        bail!("the child ended early ({exit:?}); see its message above");
    }
    outside()?;
    child.channel.send()?;
    Ok(process::wait(child.pid)?)
}

/// In a child: report an error and turn it into an exit code.
pub fn fail(e: impl std::fmt::Display) -> i32 {
    eprintln!("ns-demo: {e}");
    1
}

/// In a child: tell the parent we are ready and wait until it is done.
pub fn ready_and_wait(channel: &mut ns_demo::spawn::Channel) -> i32 {
    match channel.send().and_then(|()| channel.recv()) {
        Ok(_) => 0,
        Err(e) => fail(e),
    }
}

/// In a child, at the end of a demo: become `cmd` if one was given (as
/// `exec` would), otherwise just finish.
pub fn exec_if_given(cmd: &[String]) -> i32 {
    if cmd.is_empty() {
        return 0;
    }
    println!("== exec {}", cmd.join(" "));
    let (err, code) = process::exec(cmd);
    fail(err);
    code
}
