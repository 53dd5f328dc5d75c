//! What a container's process may do: Docker's default capability set and
//! its default seccomp filter, both lifted by `--privileged`.
//!
//! A root process in a container is still root on the host's kernel. What
//! makes it safe is what it can no longer ask for: capabilities outside the
//! 14 Docker keeps are dropped from every set (bounding too, so not even a
//! setuid binary gets them back), and the seccomp filter refuses with EPERM
//! every system call that is not on the allow-list — the ones that load
//! modules, mount, create namespaces, change the clock or reboot.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::Path;
use std::str::FromStr as _;

use caps::{CapSet, Capability, CapsHashSet};
use kernel::sys;
use libseccomp::{ScmpAction, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};

use crate::{Error, Result};

/// Docker's default capabilities (moby `oci/caps/defaults.go`).
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// `NET_ADMIN`, `cap_net_admin` → `CAP_NET_ADMIN`; `ALL` stays `ALL`.
fn normalise(name: &str) -> Result<String> {
    let upper = name.to_ascii_uppercase();
    if upper == "ALL" {
        return Ok(upper);
    }
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    Capability::from_str(&full).map_err(|_| SecurityError::Capability(name.into()))?;
    Ok(full)
}

/// Why a capability or the seccomp filter could not be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error("invalid capability: {0}")]
    Capability(String),
    #[error("dropping {0} from the bounding set: {1}")]
    Bounding(Capability, String),
    #[error("setting capabilities: {0}")]
    SetCapabilities(String),
    #[error("seccomp: {0}")]
    Seccomp(String),
    #[error("loading the seccomp filter: {0}")]
    LoadSeccomp(String),
}

/// Docker's rules: start from the default set (or every capability when
/// privileged or `--cap-add ALL`), drop `--cap-drop` (`ALL` drops all), then
/// add `--cap-add` back — an explicit add wins over a drop of `ALL`.
pub fn capabilities(add: &[String], drop: &[String], privileged: bool) -> Result<Vec<String>> {
    let all: BTreeSet<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let add: Vec<String> = add.iter().map(|c| normalise(c)).collect::<Result<_>>()?;
    let drop: Vec<String> = drop.iter().map(|c| normalise(c)).collect::<Result<_>>()?;
    if privileged {
        return Ok(all.into_iter().collect());
    }
    let mut set: BTreeSet<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    if drop.iter().any(|c| c == "ALL") {
        set.clear();
    }
    for c in &drop {
        set.remove(c);
    }
    for c in &add {
        if c == "ALL" {
            set.extend(all.iter().cloned());
        } else {
            set.insert(c.clone());
        }
    }
    Ok(set.into_iter().collect())
}

fn parse_set(names: &[String]) -> CapsHashSet {
    names
        .iter()
        .filter_map(|n| Capability::from_str(n).ok())
        .collect()
}

/// Step 1, while still fully privileged: remove every other capability
/// from the bounding set, so nothing can regain it (needs CAP_SETPCAP).
pub fn limit_bounding_set(keep: &[String]) -> Result<()> {
    let keep = parse_set(keep);
    tracing::info!(target: "explain", "capsh --drop=<all but {} capabilities>   # bounding set", keep.len());
    for cap in caps::all() {
        if !keep.contains(&cap) {
            sys()
                .drop_bounding(cap)
                .map_err(|e| SecurityError::Bounding(cap, e.to_string()))?;
        }
    }
    Ok(())
}

/// Step 2, after switching user: the effective and permitted sets become
/// `keep` for root, and stay empty (as `setuid` left them) for any other
/// user, as with Docker. Inheritable and ambient are emptied: since
/// CVE-2022-24769 Docker keeps nothing there for `execve` to pass on.
pub fn set_process_capabilities(keep: &[String], uid: u32) -> Result<()> {
    let fail =
        |e: caps::errors::CapsError| Error::from(SecurityError::SetCapabilities(e.to_string()));
    // Never more than we hold: a runtime that is itself confined (no
    // CAP_SYS_RESOURCE here) cannot hand out what it lacks.
    let held = caps::read(None, CapSet::Permitted).map_err(fail)?;
    let keep: CapsHashSet = if uid == 0 {
        parse_set(keep).intersection(&held).copied().collect()
    } else {
        CapsHashSet::new()
    };
    let k = sys();
    let none = CapsHashSet::new();
    k.set_capabilities(CapSet::Ambient, &none).map_err(fail)?;
    k.set_capabilities(CapSet::Inheritable, &none)
        .map_err(fail)?;
    k.set_capabilities(CapSet::Effective, &keep).map_err(fail)?;
    k.set_capabilities(CapSet::Permitted, &keep).map_err(fail)
}

