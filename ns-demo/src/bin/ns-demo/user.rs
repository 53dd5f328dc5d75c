//! The user namespace: root inside, an ordinary uid outside.

use anyhow::{ensure, Result};
use chroot_demo::error::step;
use narrate::Steps;
use nix::unistd::{Gid, Uid};
use ns_demo::idmap::{self, IdMap, SetGroups};
use ns_demo::spawn::{spawn, Child};
use ns_demo::view;
use ns_demo::Kind;

use crate::common::{fail, meanwhile, ns_label, ready_and_wait};

/// The unprivileged host uid that stands for root inside (step 2 and 3).
const OUTSIDE: u32 = 100_000;
/// The unprivileged user of step 4.
const NOBODY: u32 = 65_534;

pub fn run(steps: &mut Steps) -> Result<i32> {
    steps.step("outside, on the host");
    println!(
        "   uid {}, capabilities {:#x}, hostname {}, {}",
        Uid::current(),
        view::effective_capabilities()?,
        view::hostname()?,
        ns_label(None, Kind::User)
    );

    steps.step(&format!(
        "a child in a new user namespace; the parent maps uid/gid 0 inside to {OUTSIDE} outside"
    ));
    let child = spawn(&[Kind::User], |mut channel| {
        if let Err(e) = become_mapped_root(&mut channel) {
            return fail(e);
        }
        report_inside();
        try_hostname("ns-demo-user");
        ready_and_wait(&mut channel)
    })?;
    let exit = mapped(child, OUTSIDE, SetGroups::Allow, |pid| {
        println!(
            "   outside: the same process runs as uid {}",
            view::uid_of(pid)?
        );
        Ok(())
    })?;
    ensure!(exit == 0, "the user-namespace child failed");

    steps.step(
        "with a UTS namespace created together with the user namespace, the hostname is ours",
    );
    let child = spawn(&[Kind::User, Kind::Uts], |mut channel| {
        if let Err(e) = become_mapped_root(&mut channel) {
            return fail(e);
        }
        try_hostname("ns-demo-user");
        ready_and_wait(&mut channel)
    })?;
    let exit = mapped(child, OUTSIDE, SetGroups::Allow, |_| {
        println!("   outside: hostname {} (unchanged)", view::hostname()?);
        Ok(())
    })?;
    ensure!(exit == 0, "the user+uts child failed");

    steps.step(&format!(
        "no root needed: an unprivileged process (uid {NOBODY}) does the same"
    ));
    let unprivileged = chroot_demo::process::spawn(unprivileged_container)?;
    let _reap = crate::common::reaper(unprivileged);
    Ok(chroot_demo::process::wait(unprivileged)?.code())
}

/// Writes the child's id maps (inside 0 → `outside`), lets it go, and
/// reports from outside while it waits.
fn mapped(
    mut child: Child,
    outside: u32,
    setgroups: SetGroups,
    report: impl FnOnce(nix::unistd::Pid) -> Result<()>,
) -> Result<i32> {
    let pid = child.pid;
    idmap::write(
        pid,
        &[IdMap::single(0, outside)],
        &[IdMap::single(0, outside)],
        setgroups,
    )?;
    child.channel.send()?;
    Ok(meanwhile(child, || report(pid))?.code())
}

/// In the child: wait for the parent's maps, then switch to uid/gid 0 of
/// the new namespace. Writing a map changes no process's credentials; until
/// this `setresuid`, the child still has its old ids, which are unmapped
/// inside (shown as 65534, the overflow id).
pub fn become_mapped_root(channel: &mut ns_demo::spawn::Channel) -> anyhow::Result<()> {
    anyhow::ensure!(channel.recv()?, "the parent did not write the id maps");
    step(
        "setresgid 0 0 0; setresuid 0 0 0   # become root of the namespace",
        || {
            let root_gid = Gid::from_raw(0);
            let root_uid = Uid::from_raw(0);
            nix::unistd::setresgid(root_gid, root_gid, root_gid)?;
            nix::unistd::setresuid(root_uid, root_uid, root_uid)
        },
    )?;
    Ok(())
}

fn report_inside() {
    let maps = idmap::read_own("uid_map")
        .map(|m| {
            m.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_else(|e| e.to_string());
    println!(
        "   inside:  uid {} gid {}, {}, uid_map: {maps}",
        Uid::current(),
        Gid::current(),
        ns_label(None, Kind::User)
    );
    match view::effective_capabilities() {
        Ok(caps) => println!(
            "   inside:  capabilities {caps:#x}: all of them, over this namespace's resources"
        ),
        Err(e) => println!("   inside:  capabilities: {e}"),
    }
}

/// Tries `sethostname` and says what happened and why.
fn try_hostname(name: &str) {
    match step(format!("hostname {name}"), || nix::unistd::sethostname(name)) {
        Ok(()) => println!(
            "   inside:  hostname {name}: allowed, the UTS namespace belongs to our user namespace"
        ),
        Err(e) => println!(
            "   inside:  hostname {name}: {} — the UTS namespace is the host's, owned by the host's user namespace",
            e.errno().map_or_else(|| e.to_string(), |n| n.to_string())
        ),
    }
}

/// Step 4, in a child that first drops to `nobody`: it creates a user
/// namespace itself and maps only its own uid, as `unshare --user
/// --map-root-user` does for any user.
fn unprivileged_container() -> i32 {
    let drop = step(
        format!("setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups"),
        || {
            nix::unistd::setgroups(&[])?;
            nix::unistd::setgid(Gid::from_raw(NOBODY))?;
            nix::unistd::setuid(Uid::from_raw(NOBODY))
        },
    );
    if let Err(e) = drop {
        return fail(e);
    }
    // Changing uid made this process non-dumpable, which gives its
    // children's /proc files to root: we could not write their id maps.
    // SAFETY: PR_SET_DUMPABLE takes plain integers.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 1, 0, 0, 0) };
    println!(
        "   outside: now uid {}, capabilities {:#x}",
        Uid::current(),
        view::effective_capabilities().unwrap_or(u64::MAX)
    );
    let child = spawn(&[Kind::User, Kind::Uts], |mut channel| {
        if let Err(e) = become_mapped_root(&mut channel) {
            return fail(e);
        }
        report_inside();
        try_hostname("rootless");
        ready_and_wait(&mut channel)
    });
    // An unprivileged writer must deny setgroups and map only its own ids.
    match child.map_err(anyhow::Error::from).and_then(|child| {
        mapped(child, NOBODY, SetGroups::Deny, |pid| {
            println!(
                "   outside: the same process runs as uid {}",
                view::uid_of(pid)?
            );
            Ok(())
        })
    }) {
        Ok(code) => code,
        Err(e) => fail(format!("{e:#}")),
    }
}
