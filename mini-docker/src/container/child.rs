//! The container's first process, from `clone` to `execve`: filesystem
//! ([`super::setup`]), hostname, the working directory, then privileges
//! dropped in the only order that works — bounding set while still
//! privileged, the seccomp filter while CAP_SYS_ADMIN still allows loading
//! it without no_new_privs, the user switch, the remaining capability sets
//! — and finally the command (or the built-in init that runs it).
//!
//! A failure before `execve` is written to the monitor's error pipe as a
//! [`Message::Failed`] (see [`super::protocol`]). The pipe is close-on-exec, so a successful `execve`
//! closes it and the monitor reads end-of-file: runc's way of telling "the
//! command started" from "it never ran".

use std::os::fd::{AsRawFd as _, RawFd};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;

use nix::unistd::{Gid, Uid};

use super::protocol::Message;
use super::record::ProcessSpec;
use super::security;
use super::setup::{self, Filesystem};
use super::spec::SpecError;
use crate::{Error, Result};

/// Everything the child needs, prepared by the monitor before `clone`.
#[allow(missing_debug_implementations)] // the seccomp context is opaque
pub struct Plan<'a> {
    pub fs: Filesystem<'a>,
    /// The cgroup namespace and `/sys/fs/cgroup`, made once in the cgroup.
    pub cgroupfs: super::cgroupfs::View,
    pub hostname: &'a str,
    /// A new network namespace whose loopback must come up.
    pub loopback: bool,
    /// `--network container:X`: X's network namespace, to join first.
    pub join_net: Option<RawFd>,
    /// `--ipc`/`--uts container:X`: X's namespaces, joined first too.
    pub join: Vec<(RawFd, nix::sched::CloneFlags)>,
    /// Whether the UTS namespace is the container's own (not the host's or
    /// another container's), so its hostname is ours to set.
    pub own_uts: bool,
    /// `--ulimit`, set last before `execve` (after the user switch they
    /// could only be lowered).
    pub ulimits: &'a [super::options::Ulimit],
    /// Interfaces the monitor plugs in while the filesystem is built:
    /// (name, address, default gateway), configured after the go-ahead.
    pub nics: Vec<(String, ipnet::Ipv4Net, Option<std::net::Ipv4Addr>)>,
    pub process: &'a ProcessSpec,
    pub filter: Option<&'a security::Program>,
    pub init: bool,
    /// The container's stdin, stdout and stderr; `None` for `-t`, where
    /// the child opens a pty in its own `/dev/pts` and sends the master to
    /// the monitor over the channel.
    pub stdio: Option<[RawFd; 3]>,
    pub errors: RawFd,
}

/// The child's body: prepares its filesystem, waits for the monitor's
/// go-ahead (it is in its cgroup by then), drops privileges and execs.
/// Returns only on failure.
pub fn run(plan: &Plan, mut channel: ns_demo::spawn::Channel) -> i32 {
    let (code, message) = match prepare(plan, &mut channel) {
        Ok(()) if plan.init => {
            let errors = plan.errors;
            let result = ns_demo::init::run_with(
                || exec(plan),
                // SAFETY: the init's copy of the error pipe: only the
                // command's process reports on it.
                || unsafe {
                    libc::close(errors);
                },
            );
            return result.unwrap_or(125);
        }
        Ok(()) => return exec(plan),
        Err(e) => (125, e.to_string()),
    };
    report(plan.errors, code, &message);
    code
}

/// Tells the monitor why the command did not start ([`Message::Failed`]).
fn report(fd: RawFd, code: i32, message: &str) {
    let frame = Message::Failed {
        code,
        message: message.into(),
    }
    .encode();
    // SAFETY: the monitor's error pipe, open until `execve` closes it.
    let pipe = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let _ = nix::unistd::write(pipe, &frame);
}

