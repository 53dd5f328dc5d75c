//! `exec`: another process in a running container — its namespaces
//! entered with `setns` (ns-demo), its cgroup joined, then the same last
//! steps as the first process ([`crate::process`]). A forked child enters
//! the namespaces and forks once more, so the process really is in the
//! container's PID namespace; that grandchild is reparented to us (we are
//! a subreaper), or, with `--detach`, to the engine's shim.

use std::io::Read as _;
use std::os::fd::{AsRawFd as _, RawFd};
use std::path::PathBuf;

use nix::unistd::Pid;
use ns_demo::Kind;
use oci_spec::runtime::Process;

use crate::state::{Container, Status};
use crate::{config, init, process, run, seccomp, Error, Result};

#[derive(Debug, Clone)]
pub struct Options {
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub ignore_paused: bool,
    pub preserve_fds: u32,
}

/// Runs the process; returns its exit code (0 when detached).
pub fn exec(root: &std::path::Path, id: &str, o: Options) -> Result<i32> {
    let c = Container::load(root, id)?;
    match c.status() {
        Status::Running => {}
        Status::Paused if o.ignore_paused => {}
        Status::Paused => {
            return Err(Error::State(
                "cannot exec in a paused container (use --ignore-paused)".into(),
            ))
        }
        _ => {
            return Err(Error::State(
                "cannot exec in a stopped or not yet started container".into(),
            ))
        }
    }
    config::check_process(&o.process)?;
    let target = Pid::from_raw(c.record.pid);
    let kinds: Vec<Kind> = Kind::ALL.to_vec();
    let handles = ns_demo::join::open(target, &kinds)?;
    let cgroup = c.cgroup()?;
    let filter = c
        .record
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().clone())
        .map(|s| seccomp::compile(&s))
        .transpose()?;
    let terminal = o.process.terminal() == Some(true);
    let console = match (&o.console_socket, terminal) {
        (Some(path), true) => {
            Some(std::os::unix::net::UnixStream::connect(path).map_err(|e| Error::io(path, e))?)
        }
        (None, true) => {
            return Err(Error::Unsupported(
                "exec --tty without --console-socket".into(),
            ))
        }
        _ => None,
    };
    let console_fd: Option<RawFd> = console.as_ref().map(|s| s.as_raw_fd());
    let (mut errors_read, errors_write) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let (mut pid_read, pid_write) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let errors_fd = errors_write.as_raw_fd();
    let pid_fd = pid_write.as_raw_fd();
    // SAFETY: integer arguments only: the grandchild becomes our child
    // when its parent exits.
    unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    let p = &o.process;
    let preserve_fds = o.preserve_fds;
    let filter_ref = filter.as_ref();
    let intermediate = chroot_demo::process::spawn(move || {
        let fail = |message: String| {
            // SAFETY: a buffer we own to a descriptor we hold.
            unsafe { libc::write(errors_fd, message.as_ptr().cast(), message.len()) };
            1
        };
        if let Err(e) = cgroup.add(nix::unistd::getpid()) {
            return fail(e.to_string());
        }
        if let Err(e) = handles.enter() {
            return fail(e.to_string());
        }
        match chroot_demo::process::spawn(move || {
            match body(p, filter_ref, console_fd, preserve_fds) {
                Ok(()) => {
                    let (code, message) = process::exec(p);
                    fail(message);
                    code
                }
                Err(e) => fail(e.to_string()),
            }
        }) {
            Ok(pid) => {
                let bytes = pid.as_raw().to_le_bytes();
                // SAFETY: as above.
                unsafe { libc::write(pid_fd, bytes.as_ptr().cast(), bytes.len()) };
                0
            }
            Err(e) => fail(e.to_string()),
        }
    })?;
    drop(errors_write);
    drop(pid_write);
    drop(console);
    chroot_demo::process::wait(intermediate)?;
    let mut bytes = [0u8; 4];
    let got_pid = pid_read.read_exact(&mut bytes).is_ok();
    let mut message = String::new();
    let _ = errors_read.read_to_string(&mut message);
    if !got_pid || !message.is_empty() {
        return Err(Error::Child(if message.is_empty() {
            "the exec'd process exited before execve".into()
        } else {
            message
        }));
    }
    let pid = Pid::from_raw(i32::from_le_bytes(bytes));
    if let Some(path) = &o.pid_file {
        crate::create::write_pid_file(path, pid.as_raw())?;
    }
    if o.detach {
        return Ok(0);
    }
    run::wait_forwarding(pid)
}

