//! The library API mini-docker builds on, on the real kernel.

use nix::unistd::Pid;
use ns_demo::idmap::{self, IdMap, SetGroups};
use ns_demo::spawn::spawn;
use ns_demo::view::identity;
use ns_demo::{join, persist, Kind};
use testkit::TestEnv;

fn wait(pid: Pid) -> i32 {
    chroot_demo::process::wait(pid).unwrap().code()
}

fn spawned_child_waits_for_the_parent_and_is_in_new_namespaces() {
    let _env = TestEnv::root("lib-spawn");
    let host_uts = identity(None, Kind::Uts).unwrap();
    let mut child = spawn(&[Kind::Uts, Kind::Pid], |mut channel| {
        // PID 1 of its namespace, held until the parent says go.
        if std::process::id() != 1 || !channel.recv().unwrap() {
            return 3;
        }
        7
    })
    .unwrap();
    assert_ne!(identity(Some(child.pid), Kind::Uts).unwrap(), host_uts);
    assert_ne!(
        identity(Some(child.pid), Kind::Pid).unwrap(),
        identity(None, Kind::Pid).unwrap()
    );
    child.channel.send().unwrap();
    assert_eq!(wait(child.pid), 7);
}

fn id_maps_are_written_and_seen_inside() {
    let _env = TestEnv::root("lib-idmap");
    let mut child = spawn(&[Kind::User], |mut channel| {
        channel.recv().unwrap();
        let maps = idmap::read_own("uid_map").unwrap();
        i32::from(maps != [IdMap::range(0, 200_000, 1000)])
    })
    .unwrap();
    idmap::write(
        child.pid,
        &[IdMap::range(0, 200_000, 1000)],
        &[IdMap::range(0, 200_000, 1000)],
        SetGroups::Deny,
    )
    .unwrap();
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{}/setgroups", child.pid)).unwrap(),
        "deny\n"
    );
    child.channel.send().unwrap();
    assert_eq!(wait(child.pid), 0);
}

fn a_persisted_namespace_outlives_its_process_and_can_be_joined() {
    let env = TestEnv::root("lib-persist");
    let mut child = spawn(&[Kind::Uts], |mut channel| {
        nix::unistd::sethostname("tk-persisted").unwrap();
        channel.send().unwrap();
        channel.recv().unwrap();
        0
    })
    .unwrap();
    assert!(child.channel.recv().unwrap());
    let id = identity(Some(child.pid), Kind::Uts).unwrap();
    let keep = env.path("uts-ns");
    persist::persist(child.pid, Kind::Uts, &keep).unwrap();
    child.channel.send().unwrap();
    assert_eq!(wait(child.pid), 0);

    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(std::fs::metadata(&keep).unwrap().ino(), id);
    let handles = join::open_path(&keep, Kind::Uts).unwrap();
    let visitor = chroot_demo::process::spawn(move || {
        handles.enter().unwrap();
        i32::from(nix::unistd::gethostname().unwrap() != "tk-persisted")
    })
    .unwrap();
    assert_eq!(wait(visitor), 0, "joined the kept namespace");
    persist::release(&keep).unwrap();
    assert!(!keep.exists());
    persist::release(&keep).unwrap();
}

fn spawn_joined_enters_a_pid_namespace_for_real() {
    let _env = TestEnv::root("lib-join");
    let mut target = spawn(&[Kind::Pid, Kind::Uts], |mut channel| {
        nix::unistd::sethostname("tk-target").unwrap();
        channel.send().unwrap();
        channel.recv().unwrap();
        0
    })
    .unwrap();
    assert!(target.channel.recv().unwrap());
    let target_pid_ns = identity(Some(target.pid), Kind::Pid).unwrap();
    let joined = join::spawn_joined(target.pid, &[Kind::Pid, Kind::Uts], move || {
        // In the target's PID namespace, as a new process (PID 1 is taken).
        let ok = identity(None, Kind::Pid).unwrap() == target_pid_ns
            && std::process::id() > 1
            && nix::unistd::gethostname().unwrap() == "tk-target";
        i32::from(!ok)
    })
    .unwrap();
    assert_eq!(wait(joined), 0);
    target.channel.send().unwrap();
    assert_eq!(wait(target.pid), 0);
}

fn init_forwards_sigterm_and_reports_the_commands_status() {
    let _env = TestEnv::root("lib-init");
    let child = spawn(&[Kind::Pid], |_channel| {
        ns_demo::init::run(&[
            "/bin/sh".into(),
            "-c".into(),
            "exec 2>/dev/null; trap 'exit 42' TERM; while :; do sleep 0.05; done".into(),
        ])
        .unwrap_or(99)
    })
    .unwrap();
    // Until the shell has set its trap, SIGTERM would kill it with 143.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let ns = identity(Some(child.pid), Kind::Pid).unwrap();
        let trapped = ns_demo::view::pid_namespace_members(ns)
            .into_iter()
            .any(|p| {
                std::fs::read_to_string(format!("/proc/{p}/status"))
                    .unwrap_or_default()
                    .lines()
                    .find_map(|l| l.strip_prefix("SigCgt:"))
                    .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                    .is_some_and(|m| m & (1 << 14) != 0)
            });
        if trapped {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    nix::sys::signal::kill(child.pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(wait(child.pid), 42);
}

testkit::main![
    spawned_child_waits_for_the_parent_and_is_in_new_namespaces,
    id_maps_are_written_and_seen_inside,
    a_persisted_namespace_outlives_its_process_and_can_be_joined,
    spawn_joined_enters_a_pid_namespace_for_real,
    init_forwards_sigterm_and_reports_the_commands_status,
];
