//! The namespaces that isolate one kind of name each: UTS, IPC, network,
//! cgroup.

use std::path::PathBuf;

use anyhow::{ensure, Context as _, Result};
use chroot_demo::error::{step, step_io};
use narrate::{Cleanup, Steps};
use ns_demo::spawn::spawn;
use ns_demo::view::{self, Hierarchy};
use ns_demo::{ipc as sysv, join, net as netlib, persist, Kind};

use crate::common::{fail, meanwhile, ns_label, ready_and_wait};

pub fn uts(steps: &mut Steps, name: &str) -> Result<i32> {
    steps.step("outside, on the host");
    let host = view::hostname()?;
    println!("   hostname {host}, {}", ns_label(None, Kind::Uts));

    steps.step(&format!(
        "a child in a new UTS namespace sets the hostname to {name}"
    ));
    let child = spawn(&[Kind::Uts], |mut channel| {
        if let Err(e) = step(format!("hostname {name}"), || {
            nix::unistd::sethostname(name)
        }) {
            return fail(e);
        }
        let inside = view::hostname().unwrap_or_else(|e| e.to_string());
        println!(
            "   inside:  hostname {inside}, {}",
            ns_label(None, Kind::Uts)
        );
        ready_and_wait(&mut channel)
    })?;
    let exit = meanwhile(child, || {
        println!(
            "   outside: hostname {}, {} (unchanged)",
            view::hostname()?,
            ns_label(None, Kind::Uts)
        );
        Ok(())
    })?;
    Ok(exit.code())
}

/// An easily recognised System V key: "nsdm".
const KEY: i32 = 0x6e73_646d;

pub fn ipc(steps: &mut Steps) -> Result<i32> {
    steps.step("outside, on the host");
    println!("   {}", ns_label(None, Kind::Ipc));
    report_ipc("outside")?;

    steps.step("a child in a new IPC namespace creates a shared-memory segment and a queue");
    let child = spawn(&[Kind::Ipc], |mut channel| {
        let made = sysv::create_shm(KEY, 4096).and_then(|shm| Ok((shm, sysv::create_queue(KEY)?)));
        if let Err(e) = made {
            return fail(e);
        }
        println!("   inside:  {}", ns_label(None, Kind::Ipc));
        if let Err(e) = report_ipc("inside") {
            return fail(e);
        }
        ready_and_wait(&mut channel)
    })?;
    let exit = meanwhile(child, || {
        println!("   meanwhile on the host:");
        report_ipc("outside")
    })?;
    steps.step("the child exits: its IPC namespace and both objects are gone");
    report_ipc("outside")?;
    Ok(exit.code())
}

/// Whether the demo's key is among the IPC objects visible here (`ipcs`).
fn report_ipc(side: &str) -> Result<()> {
    for (kind, flag, what) in [
        ("shm", "m", "shared-memory segment"),
        ("msg", "q", "message queue"),
    ] {
        let found = view::sysv_objects(kind)?
            .into_iter()
            .find(|(key, _)| *key == KEY);
        let side = format!("{side}:");
        match found {
            Some((_, id)) => println!("   {side:<8} ipcs -{flag}: {what} key 0x{KEY:08x} id {id}"),
            None => println!("   {side:<8} ipcs -{flag}: no {what} with key 0x{KEY:08x}"),
        }
    }
    Ok(())
}

fn show_interfaces(side: &str) -> Result<()> {
    let list = view::interfaces()?;
    let shown: Vec<String> = list
        .iter()
        .map(|i| format!("{} ({})", i.name, if i.up { "UP" } else { "DOWN" }))
        .collect();
    let side = format!("{side}:");
    println!("   {side:<8} interfaces {}", shown.join(", "));
    Ok(())
}

fn show_loopback(side: &str) {
    let side = format!("{side}:");
    match netlib::loopback_connect() {
        Ok(()) => println!("   {side:<8} connect to 127.0.0.1 works"),
        Err(e) => println!("   {side:<8} connect to 127.0.0.1: {e}"),
    }
}

