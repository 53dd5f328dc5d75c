//! `spawn_in`: a child born in a cgroup v2 directory by `clone3` with
//! `CLONE_INTO_CGROUP`, on the real kernel. Any cgroup2 mount will do: on a
//! unified host it is `/sys/fs/cgroup`; on this hybrid host the empty
//! cgroup2 mount (it has no controllers, but tracks processes like any).
//! The child reads `/proc/self/cgroup` before anything could move it.

use std::os::fd::{AsFd as _, OwnedFd};
use std::path::PathBuf;

use chroot_demo::process::{self, Exit};
use ns_demo::spawn::{spawn_in, Placement};
use testkit::TestEnv;

/// Where cgroup2 is mounted, if anywhere.
fn cgroup2_mount() -> Option<PathBuf> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    mountinfo.lines().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let mount_point = left.split(' ').nth(4)?;
        (right.split(' ').next() == Some("cgroup2")).then(|| PathBuf::from(mount_point))
    })
}

fn open_dir(path: &std::path::Path) -> OwnedFd {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(path)
        .unwrap()
        .into()
}

/// The child's first look at its cgroup: exit 0 when it is `expected`.
fn born_in(expected: String) -> impl FnOnce(ns_demo::spawn::Channel) -> i32 {
    move |_channel| {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        if own.lines().any(|l| l == format!("0::{expected}")) {
            0
        } else {
            eprintln!("child's cgroups: {own}");
            1
        }
    }
}

fn the_child_starts_in_the_given_cgroup() {
    let mut env = TestEnv::root("clone3-cgroup");
    let Some(mount) = cgroup2_mount() else {
        testkit::skip("no cgroup2 mount on this host");
    };
    let name = env.name("born");
    let dir = mount.join(&name);
    std::fs::create_dir(&dir).unwrap();
    let fd = open_dir(&dir);

    // From this (multi-threaded) test: through the intermediate.
    let child = spawn_in(&[], Some(fd.as_fd()), born_in(format!("/{name}"))).unwrap();
    assert_eq!(child.placement, Placement::Born);
    drop(child.channel);
    assert_eq!(process::wait(child.pid).unwrap(), Exit::Code(0));

    // From a single-threaded process (as mini-docker's monitor is): cloned
    // directly, with new namespaces too.
    let expected = format!("/{name}");
    let fd_raw = fd.as_fd();
    let helper = process::spawn(move || {
        let child = match spawn_in(
            &[ns_demo::Kind::Uts, ns_demo::Kind::Pid],
            Some(fd_raw),
            born_in(expected),
        ) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return 3;
            }
        };
        if child.placement != Placement::Born {
            return 2;
        }
        drop(child.channel);
        match process::wait(child.pid) {
            Ok(Exit::Code(code)) => code,
            _ => 4,
        }
    })
    .unwrap();
    assert_eq!(process::wait(helper).unwrap(), Exit::Code(0));

    std::fs::remove_dir(&dir).unwrap();
    env.assert_no_leaks();
}

fn a_descriptor_that_is_no_cgroup_is_an_error_not_a_fallback() {
    // EBADF from the kernel is a real failure: nothing is cloned.
    let env = TestEnv::new("clone3-notcg");
    let dir = env.path("plain");
    std::fs::create_dir_all(&dir).unwrap();
    let fd = open_dir(&dir);
    let err = spawn_in(&[], Some(fd.as_fd()), |_| 0).unwrap_err();
    assert!(err.to_string().contains("clone"), "{err}");
}

testkit::main![
    the_child_starts_in_the_given_cgroup,
    a_descriptor_that_is_no_cgroup_is_an_error_not_a_fallback,
];
