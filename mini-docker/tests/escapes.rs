//! Escapes from a default container, each a test that must fail: the
//! probe (`tests/src/bin/escape-probe.rs`, copied with its libraries into
//! a busybox image) tries one known way out and the test asserts the
//! kernel refused every attempt. Run on cgroup v1 here and on cgroup v2 in
//! the QEMU lane (scripts/v2-lane/tests.list).

mod support;

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;
use testkit::TestEnv;

/// The program interpreter (`PT_INTERP`) of an ELF file, if it has one.
fn interpreter(elf: &[u8]) -> Option<PathBuf> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).find_map(|i| {
        let ph = phoff + i * phentsize;
        (u32::from_le_bytes(elf[ph..ph + 4].try_into().unwrap()) == 3).then(|| {
            let (off, len) = (u64_at(ph + 8), u64_at(ph + 32));
            let path = &elf[off..off + len];
            PathBuf::from(
                String::from_utf8_lossy(path.strip_suffix(b"\0").unwrap_or(path)).into_owned(),
            )
        })
    })
}

/// The shared libraries `bin` loads (and its loader), as the loader itself
/// lists them (`ld.so --list`, what `ldd` runs).
fn libraries(bin: &Path) -> Vec<PathBuf> {
    let Some(loader) = interpreter(&std::fs::read(bin).unwrap()) else {
        return Vec::new();
    };
    let out = Command::new(&loader)
        .arg("--list")
        .arg(bin)
        .output()
        .unwrap();
    let mut libs: Vec<PathBuf> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let path = l.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect();
    libs.push(loader);
    libs
}

/// A store "root" with the image `probe`: busybox plus the escape probe.
fn with_probe(name: &str) -> TestEnv {
    let env = with_busybox(name, &[]);
    let rootfs = env.rootfs();
    let probe = testkit::bin("escape-probe");
    std::fs::copy(&probe, rootfs.join("bin/escape-probe")).unwrap();
    for lib in libraries(&probe) {
        let dst = rootfs.join(lib.strip_prefix("/").unwrap());
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&lib, &dst).unwrap();
    }
    let tar = env.path("probe.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    ok(&env, &["import", tar.to_str().unwrap(), "probe"]);
    env
}

/// Runs the probe in a default container (plus `flags`); every attempt
/// must be refused. Returns the probe's report.
fn attempt(env: &TestEnv, flags: &[&str], probe: &[&str]) -> String {
    let mut args = vec!["run", "--rm"];
    args.extend(flags);
    args.extend(["probe", "escape-probe"]);
    args.extend(probe);
    let out = md_in(env, "root", &args);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    let attempts = report
        .lines()
        .filter(|l| l.starts_with("refused: ") || l.starts_with("ESCAPED: "))
        .count();
    assert!(
        out.status.success() && !report.contains("ESCAPED") && attempts > 0,
        "escape {probe:?} not refused (exit {:?}):\n{report}{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{probe:?}: {attempts} attempts, all refused\n{report}");
    report
}

fn chroot_escape() {
    let mut env = with_probe("md-esc-chroot");
    // A path only the host has: the test's own directory.
    let marker = env.path("host-only-marker");
    std::fs::write(&marker, "host").unwrap();
    attempt(&env, &[], &["chroot", marker.to_str().unwrap()]);
    assert_settled(&mut env);
}

fn mount_is_refused() {
    let mut env = with_probe("md-esc-mount");
    attempt(&env, &[], &["mount"]);
    assert_settled(&mut env);
}

fn a_user_namespace_gains_nothing_outside() {
    let mut env = with_probe("md-esc-unshare");
    attempt(&env, &[], &["unshare"]);
    assert_settled(&mut env);
}

fn sysrq_and_proc_sys_are_read_only() {
    let mut env = with_probe("md-esc-proc");
    attempt(&env, &[], &["proc"]);
    assert_settled(&mut env);
}

