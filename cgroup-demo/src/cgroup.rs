//! One cgroup, on either version: create, add, limit, measure, freeze,
//! kill, remove.
//!
//! On v1 a "cgroup" is one directory per controller hierarchy (`cpu/x`,
//! `memory/x`, `pids/x`, …) that must be created, joined and removed
//! together; on v2 it is one directory whose controllers are switched on by
//! its parent's `cgroup.subtree_control`. [`Cgroup`] hides that difference.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::bpf;
use crate::devices::{self, Rules as DeviceRules};
use crate::layout::{Layout, Version};
use crate::limits::{self, Resolved};
use crate::usage;
use crate::{Error, Result};

/// Migrations kept primed (see [`Driver::keep_migration_primed`]) until
/// this is dropped; the thread then ends by itself, nobody waits for it.
#[derive(Debug)]
pub struct Primed(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Drop for Primed {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// v1 controllers the driver manages (when the host mounts them; `blkio`
/// for `--blkio-weight` is often absent, and then only that limit is
/// discarded, with Docker's warning).
const V1_USED: &[&str] = &[
    "cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices", "blkio",
];
/// v2 controllers the driver enables for its cgroups (each only where the
/// parent offers it: `io` is missing on some kernels and delegations).
const V2_USED: &[&str] = &["cpu", "cpuset", "memory", "pids", "io"];
/// How long removal waits for the last process to leave.
const GRACE: Duration = Duration::from_secs(5);

/// Talks to the host's cgroup filesystem in one version's dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Driver {
    /// Each controller's hierarchy root (`memory` → `/sys/fs/cgroup/memory`).
    V1 { roots: BTreeMap<String, PathBuf> },
    /// The root of the unified hierarchy.
    V2 { root: PathBuf },
}

impl Driver {
    /// The driver for this host (see [`Layout::version`]).
    pub fn for_host() -> Result<Self> {
        Self::for_layout(&Layout::detect()?)
    }

    pub fn for_layout(layout: &Layout) -> Result<Self> {
        Ok(match layout.version() {
            Version::V1 => Driver::V1 {
                roots: V1_USED
                    .iter()
                    .filter_map(|c| Some((c.to_string(), layout.v1_root(c)?.to_path_buf())))
                    .collect(),
            },
            Version::V2 => Driver::V2 {
                root: layout
                    .unified
                    .clone()
                    .ok_or_else(|| Error::Unsupported("no cgroup2 mount".into()))?,
            },
        })
    }

    pub fn version(&self) -> Version {
        match self {
            Driver::V1 { .. } => Version::V1,
            Driver::V2 { .. } => Version::V2,
        }
    }

    /// Creates the cgroup at `path` (relative, e.g. `mini-docker/abc`),
    /// with any missing parents.
    pub fn create(&self, path: impl AsRef<Path>) -> Result<Cgroup> {
        let cgroup = self.open(path);
        // A shared parent may be removed by another cgroup's clean-up
        // (`remove_parent_if_empty`) between our mkdirs: try again.
        let mut attempts = 3;
        loop {
            let made = match self {
                Driver::V1 { roots } => unique(roots.values()).into_iter().try_for_each(|root| {
                    create_v1(root, &cgroup.path, roots.get("cpuset") == Some(root))
                }),
                Driver::V2 { root } => create_v2(root, &cgroup.path),
            };
            match made {
                Err(_) if attempts > 1 => attempts -= 1,
                other => return other.map(|()| cgroup),
            }
        }
    }

    /// Pays, ahead of time, the cost of the next cgroup migration. On v1
    /// the first move of a process into a cgroup waits for an RCU grace
    /// period (the kernel's `cgroup_threadgroup_rwsem` switching to its
    /// writer mode): 5–20 ms on a small VM, more than the rest of a
    /// container start. Moving this process into the cgroup it is already
    /// in takes the same lock, and for about one more grace period
    /// afterwards further moves are immediate. A caller that will soon move
    /// a container's first process runs this on a thread of its own, so the
    /// wait overlaps with its other work. Nothing changes for the caller.
    pub fn prime_migration(&self) {
        let Driver::V1 { roots } = self else {
            return;
        };
        let Some(root) = roots.get("pids").or_else(|| roots.values().next()) else {
            return;
        };
        let controller = root
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let Ok(own) = std::fs::read_to_string("/proc/self/cgroup") else {
            return;
        };
        let path = own.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.trim_start_matches('/').to_string())
        });
        if let Some(path) = path {
            let _ = std::fs::write(
                root.join(path).join("cgroup.procs"),
                std::process::id().to_string(),
            );
        }
    }

    /// Keeps the next migrations immediate until the returned guard is
    /// dropped: [`prime_migration`](Self::prime_migration) again every
    /// 2 ms, on a thread of its own. One priming lasts about a grace period
    /// (5–15 ms here), and a start whose preparation outlasts it would
    /// wait for a whole new one when it moves its first process; primed
    /// again and again, the move happens at once, whichever process makes
    /// it. Each priming after the first costs microseconds. None on v2,
    /// where a child is born in its cgroup.
    pub fn keep_migration_primed(&self) -> Option<Primed> {
        if !matches!(self, Driver::V1 { .. }) {
            return None;
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (driver, flag) = (self.clone(), stop.clone());
        std::thread::Builder::new()
            .name("prime-migration".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    driver.prime_migration();
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
            .ok()?;
        Some(Primed(stop))
    }

    /// A handle on an existing cgroup (nothing is checked or created).
    pub fn open(&self, path: impl AsRef<Path>) -> Cgroup {
        let path = path
            .as_ref()
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        Cgroup {
            driver: self.clone(),
            path,
        }
    }
}

fn unique<'a>(paths: impl Iterator<Item = &'a PathBuf>) -> Vec<&'a PathBuf> {
    let mut out: Vec<&PathBuf> = paths.collect();
    out.sort();
    out.dedup();
    out
}

