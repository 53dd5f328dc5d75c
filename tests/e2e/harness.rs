//! Tests of the harness itself: the leak checker must catch what it is for.

use std::process::Command;

use testkit::TestEnv;

fn leak_checker_catches_a_leaked_mount() {
    let mut env = TestEnv::root("leak-mount");
    let target = env.path("leaked");
    std::fs::create_dir(&target).unwrap();
    let status = Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&target)
        .status()
        .unwrap();
    assert!(status.success());
    let leaks = env.leaks();
    assert_eq!(leaks, [format!("mount {}", target.display())]);
    nix::mount::umount2(&target, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert!(env.leaks().is_empty());
    env.assert_no_leaks();
}

fn leak_checker_catches_a_leaked_link_and_netns() {
    let mut env = TestEnv::root("leak-link");
    let link = env.name("d");
    let netns = env.name("ns");
    let ok = |args: &[&str]| assert!(Command::new("ip").args(args).status().unwrap().success());
    let peer = env.name("p");
    ok(&["link", "add", &link, "type", "veth", "peer", "name", &peer]);
    ok(&["netns", "add", &netns]);
    let leaks = env.leaks();
    assert!(leaks.contains(&format!("link {link}")), "{leaks:?}");
    assert!(leaks.contains(&format!("link {peer}")), "{leaks:?}");
    assert!(leaks.contains(&format!("netns {netns}")), "{leaks:?}");
    ok(&["link", "delete", &link]);
    ok(&["netns", "delete", &netns]);
    env.assert_no_leaks();
}

fn leak_checker_catches_a_leaked_cgroup_and_process() {
    let mut env = TestEnv::root("leak-cgroup");
    let cgroup = std::path::Path::new("/sys/fs/cgroup/pids").join(env.name("cg"));
    std::fs::create_dir(&cgroup).unwrap();
    let mut sleeper = env.command("sleep").arg("60").spawn().unwrap();
    let leaks = env.leaks();
    assert!(
        leaks.contains(&format!("cgroup {}", cgroup.display())),
        "{leaks:?}"
    );
    assert!(
        leaks
            .iter()
            .any(|l| l.starts_with(&format!("process {} ", sleeper.id()))),
        "{leaks:?}"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    std::fs::remove_dir(&cgroup).unwrap();
    env.assert_no_leaks();
}

fn drop_fails_a_test_that_leaks_and_still_cleans_up() {
    let env = TestEnv::root("leak-drop");
    let target = env.path("m");
    std::fs::create_dir(&target).unwrap();
    assert!(Command::new("mount")
        .args(["-t", "tmpfs", "tmpfs"])
        .arg(&target)
        .status()
        .unwrap()
        .success());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(env)));
    assert!(
        panicked.is_err(),
        "dropping a leaking TestEnv must fail the test"
    );
    assert!(
        !testkit::leaks::mount_points().contains(&*target.to_string_lossy()),
        "the leaked mount was not cleaned up"
    );
}

fn busybox_fixture_is_complete() {
    let rootfs = testkit::busybox_rootfs();
    for path in [
        "bin/busybox",
        "bin/sh",
        "bin/ls",
        "etc/passwd",
        "etc/group",
        "etc/hosts",
    ] {
        assert!(rootfs.join(path).exists(), "{path} missing");
    }
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = std::fs::metadata(rootfs.join("tmp")).unwrap().permissions();
    assert_eq!(tmp.mode() & 0o7777, 0o1777);
}

fn names_are_unique_and_fit_an_interface_name() {
    let a = TestEnv::new("names-a");
    let b = TestEnv::new("names-b");
    assert_ne!(a.token(), b.token());
    assert!(a.name("veth0").len() <= 15);
    assert_ne!(a.dir(), b.dir());
}

fn busybox_rootfs_builds_safely_in_parallel() {
    let env = TestEnv::new("fixture-race");
    let dir = env.path("rootfs");
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    chroot_demo::rootfs::prepare_busybox(
                        &dir,
                        std::path::Path::new(chroot_demo::rootfs::DEFAULT_BUSYBOX),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created = results
        .iter()
        .filter(|r| r.as_ref().unwrap().created)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(dir.join("bin/sh").exists());
    let stray: Vec<_> = std::fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != "rootfs")
        .collect();
    assert!(stray.is_empty(), "temporary trees left: {stray:?}");
}

testkit::main![
    leak_checker_catches_a_leaked_mount,
    leak_checker_catches_a_leaked_link_and_netns,
    leak_checker_catches_a_leaked_cgroup_and_process,
    drop_fails_a_test_that_leaks_and_still_cleans_up,
    busybox_fixture_is_complete,
    names_are_unique_and_fit_an_interface_name,
    busybox_rootfs_builds_safely_in_parallel,
];