fn prepare(plan: &Plan, channel: &mut ns_demo::spawn::Channel) -> Result<()> {
    if let Some(fd) = plan.join_net {
        chroot_demo::error::step("setns(/proc/PID/ns/net)   # --network container:", || {
            // SAFETY: the monitor keeps the descriptor open until we exec.
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            nix::sched::setns(fd, nix::sched::CloneFlags::CLONE_NEWNET)
        })?;
    }
    for (fd, kind) in &plan.join {
        chroot_demo::error::step(
            format!("setns(/proc/PID/ns/…, {kind:?})   # container:"),
            || {
                // SAFETY: the monitor keeps the descriptor open until we exec.
                let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(*fd) };
                nix::sched::setns(fd, *kind)
            },
        )?;
    }
    if plan.loopback {
        net_demo::attach::loopback_up()?;
    }
    setup::enter(&plan.fs, |root| {
        // The filesystem was built while the monitor moved us into the
        // container's cgroup (on v1 that move waits for an RCU grace
        // period, the slowest step of a start); from here on the limits
        // must hold, and `/sys/fs/cgroup` can show that cgroup — with
        // `--cgroupns private` as the root of a new cgroup namespace, so
        // that `/proc/self/cgroup` shows `/`.
        if !matches!(channel.recv(), Ok(true)) {
            return Err(Error::Protocol("the monitor exited during start".into()));
        }
        plan.cgroupfs.enter(root)
    })?;
    for (name, address, gateway) in &plan.nics {
        net_demo::attach::configure(name, *address, *gateway)?;
    }
    let stdio = match plan.stdio {
        Some(fds) => fds,
        None => {
            let (master, slave) = setup::console()?;
            channel
                .send_fd(master.as_raw_fd())
                .map_err(|e| Error::io("sending the pty to the monitor", e))?;
            // The monitor sizes the terminal before the command sees it.
            if !matches!(channel.recv(), Ok(true)) {
                return Err(Error::Protocol("the monitor exited during start".into()));
            }
            // Kept open until exec (close-on-exec), then the dup2 copies remain.
            let slave = std::os::fd::IntoRawFd::into_raw_fd(slave);
            [slave; 3]
        }
    };
    if plan.own_uts {
        chroot_demo::error::step(format!("hostname {}", plan.hostname), || {
            nix::unistd::sethostname(plan.hostname)
        })?;
    }
    for limit in plan.ulimits {
        tracing::info!(target: "explain", "prlimit --{}={}:{}", limit.name, limit.soft, limit.hard);
        limit.apply()?;
    }
    let cwd = Path::new(&plan.process.cwd);
    if !cwd.is_dir() {
        make_workdir(cwd)?;
    }
    chroot_demo::error::step(format!("cd {}", cwd.display()), || nix::unistd::chdir(cwd))?;

    drop_privileges(plan.process, plan.filter)?;
    // Cleared by the user switch, so set afterwards: the container dies
    // with its monitor instead of running on unsupervised.
    // SAFETY: integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if channel.peer_gone() {
        return Err(Error::Protocol("the monitor exited during start".into()));
    }
    tracing::info!(target: "explain", "exec {}", plan.process.args.join(" "));
    set_stdio(stdio, plan.stdio.is_none())
}

/// Privileges down to the container's, in the only order that works (see
/// the module notes). `docker exec` goes through here too.
pub fn drop_privileges(p: &ProcessSpec, filter: Option<&security::Program>) -> Result<()> {
    security::limit_bounding_set(&p.capabilities)?;
    if p.no_new_privileges {
        security::set_no_new_privileges()?;
    }
    if let Some(filter) = filter {
        filter.load()?;
    }
    let groups: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    chroot_demo::error::step(
        format!("setgroups; setresgid {0}; setresuid {1}", p.gid, p.uid),
        || kernel::sys().set_ids(Uid::from_raw(p.uid), Gid::from_raw(p.gid), &groups),
    )?;
    security::set_process_capabilities(&p.capabilities, p.uid)
}