fn write(path: &Path, value: &str) -> Result<()> {
    tracing::info!(target: "explain", "echo {value} > {}", path.display());
    kernel::sys()
        .write(path, value.as_bytes())
        .map_err(|e| Error::file(path, e))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim_end().to_string())
        .map_err(|e| Error::file(path, e))
}

fn mkdir(path: &Path) -> Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    tracing::info!(target: "explain", "mkdir {}", path.display());
    match std::fs::create_dir(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(Error::file(path, e)),
    }
}

/// v1: mkdir each level; a new cpuset cgroup starts with empty
/// `cpuset.cpus`/`cpuset.mems` and refuses tasks until they are copied from
/// its parent.
fn create_v1(root: &Path, path: &Path, is_cpuset: bool) -> Result<()> {
    let mut dir = root.to_path_buf();
    for part in path.components() {
        let parent = dir.clone();
        dir.push(part);
        if mkdir(&dir)? && is_cpuset {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                if read(&dir.join(file))?.is_empty() {
                    write(&dir.join(file), &read(&parent.join(file))?)?;
                }
            }
        }
    }
    Ok(())
}

/// v2: enable our controllers in every ancestor's `cgroup.subtree_control`
/// (a controller reaches a cgroup only if its parent delegates it), then
/// mkdir each level.
fn create_v2(root: &Path, path: &Path) -> Result<()> {
    let mut dir = root.to_path_buf();
    for part in path.components() {
        enable_controllers(&dir)?;
        dir.push(part);
        mkdir(&dir)?;
    }
    Ok(())
}

fn enable_controllers(dir: &Path) -> Result<()> {
    let available = read(&dir.join("cgroup.controllers"))?;
    let enabled = read(&dir.join("cgroup.subtree_control")).unwrap_or_default();
    let missing: Vec<String> = V2_USED
        .iter()
        .filter(|c| available.split_whitespace().any(|a| a == **c))
        .filter(|c| !enabled.split_whitespace().any(|a| a == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write(&dir.join("cgroup.subtree_control"), &missing.join(" "))
}

/// What a cgroup has used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub cpu_usage_ns: u64,
    pub memory_bytes: u64,
    /// The high-water mark, where the kernel keeps one (v1; v2 from 5.19).
    pub memory_peak_bytes: Option<u64>,
    /// Processes the OOM killer killed in this cgroup.
    pub oom_kills: u64,
    pub pids: u64,
    /// The memory limit; `None` when unlimited (v1's huge number, v2's `max`).
    pub memory_limit_bytes: Option<u64>,
    /// Page cache the kernel can drop at once (`total_inactive_file` on v1,
    /// `inactive_file` on v2): what `docker stats` leaves out of usage.
    pub memory_inactive_file: u64,
    /// Bytes read from and written to block devices.
    pub io_read_bytes: u64,
    pub io_write_bytes: u64,
}

/// A cgroup on either version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    driver: Driver,
    path: PathBuf,
}

impl Cgroup {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn version(&self) -> Version {
        self.driver.version()
    }

