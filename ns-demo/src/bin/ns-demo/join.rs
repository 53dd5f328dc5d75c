//! Every namespace at once, and entering another process's namespaces.

use std::path::Path;

use anyhow::Result;
use chroot_demo::root;
use narrate::{ForegroundChild, Steps};
use nix::unistd::Pid;
use ns_demo::idmap::{self, IdMap, SetGroups};
use ns_demo::spawn::spawn;
use ns_demo::view::identity;
use ns_demo::{join as joinlib, net, Kind};

use crate::common::{exec_if_given, fail, reaper};

/// How many ids the `all` demo maps: the usual 16-bit range, identity-mapped
/// so that root inside is root outside (we run as root anyway).
const ID_RANGE: u32 = 65_536;

pub fn all(steps: &mut Steps, cmd: Vec<String>) -> Result<i32> {
    steps.step("outside, on the host");
    let outside: Vec<(Kind, u64)> = Kind::ALL
        .iter()
        .map(|&k| Ok((k, identity(None, k)?)))
        .collect::<ns_demo::Result<_>>()?;
    println!(
        "   my pid is {}; my namespaces are the 'outside' column below",
        std::process::id()
    );

    steps.step("clone with every CLONE_NEW* flag, then set up the inside like a runtime would");
    let mut child = spawn(&Kind::ALL, move |mut channel| {
        if let Err(e) = crate::user::become_mapped_root(&mut channel) {
            return fail(e);
        }
        let setup = root::make_root_private()
            .and_then(|()| root::mount_proc(Path::new("/proc")))
            .and_then(|()| {
                chroot_demo::error::step("hostname container", || {
                    nix::unistd::sethostname("container")
                })
            })
            .and_then(|()| net::set_up("lo"));
        if let Err(e) = setup {
            return fail(e);
        }
        println!("   {:<7} {:<18} inside", "ns", "outside");
        for (kind, out) in &outside {
            let inside = identity(None, *kind).map_or_else(|e| e.to_string(), |i| i.to_string());
            println!("   {:<7} {:<18} {inside}", kind.proc_name(), out);
        }
        println!(
            "   inside: pid {}, hostname {}, uid {}",
            std::process::id(),
            ns_demo::view::hostname().unwrap_or_default(),
            nix::unistd::Uid::current()
        );
        exec_if_given(&cmd)
    })?;
    let _reap = reaper(child.pid);
    idmap::write(
        child.pid,
        &[IdMap::range(0, 0, ID_RANGE)],
        &[IdMap::range(0, 0, ID_RANGE)],
        SetGroups::Allow,
    )?;
    child.channel.send()?;
    let _fg = ForegroundChild::enter();
    Ok(chroot_demo::process::wait(child.pid)?.code())
}

pub fn join(steps: &mut Steps, target: i32, kinds: &[Kind], cmd: Vec<String>) -> Result<i32> {
    let target = Pid::from_raw(target);
    steps.step(&format!("the namespaces of pid {target}, and mine"));
    let rows: Vec<(Kind, u64, u64)> = kinds
        .iter()
        .map(|&k| Ok((k, identity(Some(target), k)?, identity(None, k)?)))
        .collect::<ns_demo::Result<_>>()?;
    for (kind, theirs, mine) in &rows {
        let same = if theirs == mine { "same" } else { "different" };
        println!(
            "   {:<7} target {:<12} mine {:<12} {same}",
            kind.proc_name(),
            theirs,
            mine
        );
    }

    steps.step("setns into each, user first and mount last, then look again");
    let child = joinlib::spawn_joined(target, kinds, move || {
        for (kind, theirs, _) in &rows {
            let now = identity(None, *kind).map_or_else(|e| e.to_string(), |i| i.to_string());
            let same = if now == theirs.to_string() {
                "same as the target"
            } else {
                "DIFFERENT"
            };
            println!("   {:<7} now {:<12} {same}", kind.proc_name(), now);
        }
        exec_if_given(&cmd)
    })?;
    let _reap = reaper(child);
    let _fg = ForegroundChild::enter();
    Ok(chroot_demo::process::wait(child)?.code())
}
