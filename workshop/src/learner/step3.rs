//! Step 3 (lesson 3, `lessons/03-cgroups.md`): a cgroup with a process
//! limit — what `docker run --pids-limit N` sets up.
//!
//! A cgroup is a directory in a cgroup filesystem: `mkdir` makes one, the
//! files inside are its settings, writing a PID to `cgroup.procs` moves
//! that process in, and `rmdir` removes it once it is empty. The `pids`
//! controller's `pids.max` caps how many processes (and threads) the
//! cgroup may hold: one more `fork` fails with `EAGAIN`. The tests create
//! a cgroup with your [`create`], check its `pids.max`, move a process in
//! with [`join`] and count how many children it can fork, then remove it
//! with [`remove`].
//!
//! Where the directory is depends on the host (lesson 3, "v1, hybrid and
//! v2"):
//! - cgroup v2 (`/sys/fs/cgroup/cgroup.controllers` exists): one tree,
//!   `/sys/fs/cgroup/NAME/pids.max`;
//! - cgroup v1 or hybrid: one tree per controller,
//!   `/sys/fs/cgroup/pids/NAME/pids.max`.
//!
//! `cat /proc/self/cgroup` and `ls /sys/fs/cgroup` show which one you
//! have. Write a small helper that returns the directory for `name`.
//!
//! Check your work: `cargo test -p workshop --features learner --test step3`.

use crate::Result;

/// Creates the cgroup `name` (a directory in the hierarchy that has the
/// `pids` controller: `std::fs::create_dir`) and caps it at `max`
/// processes (`std::fs::write(dir.join("pids.max"), max.to_string())`).
pub fn create(name: &str, max: u64) -> Result<()> {
    todo!("step3: mkdir the cgroup `name` where the pids controller is, and write `max` to its pids.max")
}

/// Moves the process `pid` into the cgroup `name`: write the PID to the
/// cgroup's `cgroup.procs`. Its future children are born there too.
pub fn join(name: &str, pid: u32) -> Result<()> {
    todo!("step3: write `pid` to the cgroup's cgroup.procs")
}

/// Removes the cgroup `name`: `std::fs::remove_dir` (never
/// `remove_dir_all`: the kernel's files in it cannot be deleted; an empty
/// cgroup goes with its directory). It must hold no process any more.
pub fn remove(name: &str) -> Result<()> {
    todo!("step3: rmdir the cgroup `name`")
}