    /// The directory holding `controller`'s files for this cgroup.
    pub fn dir(&self, controller: &str) -> Option<PathBuf> {
        match &self.driver {
            Driver::V1 { roots } => roots.get(controller).map(|r| r.join(&self.path)),
            Driver::V2 { root } => Some(root.join(&self.path)),
        }
    }

    /// Every directory that makes up this cgroup.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match &self.driver {
            Driver::V1 { roots } => unique(roots.values())
                .into_iter()
                .map(|r| r.join(&self.path))
                .collect(),
            Driver::V2 { root } => vec![root.join(&self.path)],
        }
    }

    fn file(&self, controller: &str, name: &str) -> Result<PathBuf> {
        self.dir(controller).map(|d| d.join(name)).ok_or_else(|| {
            Error::Unsupported(format!(
                "the {controller} controller is not mounted on this host"
            ))
        })
    }

    /// Moves a process (and, on v1 and v2 alike, all its threads) into the
    /// cgroup. Done before the process execs, so nothing runs unlimited.
    pub fn add(&self, pid: Pid) -> Result<()> {
        for dir in self.dirs() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// Applies limits; returns warnings for limits the host cannot enforce.
    /// A limit whose preferred file is missing uses the kernel's other
    /// file for it where there is one ([`limits::fallback`]: BFQ's
    /// `blkio.bfq.weight`, v2's `io.weight`); a limit Docker would discard
    /// on such a host (swap, soft limit, block I/O weight) gets Docker's
    /// warning instead; any other missing file is an error.
    pub fn set(&self, limits: &Resolved) -> Result<Vec<String>> {
        let mut warnings = limits.warnings.clone();
        let mut warn = |w: &str| {
            if !warnings.iter().any(|x| x == w) {
                warnings.push(w.to_string());
            }
        };
        let mut files = limits.files(self.version());
        self.order_memory_writes(&mut files)?;
        for (name, value) in files {
            let controller = name.split('.').next().unwrap_or(name);
            let discardable = limits::missing_file_warning(name);
            let path = match (self.file(controller, name), discardable) {
                (Ok(path), _) => path,
                (Err(_), Some(warning)) => {
                    warn(warning);
                    continue;
                }
                (Err(e), None) => return Err(e),
            };
            let (path, value) = if path.exists() {
                (path, value)
            } else if let Some((other, converted)) = limits::fallback(name, &value)
                .filter(|(other, _)| path.with_file_name(other).exists())
            {
                tracing::info!(target: "explain", "# no {name} on this kernel: {other} instead");
                (path.with_file_name(other), converted)
            } else if let Some(warning) = discardable {
                warn(warning);
                continue;
            } else {
                (path, value)
            };
            write(&path, &value)?;
        }
        Ok(warnings)
    }

    /// v1 keeps `memsw >= memory` at every moment: when the new memory
    /// limit exceeds the current memsw limit, memsw must grow first.
    fn order_memory_writes(&self, files: &mut [(&'static str, String)]) -> Result<()> {
        if self.version() != Version::V1 {
            return Ok(());
        }
        let position = |n| files.iter().position(|(f, _)| *f == n);
        let (Some(mem), Some(sw)) = (
            position("memory.limit_in_bytes"),
            position("memory.memsw.limit_in_bytes"),
        ) else {
            return Ok(());
        };
        let current: i64 = self
            .file("memory", "memory.memsw.limit_in_bytes")
            .and_then(|p| read(&p))
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MAX);
        let new_memory: i64 = files[mem].1.parse().unwrap_or(0);
        if new_memory > current {
            files.swap(mem, sw);
        }
        Ok(())
    }

    /// Current usage counters. The ones only `docker stats` shows (limit,
    /// inactive cache, block I/O) read as unset where their file is
    /// missing, so that what the monitor relies on (OOM kills) never fails
    /// because of them.
    pub fn stats(&self) -> Result<Stats> {
        let number = |path: PathBuf| -> Result<u64> {
            let text = read(&path)?;
            text.parse().map_err(|_| {
                Error::Unsupported(format!("{}: not a number: {text}", path.display()))
            })
        };
        let keyed = |path: PathBuf, key: &str| -> Result<u64> {
            Ok(read(&path)?
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim().parse().ok())
                .unwrap_or(0))
        };
        let optional = |name: &str| {
            self.file("memory", name)
                .and_then(|p| read(&p))
                .unwrap_or_default()
        };
        let version = self.version();
        let (limit_file, stat) = match version {
            Version::V1 => ("memory.limit_in_bytes", optional("memory.stat")),
            Version::V2 => ("memory.max", optional("memory.stat")),
        };
        let extra = Stats {
            memory_limit_bytes: usage::limit(&optional(limit_file)),
            memory_inactive_file: usage::inactive_file(&stat, version),
            ..self.io_bytes()
        };
        Ok(match version {
            Version::V1 => Stats {
                cpu_usage_ns: number(self.file("cpuacct", "cpuacct.usage")?)?,
                memory_bytes: number(self.file("memory", "memory.usage_in_bytes")?)?,
                memory_peak_bytes: Some(number(self.file("memory", "memory.max_usage_in_bytes")?)?),
                oom_kills: self.oom_kills()?,
                pids: number(self.file("pids", "pids.current")?)?,
                ..extra
            },
            Version::V2 => Stats {
                cpu_usage_ns: keyed(self.file("cpu", "cpu.stat")?, "usage_usec ")? * 1000,
                memory_bytes: number(self.file("memory", "memory.current")?)?,
                memory_peak_bytes: self
                    .file("memory", "memory.peak")
                    .ok()
                    .filter(|p| p.exists())
                    .map(number)
                    .transpose()?,
                oom_kills: self.oom_kills()?,
                pids: number(self.file("pids", "pids.current")?)?,
                ..extra
            },
        })
    }

    /// How many processes the OOM killer has killed in this cgroup: one
    /// small file (v1 `memory.oom_control`, v2 `memory.events`), for a
    /// monitor that checks it at every exit. `stats()` would also read
    /// `memory.stat`, whose read flushes the kernel's per-CPU counters
    /// (milliseconds on a busy host) on the path of every container's exit.
    pub fn oom_kills(&self) -> Result<u64> {
        let name = match self.version() {
            Version::V1 => "memory.oom_control",
            Version::V2 => "memory.events",
        };
        Ok(read(&self.file("memory", name)?)?
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Block I/O so far, in a [`Stats`] with nothing else set. A host
    /// without the `blkio`/`io` controller (or with no I/O yet) reads as 0:
    /// Docker then shows `0B / 0B` too. v1 prefers the CFQ/BFQ counters and
    /// falls back to the throttle ones, which every v1 kernel keeps.
    fn io_bytes(&self) -> Stats {
        let text = |controller: &str, name: &str| {
            self.file(controller, name)
                .and_then(|p| read(&p))
                .unwrap_or_default()
        };
        let (read_bytes, write_bytes) = match self.version() {
            Version::V1 => {
                let service =
                    usage::blkio_bytes(&text("blkio", "blkio.io_service_bytes_recursive"));
                if service != (0, 0) {
                    service
                } else {
                    usage::blkio_bytes(&text("blkio", "blkio.throttle.io_service_bytes_recursive"))
                }
            }
            Version::V2 => usage::io_stat_bytes(&text("io", "io.stat")),
        };
        Stats {
            io_read_bytes: read_bytes,
            io_write_bytes: write_bytes,
            ..Stats::default()
        }
    }

    /// Stops (or resumes) every process in the cgroup at once, and waits
    /// until the kernel says it is done: `docker pause`.
    pub fn freeze(&self, frozen: bool) -> Result<()> {
        let (path, value, done_file, done): (PathBuf, &str, PathBuf, &str) = match self.version() {
            Version::V1 => {
                let state = self.file("freezer", "freezer.state")?;
                let value = if frozen { "FROZEN" } else { "THAWED" };
                (state.clone(), value, state, value)
            }
            Version::V2 => (
                self.file("cgroup", "cgroup.freeze")?,
                if frozen { "1" } else { "0" },
                self.file("cgroup", "cgroup.events")?,
                if frozen { "frozen 1" } else { "frozen 0" },
            ),
        };
        write(&path, value)?;
        let deadline = Instant::now() + GRACE;
        while !read(&done_file)?.lines().any(|l| l.trim() == done) {
            if Instant::now() > deadline {
                return Err(Error::Unsupported(format!(
                    "{} did not reach {done}",
                    done_file.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// The processes in the cgroup (the union over v1 hierarchies).
    pub fn processes(&self) -> Result<Vec<i32>> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            let path = dir.join("cgroup.procs");
            match std::fs::read_to_string(&path) {
                Ok(text) => pids.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::file(path, e)),
            }
        }
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// SIGKILLs every process in the cgroup, including ones forking as fast
    /// as they can: v2's `cgroup.kill` does it atomically; otherwise freeze,
    /// kill each, thaw — a frozen process cannot fork a new one meanwhile.
    pub fn kill_all(&self) -> Result<()> {
        if self.version() == Version::V2 {
            let kill_file = self.file("cgroup", "cgroup.kill")?;
            if kill_file.exists() {
                return write(&kill_file, "1");
            }
        }
        let frozen = self.freeze(true).is_ok();
        tracing::info!(target: "explain", "kill -9 $(cat {}/cgroup.procs)", self.dirs()[0].display());
        for pid in self.processes()? {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if frozen {
            self.freeze(false)?;
        }
        Ok(())
    }

    /// Replaces the cgroup's device policy. On v1 that is the `devices`
    /// controller's list; on v2 an eBPF program compiled from the same
    /// rules, attached in place of any previous one (see [`crate::devices`]).
    /// A host without either cannot keep a container away from its disks:
    /// that is an error, not a warning.
    pub fn set_devices(&self, rules: &DeviceRules) -> Result<()> {
        match self.version() {
            Version::V1 => {
                let dir = self.dir("devices").ok_or_else(|| {
                    Error::Unsupported(
                        "the devices cgroup controller is not mounted: containers could open any device"
                            .into(),
                    )
                })?;
                for rule in &rules.0 {
                    let file = if rule.allow {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    };
                    let text = if rule.kind == devices::Kind::All {
                        "a".to_string()
                    } else {
                        rule.to_string()
                    };
                    write(&dir.join(file), &text)?;
                }
                Ok(())
            }
            Version::V2 => {
                let dir = self.dirs().remove(0);
                let cgroup = std::fs::File::open(&dir).map_err(|e| Error::file(&dir, e))?;
                if rules.allows_everything() {
                    tracing::info!(target: "explain", "bpf(BPF_PROG_DETACH, {}, BPF_CGROUP_DEVICE)   # every device allowed", dir.display());
                    return bpf::detach_all(&cgroup);
                }
                let program = devices::program(rules);
                let summary: Vec<String> = rules
                    .0
                    .iter()
                    .map(|r| format!("{} {r}", if r.allow { "allow" } else { "deny" }))
                    .collect();
                tracing::info!(target: "explain", "bpf(BPF_PROG_LOAD, BPF_PROG_TYPE_CGROUP_DEVICE, {} instructions)   # {}", program.len(), summary.join("; "));
                let fd = bpf::load_device_program(&program)?;
                tracing::info!(target: "explain", "bpf(BPF_PROG_ATTACH, {}, BPF_CGROUP_DEVICE, BPF_F_ALLOW_MULTI)", dir.display());
                bpf::attach_device_program(&cgroup, &fd)
            }
        }
    }

    /// Removes the parent cgroup if nothing else lives in it (a shared
    /// parent such as `mini-docker/` that is empty after its last child).
    pub fn remove_parent_if_empty(&self) {
        let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) else {
            return;
        };
        for dir in self.driver.open(parent).dirs() {
            let _ = std::fs::remove_dir(dir);
        }
    }

    /// The cgroups directly below this one.
    pub fn children(&self) -> Result<Vec<Cgroup>> {
        let Some(dir) = self.dirs().into_iter().next() else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::file(&dir, e)),
        };
        Ok(entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| self.driver.open(self.path.join(e.file_name())))
            .collect())
    }

    /// Kills every process in this cgroup and below, and removes them all,
    /// deepest first: a cgroup with children cannot be removed.
    pub fn destroy(&self) -> Result<()> {
        for child in self.children()? {
            child.destroy()?;
        }
        // An empty cgroup (the usual case: its processes have exited) needs
        // no freeze-kill-thaw round.
        if !self.processes()?.is_empty() {
            self.kill_all()?;
        }
        self.remove()
    }

    /// Removes the cgroup once its last process has left (waiting up to a
    /// few seconds for exiting ones). A cgroup that is already gone counts
    /// as removed. Child cgroups must be removed first.
    pub fn remove(&self) -> Result<()> {
        let deadline = Instant::now() + GRACE;
        loop {
            let pids = self.processes()?;
            if pids.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::Busy {
                    path: self.dirs()[0].clone(),
                    pids,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for dir in self.dirs() {
            rmdir(&dir, deadline)?;
        }
        Ok(())
    }
}

/// rmdir, retrying EBUSY briefly: the kernel releases an emptied cgroup
/// asynchronously (a process that just exited may still be accounted).
fn rmdir(dir: &Path, deadline: Instant) -> Result<()> {
    tracing::info!(target: "explain", "rmdir {}", dir.display());
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(Error::file(dir, e)),
        }
    }
}
