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
//! travel on it, then warnings and one [`Message::Running`] or
//! [`Message::Failed`] ([`protocol::read_startup`]). After that the
//! monitor closes it, so a command such as `run -d … | cat` never waits on
//! it.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use cgroup_demo::Cgroup;
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;
use resources::create_cgroup;

use super::devices::{self, Node};
use super::dir::Containers;
use super::logs;
use super::protocol::{self, Decoder, Message};
use super::record::{start_time, Container};
use crate::container::lifecycle::LifecycleError;
use crate::events::Action;
use crate::store::Store;
use crate::{Error, Result};

mod io;
mod launch;
mod resources;
mod start;

pub use launch::{launch, Started};
pub use resources::{limits_of, online_cpus};

/// Set to `1`, the container is cloned in the monitor's cgroup and then
/// moved into its own, as on v1, even where it could be born there (for
/// `bench/clone-into-cgroup.sh`, which compares the two).
pub const NO_CLONE_INTO_CGROUP: &str = "MINI_DOCKER_NO_CLONE_INTO_CGROUP";

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
            status(&Message::Failed {
                code: 125,
                message: e.to_string(),
            });
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

/// Tells the launcher how the start ended, then detaches from it.
fn status(message: &Message) {
    let _ = protocol::write_startup(&mut std::io::stdout(), message);
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
    /// Outputs still open: (pipe or pty master, stream index 0 = stdout,
    /// 1 = stderr).
    outputs: Vec<(File, usize)>,
    /// The pty master for `-t`, for resizing: a descriptor of its own, so
    /// that it stays valid after the output's copy is closed at its end.
    master: Option<File>,
    stdin: Option<File>,
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
                return Err(LifecycleError::AlreadyRunning(config.id[..12].into()).into());
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
                        r.state.start_failed(code, message.clone(), first)
                    });
                    if first {
                        status(&Message::Failed { code, message });
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
                r.state.exit(code, oom, restart && !r.stopped_by_user)
            });
            self.broadcast_exit(code);
            let runtime = self.containers.runtime(&self.config.id);
            if !runtime.is_ok_and(|r| r.state.restarting()) {
                return 0;
            }
            self.clients.clear();
            self.mount_ns = None;
            if self.stopped_while_waiting(delay) {
                let _ = self
                    .containers
                    .update(&self.config.id, |r| r.state.restart_cancelled());
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
        policy.restarts_after(code, runtime.restart_count)
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