/// In the container: terminal, limits, working directory, privileges.
fn body(
    p: &Process,
    filter: Option<&libseccomp::ScmpFilterContext>,
    console: Option<RawFd>,
    preserve_fds: u32,
) -> Result<()> {
    let tty = match console {
        Some(socket) => {
            let (master, slave, _) = mini_docker::container::setup::open_pty()?;
            init::send_fd(socket, master.as_raw_fd(), "/dev/ptmx")?;
            Some(std::os::fd::IntoRawFd::into_raw_fd(slave))
        }
        None => None,
    };
    process::limits(p)?;
    let cwd = p.cwd();
    chroot_demo::error::step(format!("cd {}", cwd.display()), || nix::unistd::chdir(cwd))?;
    init::set_stdio(tty)?;
    process::close_inherited(preserve_fds)?;
    process::drop_privileges(p, filter)
}

/// The process for `exec ID ARGS…`: the container's own, with these
/// arguments and the flags' changes (runc's way).
pub fn from_flags(c: &Container, flags: &Flags) -> Result<Process> {
    let mut p = c
        .record
        .spec
        .process()
        .clone()
        .ok_or_else(|| Error::Config("the container has no process".into()))?;
    p.set_args(Some(flags.args.clone()));
    p.set_terminal(Some(flags.tty));
    if let Some(cwd) = &flags.cwd {
        p.set_cwd(cwd.into());
    }
    let mut env = p.env().clone().unwrap_or_default();
    env.extend(flags.env.iter().cloned());
    p.set_env(Some(env));
    if let Some(user) = &flags.user {
        let (uid, gid) = user.split_once(':').unwrap_or((user, "0"));
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| Error::Usage(format!("--user {user}: give numeric uid[:gid]")))
        };
        let mut u = p.user().clone();
        u.set_uid(number(uid)?);
        u.set_gid(number(gid)?);
        p.set_user(u);
    }
    if flags.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}

/// `--additional-gids` and `--cap` on top of either kind of process.
pub fn extend(p: &mut Process, gids: &[u32], caps: &[String]) -> Result<()> {
    if !gids.is_empty() {
        let mut user = p.user().clone();
        let mut all = user.additional_gids().clone().unwrap_or_default();
        all.extend_from_slice(gids);
        user.set_additional_gids(Some(all));
        p.set_user(user);
    }
    if caps.is_empty() {
        return Ok(());
    }
    let mut c = p.capabilities().clone().unwrap_or_default();
    for name in caps {
        let cap: oci_spec::runtime::Capability = serde_json::from_value(name.to_uppercase().into())
            .map_err(|_| Error::Usage(format!("unknown capability {name:?}")))?;
        for set in [
            c.bounding().clone(),
            c.effective().clone(),
            c.permitted().clone(),
        ] {
            let _ = set;
        }
        let add = |s: &Option<oci_spec::runtime::Capabilities>| {
            let mut s = s.clone().unwrap_or_default();
            s.insert(cap);
            Some(s)
        };
        c.set_bounding(add(c.bounding()));
        c.set_effective(add(c.effective()));
        c.set_permitted(add(c.permitted()));
    }
    p.set_capabilities(Some(c));
    Ok(())
}

/// `exec`'s flags that build a process from arguments.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub args: Vec<String>,
    pub tty: bool,
    pub cwd: Option<String>,
    pub env: Vec<String>,
    pub user: Option<String>,
    pub no_new_privs: bool,
}
