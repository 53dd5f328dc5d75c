//! The container's first process, from `clone` to `execve`. It talks to
//! `create` over ns-demo's channel, one byte per step:
//!
//! 1. joins the namespaces the bundle names by path, then waits for `go`
//!    (it is in its cgroup, its id maps are written);
//! 2. builds the filesystem and says [`READY_FOR_HOOKS`]; `create` runs
//!    the `prestart` and `createRuntime` hooks and says `go`;
//! 3. runs `createContainer` hooks, `pivot_root`s, finishes (console,
//!    masks, hostname, limits), checks that the command exists, says
//!    [`CREATED`] — and blocks opening `exec.fifo` for writing;
//! 4. `start` opens the fifo for reading: the open returns, the
//!    `startContainer` hooks run, privileges drop, and the command execs.
//!
//! Any failure is written to the error pipe (close-on-exec: a successful
//! `execve` closes it) and ends the process.

use std::os::fd::{AsRawFd as _, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use libseccomp::ScmpFilterContext;
use mini_docker::container::cgroupfs::View;
use ns_demo::spawn::Channel;
use ns_demo::Kind;
use oci_spec::runtime::{Process, Spec};

use crate::{config, hooks, mounts, process, Error, Result};

/// Step 2 is done: the filesystem is built.
pub const READY_FOR_HOOKS: u8 = 1;
/// Step 3 is done: waiting on the fifo.
pub const CREATED: u8 = 2;

/// What the container's process needs, prepared by `create`.
#[allow(missing_debug_implementations)] // the seccomp context is opaque
pub struct Plan<'a> {
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub rootfs: PathBuf,
    pub namespaces: config::Namespaces,
    /// Namespaces joined by path (the PID one is joined by `create`).
    pub join: Vec<(Kind, OwnedFd)>,
    /// `exec.fifo`, opened `O_PATH`.
    pub fifo: RawFd,
    /// The connected console socket, for `terminal: true`.
    pub console: Option<RawFd>,
    pub errors: RawFd,
    pub no_pivot: bool,
    pub filter: Option<&'a ScmpFilterContext>,
    pub cgroups: Option<View>,
    /// The state (status `creating`) the hooks read, once `create` has it.
    pub state_file: PathBuf,
    pub preserve_fds: u32,
}

/// The child's body; returns only on failure.
pub fn run(plan: &Plan, mut channel: Channel) -> i32 {
    match prepare(plan, &mut channel) {
        Ok(()) => {
            let (code, message) = process::exec(plan.process);
            report(plan.errors, &message);
            code
        }
        Err(e) => {
            report(plan.errors, &e.to_string());
            1
        }
    }
}

fn report(fd: RawFd, message: &str) {
    // SAFETY: writes a buffer we own to a descriptor we hold.
    unsafe { libc::write(fd, message.as_ptr().cast(), message.len()) };
}

fn wait_for_go(channel: &mut Channel) -> Result<()> {
    match channel.recv() {
        Ok(true) => Ok(()),
        _ => Err(Error::State(
            "mini-runc create exited during the start".into(),
        )),
    }
}

fn prepare(plan: &Plan, channel: &mut Channel) -> Result<()> {
    for (kind, fd) in &plan.join {
        chroot_demo::error::step(format!("setns({kind})   # joined by path"), || {
            nix::sched::setns(fd, kind.flag())
        })?;
    }
    wait_for_go(channel)?;
    let userns = plan.namespaces.has_new(Kind::User);
    if userns {
        chroot_demo::error::step(
            "setresuid 0; setresgid 0   # root of the new user namespace",
            || {
                let root = nix::unistd::Gid::from_raw(0);
                nix::unistd::setresgid(root, root, root)?;
                let root = nix::unistd::Uid::from_raw(0);
                nix::unistd::setresuid(root, root, root)
            },
        )?;
    }
    // Unshared only now, inside the cgroup, so that the namespace's root
    // is the container's own cgroup.
    if plan.namespaces.has_new(Kind::Cgroup) {
        ns_demo::spawn::unshare(&[Kind::Cgroup])?;
    }
    if plan.namespaces.has_new(Kind::Net) {
        // runc brings a new network namespace's loopback up.
        ns_demo::net::set_up("lo")?;
    }
    mounts::prepare_root(plan.spec, &plan.rootfs)?;
    mounts::mount_all(plan.spec, &plan.rootfs, plan.cgroups.as_ref(), userns)?;
    channel
        .send_value(READY_FOR_HOOKS)
        .map_err(|e| Error::io("the create channel", e))?;
    wait_for_go(channel)?;
    let state: serde_json::Value = std::fs::read(&plan.state_file)
        .map_err(|e| Error::io(&plan.state_file, e))
        .and_then(|b| Ok(serde_json::from_slice(&b)?))?;
    let hooks = plan.spec.hooks().clone().unwrap_or_default();
    hooks::run("createContainer", hooks.create_container().as_ref(), &state)?;

    mounts::enter_root(&plan.rootfs, plan.no_pivot)?;
    let stdio = match plan.console {
        Some(socket) => Some(console(socket)?),
        None => None,
    };
    mounts::finish(plan.spec)?;
    if let Some(name) = plan.spec.hostname().as_ref().filter(|h| !h.is_empty()) {
        chroot_demo::error::step(format!("hostname {name}"), || {
            nix::unistd::sethostname(name)
        })?;
    }
    if let Some(name) = plan.spec.domainname().as_ref().filter(|h| !h.is_empty()) {
        tracing::info!(target: "explain", "domainname {name}");
        // SAFETY: a buffer and its length.
        if unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) } != 0 {
            return Err(Error::io("setdomainname", std::io::Error::last_os_error()));
        }
    }
    process::limits(plan.process)?;
    let cwd = plan.process.cwd();
    std::fs::create_dir_all(cwd).map_err(|e| Error::io(cwd, e))?;
    chroot_demo::error::step(format!("cd {}", cwd.display()), || nix::unistd::chdir(cwd))?;
    check_command(plan.process)?;
    set_stdio(stdio)?;

    channel
        .send_value(CREATED)
        .map_err(|e| Error::io("the create channel", e))?;
    wait_for_start(plan.fifo)?;
    hooks::run("startContainer", hooks.start_container().as_ref(), &state)?;
    process::close_inherited(plan.preserve_fds)?;
    process::drop_privileges(plan.process, plan.filter)
}