/// The container's stdio on 0, 1, 2 — last, so no narration lands in the
/// container's log. With `-t` the pty becomes the controlling terminal of a
/// new session.
fn set_stdio(stdio: [RawFd; 3], tty: bool) -> Result<()> {
    let _ = nix::unistd::setsid();
    if tty {
        // SAFETY: TIOCSCTTY takes an integer; the slave is a terminal.
        if unsafe { libc::ioctl(stdio[0], libc::TIOCSCTTY, 0) } < 0 {
            return Err(Error::io("TIOCSCTTY", std::io::Error::last_os_error()));
        }
    }
    for (target, fd) in stdio.iter().enumerate() {
        // SAFETY: duplicates descriptors this process holds.
        if unsafe { libc::dup2(*fd, target as RawFd) } < 0 {
            return Err(Error::io("dup2", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// `execve` in the container's environment; on failure, reports it the way
/// Docker words it, with 127 for a missing command and 126 otherwise.
fn exec(plan: &Plan) -> i32 {
    let (code, message) = exec_process(plan.process);
    report(plan.errors, code, &message);
    code
}

/// Creates a missing working directory as Docker does: through the
/// image's symlinks (a dangling `/link` gets its target made), refusing a
/// path whose end or a parent is not a directory. Runs inside the
/// container, after `pivot_root`, so `/` is the container's.
fn make_workdir(cwd: &Path) -> Result<()> {
    let resolved = super::scope::resolve(Path::new("/"), cwd)?;
    let not_a_dir = || Error::from(SpecError::WorkdirNotADirectory(cwd.display().to_string()));
    for dir in resolved.ancestors() {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => return Err(not_a_dir()),
            Err(_) => {}
        }
    }
    std::fs::create_dir_all(&resolved).map_err(|e| Error::io(cwd, e))
}

/// Replaces this process with `p.args` in `p.env`; returns only on
/// failure, with the exit code and Docker's wording of the error.
pub fn exec_process(p: &ProcessSpec) -> (i32, String) {
    let Some((program, args)) = p.args.split_first() else {
        return (125, "no command specified".into());
    };
    let env = p.env.iter().filter_map(|e| e.split_once('='));
    // As runc does: HOME from the user's entry in the container's own
    // /etc/passwd (read now, inside the container), `/` without one.
    let home = (!p.env.iter().any(|e| e.starts_with("HOME="))).then(|| {
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        super::spec::home_dir(p.uid, &passwd)
    });
    let err = Command::new(program)
        .args(args)
        .env_clear()
        .envs(env)
        .envs(home.iter().map(|h| ("HOME", h.as_str())))
        .exec();
    let (code, why) = match err.kind() {
        std::io::ErrorKind::NotFound if !program.contains('/') => {
            (127, "executable file not found in $PATH".to_string())
        }
        // runc stats a path before it execs it, and says so.
        std::io::ErrorKind::NotFound => (127, format!("stat {program}: no such file or directory")),
        _ => (
            126,
            err.to_string()
                .split(" (os error")
                .next()
                .unwrap_or("")
                .to_lowercase(),
        ),
    };
    (code, format!("exec: \"{program}\": {why}"))
}

#[cfg(test)]
mod tests {
    use kernel::syscall::Call;

    use super::*;

    /// The privilege drop in the only order that works, checked without
    /// root against a recording of the calls it makes.
    #[test]
    fn privileges_drop_in_the_order_that_works() {
        let keep = vec!["CAP_CHOWN".to_string(), "CAP_KILL".to_string()];
        let p = ProcessSpec {
            uid: 1000,
            gid: 1000,
            additional_gids: vec![10],
            capabilities: keep.clone(),
            seccomp: true,
            no_new_privileges: true,
            ..Default::default()
        };
        let filter = security::Program::compile(&keep).unwrap();
        let (dropped, calls) = kernel::recording(|| drop_privileges(&p, Some(&filter)));
        dropped.unwrap();
        let kinds: Vec<&str> = calls
            .iter()
            .map(|c| match c {
                Call::DropBounding(_) => "bounding",
                Call::NoNewPrivs => "no_new_privs",
                Call::Seccomp => "seccomp",
                Call::SetIds { .. } => "ids",
                Call::SetCapabilities(set, _) => set,
                _ => "other",
            })
            .collect();
        let mut order = kinds.clone();
        order.dedup();
        assert_eq!(
            order,
            [
                "bounding",
                "no_new_privs",
                "seccomp",
                "ids",
                "ambient",
                "inheritable",
                "effective",
                "permitted"
            ]
        );
        // Every capability but the kept ones leaves the bounding set.
        let bounding = kinds.iter().filter(|k| **k == "bounding").count();
        assert_eq!(bounding, caps::all().len() - keep.len());
        assert!(!calls
            .iter()
            .any(|c| matches!(c, Call::DropBounding(caps::Capability::CAP_KILL))));
        assert!(calls.contains(&Call::SetIds {
            uid: 1000,
            gid: 1000,
            groups: vec![10]
        }));
        // A user other than root keeps no capability at all.
        assert!(calls.contains(&Call::SetCapabilities("effective", Vec::new())));
    }
}
