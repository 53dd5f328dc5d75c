//! Step 2: `step2::run_isolated` runs its body as PID 1 of a new PID
//! namespace, with a `/proc` that shows only that namespace, in a mount
//! namespace whose mounts the host never sees.

use std::io::{Read as _, Write as _};

use testkit::TestEnv;
use workshop::check::{ensure, in_child};

/// What the body checks from inside; an empty string is success.
fn inside() -> String {
    let pid = std::process::id();
    if pid != 1 {
        return format!(
            "the body runs as PID {pid}, not 1: unshare(CLONE_NEWPID) applies to the children \
             created afterwards — fork after it and run the body in the child"
        );
    }
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        })
        .unwrap_or_default();
    if pids != ["1"] {
        return format!(
            "/proc lists processes {pids:?}, not just 1: mount a fresh proc at ROOTFS/proc from \
             inside the new PID namespace (and enter the rootfs)"
        );
    }
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let shared_root = mountinfo.lines().any(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        f.get(4) == Some(&"/")
            && f.iter()
                .take_while(|w| **w != "-")
                .any(|w| w.starts_with("shared:"))
    });
    if shared_root {
        return "/ is a shared mount inside: mount --make-rprivate / first, or the host sees \
                the container's mounts"
            .into();
    }
    String::new()
}

fn step2_the_body_is_pid_1_with_its_own_proc() {
    let mut env = TestEnv::root("ws-step2-pid1");
    let rootfs = env.rootfs();
    let proc_dir = rootfs.join("proc").display().to_string();
    let result = in_child("step2", || {
        let (mut reader, mut writer) = std::io::pipe().map_err(|e| e.to_string())?;
        let code = workshop::step2::run_isolated(&rootfs, move || {
            let verdict = inside();
            let _ = writer.write_all(verdict.as_bytes());
            if verdict.is_empty() {
                0
            } else {
                1
            }
        })
        .map_err(|e| format!("step2::run_isolated failed: {e}"))?;
        let mut verdict = String::new();
        let _ = reader.read_to_string(&mut verdict);
        ensure(verdict.is_empty(), || verdict.clone())?;
        ensure(code == 0, || {
            format!("run_isolated returned {code}, the body returned 0")
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        !testkit::leaks::mount_points().contains(&proc_dir),
        "the proc mount at {proc_dir} appeared on the host: make / private (--make-rprivate) \
         in the new mount namespace before mounting"
    );
    env.assert_no_leaks();
}

fn step2_the_exit_code_comes_back() {
    let mut env = TestEnv::root("ws-step2-exit");
    let rootfs = env.rootfs();
    let result = in_child("step2", || {
        let code = workshop::step2::run_isolated(&rootfs, || 7)
            .map_err(|e| format!("step2::run_isolated failed: {e}"))?;
        ensure(code == 7, || {
            format!("run_isolated returned {code} for a body that returned 7: wait for the child and return its exit code")
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    env.assert_no_leaks();
}

testkit::main![
    step2_the_body_is_pid_1_with_its_own_proc,
    step2_the_exit_code_comes_back,
];
