//! The monitor: one small process per running container (conmon's role).
//!
//! `start` launches it as `mini-docker-monitor ID` (the binary beside
//! `mini-docker`) in a session of its own,
//! so it outlives the command that started it. It creates the container's
//! cgroup, clones the container (a direct child, so the container can die
//! with it through `PR_SET_PDEATHSIG`), holds the container's stdio (pipes,
//! or a pty for `-t`), writes the json-file log, serves attach clients on a
//! unix socket, records the exit status, applies the restart policy, and
//! cleans up — including `--rm`.
//!
//! During start-up its stdout is a pipe to the launching command: the
//! `--explain` lines of the monitor and of the container's first process
//! travel on it, followed by one status line. After that the monitor
//! closes it, so a command such as `run -d … | cat` never waits on it.

use crate::events::Action;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd as _, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cgroup_demo::{Cgroup, Driver, Limits, Resolved, Version};
use nix::sched::CloneFlags;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use ns_demo::spawn::Placement;
use ns_demo::Kind;

use super::child::{self, Plan};
use super::devices::{self, Node};
use super::dir::Containers;
use super::logs;
use super::options::NamespaceMode;
use super::record::{now, start_time, Container};
use super::rootfs::Rootfs;
use super::security;
use super::setup::Filesystem;
use super::stream::{self, Decoder};
use crate::store::Store;
use crate::{Error, Result};

/// The first byte of the status line that ends the start-up stream (and
/// of the warning lines that may come before it).
const STATUS: char = '\u{1}';
/// Set to `1`, the container is cloned in the monitor's cgroup and then
/// moved into its own, as on v1, even where it could be born there (for
/// `bench/clone-into-cgroup.sh`, which compares the two).
pub const NO_CLONE_INTO_CGROUP: &str = "MINI_DOCKER_NO_CLONE_INTO_CGROUP";

/// How a start ended, as the launching command learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Running {
        pid: i32,
    },
    /// The command never ran: mini-docker's or the exec's error and its
    /// exit code (125, 126, 127).
    Failed {
        code: i32,
        message: String,
    },
}

/// Launches the monitor for container `id` and waits until the container
/// is running or has failed to start. `global` are the command's global
/// flags (root, run root, explain) for the monitor's command line;
/// `attach` becomes the monitor's first attach client, so not a byte of
/// output is missed. Explain lines are copied to `narration`.
pub fn launch(
    global: &[OsString],
    id: &str,
    attach: Option<UnixStream>,
    tty_size: Option<(u16, u16)>,
    narration: &mut dyn Write,
) -> Result<Started> {
    let (reader, writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let writer_err = writer.try_clone().map_err(|e| Error::io("pipe", e))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("/proc/self/exe", e))?
        .with_file_name("mini-docker-monitor");
    let mut command = Command::new(&exe);
    command
        .args(global)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err);
    if let Some((rows, cols)) = tty_size {
        command.arg("--tty-size").arg(format!("{rows}x{cols}"));
    }
    let attach_fd = attach.map(|s| s.into_raw_fd());
    if let Some(fd) = attach_fd {
        command.arg("--attach-fd").arg("3");
        // SAFETY: between fork and exec: async-signal-safe calls only.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // SAFETY: setsid is async-signal-safe; the monitor leaves our session
    // so the terminal's Ctrl-C reaches the client, not the monitor.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let spawned = command.spawn();
    if let Some(fd) = attach_fd {
        // SAFETY: our copy, now owned by the monitor.
        unsafe { libc::close(fd) };
    }
    drop(command);
    spawned.map_err(|e| Error::io(&exe, e))?;
    for line in BufReader::new(reader).lines() {
        let line = line.map_err(|e| Error::io("monitor status", e))?;
        let Some(status) = line.strip_prefix(STATUS) else {
            let _ = writeln!(narration, "{line}");
            continue;
        };
        // What the host could not apply (Docker prints these at create).
        if let Some(warning) = status.strip_prefix("warning ") {
            eprintln!("WARNING: {warning}");
            continue;
        }
        return Ok(match status.split_once(' ') {
            Some(("running", pid)) => Started::Running {
                pid: pid.parse().unwrap_or(0),
            },
            Some(("failed", rest)) => {
                let (code, message) = rest.split_once(' ').unwrap_or((rest, ""));
                Started::Failed {
                    code: code.parse().unwrap_or(125),
                    message: message.to_string(),
                }
            }
            _ => continue,
        });
    }
    Err(Error::Usage(
        "the container's monitor exited during start".into(),
    ))
}

