//! Step 4: an overlay mounted by `step4::mount` shows the lower layer,
//! keeps every change in the upper one (new files, copy-ups, whiteouts)
//! and serves as a container's root; `step4::unmount` takes it down.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::TestEnv;
use workshop::check::attempt;

/// `upper`, `work` and `merged`, fresh and empty, under the test's directory.
fn dirs(env: &TestEnv) -> (PathBuf, PathBuf, PathBuf) {
    let [upper, work, merged] = ["upper", "work", "merged"].map(|d| env.path(d));
    for d in [&upper, &work, &merged] {
        std::fs::create_dir_all(d).unwrap();
    }
    (upper, work, merged)
}

fn mounted(path: &Path) -> bool {
    testkit::leaks::mount_points().contains(&path.display().to_string())
}

fn step4_changes_go_to_the_upper_layer() {
    let mut env = TestEnv::root("ws-step4-layers");
    let lower = env.path("lower");
    std::fs::create_dir_all(lower.join("etc")).unwrap();
    std::fs::write(lower.join("etc/motd"), "from the image\n").unwrap();
    std::fs::write(lower.join("etc/doomed"), "delete me\n").unwrap();
    let (upper, work, merged) = dirs(&env);
    attempt("step4", || {
        workshop::step4::mount(&lower, &upper, &work, &merged)
    })
    .expect("step4::mount");
    assert!(
        mounted(&merged),
        "nothing is mounted at {}",
        merged.display()
    );
    let read = |p: &str| std::fs::read_to_string(merged.join(p)).unwrap_or_default();
    assert_eq!(
        read("etc/motd"),
        "from the image\n",
        "the lower layer's file shows through"
    );

    std::fs::write(merged.join("new"), "created\n").unwrap();
    assert!(upper.join("new").exists(), "a new file lands in upper");
    std::fs::write(merged.join("etc/motd"), "changed\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(upper.join("etc/motd")).unwrap_or_default(),
        "changed\n",
        "a changed lower file is copied up"
    );
    assert_eq!(
        std::fs::read_to_string(lower.join("etc/motd")).unwrap(),
        "from the image\n",
        "the lower layer is never written"
    );
    std::fs::remove_file(merged.join("etc/doomed")).unwrap();
    let whiteout = std::fs::symlink_metadata(upper.join("etc/doomed"));
    assert!(
        whiteout.is_ok_and(|m| m.file_type().is_char_device() && m.rdev() == 0),
        "a deleted lower file leaves a whiteout (character device 0:0) in upper"
    );
    assert!(lower.join("etc/doomed").exists() && !merged.join("etc/doomed").exists());

    attempt("step4", || workshop::step4::unmount(&merged)).expect("step4::unmount");
    assert!(!mounted(&merged), "{} is still mounted", merged.display());
    assert!(
        upper.join("new").exists(),
        "upper keeps the changes after unmount"
    );
    env.assert_no_leaks();
}

fn step4_the_overlay_is_a_container_root() {
    let mut env = TestEnv::root("ws-step4-root");
    let lower = env.rootfs();
    let (upper, work, merged) = dirs(&env);
    attempt("step4", || {
        workshop::step4::mount(&lower, &upper, &work, &merged)
    })
    .expect("step4::mount");
    // A shell of the image, chrooted into the merged view, changes it.
    let root = merged.clone();
    let mut shell = Command::new("/bin/sh");
    shell.args([
        "-c",
        "echo hello > /greeting && rm /bin/ls && test ! -e /bin/ls",
    ]);
    // SAFETY: chroot and chdir are async-signal-safe.
    unsafe {
        shell.pre_exec(move || {
            std::os::unix::fs::chroot(&root)?;
            std::env::set_current_dir("/")
        });
    }
    let out = shell.output().expect("run a shell in the overlay");
    let unmounted = attempt("step4", || workshop::step4::unmount(&merged));
    assert!(
        out.status.success(),
        "the shell in the overlay root: {out:?}"
    );
    unmounted.expect("step4::unmount");
    assert_eq!(
        std::fs::read_to_string(upper.join("greeting")).unwrap(),
        "hello\n"
    );
    assert!(lower.join("bin/ls").exists(), "the image keeps its ls");
    assert!(upper.join("bin/ls").exists(), "upper holds ls's whiteout");
    env.assert_no_leaks();
}

testkit::main![
    step4_changes_go_to_the_upper_layer,
    step4_the_overlay_is_a_container_root,
];
