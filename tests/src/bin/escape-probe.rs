//! Escape attempts, run from inside a container by `mini-docker`'s escape
//! tests. Each subcommand tries one known way out and prints `refused: …`
//! (exit 0) when the kernel said no, or `ESCAPED: …` (exit 1) when it did
//! not. Nothing here writes to anything it manages to open: success is
//! judged from the open or the call itself.
//!
//!   escape-probe chroot HOST_PATH      the double-chroot escape, then stat
//!   escape-probe mount                 tmpfs and bind mounts
//!   escape-probe unshare               a new user namespace, then host-owned acts
//!   escape-probe proc                  /proc/sysrq-trigger, /proc/sys writes
//!   escape-probe mknod MAJOR MINOR     a host block device: create and open
//!   escape-probe ptrace PID            attach to a process outside
//!   escape-probe shocker               open_by_handle_at on the host's fs
//!   escape-probe cgroup                write the host's cgroup files
//!   escape-probe abstract NAME         connect to a host abstract socket

use std::ffi::CString;
use std::io::Error;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let escaped = match args.as_slice() {
        ["chroot", host_path] => chroot(host_path),
        ["mount"] => mount(),
        ["unshare"] => unshare(),
        ["proc"] => proc(),
        ["mknod", major, minor] => mknod(major.parse().unwrap(), minor.parse().unwrap()),
        ["ptrace", pid] => ptrace(pid.parse().unwrap()),
        ["shocker"] => shocker(),
        ["cgroup"] => cgroup(),
        ["abstract", name] => abstract_socket(name),
        _ => {
            eprintln!("usage: escape-probe chroot|mount|unshare|proc|mknod|ptrace|shocker|cgroup|abstract …");
            std::process::exit(2);
        }
    };
    std::process::exit(i32::from(escaped));
}

/// Reports one attempt; true when it got through.
fn verdict(what: &str, result: Result<String, Error>) -> bool {
    match result {
        Ok(how) => {
            println!("ESCAPED: {what}: {how}");
            true
        }
        Err(e) => {
            println!("refused: {what}: {e}");
            false
        }
    }
}

fn c(path: &str) -> CString {
    CString::new(path).unwrap()
}

fn check(ret: libc::c_long) -> Result<libc::c_long, Error> {
    if ret < 0 {
        Err(Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn chroot(host_path: &str) -> bool {
    let attempt = || -> Result<String, Error> {
        std::fs::create_dir_all("/tmp/jail")?;
        // SAFETY: plain syscalls on NUL-terminated paths.
        unsafe {
            check(libc::chroot(c("/tmp/jail").as_ptr()).into())?;
            for _ in 0..64 {
                check(libc::chdir(c("..").as_ptr()).into())?;
            }
            check(libc::chroot(c(".").as_ptr()).into())?;
        }
        if Path::new(host_path).exists() {
            Ok(format!("{host_path} is visible"))
        } else {
            Err(Error::other(format!(
                "the climb stops at the container's root ({host_path} not visible)"
            )))
        }
    };
    verdict("double chroot", attempt())
}

fn mount_one(
    source: &str,
    target: &str,
    fstype: &str,
    flags: libc::c_ulong,
) -> Result<String, Error> {
    std::fs::create_dir_all(target)?;
    // SAFETY: NUL-terminated strings, no data argument.
    unsafe {
        check(
            libc::mount(
                c(source).as_ptr(),
                c(target).as_ptr(),
                c(fstype).as_ptr(),
                flags,
                std::ptr::null(),
            )
            .into(),
        )?;
    }
    Ok(format!("mounted {source} on {target}"))
}

fn mount() -> bool {
    let a = verdict("mount tmpfs", mount_one("none", "/tmp/m1", "tmpfs", 0));
    let b = verdict("bind mount /", mount_one("/", "/tmp/m2", "", libc::MS_BIND));
    let d = verdict(
        "remount / read-write",
        mount_one("none", "/", "", libc::MS_REMOUNT),
    );
    a | b | d
}

/// Host-owned things a process with every capability *in its own* user
/// namespace still may not touch.
fn host_owned_acts() -> bool {
    let name = b"escaped";
    // SAFETY: a valid buffer and its length.
    let host = verdict(
        "sethostname on the container's UTS namespace",
        check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }.into())
            .map(|_| "set".into()),
    );
    let sys = verdict(
        "open /proc/sys/kernel/core_pattern for writing",
        open_write("/proc/sys/kernel/core_pattern"),
    );
    let mk = verdict(
        "mknod a disk",
        mknod_at("/tmp/ns-disk", 8, 0).map(|_| "created and opened".into()),
    );
    host | sys | mk
}

fn unshare() -> bool {
    // SAFETY: unshare has no memory arguments.
    let made = check(unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) }.into());
    match made {
        Err(e) => {
            println!("refused: unshare(CLONE_NEWUSER|CLONE_NEWNS): {e}");
            false
        }
        Ok(_) => {
            println!("note: a new user namespace was allowed; trying host-owned acts from it");
            let _ = std::fs::write("/proc/self/setgroups", "deny");
            let _ = std::fs::write("/proc/self/uid_map", "0 0 1");
            let _ = std::fs::write("/proc/self/gid_map", "0 0 1");
            host_owned_acts()
        }
    }
}

