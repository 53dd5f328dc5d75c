//! Running a step in a child process, so that what it changes about itself
//! (root, namespaces) never affects the narrating parent.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::Command;

use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult, Pid};

use crate::error::{Error, Result};

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Exit {
    /// The status a shell would report: the code, or 128 + the signal.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s as i32,
        }
    }
}

/// Forks; the child runs `body` and exits with the code it returns. Stdout is
/// flushed on both sides so narration from parent and child stays in order.
pub fn spawn(body: impl FnOnce() -> i32) -> Result<Pid> {
    let _ = std::io::stdout().flush();
    // SAFETY: the child only runs `body` and then `_exit`s; the parent's other
    // threads (signal handling) hold no locks the child needs.
    match unsafe { fork() }.map_err(|e| Error::sys("fork", e))? {
        ForkResult::Parent { child } => Ok(child),
        ForkResult::Child => child_main(body),
    }
}

/// The body of a freshly forked or cloned child: default signal handling,
/// run `body`, flush, and `_exit` with its code — never return into the
/// parent's copied stack.
pub fn child_main(body: impl FnOnce() -> i32) -> ! {
    reset_signals();
    // A panic must end the child here: unwinding further would run the
    // parent's clean-up guards (copied by fork) in the child.
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: _exit skips atexit handlers, which belong to the parent.
    unsafe { libc::_exit(code) }
}

/// The parent's signal handlers (clean-up on Ctrl-C) belong to the parent:
/// the child must die from those signals like any program.
fn reset_signals() {
    use nix::sys::signal::{signal, SigHandler};
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: restoring the default disposition installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigDfl) };
    }
}

/// Waits for `child` to end, retrying when a signal interrupts the wait.
pub fn wait(child: Pid) -> Result<Exit> {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(Exit::Signal(signal)),
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys(format!("waitpid {child}"), e)),
        }
    }
}

/// Replaces the calling process with `argv`, searching `PATH` inside the
/// current root. Returns only on failure, with the exit code a shell would
/// use: 127 when the command does not exist, 126 when it cannot be run.
pub fn exec(argv: &[String]) -> (Error, i32) {
    let Some((program, args)) = argv.split_first() else {
        return (Error::Invalid("no command to run".into()), 125);
    };
    tracing::info!(target: "explain", "exec {}", argv.join(" "));
    let err = Command::new(program).args(args).exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound {
        127
    } else {
        126
    };
    (Error::io(program, err), code)
}
