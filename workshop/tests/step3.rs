//! Step 3: a cgroup made by `step3::create` carries the limit in
//! `pids.max`, and a process moved in by `step3::join` cannot fork past it.

use std::path::PathBuf;

use cgroup_demo::{Layout, Version};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use testkit::TestEnv;
use workshop::check::{attempt, ensure, in_child};

/// Where the cgroup `name` of the pids controller is on this host, found
/// independently of the step's code.
fn pids_dir(name: &str) -> PathBuf {
    let layout = Layout::detect().expect("cgroup layout");
    match layout.version() {
        Version::V2 => layout.unified.clone().expect("cgroup2 mount").join(name),
        Version::V1 => layout.v1_root("pids").expect("pids controller").join(name),
    }
}

fn step3_the_cgroup_carries_the_limit() {
    let mut env = TestEnv::root("ws-step3-limit");
    let name = format!("workshop-{}", env.token());
    attempt("step3", || workshop::step3::create(&name, 5)).expect("step3::create");
    let dir = pids_dir(&name);
    let max = std::fs::read_to_string(dir.join("pids.max")).unwrap_or_default();
    assert_eq!(
        max.trim(),
        "5",
        "{}/pids.max: the limit is not written where the pids controller is",
        dir.display()
    );
    attempt("step3", || workshop::step3::remove(&name)).expect("step3::remove");
    assert!(
        !dir.exists(),
        "{} is still there after remove",
        dir.display()
    );
    env.assert_no_leaks();
}

fn step3_a_process_in_it_cannot_fork_past_the_limit() {
    let mut env = TestEnv::root("ws-step3-fork");
    let name = format!("workshop-{}", env.token());
    attempt("step3", || workshop::step3::create(&name, 4)).expect("step3::create");
    let result = in_child("step3", || {
        workshop::step3::join(&name, std::process::id())
            .map_err(|e| format!("step3::join failed: {e}"))?;
        // This process counts too: 3 children fit under 4, then EAGAIN.
        let mut children = Vec::new();
        let mut refused = None;
        for _ in 0..8 {
            // SAFETY: the child only sleeps and exits.
            match unsafe { fork() } {
                Ok(ForkResult::Child) => {
                    std::thread::sleep(std::time::Duration::from_secs(30));
                    unsafe { libc::_exit(0) }
                }
                Ok(ForkResult::Parent { child }) => children.push(child),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        for child in &children {
            let _ = kill(*child, Signal::SIGKILL);
            let _ = waitpid(*child, None);
        }
        ensure(
            refused == Some(nix::errno::Errno::EAGAIN) && children.len() == 3,
            || {
                format!(
                "forked {} children under pids.max = 4 (expected 3, then EAGAIN; got {refused:?}): \
                 is the process in the cgroup (cgroup.procs)?",
                children.len()
            )
            },
        )
    });
    let removed = attempt("step3", || workshop::step3::remove(&name));
    if let Err(e) = result {
        panic!("{e}");
    }
    removed.expect("step3::remove");
    env.assert_no_leaks();
}

testkit::main![
    step3_the_cgroup_carries_the_limit,
    step3_a_process_in_it_cannot_fork_past_the_limit,
];