/// The monitor process's `main`: returns its exit code.
/// `global` are the `--root`/`--runroot` flags, for the health probes'
/// `mini-docker exec` command lines.
pub fn main(
    store: Store,
    containers: Containers,
    id: &str,
    attach: Option<RawFd>,
    tty_size: Option<&str>,
    global: Vec<OsString>,
) -> i32 {
    let clients = attach
        // SAFETY: the launcher passed us this descriptor and nothing else owns it.
        .map(|fd| vec![Client::new(unsafe { UnixStream::from_raw_fd(fd) })])
        .unwrap_or_default();
    let mut monitor = match Monitor::new(store, containers, id, clients) {
        Ok(m) => m,
        Err(e) => {
            status(&format!("failed 125 {e}"));
            return 1;
        }
    };
    monitor.global = global;
    monitor.tty_size = tty_size.and_then(|s| {
        let (rows, cols) = s.split_once('x')?;
        Some((rows.parse().ok()?, cols.parse().ok()?))
    });
    let code = monitor.supervise();
    monitor.tear_down();
    code
}

/// Writes the status line to the launcher, then detaches from it.
fn status(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{STATUS}{line}");
    let _ = out.flush();
    if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
        // SAFETY: replaces our stdout/stderr with /dev/null.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
            libc::dup2(null.as_raw_fd(), 2);
        }
    }
}

struct Client {
    stream: UnixStream,
    decoder: Decoder,
    /// Gone (read end-of-file or a failed write): dropped after this turn
    /// of the loop, so that indexes stay valid during it.
    dead: bool,
}

impl Client {
    fn new(stream: UnixStream) -> Self {
        let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
        Client {
            stream,
            decoder: Decoder::default(),
            dead: false,
        }
    }
}

struct Monitor {
    store: Store,
    containers: Containers,
    config: Container,
    cgroup: Cgroup,
    /// The host's cgroup mounts, read once: the cgroup's driver and every
    /// start's `/sys/fs/cgroup` view come from it.
    layout: cgroup_demo::Layout,
    /// Device nodes to copy into the container's `/dev` (`--device`,
    /// `--privileged`), resolved once, with the cgroup's rules.
    device_nodes: Vec<Node>,
    listener: Option<UnixListener>,
    clients: Vec<Client>,
    signals: SignalFd,
    log: logs::Writer,
    reported: bool,
    /// The attaching terminal's size, for the pty before the command starts.
    tty_size: Option<(u16, u16)>,
    networks: crate::network::Networks,
    /// The container's place on each network (kept across restarts).
    endpoints: std::collections::BTreeMap<String, crate::network::Endpoint>,
    /// The interfaces of the run being started.
    planned: Vec<super::wiring::Planned>,
    /// The proxies of its published ports; dropping them stops them.
    published: Vec<net_demo::publish::Published>,
    /// The embedded DNS of a run on user networks (127.0.0.11).
    dns: Option<super::dns::Resolver>,
    ports: std::collections::BTreeMap<String, Vec<super::record::HostPort>>,
    /// The running container's mount namespace, held open. Tearing down a
    /// mount namespace waits for an RCU grace period; without this
    /// reference the container's last process would wait for it before its
    /// exit status could be collected. Held, the wait happens when the
    /// monitor lets go — after the clients have their answer.
    mount_ns: Option<File>,
    /// The `--root`/`--runroot` flags, for health probes.
    global: Vec<OsString>,
    /// The healthcheck of the current run, if the container has one.
    health: Option<super::health::Checker>,
}

/// One run of the container's process.
struct Run {
    pid: Pid,
    /// Output descriptors still open: (fd, stream index 0 = stdout, 1 = stderr).
    outputs: Vec<(OwnedFd, usize)>,
    /// The pty master for `-t` (also the only output then).
    master: Option<RawFd>,
    stdin: Option<OwnedFd>,
    pending_stdin: Vec<u8>,
    stdin_eof: bool,
    status: Option<i32>,
}

impl Monitor {
    fn new(store: Store, containers: Containers, id: &str, clients: Vec<Client>) -> Result<Self> {
        let config = containers.find(id)?;
        let me = std::process::id() as i32;
        {
            let _lock = containers.lock(id)?;
            let runtime = containers.runtime(id)?;
            if runtime.monitor_alive() && runtime.monitor_pid != me {
                return Err(Error::Usage(format!(
                    "container {} is already running",
                    &config.id[..12]
                )));
            }
        }
        containers.update(id, |r| {
            r.monitor_pid = me;
            r.monitor_start = start_time(me).unwrap_or(0);
            r.stopped_by_user = false;
            r.state.error.clear();
        })?;
        let mut mask = SigSet::empty();
        mask.add(Signal::SIGCHLD);
        mask.thread_block()
            .map_err(|e| Error::System(chroot_demo::Error::sys("sigprocmask", e)))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)
            .map_err(|e| Error::System(chroot_demo::Error::sys("signalfd", e)))?;
        let h = &config.host_config;
        let policy = devices::policy(h.privileged, &h.devices, &h.device_cgroup_rules)?;
        let layout = cgroup_demo::Layout::detect()?;
        let cgroup = create_cgroup(&config, &layout, &policy.rules)?;
        let socket = containers.socket(&config.id);
        let _ = std::fs::remove_file(&socket);
        let listener = UnixListener::bind(&socket).map_err(|e| Error::io(&socket, e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io(&socket, e))?;
        let log = logs::Writer::open_with(
            &containers.log_path(&config.id),
            &config.host_config.log_config,
        )?;
        let networks = crate::network::Networks::open(store.root())?;
        Ok(Monitor {
            networks,
            endpoints: Default::default(),
            planned: Vec::new(),
            published: Vec::new(),
            dns: None,
            ports: Default::default(),
            store,
            containers,
            config,
            cgroup,
            layout,
            device_nodes: policy.nodes,
            listener: Some(listener),
            clients,
            signals,
            log,
            reported: false,
            tty_size: None,
            mount_ns: None,
            global: Vec::new(),
            health: None,
        })
    }

