//! One start of the container, the handshakes in order: the cgroup to be
//! born in, `clone` into new namespaces, the cgroup and the network for the
//! child ([`super::resources`]), the go-ahead on the sync channel, the pty
//! master back from the child (`-t`), then the error pipe: end-of-file means
//! `execve` happened ([`crate::container::child`] is the other side).

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd as _, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;

use cgroup_demo::{Cgroup, Version};
use net_demo::netlink::Netlink;
use nix::sched::CloneFlags;
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use ns_demo::spawn::Placement;
use ns_demo::Kind;

use super::io::set_window_size;
use super::{shed_start_up_memory, status, Monitor, Run, NO_CLONE_INTO_CGROUP};
use crate::container::child::{self, Plan};
use crate::container::lifecycle::LifecycleError;
use crate::container::options::NamespaceMode;
use crate::container::protocol::{self, Message};
use crate::container::record::{Container, NetworkMode};
use crate::container::rootfs::Rootfs;
use crate::container::security;
use crate::container::setup::Filesystem;
use crate::events::Action;
use crate::{Error, Result};

impl Monitor {
    /// Clones and releases the container; `Err((code, message))` when its
    /// command did not start.
    pub(super) fn start(&mut self) -> std::result::Result<Run, (i32, String)> {
        let fail = |e: Error| (125, e.to_string());
        let c = self.config.clone();
        let device_nodes = self.device_nodes.clone();
        let dir = self.containers.dir(&c.id);
        let image = c
            .image
            .parse()
            .map_err(|_| (125, format!("bad image ID {}", c.image)))?;
        let rootfs = Rootfs::new(&self.store, &image, &dir).map_err(fail)?;
        let stdio = Stdio3::new(c.config.tty, c.config.open_stdin).map_err(fail)?;
        let Namespaces {
            kinds,
            join_net,
            joins,
            host_network,
        } = self.namespaces(&c).map_err(fail)?;
        let h = &c.host_config;
        let filter = if c.process.seccomp {
            let cache = self.containers.run_root().join("seccomp");
            Some(security::Program::default_cached(&c.process.capabilities, &cache).map_err(fail)?)
        } else {
            None
        };
        let layout = self.layout.clone();
        let nl = self.plan_networks(&c).map_err(fail)?;
        let (errors_read, errors_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| fail(Error::System(chroot_demo::Error::sys("pipe", e))))?;
        let plan = Plan {
            fs: Filesystem {
                rootfs: &rootfs,
                dir: &dir,
                privileged: c.host_config.privileged,
                readonly: c.host_config.readonly_rootfs,
                mounts: &c.mounts,
                devices: &device_nodes,
                shm_size: c.host_config.shm_size,
                sysctls: &c.host_config.sysctls,
            },
            cgroupfs: crate::container::cgroupfs::View {
                layout,
                mode: c.host_config.cgroupns_mode,
                read_only: !c.host_config.privileged,
                replaced: crate::container::cgroupfs::replaced_by(&c.mounts),
            },
            hostname: &c.config.hostname,
            loopback: !host_network && join_net.is_none(),
            join_net: join_net.as_ref().map(|f| f.as_raw_fd()),
            join: joins.iter().map(|(f, k)| (f.as_raw_fd(), *k)).collect(),
            own_uts: h.uts_mode == NamespaceMode::Private,
            ulimits: &c.host_config.ulimits,
            nics: self
                .planned
                .iter()
                .map(|p| (p.nic.name.clone(), p.nic.address, p.nic.default_via))
                .collect(),
            process: &c.process,
            filter: filter.as_ref(),
            init: c.host_config.init,
            stdio: stdio.child_fds(),
            errors: errors_write.as_raw_fd(),
        };
        let birth_cgroup = birth_cgroup(&self.cgroup);
        let spawned = ns_demo::spawn::spawn_in(
            &kinds,
            birth_cgroup.as_ref().map(|fd| fd.as_fd()),
            |channel| child::run(&plan, channel),
        );
        drop(birth_cgroup);
        drop(errors_write);
        let mut spawned = match spawned {
            Ok(s) => s,
            Err(e) => {
                self.release_planned();
                return Err(fail(e.into()));
            }
        };
        let pid = spawned.pid;
        self.mount_ns = File::open(format!("/proc/{pid}/ns/mnt")).ok();
        let (mut outputs, mut master, mut stdin) = stdio.keep_parent_ends();
        let placed = match spawned.placement {
            Placement::Born => Ok(()),
            Placement::Parents(_) => self.cgroup.add(pid),
        };
        if let Err(e) = placed {
            self.release_planned();
            // Perhaps the child already failed (and exited): its reason
            // is the better one.
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            return Err(child_error(errors_read).unwrap_or_else(|| fail(e.into())));
        }
        if let Err(e) = self.wire(pid, nl.as_ref()) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            // A child that failed early (a volume's mount) took its network
            // namespace with it: its reason is the one to report.
            return Err(child_error(errors_read).unwrap_or_else(|| fail(e)));
        }
        let _ = spawned.channel.send();
        if c.config.tty {
            // The pty master, opened by the container in its /dev/pts.
            if let Ok(Some(fd)) = spawned.channel.recv_fd() {
                if let Some((rows, cols)) = self.tty_size {
                    set_window_size(&fd, rows, cols);
                }
                // The size is set: the container may go on.
                let _ = spawned.channel.send();
                set_nonblocking(fd.as_raw_fd());
                let pty = File::from(fd);
                master = pty.try_clone().ok();
                stdin = pty.try_clone().ok();
                outputs = vec![(pty, 0)];
            }
        }
        if let Some(error) = child_error(errors_read) {
            let _ = waitpid(pid, None);
            return Err(error);
        }
        self.running(&c, pid);
        Ok(Run {
            pid,
            outputs,
            master,
            stdin,
            pending_stdin: Vec::new(),
            stdin_eof: false,
            status: None,
        })
    }

    /// The namespaces the container gets: new ones to clone into, and
    /// other containers' to join (`--network/--ipc/--uts container:X` by
    /// the child; `--pid container:X` here, as a PID namespace is entered by
    /// the children of whoever calls setns). The cgroup namespace
    /// (`--cgroupns private`) comes later, from inside the cgroup (see
    /// `child::run`), so that the container sees its cgroup as `/`.
    fn namespaces(&self, c: &Container) -> Result<Namespaces> {
        let h = &c.host_config;
        let host_network = h.network_mode == NetworkMode::Host;
        let join_net = match &h.network_mode {
            NetworkMode::Container(other) => Some(self.peer_ns(other, "net", "network")?),
            _ => None,
        };
        let mut kinds = vec![Kind::Mount];
        for (mode, kind) in [
            (&h.uts_mode, Kind::Uts),
            (&h.ipc_mode, Kind::Ipc),
            (&h.pid_mode, Kind::Pid),
        ] {
            if *mode == NamespaceMode::Private {
                kinds.push(kind);
            }
        }
        if !host_network && join_net.is_none() {
            kinds.push(Kind::Net);
        }
        let mut joins = Vec::new();
        for (mode, ns, what, flag) in [
            (&h.ipc_mode, "ipc", "IPC", CloneFlags::CLONE_NEWIPC),
            (&h.uts_mode, "uts", "UTS", CloneFlags::CLONE_NEWUTS),
        ] {
            if let Some(other) = mode.container() {
                joins.push((self.peer_ns(other, ns, what)?, flag));
            }
        }
        if let Some(other) = h.pid_mode.container() {
            let peer = self.peer_ns(other, "pid", "PID")?;
            chroot_demo::error::step("setns(/proc/PID/ns/pid)   # --pid container:", || {
                nix::sched::setns(peer.as_fd(), CloneFlags::CLONE_NEWPID)
            })?;
        }
        Ok(Namespaces {
            kinds,
            join_net,
            joins,
            host_network,
        })
    }

    /// An address on each of the container's networks (their bridges up);
    /// returns the netlink client that will plug the interfaces in, or
    /// `None` without networks.
    fn plan_networks(&mut self, c: &Container) -> Result<Option<Netlink>> {
        self.planned.clear();
        let names = crate::container::wiring::network_names(c);
        if names.is_empty() {
            return Ok(None);
        }
        let nl = Netlink::open()?;
        for (i, name) in names.iter().enumerate() {
            match crate::container::wiring::plan(&nl, &self.networks, &self.containers, c, name, i)
            {
                Ok(p) => self.planned.push(p),
                Err(e) => {
                    self.release_planned();
                    return Err(e);
                }
            }
        }
        Ok(Some(nl))
    }

    /// The container runs as `pid`: its health checks begin, the state
    /// and the events say so, and the launcher hears of it last (its next
    /// command's events — pause, stop… — come after these).
    fn running(&mut self, c: &Container, pid: Pid) {
        let program = std::env::current_exe()
            .map(|e| e.with_file_name("mini-docker"))
            .unwrap_or_default();
        let previous = self
            .containers
            .runtime(&c.id)
            .ok()
            .and_then(|r| r.state.health);
        self.health = crate::container::health::Checker::new(
            c.config.healthcheck.as_ref(),
            program,
            &self.global,
            &c.id,
            previous,
        );
        let health = self.health.as_ref().map(|h| h.health.clone());
        let _ = self.containers.update(&c.id, |r| {
            r.state.health = health;
            r.state.start(pid.as_raw());
            r.networks = self.endpoints.clone();
            r.ports = self.ports.clone();
        });
        self.record_networks(Action::Connect);
        self.record(Action::Start, &[]);
        if !self.reported {
            status(&Message::Running { pid: pid.as_raw() });
            self.reported = true;
            shed_start_up_memory();
        }
    }

    /// `container:X`'s namespace `ns` (X must be running); `what` names it
    /// in Docker's message.
    fn peer_ns(&self, key: &str, ns: &str, what: &str) -> Result<File> {
        let other = self.containers.find(key)?;
        let runtime = self.containers.runtime(&other.id)?;
        if !crate::container::lifecycle::is_running(&runtime) {
            return Err(LifecycleError::JoinNotRunning {
                what: what.into(),
                key: key.into(),
            }
            .into());
        }
        let path = format!("/proc/{}/ns/{ns}", runtime.state.pid);
        File::open(&path).map_err(|e| Error::io(&path, e))
    }
}

