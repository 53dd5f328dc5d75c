//! Device access: a node in /dev is not a permission. The cgroup decides,
//! from a v1 allow-list or a v2 eBPF program built from the same rules.

use anyhow::Result;
use cgroup_demo::devices::{self, Rules};
use cgroup_demo::{Limits, Version};
use chroot_demo::process::{self, Exit};
use narrate::{Cleanup, Steps};
use nix::fcntl::OFlag;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

use crate::work::{checked, reaper, start_in, Sandbox};

/// What the child tried, one bit each: a failure sets the bit.
const PROBES: [&str; 3] = [
    "open /dev/null for writing",
    "mknod a block node with /dev/sda's numbers (8:0)",
    "open that node for reading",
];

pub fn devices(steps: &mut Steps) -> Result<i32> {
    let rules = Rules::container_default();
    steps.step("Docker's device rules for a container: deny everything, then allow a few");
    for rule in &rules.0 {
        let verdict = if rule.allow { "allow" } else { "deny " };
        println!("   {verdict} {rule}");
    }

    let mut sandbox = Sandbox::new()?;
    let version = sandbox.driver.version();
    steps.step("cgroup v2 has no devices files: the rules become an eBPF program");
    println!("   the kernel runs it on every open and mknod of a device node, with the");
    println!("   node's type (1 block, 2 char), numbers and access (1 mknod, 2 read, 4 write):");
    for line in devices::listing(&devices::program(&rules)) {
        println!("   {line}");
    }
    match version {
        Version::V1 => {
            steps.step("this host is cgroup v1: the rules go, as text, to devices.allow")
        }
        Version::V2 => {
            steps.step("this host is cgroup v2: the program is loaded and attached to the cgroup")
        }
    }
    let cgroup = sandbox.child("devices", &checked(Limits::default())?)?;
    cgroup.set_devices(&rules)?;

    steps.step("a process in the cgroup, with every capability (CAP_MKNOD too), tries a host disk");
    let dir = tempdir()?;
    let node = dir.join("sda");
    let (doomed_node, doomed_dir) = (node.clone(), dir.clone());
    let _remove = Cleanup::new(move || {
        let _ = std::fs::remove_file(&doomed_node);
        let _ = std::fs::remove_dir(&doomed_dir);
    });
    let node_for_child = node.clone();
    let pid = start_in(&cgroup, move || {
        let mut failed = 0;
        if nix::fcntl::open("/dev/null", OFlag::O_WRONLY, Mode::empty()).is_err() {
            failed |= 1;
        }
        let made = mknod(
            &node_for_child,
            SFlag::S_IFBLK,
            Mode::from_bits_truncate(0o600),
            makedev(8, 0),
        );
        if made.is_err() {
            failed |= 2;
        }
        if nix::fcntl::open(&node_for_child, OFlag::O_RDONLY, Mode::empty()).is_err() {
            failed |= 4;
        }
        failed
    })?;
    let _reap = reaper(pid);
    let failed = match process::wait(pid)? {
        Exit::Code(code) => code,
        other => anyhow::bail!("the probe ended with {other:?}"),
    };
    for (bit, probe) in PROBES.iter().enumerate() {
        let outcome = if failed & (1 << bit) == 0 {
            "allowed"
        } else {
            "refused: Operation not permitted"
        };
        println!("   {probe}: {outcome}");
    }
    sandbox.clear()?;
    Ok(0)
}

/// A private directory for the node (removed again by the caller).
fn tempdir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("cgroup-demo-devices-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
