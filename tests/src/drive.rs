//! Driving a program as a user at a terminal would: run it to completion,
//! or start it as a foreground job and press Ctrl-C.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::TestEnv;

/// How long [`wait_until`] waits.
const PATIENCE: Duration = Duration::from_secs(20);

impl TestEnv {
    /// Runs `program args` to completion (stdin closed). `names(pid)` lists
    /// the names the program derives from its PID (`ns-demo-1234`), which
    /// the leak check then watches.
    pub fn run(
        &mut self,
        program: &str,
        args: &[&str],
        names: impl Fn(u32) -> Vec<String>,
    ) -> Output {
        let child = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        for name in names(child.id()) {
            self.watch(&name);
        }
        child.wait_with_output().expect("wait for the program")
    }

    /// [`run`](Self::run), asserting success; returns stdout.
    pub fn run_ok(
        &mut self,
        program: &str,
        args: &[&str],
        names: impl Fn(u32) -> Vec<String>,
    ) -> String {
        let out = self.run(program, args, names);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{args:?} failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Starts `program args` as a terminal's foreground job: in a process
    /// group of its own (so [`ctrl_c`] reaches it and its children), stdout
    /// discarded, stdin piped so the test can press Enter.
    pub fn start_job(
        &mut self,
        program: &str,
        args: &[&str],
        names: impl Fn(u32) -> Vec<String>,
    ) -> Child {
        let mut cmd: Command = self.command(program);
        cmd.args(args).stdin(Stdio::piped()).stdout(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        for name in names(child.id()) {
            self.watch(&name);
        }
        child
    }
}

/// Polls `done` until it holds; fails the test after a generous timeout.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Ctrl-C as a terminal delivers it: SIGINT to the job's whole process
/// group. Returns the job's exit code.
pub fn ctrl_c(job: &mut Child) -> Option<i32> {
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(job.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("send SIGINT to the job");
    job.wait().expect("wait for the job").code()
}

/// SIGKILL to the job's whole process group: no handler runs, nothing is
/// cleaned up — what a crash or `kill -9` leaves.
pub fn kill_9(job: &mut Child) {
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(job.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .expect("send SIGKILL to the job");
    let _ = job.wait();
}