/// The directory of the container's cgroup for it to be born in: v2 only (a
/// v1 cgroup is one directory per hierarchy, and the process is moved into
/// each), and not when [`NO_CLONE_INTO_CGROUP`] asks for the move.
fn birth_cgroup(cgroup: &Cgroup) -> Option<OwnedFd> {
    if cgroup.version() != Version::V2 {
        return None;
    }
    if std::env::var_os(NO_CLONE_INTO_CGROUP).is_some_and(|v| v == "1") {
        tracing::info!(target: "explain", "# {NO_CLONE_INTO_CGROUP}=1: clone, then move into the cgroup");
        return None;
    }
    let dir = cgroup.dirs().into_iter().next()?;
    let opened = File::options()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC)
        .open(&dir);
    opened.ok().map(OwnedFd::from)
}

/// What [`Monitor::namespaces`] decided.
struct Namespaces {
    /// New namespaces to clone into.
    kinds: Vec<Kind>,
    /// `--network container:X`: X's network namespace, for the child.
    join_net: Option<File>,
    /// `--ipc`/`--uts container:X`, for the child.
    joins: Vec<(File, CloneFlags)>,
    host_network: bool,
}

/// The container's stdio as created by the monitor: the child's ends and
/// the ends the monitor keeps.
/// Empty for `-t`: the container makes its pty itself.
struct Stdio3 {
    child: Vec<OwnedFd>,
    parent_outputs: Vec<(File, usize)>,
    stdin: Option<File>,
}