/// Blocks until `start` opens the fifo for reading, then writes the byte
/// it reads. The fifo was opened `O_PATH` before `pivot_root`; its
/// `/proc/self/fd` link reopens it for writing from inside the container.
fn wait_for_start(fifo: RawFd) -> Result<()> {
    let path = format!("/proc/self/fd/{fifo}");
    tracing::info!(target: "explain", "open exec.fifo O_WRONLY   # blocks until `start` opens it");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io("exec.fifo", e))?;
    std::io::Write::write_all(&mut f, b"0").map_err(|e| Error::io("exec.fifo", e))
}

/// runc's early check, before the container counts as created: a command
/// that does not exist fails `create`, with the message (and so the exit
/// code 127) engines expect.
fn check_command(p: &Process) -> Result<()> {
    let Some(program) = p.args().as_ref().and_then(|a| a.first()) else {
        return Err(Error::Config("process.args must not be empty".into()));
    };
    if program.contains('/') {
        return if Path::new(program).exists() {
            Ok(())
        } else {
            Err(Error::Child(format!(
                "exec: \"{program}\": stat {program}: no such file or directory"
            )))
        };
    }
    let path = p
        .env()
        .iter()
        .flatten()
        .find_map(|e| e.strip_prefix("PATH="))
        .unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let found = path.split(':').any(|dir| {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(Path::new(dir).join(program))
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    });
    if found {
        Ok(())
    } else {
        Err(Error::Child(format!(
            "exec: \"{program}\": executable file not found in $PATH"
        )))
    }
}

/// `terminal: true`: a pty in the container's own `/dev/pts` (its slave
/// also bound at `/dev/console`), the master sent to the console socket
/// with `SCM_RIGHTS` — the engine (containerd's shim, conmon) holds it
/// from then on. Returns the slave, the process's stdio to be.
fn console(socket: RawFd) -> Result<RawFd> {
    let (master, slave) = mini_docker::container::setup::console()?;
    send_fd(socket, master.as_raw_fd(), "/dev/ptmx")?;
    drop(master);
    Ok(std::os::fd::IntoRawFd::into_raw_fd(slave))
}

/// Sends `fd` over a unix socket, with a name as the message (runc sends
/// the pty's name; receivers only take the descriptor).
pub fn send_fd(socket: RawFd, fd: RawFd, name: &str) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
    let fds = [fd];
    let iov = [std::io::IoSlice::new(name.as_bytes())];
    tracing::info!(target: "explain", "sendmsg(console socket, SCM_RIGHTS [pty master])");
    sendmsg::<()>(
        socket,
        &iov,
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(Error::sys("sending the pty master to the console socket"))?;
    Ok(())
}

/// A new session; with a terminal, the pty becomes its controlling
/// terminal and stdin, stdout and stderr.
pub fn set_stdio(tty: Option<RawFd>) -> Result<()> {
    let _ = nix::unistd::setsid();
    let Some(fd) = tty else {
        return Ok(());
    };
    // SAFETY: TIOCSCTTY takes an integer; fd is a terminal.
    if unsafe { libc::ioctl(fd, libc::TIOCSCTTY, 0) } < 0 {
        return Err(Error::io("TIOCSCTTY", std::io::Error::last_os_error()));
    }
    for target in 0..3 {
        // SAFETY: duplicates a descriptor this process holds.
        if unsafe { libc::dup2(fd, target) } < 0 {
            return Err(Error::io("dup2", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}