fn open_write(path: &str) -> Result<String, Error> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map(|_| "opened for writing".to_string())
}

fn proc() -> bool {
    let mut escaped = verdict(
        "open /proc/sysrq-trigger for writing",
        open_write("/proc/sysrq-trigger"),
    );
    for path in [
        "/proc/sys/kernel/core_pattern",
        "/proc/sys/kernel/modprobe",
        "/proc/sys/vm/drop_caches",
        "/proc/sys/net/ipv4/ip_forward",
    ] {
        escaped |= verdict(&format!("open {path} for writing"), open_write(path));
    }
    escaped
}

fn mknod_at(path: &str, major: u32, minor: u32) -> Result<(), Error> {
    let _ = std::fs::remove_file(path);
    // SAFETY: a NUL-terminated path.
    let made = unsafe {
        libc::mknod(
            c(path).as_ptr(),
            libc::S_IFBLK | 0o600,
            libc::makedev(major, minor),
        )
    };
    check(made.into())?;
    std::fs::File::open(path).map(|_| ())
}

fn mknod(major: u32, minor: u32) -> bool {
    verdict(
        &format!("mknod and open block device {major}:{minor}"),
        mknod_at("/tmp/host-disk", major, minor).map(|()| "opened for reading".into()),
    )
}

fn ptrace(pid: i32) -> bool {
    // SAFETY: PTRACE_ATTACH takes no memory arguments.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_ATTACH,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    verdict(
        &format!("ptrace(PTRACE_ATTACH, {pid})"),
        check(r).map(|_| "attached".into()),
    )
}

/// The "shocker" escape: a file handle for inode 2 (the root directory of
/// most file systems) of the file system `/etc/hosts` is bound from.
fn shocker() -> bool {
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        inode: [u8; 8],
    }
    let attempt = || -> Result<String, Error> {
        let mount = std::fs::File::open("/etc/hosts")?;
        let mut handle = Handle {
            bytes: 8,
            kind: 1, // FILEID_INO32_GEN
            inode: [2, 0, 0, 0, 0, 0, 0, 0],
        };
        // SAFETY: a live descriptor and a handle of the size it declares.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_open_by_handle_at,
                std::os::fd::AsRawFd::as_raw_fd(&mount),
                &mut handle as *mut Handle,
                libc::O_RDONLY,
            )
        };
        check(fd).map(|_| "opened the host file system's root by handle".into())
    };
    verdict("open_by_handle_at", attempt())
}

fn cgroup() -> bool {
    let mut escaped = false;
    let mut stack = vec![std::path::PathBuf::from("/sys/fs/cgroup")];
    let mut tried = 0;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
                continue;
            }
            let name = e.file_name();
            let name = name.as_bytes();
            if [
                &b"release_agent"[..],
                b"notify_on_release",
                b"cgroup.procs",
                b"tasks",
                b"devices.allow",
                b"cgroup.subtree_control",
            ]
            .contains(&name)
            {
                tried += 1;
                escaped |= verdict(
                    &format!("open {} for writing", path.display()),
                    open_write(&path.to_string_lossy()),
                );
            }
        }
    }
    escaped |= verdict(
        "mkdir under /sys/fs/cgroup",
        std::fs::create_dir("/sys/fs/cgroup/escape").map(|()| "made".into()),
    );
    println!("note: {tried} cgroup control files tried");
    escaped
}

fn abstract_socket(name: &str) -> bool {
    use std::os::linux::net::SocketAddrExt as _;
    let attempt = || -> Result<String, Error> {
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        std::os::unix::net::UnixStream::connect_addr(&addr).map(|_| format!("connected to @{name}"))
    };
    verdict("connect to a host abstract unix socket", attempt())
}
