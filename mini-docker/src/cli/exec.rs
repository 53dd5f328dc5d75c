//! `exec`: a new process in a running container — `setns` into each of its
//! namespaces (lesson 2's `join`), its cgroup, its root, and the same
//! privileges as its first process (capabilities, seccomp, user).
//!
//! No monitor is involved: the process inherits this command's stdio and
//! its exit code becomes ours, so an exec costs two forks and the joins.

use std::io::IsTerminal as _;
use std::os::fd::AsRawFd as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use clap::Args;
use mini_docker::container::child;
use mini_docker::container::lifecycle::{self, effective};
use mini_docker::container::record::ProcessSpec;
use mini_docker::container::security;
use mini_docker::container::spec;
use nix::unistd::Pid;
use ns_demo::Kind;

use super::{Context, Failure};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY (in the container's /dev/pts).
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]").
    #[arg(short, long)]
    user: Option<String>,
    /// Give extended privileges to the command.
    #[arg(long)]
    privileged: bool,
    /// The container, then the command: everything after the container
    /// belongs to the command (`exec c sh -c x`), as Docker parses it.
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    target: Vec<String>,
}

pub fn exec(ctx: &Context, args: &ExecArgs) -> Result<i32> {
    let (container, command) = args.target.split_first().context("a container")?;
    // Docker's CLI refuses before asking the daemon anything; these and a
    // missing or stopped container exit 1, not 125: nothing was created.
    let refuse = Failure::Refused;
    let c = ctx
        .containers
        .find(container)
        .map_err(|e| refuse(e.to_string()))?;
    let runtime = ctx.containers.runtime(&c.id)?;
    let state = effective(&runtime);
    if state.paused() {
        return Err(refuse(format!(
            "Container {} is paused, unpause the container before exec",
            c.name.trim_start_matches('/')
        ))
        .into());
    }
    if !state.status.can_exec() {
        return Err(refuse(format!("Container {} is not running", c.id)).into());
    }
    // Checked once the container is known to run, as Docker does.
    if args.interactive && args.tty && !args.detach && !std::io::stdin().is_terminal() {
        return Err(refuse("the input device is not a TTY".into()).into());
    }
    let target = Pid::from_raw(state.pid);
    let root = format!("/proc/{target}/root");

    let mut process: ProcessSpec = c.process.clone();
    process.args = command.to_vec();
    for e in &args.env {
        let entry = match e.split_once('=') {
            Some(_) => e.clone(),
            None => match std::env::var(e) {
                Ok(v) => format!("{e}={v}"),
                Err(_) => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        process
            .env
            .retain(|x| x.split('=').next() != Some(key.as_str()));
        process.env.push(entry);
    }
    if let Some(w) = &args.workdir {
        process.cwd = w.clone();
    }
    if args.privileged {
        process.capabilities = security::capabilities(&[], &[], true)?;
        process.seccomp = false;
    }
    let filter = process
        .seccomp
        .then(|| {
            let cache = ctx.containers.run_root().join("seccomp");
            security::Program::default_cached(&process.capabilities, &cache)
        })
        .transpose()?;
    let cgroup = lifecycle::cgroup(&c)?;
    // Opened before any namespace changes: the container's root, to enter
    // after the mount namespace (as `nsenter --root` does).
    let root_dir = std::fs::File::open(&root).with_context(|| format!("opening {root}"))?;
    let kinds = [
        Kind::Ipc,
        Kind::Uts,
        Kind::Net,
        Kind::Pid,
        Kind::Mount,
        Kind::Cgroup,
    ];
    let handles = ns_demo::join::open(target, &kinds)?;
    let detach = args.detach;
    let interactive = args.interactive;
    let user = args.user.clone();
    // `-t`: the pty is opened inside the container and its master passed
    // back here over this socket pair.
    let tty = args.tty && !detach;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;

    let body = move || -> i32 {
        let fail = |code: i32, message: String| {
            eprintln!("Error: OCI runtime exec failed: {message}");
            code
        };
        if let Err(e) = cgroup.add(Pid::this()) {
            return fail(125, e.to_string());
        }
        if let Err(e) = handles.enter() {
            return fail(125, e.to_string());
        }
        // SAFETY: fchdir + chroot on a descriptor we hold.
        if unsafe { libc::fchdir(root_dir.as_raw_fd()) } != 0 || nix::unistd::chroot(".").is_err() {
            return fail(125, "entering the container's root".into());
        }
        drop(root_dir);
        // `-u` is looked up in the container's own /etc/passwd, now that
        // `/` is the container's.
        if let Some(user) = &user {
            let files = |rel: &str| std::fs::read_to_string(Path::new("/").join(rel)).ok();
            match spec::resolve_user(user, &files) {
                Ok((uid, gid, groups)) => {
                    (process.uid, process.gid, process.additional_gids) = (uid, gid, groups)
                }
                Err(e) => return fail(125, e.to_string()),
            }
        }
        let slave = if tty {
            match mini_docker::container::setup::open_pty() {
                Ok((master, slave, _)) => {
                    let mut channel = ns_demo::spawn::Channel::new(theirs);
                    if let Err(e) = channel.send_fd(master.as_raw_fd()) {
                        return fail(125, format!("passing the pty: {e}"));
                    }
                    Some(slave)
                }
                Err(e) => return fail(125, e.to_string()),
            }
        } else {
            drop(theirs);
            None
        };
        // Entering a PID namespace applies to children only: fork once more.
        let grandchild = chroot_demo::process::spawn(|| {
            if let Some(slave) = &slave {
                let fd = slave.as_raw_fd();
                // SAFETY: a new session whose controlling terminal is the
                // pty, on stdin, stdout and stderr.
                unsafe {
                    libc::setsid();
                    libc::ioctl(fd, libc::TIOCSCTTY, 0);
                    for target in 0..3 {
                        libc::dup2(fd, target);
                    }
                }
            } else if detach || !interactive {
                if let Ok(null) = std::fs::File::open("/dev/null") {
                    // SAFETY: replaces stdin with /dev/null.
                    unsafe { libc::dup2(null.as_raw_fd(), 0) };
                }
            }
            if detach {
                let _ = nix::unistd::setsid();
                if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
                    // SAFETY: replaces stdout/stderr with /dev/null.
                    unsafe {
                        libc::dup2(null.as_raw_fd(), 1);
                        libc::dup2(null.as_raw_fd(), 2);
                    }
                }
            }
            if let Err(e) = nix::unistd::chdir(process.cwd.as_str()) {
                return fail(126, format!("chdir to cwd (\"{}\"): {e}", process.cwd));
            }
            if let Err(e) = child::drop_privileges(&process, filter.as_ref()) {
                return fail(125, e.to_string());
            }
            let (code, message) = child::exec_process(&process);
            fail(code, message)
        });
        match grandchild {
            Ok(_) if detach => 0,
            Ok(pid) => chroot_demo::process::wait(pid).map_or(125, |e| e.code()),
            Err(e) => fail(125, e.to_string()),
        }
    };
    let pid = chroot_demo::process::spawn(body)?;
    if tty {
        let mut channel = ns_demo::spawn::Channel::new(ours.try_clone()?);
        drop(ours);
        if let Ok(Some(master)) = channel.recv_fd() {
            super::attach::relay_pty(master, interactive)?;
        }
    } else {
        drop(ours);
    }
    let code = chroot_demo::process::wait(pid)?.code();
    // The child printed why it failed; its code is Docker's (125/126/127).
    Ok(code)
}