impl Stdio3 {
    fn new(tty: bool, open_stdin: bool) -> Result<Self> {
        let sys = |step: &str, e| Error::System(chroot_demo::Error::sys(step, e));
        if tty {
            return Ok(Stdio3 {
                child: Vec::new(),
                parent_outputs: Vec::new(),
                stdin: None,
            });
        }
        let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| sys("pipe", e));
        let (stdin_child, stdin_parent) = if open_stdin {
            let (r, w) = pipe()?;
            set_nonblocking(w.as_raw_fd());
            (r, Some(File::from(w)))
        } else {
            let null = File::open("/dev/null").map_err(|e| Error::io("/dev/null", e))?;
            (OwnedFd::from(null), None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        Ok(Stdio3 {
            child: vec![stdin_child, out_w, err_w],
            parent_outputs: vec![(File::from(out_r), 0), (File::from(err_r), 1)],
            stdin: stdin_parent,
        })
    }

    fn child_fds(&self) -> Option<[RawFd; 3]> {
        match self.child.as_slice() {
            [a, b, c] => Some([a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd()]),
            _ => None,
        }
    }

    /// Closes the child's ends (the container has its copies) and returns
    /// (outputs, pty master, stdin writer); the pty comes later for `-t`.
    /// The output of a run and what is written to its stdin.
    fn keep_parent_ends(self) -> (Vec<(File, usize)>, Option<File>, Option<File>) {
        drop(self.child);
        (self.parent_outputs, None, self.stdin)
    }
}

/// What the child wrote on its error pipe, read to its end: nothing when
/// its `execve` succeeded (the pipe is close-on-exec), else one
/// [`Message::Failed`]. Anything else is the monitor's own failure to start
/// it, named as such.
fn child_error(errors: OwnedFd) -> Option<(i32, String)> {
    let mut message = Vec::new();
    let _ = File::from(errors).read_to_end(&mut message);
    match protocol::read(&mut &message[..]) {
        Ok(None) => None,
        Ok(Some(Message::Failed { code, message })) => Some((code, message)),
        Ok(Some(other)) => Some((125, format!("the container's process sent {other:?}"))),
        Err(e) => Some((
            125,
            format!("the container's process sent a malformed report: {e}"),
        )),
    }
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}