/// `prctl(PR_SET_NO_NEW_PRIVS)`: setuid binaries and file capabilities no
/// longer raise privileges (`--security-opt no-new-privileges`).
pub fn set_no_new_privileges() -> Result<()> {
    tracing::info!(target: "explain", "prctl(PR_SET_NO_NEW_PRIVS, 1)");
    sys()
        .no_new_privs()
        .map_err(|e| Error::io("prctl(PR_SET_NO_NEW_PRIVS)", e.into()))
}

/// The system calls Docker's default profile allows to every container.
const ALLOWED: &str = "
accept accept4 access adjtimex alarm arch_prctl bind brk cachestat capget capset chdir
chmod chown chown32 chroot clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range
connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl
epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve
execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64
fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64
fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait
futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid
getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill
landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32
lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr
lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir
mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 modify_ldt mprotect mq_getsetattr
mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock
munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2
pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll
ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
sched_get_priority_min sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam
sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop
semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32
setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid
setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
sigprocmask sigreturn socket socketcall socketpair splice stat stat64 statfs statfs64
statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create
timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
";

/// System calls the profile allows only with a capability that guards them.
const BY_CAPABILITY: &[(&str, &str)] = &[
    (
        "CAP_SYS_ADMIN",
        "bpf clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount \
         mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd \
         setdomainname sethostname setns syslog umount umount2 unshare",
    ),
    ("CAP_SYS_BOOT", "reboot"),
    ("CAP_SYS_MODULE", "delete_module init_module finit_module"),
    ("CAP_SYS_PACCT", "acct"),
    (
        "CAP_SYS_PTRACE",
        "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev",
    ),
    ("CAP_SYS_RAWIO", "iopl ioperm"),
    (
        "CAP_SYS_TIME",
        "settimeofday stime clock_settime clock_settime64",
    ),
    ("CAP_SYS_TTY_CONFIG", "vhangup"),
    (
        "CAP_SYS_NICE",
        "get_mempolicy mbind set_mempolicy set_mempolicy_home_node",
    ),
    ("CAP_SYSLOG", "syslog"),
    ("CAP_BPF", "bpf"),
    ("CAP_PERFMON", "perf_event_open"),
    ("CAP_DAC_READ_SEARCH", "open_by_handle_at"),
];

/// The namespace flags `clone` may not carry without CAP_SYS_ADMIN.
const CLONE_NAMESPACES: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// `personality` values the profile allows (Linux, and the 32-bit and
/// query variants).
const PERSONALITIES: [u64; 5] = [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff];

/// Builds Docker's default filter for a process holding `capabilities`.
/// Names this libseccomp does not know are skipped (they do not exist on
/// this architecture).
pub fn default_filter(capabilities: &[String]) -> Result<ScmpFilterContext> {
    let fail =
        |e: libseccomp::error::SeccompError| Error::from(SecurityError::Seccomp(e.to_string()));
    let mut filter = ScmpFilterContext::new_filter(ScmpAction::Errno(libc::EPERM)).map_err(fail)?;
    // Docker does not set no_new_privs for seccomp; the filter is loaded
    // while the process still has CAP_SYS_ADMIN.
    filter.set_ctl_nnp(false).map_err(fail)?;
    let allow = |filter: &mut ScmpFilterContext, name: &str| -> Result<()> {
        match ScmpSyscall::from_name(name) {
            Ok(call) => filter.add_rule(ScmpAction::Allow, call).map_err(fail),
            Err(_) => Ok(()),
        }
    };
    for name in ALLOWED.split_whitespace() {
        allow(&mut filter, name)?;
    }
    let has = |cap: &str| capabilities.iter().any(|c| c == cap);
    for (cap, names) in BY_CAPABILITY {
        if has(cap) {
            for name in names.split_whitespace() {
                allow(&mut filter, name)?;
            }
        }
    }
    let clone = ScmpSyscall::from_name("clone").map_err(fail)?;
    if has("CAP_SYS_ADMIN") {
        filter.add_rule(ScmpAction::Allow, clone).map_err(fail)?;
    } else {
        // The flags are clone's first argument on x86-64.
        let no_namespaces = ScmpArgCompare::new(0, ScmpCompareOp::MaskedEqual(CLONE_NAMESPACES), 0);
        filter
            .add_rule_conditional(ScmpAction::Allow, clone, &[no_namespaces])
            .map_err(fail)?;
        // clone3 hides its flags in memory a filter cannot read: ENOSYS
        // makes the C library fall back to clone.
        if let Ok(clone3) = ScmpSyscall::from_name("clone3") {
            filter
                .add_rule(ScmpAction::Errno(libc::ENOSYS), clone3)
                .map_err(fail)?;
        }
    }
    let personality = ScmpSyscall::from_name("personality").map_err(fail)?;
    for value in PERSONALITIES {
        filter
            .add_rule_conditional(
                ScmpAction::Allow,
                personality,
                &[ScmpArgCompare::new(0, ScmpCompareOp::Equal, value)],
            )
            .map_err(fail)?;
    }
    Ok(filter)
}

