//! The host's disks stay out of reach of a default container, on cgroup v1
//! (the devices controller's allow-list) and v2 (an eBPF program on the
//! container's cgroup), and `--device`, `--device-cgroup-rule` and
//! `--privileged` grant what Docker grants.
//!
//! The "host disk" is a block device the test owns: a loop device over a
//! file in the test's directory (or, where the kernel has no loop driver,
//! the first RAM disk of `brd`), marked with a known first line.

mod support;

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, Write as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;

use support::*;
use testkit::TestEnv;

const MARKER: &str = "HOST-DISK-SECRET-0123";

/// A block device holding `MARKER`, released on drop.
struct Disk {
    path: PathBuf,
    major: u32,
    minor: u32,
    /// The loop device, to detach (`None`: a brd RAM disk).
    looped: Option<File>,
}

impl Disk {
    fn new(env: &TestEnv) -> Disk {
        match Self::loop_device(env) {
            Some(disk) => disk,
            None => Self::ram_disk(),
        }
    }

    /// LOOP_CTL_GET_FREE, then LOOP_SET_FD with a file of our own.
    fn loop_device(env: &TestEnv) -> Option<Disk> {
        const LOOP_SET_FD: libc::c_ulong = 0x4C00;
        const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
        let control = File::open("/dev/loop-control").ok()?;
        let backing_path = env.path("disk.img");
        // Readable too: the loop driver reads through this descriptor.
        let mut backing = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&backing_path)
            .unwrap();
        backing.write_all(MARKER.as_bytes()).unwrap();
        backing.set_len(1 << 20).unwrap();
        // Another test may take the same free device between the two
        // ioctls: then LOOP_SET_FD says EBUSY, and we ask again.
        for _ in 0..20 {
            // SAFETY: an ioctl without arguments on a descriptor we own.
            let n = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
            assert!(n >= 0, "no free loop device");
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let device = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            // SAFETY: LOOP_SET_FD takes the backing file's descriptor.
            let set = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_SET_FD, backing.as_raw_fd()) };
            if set == 0 {
                return Some(Self::described(path, Some(device)));
            }
            let error = std::io::Error::last_os_error();
            assert_eq!(
                error.raw_os_error(),
                Some(libc::EBUSY),
                "LOOP_SET_FD: {error}"
            );
        }
        panic!("no loop device stayed free");
    }

    fn ram_disk() -> Disk {
        let path = PathBuf::from("/dev/ram0");
        let mut device = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("a loop device or a brd RAM disk (modprobe loop or brd)");
        device.write_all(MARKER.as_bytes()).unwrap();
        device.sync_all().unwrap();
        Self::described(path, None)
    }

    fn described(path: PathBuf, looped: Option<File>) -> Disk {
        let rdev = std::fs::metadata(&path).unwrap().rdev();
        Disk {
            major: libc::major(rdev),
            minor: libc::minor(rdev),
            path,
            looped,
        }
    }

    /// The disk's first bytes, read on the host.
    fn head(&self) -> String {
        let mut file = File::open(&self.path).unwrap();
        file.rewind().unwrap();
        let mut buf = vec![0u8; MARKER.len()];
        file.read_exact(&mut buf).unwrap();
        String::from_utf8_lossy(&buf).into_owned()
    }

    fn numbers(&self) -> String {
        format!("{} {}", self.major, self.minor)
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
        if let Some(device) = &self.looped {
            // SAFETY: an ioctl without arguments on a descriptor we own.
            unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CLR_FD) };
        }
    }
}

/// `sh -c SCRIPT` in a fresh container with `flags`; stdout and stderr
/// together.
fn sh(env: &TestEnv, flags: &[&str], script: &str) -> String {
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(flags);
    args.extend(["busybox", "sh", "-c"]);
    let script = format!("{{ {script} ; }} 2>&1");
    args.push(&script);
    ok(env, &args)
}