pub fn net(steps: &mut Steps) -> Result<i32> {
    steps.step("outside, on the host");
    println!("   {}", ns_label(None, Kind::Net));
    show_interfaces("outside")?;

    steps.step("a child in a new network namespace");
    let keep = PathBuf::from(format!("/run/netns/ns-demo-{}", std::process::id()));
    let _release = Cleanup::new({
        let keep = keep.clone();
        move || {
            let _ = persist::release(&keep);
        }
    });
    let child = spawn(&[Kind::Net], |mut channel| {
        let inside = || -> ns_demo::Result<()> {
            println!("   inside:  {}", ns_label(None, Kind::Net));
            show_interfaces("inside").map_err(|e| ns_demo::Error::Invalid(e.to_string()))?;
            show_loopback("inside");
            netlib::set_up("lo")?;
            show_interfaces("inside").map_err(|e| ns_demo::Error::Invalid(e.to_string()))?;
            show_loopback("inside");
            Ok(())
        };
        if let Err(e) = inside() {
            return fail(e);
        }
        ready_and_wait(&mut channel)
    })?;
    let pid = child.pid;
    let ns_id = view::identity(Some(pid), Kind::Net)?;
    let exit = meanwhile(child, || {
        println!("   meanwhile on the host, nothing changed:");
        show_interfaces("outside")?;
        steps.step("keep the namespace alive after its last process exits, as `ip netns add` does");
        persist::persist(pid, Kind::Net, &keep)?;
        println!("   bind-mounted /proc/{pid}/ns/net onto {}", keep.display());
        Ok(())
    })?;
    ensure!(exit.code() == 0, "the child failed");

    steps.step("the child has exited; enter the kept namespace, as `ip netns exec` does");
    let kept_inode = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&keep)?);
    println!(
        "   {} is net:[{kept_inode}], the child's was net:[{ns_id}]",
        keep.display()
    );
    let handles = join::open_path(&keep, Kind::Net)?;
    let visitor = chroot_demo::process::spawn(move || {
        if let Err(e) = handles.enter() {
            return fail(e);
        }
        match show_interfaces("inside") {
            Ok(()) => 0,
            Err(e) => fail(e),
        }
    })?;
    let _reap = crate::common::reaper(visitor);
    chroot_demo::process::wait(visitor)?;

    steps.step("remove the bind mount: nothing refers to the namespace any more, so it is freed");
    persist::release(&keep)?;
    println!("   {} removed", keep.display());
    Ok(0)
}

pub fn cgroup(steps: &mut Steps) -> Result<i32> {
    let hierarchy = Hierarchy::find()?;
    let label = match &hierarchy.controller {
        None => "the unified (v2) hierarchy".to_string(),
        Some(c) => format!("the v1 {c} hierarchy"),
    };
    steps.step("outside, on the host");
    println!(
        "   {}; my cgroup in {label}: {}",
        ns_label(None, Kind::Cgroup),
        hierarchy.cgroup_of(None)?
    );

    let name = format!("ns-demo-{}", std::process::id());
    let dir = hierarchy.mount_point.join(&name);
    steps.step(&format!("make a cgroup {name} and start a child in it"));
    step_io(format!("mkdir {}", dir.display()), || {
        std::fs::create_dir(&dir)
    })?;
    let _remove = Cleanup::new({
        let dir = dir.clone();
        move || {
            let _ = std::fs::remove_dir(&dir);
        }
    });
    let procs = dir.join("cgroup.procs");
    let hier = hierarchy.clone();
    let child = spawn(&[], move |mut channel| {
        let entered = step_io(format!("echo $$ > {}", procs.display()), || {
            std::fs::write(&procs, "0")
        });
        if let Err(e) = entered {
            return fail(e);
        }
        let before = hier.cgroup_of(None).unwrap_or_else(|e| e.to_string());
        println!("   child, before unshare: my cgroup is {before}");
        if let Err(e) = ns_demo::spawn::unshare(&[Kind::Cgroup]) {
            return fail(e);
        }
        let after = hier.cgroup_of(None).unwrap_or_else(|e| e.to_string());
        println!(
            "   child, in its own cgroup namespace ({}): my cgroup is {after}",
            ns_label(None, Kind::Cgroup)
        );
        ready_and_wait(&mut channel)
    })?;
    let pid = child.pid;
    let exit = meanwhile(child, || {
        println!(
            "   outside: /proc/{pid}/cgroup says {}",
            hierarchy.cgroup_of(Some(pid))?
        );
        Ok(())
    })
    .context("cgroup demo")?;
    steps.step(&format!("the child has exited; remove {}", dir.display()));
    Ok(exit.code())
}

/// `clean`: what demos killed with SIGKILL left: kept network namespaces,
/// cgroups and the mount demo's scratch directories.
pub fn clean() -> Result<i32> {
    let dead = |name: &str| narrate::left_by_dead_run(name, "ns-demo-");
    if let Ok(entries) = std::fs::read_dir("/run/netns") {
        for entry in entries
            .flatten()
            .filter(|e| dead(&e.file_name().to_string_lossy()))
        {
            persist::release(&entry.path())?;
            println!("removed {}", entry.path().display());
        }
    }
    let hierarchy = Hierarchy::find()?;
    for entry in std::fs::read_dir(&hierarchy.mount_point)?.flatten() {
        if entry.path().is_dir() && dead(&entry.file_name().to_string_lossy()) {
            std::fs::remove_dir(entry.path())?;
            println!("removed {}", entry.path().display());
        }
    }
    for entry in std::fs::read_dir(std::env::temp_dir())?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if narrate::left_by_dead_run(&name, "ns-demo-mount-") {
            std::fs::remove_dir_all(entry.path())?;
            println!("removed {}", entry.path().display());
        }
    }
    Ok(0)
}