/// Loads a libseccomp filter (a profile of mini-runc's `config.json`) into
/// the calling process, inherited by its children.
pub fn load(filter: &ScmpFilterContext) -> Result<()> {
    tracing::info!(target: "explain", "seccomp(SECCOMP_SET_MODE_FILTER, <the bundle's profile>)");
    sys()
        .seccomp(&mut || filter.load().map_err(std::io::Error::other))
        .map_err(|e| SecurityError::LoadSeccomp(e.to_string()).into())
}

/// A seccomp filter compiled to classic BPF, ready for the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program(Vec<u8>);

/// One BPF instruction: `struct sock_filter` is 8 bytes.
const INSTRUCTION: usize = std::mem::size_of::<libc::sock_filter>();

impl Program {
    /// Compiles the default profile for `capabilities` (see
    /// [`default_filter`]).
    pub fn compile(capabilities: &[String]) -> Result<Self> {
        let filter = default_filter(capabilities)?;
        let mut memory = memfd("seccomp-bpf")?;
        filter
            .export_bpf(&mut memory)
            .map_err(|e| SecurityError::Seccomp(e.to_string()))?;
        let bytes = std::fs::read(format!("/proc/self/fd/{}", memory.as_raw_fd()))
            .map_err(|e| Error::io("seccomp program", e))?;
        Self::from_bytes(bytes)
            .ok_or_else(|| SecurityError::Seccomp("libseccomp exported no program".into()).into())
    }

    fn from_bytes(bytes: Vec<u8>) -> Option<Self> {
        (!bytes.is_empty() && bytes.len().is_multiple_of(INSTRUCTION)).then_some(Program(bytes))
    }

    /// The default profile's program for `capabilities`, compiled once per
    /// profile and capability set and kept in `cache` (the run root: a
    /// reboot, and with it a new kernel or libseccomp, starts afresh).
    /// Compiling it with libseccomp takes milliseconds on every start;
    /// reading it back, microseconds. A cache that cannot be read or
    /// written is only slower.
    pub fn default_cached(capabilities: &[String], cache: &Path) -> Result<Self> {
        let path = cache.join(format!("{}.bpf", profile_key(capabilities)));
        if let Some(program) = std::fs::read(&path).ok().and_then(Self::from_bytes) {
            return Ok(program);
        }
        let program = Self::compile(capabilities)?;
        let _ = std::fs::create_dir_all(cache).and_then(|()| {
            let temporary = cache.join(format!(".tmp-{}", std::process::id()));
            std::fs::File::create(&temporary)?.write_all(&program.0)?;
            std::fs::rename(&temporary, &path)
        });
        Ok(program)
    }

    /// Loads the program into the calling process (inherited by its
    /// children). Like Docker's, it is loaded while the process still has
    /// CAP_SYS_ADMIN, so without no_new_privs.
    pub fn load(&self) -> Result<()> {
        tracing::info!(target: "explain", "seccomp(SECCOMP_SET_MODE_FILTER, <docker's default profile>)");
        let program = libc::sock_fprog {
            len: (self.0.len() / INSTRUCTION) as u16,
            filter: self.0.as_ptr() as *mut libc::sock_filter,
        };
        sys()
            .seccomp(&mut || {
                // SAFETY: `program` points at whole instructions that
                // outlive the call; the kernel copies them.
                let loaded = unsafe {
                    libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0,
                        &program as *const libc::sock_fprog,
                    )
                };
                if loaded == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            })
            .map_err(|e| SecurityError::LoadSeccomp(e.to_string()).into())
    }
}