/// The first block device the host lists (8:0 if none).
fn host_disk() -> (String, String) {
    let partitions = std::fs::read_to_string("/proc/partitions").unwrap_or_default();
    partitions
        .lines()
        .skip(2)
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4 && !f[3].starts_with("loop"))
                .then(|| (f[0].to_string(), f[1].to_string()))
        })
        .unwrap_or(("8".into(), "0".into()))
}

fn mknod_of_a_host_disk_cannot_be_opened() {
    let mut env = with_probe("md-esc-mknod");
    let (major, minor) = host_disk();
    attempt(&env, &[], &["mknod", &major, &minor]);
    assert_settled(&mut env);
}

fn ptrace_of_an_outside_process_is_refused() {
    let mut env = with_probe("md-esc-ptrace");
    let mut outside = env.command("sleep").arg("60").spawn().unwrap();
    let pid = outside.id().to_string();
    attempt(&env, &[], &["ptrace", &pid]);
    // And the host's init, which every PID namespace hides.
    attempt(&env, &[], &["ptrace", "1"]);
    outside.kill().unwrap();
    outside.wait().unwrap();
    assert_settled(&mut env);
}

fn open_by_handle_at_is_refused() {
    let mut env = with_probe("md-esc-shocker");
    attempt(&env, &[], &["shocker"]);
    assert_settled(&mut env);
}

fn the_hosts_cgroup_files_are_out_of_reach() {
    let mut env = with_probe("md-esc-cgroup");
    let report = attempt(&env, &[], &["cgroup"]);
    assert!(report.contains("mkdir under /sys/fs/cgroup"), "{report}");
    assert_settled(&mut env);
}

fn host_abstract_sockets_are_unreachable_without_a_network() {
    let mut env = with_probe("md-esc-abstract");
    use std::os::linux::net::SocketAddrExt as _;
    let name = format!("tk{}-escape", env.token());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let listener = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    // The host itself reaches it: the probe's refusal is the namespace's.
    assert!(std::os::unix::net::UnixStream::connect_addr(&addr).is_ok());
    attempt(&env, &["--network", "none"], &["abstract", &name]);
    drop(listener);
    assert_settled(&mut env);
}

/// A setuid-root file that a container put in its layer (committed to an
/// image, and in the container's own upper directory) cannot be run by
/// another user of the host: the store is private to root.
fn a_setuid_file_in_a_layer_is_not_runnable_by_another_host_user() {
    let mut env = with_busybox("md-esc-setuid", &[]);
    ok(
        &env,
        &[
            "run",
            "--name",
            "maker",
            "busybox",
            "sh",
            "-c",
            "cp /bin/busybox /suid && chmod 4755 /suid",
        ],
    );
    ok(&env, &["commit", "maker", "suid:1"]);
    let mut found = Vec::new();
    let mut stack = vec![env.path("root")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                stack.push(e.path());
            } else if e.file_name() == "suid" {
                found.push(e.path());
            }
        }
    }
    assert!(
        found.len() >= 2,
        "the setuid file in the layer and in the container: {found:?}"
    );
    for path in &found {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(path).unwrap().permissions().mode() & 0o4000,
            0o4000
        );
        let out = env
            .command(path)
            .args(["id", "-u"])
            .uid(65534)
            .gid(65534)
            .output();
        match out {
            Err(e) => assert_eq!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied,
                "{}: {e}",
                path.display()
            ),
            Ok(out) => panic!(
                "{} ran as user 65534 and printed uid {}",
                path.display(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        }
    }
    ok(&env, &["rm", "maker"]);
    ok(&env, &["rmi", "suid:1"]);
    assert_settled(&mut env);
}

testkit::main![
    chroot_escape,
    mount_is_refused,
    a_user_namespace_gains_nothing_outside,
    sysrq_and_proc_sys_are_read_only,
    mknod_of_a_host_disk_cannot_be_opened,
    ptrace_of_an_outside_process_is_refused,
    open_by_handle_at_is_refused,
    the_hosts_cgroup_files_are_out_of_reach,
    host_abstract_sockets_are_unreachable_without_a_network,
    a_setuid_file_in_a_layer_is_not_runnable_by_another_host_user,
];
