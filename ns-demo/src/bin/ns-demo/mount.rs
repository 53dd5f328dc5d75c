//! The mount namespace: private mounts, then propagation between peers.

use std::path::Path;

use anyhow::{ensure, Result};
use chroot_demo::error::{step, step_io};
use chroot_demo::root;
use narrate::{Cleanup, Steps};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use ns_demo::spawn::{spawn, Channel};
use ns_demo::view::is_mount_point;
use ns_demo::Kind;

use crate::common::{fail, meanwhile, ns_label, ready_and_wait};

const NONE: Option<&str> = None;

pub fn run(steps: &mut Steps) -> Result<i32> {
    let scratch = std::env::temp_dir().join(format!("ns-demo-mount-{}", std::process::id()));
    std::fs::create_dir_all(scratch.join("private"))?;
    std::fs::create_dir_all(scratch.join("shared"))?;
    let _remove = Cleanup::new({
        let scratch = scratch.clone();
        move || {
            let _ = std::fs::remove_dir_all(&scratch);
        }
    });
    let target = scratch.join("private");

    steps.step("outside, on the host");
    println!("   {}", ns_label(None, Kind::Mount));
    describe(&target, "outside");

    steps.step("a child in a new mount namespace mounts a tmpfs there");
    let child = spawn(&[Kind::Mount], |mut channel| {
        let made = root::make_root_private()
            .and_then(|()| mount_tmpfs(&target))
            .and_then(|()| {
                step_io("echo hello > hello.txt", || {
                    std::fs::write(target.join("hello.txt"), "hello\n")
                })
            });
        if let Err(e) = made {
            return fail(e);
        }
        println!("   inside:  {}", ns_label(None, Kind::Mount));
        describe(&target, "inside");
        ready_and_wait(&mut channel)
    })?;
    let exit = meanwhile(child, || {
        describe(&target, "outside");
        Ok(())
    })?;
    ensure!(exit.code() == 0, "the mount child failed");

    steps.step("propagation: what crosses between a mount and its copy in a new namespace");
    println!("   (played out in a scratch namespace standing in for the host, so the real host is untouched)");
    let shared = scratch.join("shared");
    let sandbox = spawn(&[Kind::Mount], |_channel| {
        propagation_table(&shared).map_or_else(fail, |()| 0)
    })?;
    let _reap = crate::common::reaper(sandbox.pid);
    let code = chroot_demo::process::wait(sandbox.pid)?.code();
    Ok(code)
}

/// `mount --bind SOURCE TARGET`: the propagation events of the table.
fn bind(source: &Path, target: &Path) -> chroot_demo::Result<()> {
    step(
        format!("mount --bind {} {}", source.display(), target.display()),
        || mount(Some(source), target, NONE, MsFlags::MS_BIND, NONE),
    )
}

fn mount_tmpfs(target: &Path) -> chroot_demo::Result<()> {
    step(format!("mount -t tmpfs tmpfs {}", target.display()), || {
        mount(Some("tmpfs"), target, Some("tmpfs"), MsFlags::empty(), NONE)
    })
}

fn describe(target: &Path, side: &str) {
    let entries: Vec<String> = std::fs::read_dir(target)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let what = if is_mount_point(target) {
        "a tmpfs mount point"
    } else {
        "a plain directory"
    };
    let listing = if entries.is_empty() {
        "empty".to_string()
    } else {
        entries.join(" ")
    };
    let side = format!("{side}:");
    println!("   {side:<8} {} is {what}: {listing}", target.display());
}

/// Runs in the scratch "host" namespace: makes `dir` a shared tmpfs, then
/// for each propagation type lets a new namespace set its copy of `dir` to
/// that type, bind-mounts on both sides and reports who sees what.
fn propagation_table(dir: &Path) -> chroot_demo::Result<()> {
    root::make_root_private()?;
    mount_tmpfs(dir)?;
    let source = dir.join("source");
    std::fs::create_dir(&source).map_err(|e| chroot_demo::Error::io(&source, e))?;
    step(format!("mount --make-shared {}", dir.display()), || {
        mount(NONE, dir, NONE, MsFlags::MS_SHARED, NONE)
    })?;
    println!(
        "   {:<8} | host mounts, container sees | container mounts, host sees",
        "type"
    );
    for (name, flag) in [
        ("private", MsFlags::MS_PRIVATE),
        ("shared", MsFlags::MS_SHARED),
        ("slave", MsFlags::MS_SLAVE),
    ] {
        let from_host = dir.join(format!("from-host-{name}"));
        let from_container = dir.join(format!("from-container-{name}"));
        for d in [&from_host, &from_container] {
            std::fs::create_dir_all(d).map_err(|e| chroot_demo::Error::io(d, e))?;
        }
        let (fh, fc, src) = (from_host.clone(), from_container.clone(), source.clone());
        let mut peer = spawn(&[Kind::Mount], move |mut channel| {
            container_side(&mut channel, dir, flag, name, &src, &fh, &fc).map_or_else(fail, |()| 0)
        })?;
        let _reap = crate::common::reaper(peer.pid);
        let io = |e| chroot_demo::Error::io("channel to the container", e);
        // The container has set its propagation type...
        peer.channel.recv().map_err(io)?;
        bind(&source, &from_host)?;
        peer.channel.send().map_err(io)?;
        // ...looked for our mount and made its own.
        let container_sees = peer.channel.recv_value().map_err(io)? == Some(1);
        let host_sees = is_mount_point(&from_container);
        peer.channel.send().map_err(io)?;
        chroot_demo::process::wait(peer.pid)?;
        println!(
            "   {name:<8} | {:<27} | {}",
            yes_no(container_sees),
            yes_no(host_sees)
        );
        for m in [&from_container, &from_host] {
            let _ = umount2(m.as_path(), MntFlags::MNT_DETACH);
        }
    }
    Ok(())
}

/// The container's half of one row: set the type, look, mount, report.
fn container_side(
    channel: &mut Channel,
    dir: &Path,
    flag: MsFlags,
    name: &str,
    source: &Path,
    from_host: &Path,
    from_container: &Path,
) -> chroot_demo::Result<()> {
    let io = |e| chroot_demo::Error::io("channel to the host", e);
    step(format!("mount --make-{name} {}", dir.display()), || {
        mount(NONE, dir, NONE, flag, NONE)
    })?;
    channel.send().map_err(io)?;
    channel.recv().map_err(io)?;
    let sees = is_mount_point(from_host);
    bind(source, from_container)?;
    channel.send_value(u8::from(sees)).map_err(io)?;
    channel.recv().map_err(io)?;
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}