    /// Runs the container until it exits for good; returns the monitor's
    /// exit code.
    fn supervise(&mut self) -> i32 {
        let mut delay = Duration::from_millis(100);
        loop {
            let oom_before = self.cgroup.oom_kills().unwrap_or(0);
            let mut run = match self.start() {
                Ok(run) => run,
                Err((code, message)) => {
                    let first = !self.reported;
                    let _ = self.containers.update(&self.config.id, |r| {
                        r.state.running = false;
                        r.state.restarting = false;
                        r.state.pid = 0;
                        r.state.exit_code = code;
                        r.state.error = message.clone();
                        if first {
                            r.state.status = "created".into();
                        } else {
                            r.state.status = "exited".into();
                            r.state.finished_at = now();
                        }
                    });
                    if first {
                        status(&format!("failed {code} {message}"));
                        self.reported = true;
                    }
                    self.broadcast_exit(code);
                    return 1;
                }
            };
            self.pump(&mut run);
            if let Some(mut checker) = self.health.take() {
                checker.stop();
            }
            let code = run.status.unwrap_or(137);
            // Docker's order: the exit, then the networks let go.
            self.record(Action::Die, &[("exitCode", code.to_string())]);
            self.unwire();
            self.log.flush_partial();
            let oom = self.cgroup.oom_kills().unwrap_or(0) > oom_before;
            let restart = self.wants_restart(code);
            let _ = self.containers.update(&self.config.id, |r| {
                r.state.running = false;
                r.state.paused = false;
                r.state.pid = 0;
                r.state.exit_code = code;
                r.state.oom_killed = oom;
                r.state.finished_at = now();
                r.state.restarting = restart && !r.stopped_by_user;
                r.state.status = if r.state.restarting {
                    "restarting"
                } else {
                    "exited"
                }
                .into();
            });
            self.broadcast_exit(code);
            let runtime = self.containers.runtime(&self.config.id);
            if !runtime.is_ok_and(|r| r.state.restarting) {
                return 0;
            }
            self.clients.clear();
            self.mount_ns = None;
            if self.stopped_while_waiting(delay) {
                let _ = self.containers.update(&self.config.id, |r| {
                    r.state.restarting = false;
                    r.state.status = "exited".into();
                });
                return 0;
            }
            delay = (delay * 2).min(Duration::from_secs(10));
            let _ = self
                .containers
                .update(&self.config.id, |r| r.restart_count += 1);
        }
    }

