//! overlay-demo as a workshop runs it.

use testkit::{ctrl_c, wait_until, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_overlay-demo");

/// Runs the demo; its `overlay-demo-<pid>` scratch dir and mounts are
/// watched by the leak check.
fn demo(env: &mut TestEnv, args: &[&str]) -> String {
    env.run_ok(BIN, args, names)
}

fn names(pid: u32) -> Vec<String> {
    vec![format!("overlay-demo-{pid}")]
}

fn tour_shows_copy_up_whiteouts_and_opaque_dirs() {
    let mut env = TestEnv::root("ovl-tour");
    let out = demo(&mut env, &["tour"]);
    assert!(
        out.contains("upper/config.txt: color=blue | color=red"),
        "{out}"
    );
    assert!(
        out.contains("lower/config.txt: color=blue (untouched)"),
        "{out}"
    );
    assert!(
        out.contains("c---------      0,0 readme.txt   <- whiteout"),
        "{out}"
    );
    assert!(
        out.contains(" dir   <- opaque (trusted.overlay.opaque=y)"),
        "{out}"
    );
    let diff: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("docker diff"))
        .skip(1)
        .take_while(|l| !l.starts_with("=="))
        .map(str::trim)
        .collect();
    assert_eq!(
        diff,
        [
            "C /config.txt",
            "C /dir",
            "A /dir/c.txt",
            "D /keep.txt",
            "A /moved.txt",
            "A /new.txt",
            "D /readme.txt"
        ]
    );
}

fn share_keeps_containers_apart() {
    let mut env = TestEnv::root("ovl-share");
    let out = demo(&mut env, &["share"]);
    let c2: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("c2/merged/"))
        .skip(1)
        .take(1)
        .collect();
    assert!(c2[0].ends_with(" app.conf"), "{out}");
    assert!(
        !out.contains("c2/merged/\n     -rw-r--r--       11 hello.txt"),
        "{out}"
    );
}

fn layers_read_top_down() {
    let mut env = TestEnv::root("ovl-layers");
    let out = demo(&mut env, &["layers"]);
    assert!(out.contains("lowerdir=l3:l2:l1 merged"), "{out}");
    assert!(out.contains("cat who.txt: layer 3"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let merged: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.trim().starts_with("merged/"))
        .skip(1)
        .take(3)
        .collect();
    assert!(merged.iter().all(|l| !l.contains("gone.txt")), "{out}");
}

fn diff_lists_an_upper_dir() {
    let mut env = TestEnv::root("ovl-diff");
    std::fs::create_dir_all(env.path("lower/etc")).unwrap();
    std::fs::write(env.path("lower/etc/hosts"), "x").unwrap();
    std::fs::create_dir_all(env.path("upper/etc")).unwrap();
    std::fs::write(env.path("upper/etc/hosts"), "y").unwrap();
    std::fs::write(env.path("upper/added"), "z").unwrap();
    let out = demo(&mut env, &["diff", "upper", "--lower", "lower"]);
    assert_eq!(out, "A /added\nC /etc\nC /etc/hosts\n");
}

fn cow_cost_copies_the_whole_file_once() {
    let mut env = TestEnv::root("ovl-cow");
    let out = demo(&mut env, &["cow-cost", "--size", "8m"]);
    assert!(out.contains("upper/big.bin exists: false"), "{out}");
    assert!(out.contains("upper/big.bin is now 8 MiB"), "{out}");
}

/// `overlay-demo --pause tour`, paused before step 2 with its overlay
/// mounted; returns the job, its scratch dir and the merged mount point.
fn tour_paused_with_its_overlay_mounted(
    env: &mut TestEnv,
) -> (std::process::Child, std::path::PathBuf, std::path::PathBuf) {
    let job = env.start_job(BIN, &["--pause", "tour"], names);
    let scratch = std::env::temp_dir().join(format!("overlay-demo-{}", job.id()));
    let merged = scratch.join("merged");
    wait_until("the overlay mount", || {
        testkit::leaks::mount_points().contains(&*merged.to_string_lossy())
    });
    (job, scratch, merged)
}

/// Ctrl-C while the overlay is mounted unmounts it and removes the scratch dir.
fn interrupted_demo_unmounts() {
    let mut env = TestEnv::root("ovl-interrupt");
    let (mut job, scratch, merged) = tour_paused_with_its_overlay_mounted(&mut env);
    assert_eq!(ctrl_c(&mut job), Some(130));
    assert!(!scratch.exists(), "scratch left behind");
    assert!(!testkit::leaks::mount_points().contains(&*merged.to_string_lossy()));
}

/// After `kill -9` no handler runs; `clean` unmounts and removes the rest.
fn clean_removes_what_a_killed_demo_left() {
    let mut env = TestEnv::root("ovl-clean");
    let (mut job, scratch, merged) = tour_paused_with_its_overlay_mounted(&mut env);
    testkit::kill_9(&mut job);
    assert!(scratch.exists(), "kill -9 ran no clean-up");
    let out = demo(&mut env, &["clean"]);
    assert!(
        out.contains(&format!("removed {}", scratch.display())),
        "{out}"
    );
    assert!(!scratch.exists());
    assert!(!testkit::leaks::mount_points().contains(&*merged.to_string_lossy()));
}

testkit::main![
    tour_shows_copy_up_whiteouts_and_opaque_dirs,
    share_keeps_containers_apart,
    layers_read_top_down,
    diff_lists_an_upper_dir,
    cow_cost_copies_the_whole_file_once,
    interrupted_demo_unmounts,
    clean_removes_what_a_killed_demo_left,
];