fn a_default_container_cannot_reach_a_host_disk() {
    let mut env = with_busybox("devices-escape", &[]);
    let disk = Disk::new(&env);
    assert_eq!(disk.head(), MARKER);
    // Docker keeps CAP_MKNOD and allows `mknod` of any node: the node is
    // made, but opening it is refused by the cgroup's device policy.
    let out = sh(
        &env,
        &[],
        &format!(
            "mknod /dev/hostdisk b {} && echo made; \
             head -c 32 /dev/hostdisk; echo read=$?; \
             echo OVERWRITTEN > /dev/hostdisk; echo write=$?",
            disk.numbers()
        ),
    );
    assert!(out.contains("made"), "{out}");
    assert!(
        !out.contains(MARKER),
        "the container read the host disk: {out}"
    );
    assert!(out.contains("read=1") && out.contains("write=1"), "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    assert_eq!(disk.head(), MARKER, "the container wrote to the host disk");
    // The standard nodes still work.
    let out = sh(
        &env,
        &[],
        "echo x > /dev/null && head -c 4 /dev/zero | wc -c",
    );
    assert_eq!(out.trim(), "4");

    // `update` writes the policy again (on v2: a new program swapped in for
    // the old one); the running container is exactly as confined as before.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "dev-upd",
            "--network",
            "none",
            "busybox",
            "sleep",
            "100",
        ],
    );
    ok(
        &env,
        &[
            "update",
            "--memory",
            "64m",
            "--memory-swap",
            "128m",
            "dev-upd",
        ],
    );
    let probe = format!(
        "mknod /dev/hostdisk b {} && head -c 32 /dev/hostdisk; echo read=$?; echo x > /dev/null && echo null=ok",
        disk.numbers()
    );
    let out = ok(
        &env,
        &[
            "exec",
            "dev-upd",
            "sh",
            "-c",
            &format!("{{ {probe} ; }} 2>&1"),
        ],
    );
    assert!(
        !out.contains(MARKER) && out.contains("read=1") && out.contains("null=ok"),
        "{out}"
    );
    if cgroup_demo::Layout::detect().unwrap().version() == cgroup_demo::Version::V2 {
        let id = inspect(&env, "dev-upd", "{{.Id}}");
        let dir = std::fs::read_dir("/sys/fs/cgroup")
            .unwrap()
            .flatten()
            .map(|e| e.path().join(&id))
            .find(|p| p.is_dir())
            .expect("the container's cgroup");
        let cgroup = File::open(dir).unwrap();
        assert_eq!(cgroup_demo::bpf::attached(&cgroup).unwrap().len(), 1);
    }
    ok(&env, &["rm", "-f", "dev-upd"]);
    drop(disk);
    assert_settled(&mut env);
}

fn device_flags_grant_what_docker_grants() {
    let mut env = with_busybox("devices-flags", &[]);
    let disk = Disk::new(&env);
    let host = disk.path.to_str().unwrap().to_string();

    // --device HOST:CONTAINER:r — the node is there, readable, not writable.
    let out = sh(
        &env,
        &["--device", &format!("{host}:/dev/xvda:r")],
        &format!(
            "ls -l /dev/xvda | cut -c1; head -c {} /dev/xvda; echo; \
             echo OVERWRITTEN > /dev/xvda; echo write=$?",
            MARKER.len()
        ),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "b", "{out}");
    assert_eq!(lines[1], MARKER, "{out}");
    assert!(out.contains("write=1"), "{out}");
    assert_eq!(disk.head(), MARKER);
    let id = ok(
        &env,
        &[
            "create",
            "--device",
            &host,
            "--device-cgroup-rule",
            "c 1:5 r",
            "busybox",
        ],
    );
    let devices: serde_json::Value =
        serde_json::from_str(&inspect(&env, id.trim(), "{{json .HostConfig.Devices}}")).unwrap();
    assert_eq!(
        devices,
        serde_json::json!([{"PathOnHost": host, "PathInContainer": host, "CgroupPermissions": "rwm"}])
    );
    assert_eq!(
        inspect(&env, id.trim(), "{{json .HostConfig.DeviceCgroupRules}}"),
        "[\"c 1:5 r\"]"
    );
    ok(&env, &["rm", id.trim()]);

    // --device-cgroup-rule: a node made later with mknod may be used.
    let out = sh(
        &env,
        &[
            "--device-cgroup-rule",
            &format!("b {}:{} rw", disk.major, disk.minor),
        ],
        &format!(
            "mknod /dev/d b {}; head -c {} /dev/d",
            disk.numbers(),
            MARKER.len()
        ),
    );
    assert_eq!(out, MARKER);

    // --privileged: the host's devices, without restriction.
    let out = sh(
        &env,
        &["--privileged"],
        &format!("head -c {} {host}", MARKER.len()),
    );
    assert_eq!(out, MARKER);
    drop(disk);
    assert_settled(&mut env);
}

fn bad_device_flags_are_refused_before_anything_is_made() {
    let mut env = with_busybox("devices-bad", &[]);
    for (flags, message) in [
        (
            ["--device", "/nonexistent-device"],
            "error gathering device information while adding custom device \"/nonexistent-device\": No such file or directory",
        ),
        (
            ["--device", "/dev/null:relative"],
            "invalid argument \"/dev/null:relative\" for \"--device\" flag: relative is not an absolute path",
        ),
        (
            ["--device-cgroup-rule", "c 1:3 rwx"],
            "invalid device cgroup rule format: 'c 1:3 rwx'",
        ),
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["busybox", "true"]);
        let err = fails(&env, &args, 125);
        assert!(err.contains(message), "{flags:?}: {err}");
    }
    assert_eq!(ok(&env, &["ps", "-aq"]), "");
    assert_settled(&mut env);
}

testkit::main![
    a_default_container_cannot_reach_a_host_disk,
    device_flags_grant_what_docker_grants,
    bad_device_flags_are_refused_before_anything_is_made,
];
