//! Step 1: after `step1::enter`, the rootfs is `/` — its files and its
//! shell — and the host's files are out of reach, `..` included.

use std::path::Path;
use std::process::{Command, Stdio};

use testkit::TestEnv;
use workshop::check::{ensure, in_child};

fn step1_the_rootfs_becomes_slash() {
    let mut env = TestEnv::root("ws-step1-root");
    let rootfs = env.rootfs();
    std::fs::write(rootfs.join("step1-marker"), env.token()).unwrap();
    let token = env.token().to_string();
    let host_dir = env.dir().to_path_buf();
    let result = in_child("step1", || {
        workshop::step1::enter(&rootfs).map_err(|e| format!("step1::enter failed: {e}"))?;
        let marker = std::fs::read_to_string("/step1-marker").unwrap_or_default();
        ensure(marker == token, || {
            "/step1-marker is not the rootfs's file: is `rootfs` the new root (chroot)?".into()
        })?;
        // Outside the root, getcwd fails (ENOENT) or names a host path.
        let cwd = std::env::current_dir().ok();
        ensure(cwd.as_deref() == Some(Path::new("/")), || {
            format!(
                "the working directory is {} after enter, not `/`: chroot does not move it, \
                 so `..` still leads out (lesson 1's escape). cd / after the chroot",
                cwd.map_or("outside the new root".into(), |c| c.display().to_string())
            )
        })?;
        ensure(!host_dir.exists(), || {
            format!("the host's {} is still reachable", host_dir.display())
        })?;
        ensure(
            std::fs::canonicalize("/..").is_ok_and(|p| p == Path::new("/")),
            || "`/..` leads somewhere other than `/`".into(),
        )
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    env.assert_no_leaks();
}

fn step1_the_shell_is_the_rootfs_shell() {
    let mut env = TestEnv::root("ws-step1-shell");
    let rootfs = env.rootfs();
    let result = in_child("step1", || {
        workshop::step1::enter(&rootfs).map_err(|e| format!("step1::enter failed: {e}"))?;
        // `/bin/sh` is looked up in the new root: busybox's. (Its stdin
        // is a pipe: the rootfs has no /dev/null to open.)
        let out = Command::new("/bin/sh")
            .args(["-c", "echo in $(pwd) with $(readlink /bin/sh)"])
            .stdin(Stdio::piped())
            .output()
            .map_err(|e| format!("/bin/sh in the rootfs: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        ensure(text.trim() == "in / with /bin/busybox", || {
            format!(
                "the rootfs's shell printed {text:?}, not \"in / with /bin/busybox\" \
                 (an empty `pwd`: the working directory is outside the new root)"
            )
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    env.assert_no_leaks();
}

testkit::main![
    step1_the_rootfs_becomes_slash,
    step1_the_shell_is_the_rootfs_shell,
];