/// A name for the default profile as built for `capabilities`: a digest of
/// everything [`default_filter`] reads, and of libseccomp's version.
fn profile_key(capabilities: &[String]) -> String {
    let version = libseccomp::ScmpVersion::current()
        .map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro))
        .unwrap_or_default();
    let text = format!(
        "{ALLOWED}{BY_CAPABILITY:?}{CLONE_NAMESPACES}{PERSONALITIES:?}{version}{capabilities:?}"
    );
    let hex = crate::digest::Digest::of(text.as_bytes()).hex().to_string();
    hex[..32].to_string()
}

/// An anonymous in-memory file.
fn memfd(name: &str) -> Result<std::fs::File> {
    let name = std::ffi::CString::new(name).expect("no NUL in the name");
    // SAFETY: a valid C string; the descriptor is ours alone.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::io("memfd_create", std::io::Error::last_os_error()));
    }
    // SAFETY: just created, owned by nothing else.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dockers_capability_rules() {
        let default = capabilities(&[], &[], false).unwrap();
        assert_eq!(default.len(), 14);
        let added = capabilities(&strings(&["net_admin"]), &strings(&["NET_RAW"]), false).unwrap();
        assert!(added.contains(&"CAP_NET_ADMIN".to_string()));
        assert!(!added.contains(&"CAP_NET_RAW".to_string()));
        let only = capabilities(&strings(&["CHOWN"]), &strings(&["ALL"]), false).unwrap();
        assert_eq!(only, ["CAP_CHOWN"]);
        let every = capabilities(&[], &[], true).unwrap();
        assert!(every.len() > 30);
        assert_eq!(
            capabilities(&strings(&["FLY"]), &[], false)
                .unwrap_err()
                .to_string(),
            "invalid capability: FLY"
        );
    }

    #[test]
    fn the_default_filter_compiles_with_and_without_sys_admin() {
        default_filter(&capabilities(&[], &[], false).unwrap()).unwrap();
        default_filter(&strings(&["CAP_SYS_ADMIN", "CAP_SYS_TIME"])).unwrap();
    }

    #[test]
    fn the_program_is_compiled_once_per_capability_set_and_cached() {
        let cache = std::env::temp_dir().join(format!("md-seccomp-{}", std::process::id()));
        let default = capabilities(&[], &[], false).unwrap();
        let admin = strings(&["CAP_SYS_ADMIN"]);
        let compiled = Program::default_cached(&default, &cache).unwrap();
        assert_eq!(compiled, Program::compile(&default).unwrap());
        let path = cache.join(format!("{}.bpf", profile_key(&default)));
        assert_eq!(std::fs::read(&path).unwrap(), compiled.0);
        // The cached copy is what a second start gets.
        let mut marked = compiled.0.clone();
        marked.extend_from_slice(&compiled.0[..INSTRUCTION]);
        std::fs::write(&path, &marked).unwrap();
        assert_eq!(Program::default_cached(&default, &cache).unwrap().0, marked);
        // A torn or empty file is compiled again and replaced.
        std::fs::write(&path, &compiled.0[..INSTRUCTION + 3]).unwrap();
        assert_eq!(Program::default_cached(&default, &cache).unwrap(), compiled);
        assert_eq!(std::fs::read(&path).unwrap(), compiled.0);
        // Another capability set, another program.
        assert_ne!(profile_key(&default), profile_key(&admin));
        assert_ne!(Program::default_cached(&admin, &cache).unwrap(), compiled);
        std::fs::remove_dir_all(&cache).unwrap();
    }

    #[test]
    fn a_loaded_program_refuses_what_the_profile_does_not_allow() {
        let program = Program::compile(&capabilities(&[], &[], false).unwrap()).unwrap();
        // In a child of its own: a filter cannot be taken off again.
        // SAFETY: the child calls only async-signal-safe functions and exits.
        match unsafe { libc::fork() } {
            0 => {
                // SAFETY: integer arguments only; no_new_privs lets an
                // unprivileged test load a filter.
                unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
                let code = if program.load().is_err() {
                    2
                } else {
                    // SAFETY: unshare(0) changes nothing; the filter answers.
                    let refused = unsafe { libc::unshare(0) } != 0
                        && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
                    // SAFETY: getpid is allowed and harmless.
                    let allowed = unsafe { libc::getpid() } > 0;
                    if refused && allowed {
                        0
                    } else {
                        1
                    }
                };
                // SAFETY: leaves the forked child without running the test harness.
                unsafe { libc::_exit(code) }
            }
            pid => {
                let mut status = 0;
                // SAFETY: waits for the child just forked.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                assert!(libc::WIFEXITED(status));
                assert_eq!(
                    libc::WEXITSTATUS(status),
                    0,
                    "1: not refused, 2: not loaded"
                );
            }
        }
    }
}
