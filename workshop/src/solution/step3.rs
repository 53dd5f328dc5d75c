//! Step 3 (lesson 3): a cgroup with a process limit — lesson 3's library,
//! which finds the hierarchies itself and works on v1 and v2 alike. The
//! exercise, with its hints, is `src/learner/step3.rs`.

use cgroup_demo::{Driver, Resolved};

use crate::Result;

/// `mkdir` the cgroup, `echo MAX > pids.max`.
pub fn create(name: &str, max: u64) -> Result<()> {
    let cgroup = Driver::for_host()?.create(name)?;
    let limits = Resolved {
        pids_max: Some(Some(max)),
        ..Resolved::default()
    };
    cgroup.set(&limits)?;
    Ok(())
}

/// `echo PID > cgroup.procs`.
pub fn join(name: &str, pid: u32) -> Result<()> {
    let pid = nix::unistd::Pid::from_raw(pid as i32);
    Ok(Driver::for_host()?.open(name).add(pid)?)
}

/// `rmdir` the cgroup.
pub fn remove(name: &str) -> Result<()> {
    Ok(Driver::for_host()?.open(name).remove()?)
}