    /// Waits out a restart delay, watching for `stop`/`kill`: a container
    /// stopped while it waits to restart stays stopped, at once (the delay
    /// grows to 10 s), as Docker's does.
    fn stopped_while_waiting(&self, delay: Duration) -> bool {
        let deadline = std::time::Instant::now() + delay;
        loop {
            if self
                .containers
                .runtime(&self.config.id)
                .is_ok_and(|r| r.stopped_by_user)
            {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
        }
    }

    /// Records an event about this container, as it is named now (it may
    /// have been renamed since the monitor started).
    fn record(&self, action: Action, extra: &[(&str, String)]) {
        let current = self.containers.find(&self.config.id);
        self.containers
            .record(action, current.as_ref().unwrap_or(&self.config), extra);
    }

    /// Docker's `network connect`/`disconnect` events for each network the
    /// container is on, as its daemon sends them at every start and exit.
    fn record_networks(&self, action: Action) {
        for name in self.endpoints.keys() {
            let Ok(n) = self.networks.get(name) else {
                continue;
            };
            let event = crate::events::Event::object(
                crate::events::Kind::Network,
                action,
                &n.id,
                &[
                    ("container", &self.config.id),
                    ("name", &n.name),
                    ("type", &n.driver),
                ],
            );
            self.containers.events().record(&event);
        }
    }

    /// Docker's policies: `always`, and `on-failure[:N]` for a non-zero
    /// exit while fewer than N restarts happened. `stop`/`kill` win. The
    /// policy is read from the record, which `update --restart` may have
    /// changed while the container ran.
    fn wants_restart(&self, code: i32) -> bool {
        let current = self.containers.find(&self.config.id);
        let policy = &current
            .as_ref()
            .unwrap_or(&self.config)
            .host_config
            .restart_policy;
        let Ok(runtime) = self.containers.runtime(&self.config.id) else {
            return false;
        };
        if runtime.stopped_by_user || self.config.host_config.auto_remove {
            return false;
        }
        match policy.name.as_str() {
            "always" | "unless-stopped" => true,
            "on-failure" => {
                code != 0
                    && (policy.maximum_retry_count == 0
                        || runtime.restart_count < policy.maximum_retry_count)
            }
            _ => false,
        }
    }

    /// Clones and releases the container; `Err((code, message))` when its
    /// command did not start.
    fn start(&mut self) -> std::result::Result<Run, (i32, String)> {
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
        let host_network = c.host_config.network_mode == "host";
        // `--network container:X`: X's network namespace, joined by the child.
        let join_net = match c.host_config.network_mode.strip_prefix("container:") {
            Some(other) => Some(self.peer_ns(other, "net", "network").map_err(fail)?),
            None => None,
        };
        // The cgroup namespace (`--cgroupns private`) comes later, from
        // inside the cgroup (see `child::run`), so that the container sees
        // its cgroup as `/`.
        let h = &c.host_config;
        let mut kinds = vec![Kind::Mount];
        let own = |m: &NamespaceMode| *m == NamespaceMode::Private;
        for (mode, kind) in [
            (&h.uts_mode, Kind::Uts),
            (&h.ipc_mode, Kind::Ipc),
            (&h.pid_mode, Kind::Pid),
        ] {
            if own(mode) {
                kinds.push(kind);
            }
        }
        if !host_network && join_net.is_none() {
            kinds.push(Kind::Net);
        }
        // `--ipc`/`--uts container:X`: joined by the child; `--pid
        // container:X`: joined here, as a PID namespace is entered by the
        // children of whoever calls setns (the container is ours).
        let mut joins = Vec::new();
        for (mode, ns, what, flag) in [
            (&h.ipc_mode, "ipc", "IPC", CloneFlags::CLONE_NEWIPC),
            (&h.uts_mode, "uts", "UTS", CloneFlags::CLONE_NEWUTS),
        ] {
            if let Some(other) = mode.container() {
                joins.push((self.peer_ns(other, ns, what).map_err(fail)?, flag));
            }
        }
        if let Some(other) = h.pid_mode.container() {
            let peer = self.peer_ns(other, "pid", "PID").map_err(fail)?;
            chroot_demo::error::step("setns(/proc/PID/ns/pid)   # --pid container:", || {
                nix::sched::setns(peer.as_fd(), CloneFlags::CLONE_NEWPID)
            })
            .map_err(|e| fail(e.into()))?;
        }
        let filter = if c.process.seccomp {
            let cache = self.containers.run_root().join("seccomp");
            Some(security::Program::default_cached(&c.process.capabilities, &cache).map_err(fail)?)
        } else {
            None
        };
        let layout = self.layout.clone();
        self.planned.clear();
        let names = super::wiring::network_names(&c);
        // One netlink client for planning and plugging (none without networks).
        let nl = if names.is_empty() {
            None
        } else {
            Some(net_demo::netlink::Netlink::open().map_err(|e| fail(e.into()))?)
        };
        for (i, name) in names.iter().enumerate() {
            let nl = nl.as_ref().expect("opened for the networks");
            match super::wiring::plan(nl, &self.networks, &self.containers, &c, name, i) {
                Ok(p) => self.planned.push(p),
                Err(e) => {
                    self.release_planned();
                    return Err(fail(e));
                }
            }
        }
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
            cgroupfs: super::cgroupfs::View {
                layout,
                mode: c.host_config.cgroupns_mode,
                read_only: !c.host_config.privileged,
                replaced: super::cgroupfs::replaced_by(&c.mounts),
            },
            hostname: &c.config.hostname,
            loopback: !host_network && join_net.is_none(),
            join_net: join_net.as_ref().map(|f| f.as_raw_fd()),
            join: joins.iter().map(|(f, k)| (f.as_raw_fd(), *k)).collect(),
            own_uts: own(&h.uts_mode),
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
            let mut message = Vec::new();
            let _ = File::from(errors_read).read_to_end(&mut message);
            return Err(child_error(&message).unwrap_or_else(|| fail(e.into())));
        }
        if let Err(e) = self.wire(pid, nl.as_ref()) {
            let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
            // A child that failed early (a volume's mount) took its network
            // namespace with it: its reason is the one to report.
            let mut message = Vec::new();
            let _ = File::from(errors_read).read_to_end(&mut message);
            return Err(child_error(&message).unwrap_or_else(|| fail(e)));
        }
        let _ = spawned.channel.send();
        if c.config.tty {
            // The pty master, opened by the container in its /dev/pts.
            if let Ok(Some(fd)) = spawned.channel.recv_fd() {
                if let Some((rows, cols)) = self.tty_size {
                    set_window_size(fd.as_raw_fd(), rows, cols);
                }
                // The size is set: the container may go on.
                let _ = spawned.channel.send();
                set_nonblocking(fd.as_raw_fd());
                master = Some(fd.as_raw_fd());
                stdin = fd.try_clone().ok();
                outputs = vec![(fd, 0)];
            }
        }
        let mut message = Vec::new();
        let _ = File::from(errors_read).read_to_end(&mut message);
        if let Some(error) = child_error(&message) {
            let _ = waitpid(pid, None);
            return Err(error);
        }
        let program = std::env::current_exe()
            .map(|e| e.with_file_name("mini-docker"))
            .unwrap_or_default();
        let previous = self
            .containers
            .runtime(&c.id)
            .ok()
            .and_then(|r| r.state.health);
        self.health = super::health::Checker::new(
            c.config.healthcheck.as_ref(),
            program,
            &self.global,
            &c.id,
            previous,
        );
        let health = self.health.as_ref().map(|h| h.health.clone());
        let _ = self.containers.update(&c.id, |r| {
            r.state.health = health;
            r.state.status = "running".into();
            r.state.running = true;
            r.state.restarting = false;
            r.state.paused = false;
            r.state.pid = pid.as_raw();
            r.state.exit_code = 0;
            r.state.oom_killed = false;
            r.state.started_at = now();
            r.state.finished_at = super::record::ZERO_TIME.into();
            r.networks = self.endpoints.clone();
            r.ports = self.ports.clone();
        });
        // Before the launcher hears of it: its next command's events
        // (pause, stop…) come after these.
        self.record_networks(Action::Connect);
        self.record(Action::Start, &[]);
        if !self.reported {
            status(&format!("running {pid}"));
            self.reported = true;
            shed_start_up_memory();
        }
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

    /// The container's interfaces on its networks, its hosts file and its
    /// published ports, before it may go on (so its command starts with a
    /// network ready).
    fn wire(&mut self, pid: Pid, nl: Option<&net_demo::netlink::Netlink>) -> Result<()> {
        let c = &self.config;
        for p in &self.planned {
            let plugged = nl.map(|nl| {
                // A restart can come before the kernel has cleaned up the
                // previous run's namespace and its veth.
                nl.delete(&p.nic.host_end)?;
                net_demo::attach::plug(nl, &p.bridge, pid.as_raw() as u32, &p.nic)
            });
            if let Some(Err(e)) = plugged {
                self.release_planned();
                return Err(e.into());
            }
            self.endpoints.insert(p.network.clone(), p.endpoint.clone());
        }
        if self.endpoints.is_empty() {
            return Ok(());
        }
        super::wiring::write_hosts(&self.containers, c, &self.endpoints)?;
        // The embedded DNS, bound before the command can ask it anything;
        // on the default bridge too, unused until a `network connect` to a
        // user network points the container's resolv.conf at it. Not after
        // `--pid container:X`: a process that joined another PID namespace
        // can start no thread (EINVAL), so there is none there (a known
        // limit, in the README).
        let user_networks: Vec<String> = self
            .endpoints
            .keys()
            .filter(|n| self.networks.get(n).is_ok_and(|net| net.resolves_names()))
            .cloned()
            .collect();
        if c.host_config.pid_mode.container().is_none() {
            self.dns = Some(super::dns::Resolver::start(
                self.containers.clone(),
                c,
                user_networks,
                pid.as_raw(),
            )?);
        }
        let primary = super::wiring::network_names(c)
            .first()
            .and_then(|n| self.endpoints.get(n))
            .and_then(|e| e.ip_address.parse().ok());
        if let Some(address) = primary {
            let (published, ports) = super::wiring::publish(c, address)?;
            self.published = published;
            self.ports = ports;
        }
        Ok(())
    }

    /// Gives back the addresses of interfaces that were never plugged.
    fn release_planned(&mut self) {
        for p in self.planned.drain(..) {
            if !self.endpoints.contains_key(&p.network) {
                self.networks.release(&p.network, &p.endpoint.ip_address);
            }
        }
    }

    /// `container:X`'s namespace `ns` (X must be running); `what` names it
    /// in Docker's message.
    fn peer_ns(&self, key: &str, ns: &str, what: &str) -> Result<File> {
        let other = self.containers.find(key)?;
        let runtime = self.containers.runtime(&other.id)?;
        if !super::lifecycle::is_running(&runtime) {
            return Err(Error::Usage(format!(
                "cannot join {what} of a non running container: {key}"
            )));
        }
        let path = format!("/proc/{}/ns/{ns}", runtime.state.pid);
        File::open(&path).map_err(|e| Error::io(&path, e))
    }

    /// After a run: the proxies stop, the peers forget us. Addresses stay
    /// held for a restart; [`tear_down`](Self::tear_down) gives them back.
    fn unwire(&mut self) {
        self.record_networks(Action::Disconnect);
        self.published.clear();
        self.ports.clear();
        let _ = self.containers.update(&self.config.id, |r| {
            r.networks.clear();
            r.ports.clear();
        });
        // Stops answering: the namespace it served is gone.
        self.dns = None;
    }

    /// The event loop of one run: output to the log and the clients, client
    /// input to the container, until the process has exited and its output
    /// is drained.
    fn pump(&mut self, run: &mut Run) {
        let mut drain_deadline: Option<Instant> = None;
        loop {
            if run.status.is_some() {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if run.outputs.is_empty() || Instant::now() > deadline {
                    return;
                }
            }
            let mut fds: Vec<libc::pollfd> = Vec::new();
            let mut watch = |fd: RawFd, events: i16| {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                })
            };
            watch(self.signals.as_raw_fd(), libc::POLLIN);
            watch(
                self.listener.as_ref().map_or(-1, |l| l.as_raw_fd()),
                libc::POLLIN,
            );
            for (fd, _) in &run.outputs {
                watch(fd.as_raw_fd(), libc::POLLIN);
            }
            let stdin_fd = match (&run.stdin, run.pending_stdin.is_empty()) {
                (Some(fd), false) => fd.as_raw_fd(),
                _ => -1,
            };
            watch(stdin_fd, libc::POLLOUT);
            for c in &self.clients {
                watch(c.stream.as_raw_fd(), libc::POLLIN);
            }
            let probe_output = self.health.as_ref().and_then(|h| h.fd());
            watch(probe_output.unwrap_or(-1), libc::POLLIN);
            let timeout = match (&run.status, &self.health) {
                (Some(_), _) => 50,
                // Rounded up, so that a due probe is not polled for in a spin.
                (None, Some(h)) => h.wait().as_millis().min(60_000) as i32 + 1,
                (None, None) => -1,
            };
            // SAFETY: `fds` is a valid array of pollfd for the call.
            let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
            if n < 0 {
                continue;
            }
            let ready = |i: usize| fds[i].revents != 0;
            let polled_clients = self.clients.len();
            if ready(0) {
                self.reap(run);
            }
            let outputs = run.outputs.len();
            let mut closed = Vec::new();
            for i in 0..outputs {
                if ready(2 + i) && !self.forward_output(run, i) {
                    closed.push(i);
                }
            }
            for i in closed.into_iter().rev() {
                run.outputs.remove(i);
            }
            if ready(2 + outputs) {
                write_stdin(run);
            }
            let first_client = 3 + outputs;
            for i in 0..polled_clients {
                if ready(first_client + i) && !self.client_input(run, i) {
                    self.clients[i].dead = true;
                }
            }
            if ready(first_client + polled_clients) {
                if let Some(h) = &mut self.health {
                    h.read_output();
                }
            }
            self.check_health(run);
            self.clients.retain(|c| !c.dead);
            // New clients last: the indexes above are those polled.
            if ready(1) {
                self.accept();
            }
        }
    }

    fn reap(&mut self, run: &mut Run) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
        loop {
            let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if pid == run.pid {
                run.status = Some(code);
            } else if let Some(h) = &mut self.health {
                h.reaped(pid.as_raw(), code);
            }
        }
    }

    /// Runs the health probe when due and records its result in the
    /// state (only while the container runs).
    fn check_health(&mut self, run: &Run) {
        if run.status.is_some() {
            return;
        }
        let Some(checker) = &mut self.health else {
            return;
        };
        if let Some(health) = checker.tick() {
            let _ = self
                .containers
                .update(&self.config.id, |r| r.state.health = Some(health));
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(false);
            self.clients.push(Client::new(stream));
        }
    }

    /// Reads one chunk of output; false at end-of-file.
    fn forward_output(&mut self, run: &mut Run, index: usize) -> bool {
        let (fd, which) = (&run.outputs[index].0, run.outputs[index].1);
        let mut buffer = [0u8; 32 * 1024];
        // SAFETY: reads into a buffer we own from a descriptor we hold.
        let n = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
        if n <= 0 {
            return n < 0
                && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted;
        }
        let bytes = &buffer[..n as usize];
        self.log.write(which, bytes);
        let kind = if which == 0 {
            stream::Kind::Stdout
        } else {
            stream::Kind::Stderr
        };
        for c in self.clients.iter_mut().filter(|c| !c.dead) {
            c.dead = stream::write_frame(&mut c.stream, kind, bytes).is_err();
        }
        true
    }

    /// Handles what a client sent; false when it has gone.
    fn client_input(&mut self, run: &mut Run, index: usize) -> bool {
        let client = &mut self.clients[index];
        let mut buffer = [0u8; 16 * 1024];
        let n = match client.stream.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        client.decoder.push(&buffer[..n]);
        loop {
            match client.decoder.next_frame() {
                Ok(Some((kind, payload))) => handle_frame(run, &self.config, kind, payload),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Tells the clients the exit code. They stay connected until the
    /// monitor is done (end-of-file then means "state final, clean-up and
    /// `--rm` done"), except across a restart, where the session ends.
    fn broadcast_exit(&mut self, code: i32) {
        let text = code.to_string();
        for c in &mut self.clients {
            let _ = stream::write_frame(&mut c.stream, stream::Kind::Exit, text.as_bytes());
        }
    }

    /// Releases what the container used; with `--rm`, the container too.
    fn tear_down(&mut self) {
        self.listener = None;
        for (name, endpoint) in std::mem::take(&mut self.endpoints) {
            super::wiring::disconnect(&self.networks, &name, &endpoint, false);
        }
        let _ = std::fs::remove_file(self.containers.socket(&self.config.id));
        let _ = self.cgroup.destroy();
        self.cgroup.remove_parent_if_empty();
        let _ = self.containers.update(&self.config.id, |r| {
            r.monitor_pid = 0;
            r.monitor_start = 0;
        });
        if self.config.host_config.auto_remove {
            let current = self.containers.find(&self.config.id);
            {
                let _lock = self.containers.lock(&self.config.id);
                let _ = self.containers.remove_dir(&self.config.id);
            }
            self.containers.record(
                Action::Destroy,
                current.as_ref().unwrap_or(&self.config),
                &[],
            );
            if let Ok(volumes) = crate::volume::Volumes::open(self.store.root()) {
                super::lifecycle::remove_anonymous_volumes(
                    &volumes,
                    &self.containers,
                    &self.config,
                );
            }
        }
        self.clients.clear();
    }
}

fn handle_frame(run: &mut Run, config: &Container, kind: stream::Kind, payload: Vec<u8>) {
    match kind {
        stream::Kind::Stdin if run.stdin.is_some() && !run.stdin_eof => {
            run.pending_stdin.extend_from_slice(&payload);
            write_stdin(run);
        }
        stream::Kind::StdinEof if config.config.stdin_once => {
            run.stdin_eof = true;
            if run.pending_stdin.is_empty() {
                run.stdin = None;
            }
        }
        stream::Kind::Resize => {
            let text = String::from_utf8_lossy(&payload);
            let mut parts = text
                .split_whitespace()
                .filter_map(|p| p.parse::<u16>().ok());
            if let (Some(master), Some(rows), Some(cols)) = (run.master, parts.next(), parts.next())
            {
                set_window_size(master, rows, cols);
            }
        }
        stream::Kind::Signal => {
            let number: i32 = String::from_utf8_lossy(&payload).parse().unwrap_or(0);
            if let Ok(signal) = Signal::try_from(number) {
                let _ = nix::sys::signal::kill(run.pid, signal);
            }
        }
        _ => {}
    }
}

/// Writes what it can of the pending stdin without blocking.
fn write_stdin(run: &mut Run) {
    let Some(fd) = &run.stdin else {
        run.pending_stdin.clear();
        return;
    };
    while !run.pending_stdin.is_empty() {
        // SAFETY: writes bytes we own to a descriptor we hold.
        let n = unsafe {
            libc::write(
                fd.as_raw_fd(),
                run.pending_stdin.as_ptr().cast(),
                run.pending_stdin.len(),
            )
        };
        if n <= 0 {
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::WouldBlock {
                run.pending_stdin.clear();
                run.stdin = None;
            }
            return;
        }
        run.pending_stdin.drain(..n as usize);
    }
    if run.stdin_eof {
        run.stdin = None;
    }
}

/// The container's cgroup with its limits and device policy.
fn create_cgroup(
    c: &Container,
    layout: &cgroup_demo::Layout,
    device_rules: &cgroup_demo::DeviceRules,
) -> Result<Cgroup> {
    let driver = Driver::for_layout(layout)?;
    let parent = if c.host_config.cgroup_parent.is_empty() {
        "mini-docker"
    } else {
        &c.host_config.cgroup_parent
    };
    let cgroup = driver.create(Path::new(parent).join(&c.id))?;
    let limits = limits_of(c);
    let set = limits
        .resolve(online_cpus())
        .map_err(Error::from)
        .and_then(|resolved| apply_limits(&cgroup, &resolved))
        .and_then(|_| Ok(cgroup.set_devices(device_rules)?));
    if let Err(e) = set {
        let _ = cgroup.destroy();
        cgroup.remove_parent_if_empty();
        return Err(e);
    }
    Ok(cgroup)
}

/// The cgroup library's view of the `HostConfig` limits (0 = not set).
pub fn limits_of(c: &Container) -> Limits {
    let h = &c.host_config;
    let some = |v: i64| (v != 0).then_some(v);
    Limits {
        cpu_shares: (h.cpu_shares != 0).then_some(h.cpu_shares),
        cpus: (h.nano_cpus != 0).then_some(h.nano_cpus as f64 / 1e9),
        cpuset_cpus: (!h.cpuset_cpus.is_empty()).then(|| h.cpuset_cpus.clone()),
        memory: some(h.memory),
        memory_swap: some(h.memory_swap),
        pids_limit: some(h.pids_limit),
        cpu_period: some(h.cpu_period),
        cpu_quota: some(h.cpu_quota),
        memory_reservation: some(h.memory_reservation),
        blkio_weight: (h.blkio_weight != 0).then_some(h.blkio_weight),
    }
}

pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Writes the limits, and sends the launcher the warnings of those this
/// host discarded (a missing swap, soft-limit or block I/O weight file); the
/// others came from `create`'s checks and were printed then.
fn apply_limits(cgroup: &Cgroup, resolved: &Resolved) -> Result<()> {
    let warnings = cgroup.set(resolved)?;
    let mut out = std::io::stdout();
    for w in warnings.iter().filter(|w| !resolved.warnings.contains(w)) {
        let _ = writeln!(out, "{STATUS}warning {w}");
    }
    let _ = out.flush();
    Ok(())
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

/// The container's stdio as created by the monitor: the child's ends and
/// the ends the monitor keeps.
/// Empty for `-t`: the container makes its pty itself.
struct Stdio3 {
    child: Vec<OwnedFd>,
    parent_outputs: Vec<(OwnedFd, usize)>,
    stdin: Option<OwnedFd>,
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
            (r, Some(w))
        } else {
            let null = File::open("/dev/null").map_err(|e| Error::io("/dev/null", e))?;
            (OwnedFd::from(null), None)
        };
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        Ok(Stdio3 {
            child: vec![stdin_child, out_w, err_w],
            parent_outputs: vec![(out_r, 0), (err_r, 1)],
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
    fn keep_parent_ends(self) -> (Vec<(OwnedFd, usize)>, Option<RawFd>, Option<OwnedFd>) {
        drop(self.child);
        (self.parent_outputs, None, self.stdin)
    }
}

/// What the child wrote on the error pipe: `code NUL message`.
fn child_error(message: &[u8]) -> Option<(i32, String)> {
    if message.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(message);
    let (code, why) = text.split_once('\0').unwrap_or(("125", &text));
    Some((code.parse().unwrap_or(125), why.to_string()))
}

/// A monitor lives as long as its container, but most of what it touched
/// served the start (argument parsing, the image, the seccomp compiler).
/// Those pages are dropped from its resident set: the free heap goes back
/// to the kernel, and read-only file pages (code, constants) are unmapped
/// from this process — they stay in the page cache and fault back in on
/// the rare path that needs them. This is what keeps a monitor's RSS near
/// conmon's.
fn shed_start_up_memory() {
    // SAFETY: malloc_trim only returns free memory.
    unsafe { libc::malloc_trim(0) };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // Each mapping: a header line, then "Key: value kB" lines.
    let mut candidate: Option<(usize, usize)> = None;
    let drop_candidate = |c: Option<(usize, usize)>| {
        if let Some((start, end)) = c {
            // SAFETY: a mapping of ours whose pages are all clean copies of
            // a file (no private, anonymous or dirty page): MADV_DONTNEED
            // only makes them fault in again from the page cache.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((start, end)) = first.split_once('-') {
            drop_candidate(candidate.take());
            let perms = fields.next().unwrap_or_default();
            let inode = fields.nth(2).unwrap_or("0");
            let parsed = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            );
            if let (Ok(start), Ok(end)) = parsed {
                if inode != "0" && !perms.contains('w') && perms.ends_with('p') {
                    candidate = Some((start, end));
                }
            }
        } else if matches!(first, "Private_Dirty:" | "Anonymous:" | "Shared_Dirty:")
            && fields.next() != Some("0")
        {
            // Written once (relocations made read-only afterwards): keep.
            candidate = None;
        }
    }
    drop_candidate(candidate);
}

fn set_window_size(master: RawFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &size) };
}

fn set_nonblocking(fd: RawFd) {
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
    }
}
