//! The commands on an existing container: `start`, `state`, `kill`,
//! `delete`, `pause`, `resume`, `ps`, `update`, `events`, `list`.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use oci_spec::runtime::LinuxResources;

use crate::state::{self, Container, Status};
use crate::{cgroups, hooks, log, Error, Result};

/// `start`: opens the fifo the container's process is blocked on (the
/// open lets it go on), reads its byte, removes the fifo; then the
/// `poststart` hooks (their failure only warns, as the specification says).
pub fn start(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    let _lock = c.lock()?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        _ => {
            return Err(Error::State(
                "cannot start an already running container".into(),
            ))
        }
    }
    release(&c)?;
    run_poststart(&c);
    Ok(())
}

/// Lets the created process go on to `execve`: opening the fifo for
/// reading unblocks its open for writing; its byte says it got through.
/// The open does not block (a process that died before opening its end
/// would otherwise hold `start` forever); the wait for the byte checks
/// that the process is still alive.
pub fn release(c: &Container) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let fifo = c.fifo();
    tracing::info!(target: "explain", "cat {}   # the container's process was blocked opening it", fifo.display());
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| Error::io(&fifo, e))?;
    let mut byte = [0u8; 1];
    loop {
        match f.read(&mut byte) {
            Ok(1) => break,
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                return Err(Error::io(&fifo, e))
            }
            _ if !c.alive() => {
                return Err(Error::State(
                    "the container's process exited before start".into(),
                ))
            }
            _ => {}
        }
        let mut poll = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&f),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut poll, 1, 50) };
    }
    let _ = std::fs::remove_file(&fifo);
    Ok(())
}

pub fn run_poststart(c: &Container) {
    let hooks = c.record.spec.hooks().clone().unwrap_or_default();
    if let Err(e) = hooks::run("poststart", hooks.poststart().as_ref(), &c.oci_state()) {
        log::warn(&e.to_string());
    }
}

/// `state`: the specification's JSON.
pub fn state(root: &Path, id: &str) -> Result<()> {
    let c = Container::load(root, id)?;
    println!("{}", serde_json::to_string_pretty(&c.oci_state())?);
    Ok(())
}

/// A signal by name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(text: &str) -> Result<Signal> {
    let bad = || Error::Usage(format!("unknown signal {text:?}"));
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

/// `kill ID [SIGNAL] [--all]`.
pub fn kill_container(root: &Path, id: &str, signal: Signal, all: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    tracing::info!(target: "explain", "kill -{} {}", signal.as_str().trim_start_matches("SIG"), c.record.pid);
    if all {
        let cgroup = c.cgroup()?;
        for pid in cgroup.processes()? {
            let _ = kill(Pid::from_raw(pid), signal);
        }
        // A frozen container cannot act on anything but SIGKILL.
        if state::frozen(&cgroup) && signal != Signal::SIGKILL {
            log::warn("the container is paused: the signal is delivered at resume");
        }
        return Ok(());
    }
    kill(Pid::from_raw(c.record.pid), signal).map_err(Error::sys("kill"))
}

/// Waits until the container's process is gone (exited; a zombie counts).
fn wait_gone(c: &Container, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while c.alive() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// `delete [--force]`: a stopped (or only created) container's cgroup and
/// state go; `poststop` hooks run. A running one needs `--force` (SIGKILL
/// to all its processes first). A missing one is an error, except with
/// `--force`.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Err(Error::NotExist) if force => return Ok(()),
        other => other?,
    };
    let _lock = c.lock()?;
    let status = c.status();
    match status {
        Status::Stopped => {}
        Status::Created => kill_everything(&c)?,
        Status::Running | Status::Paused | Status::Creating if force => kill_everything(&c)?,
        other => {
            return Err(Error::State(format!(
                "cannot delete container {id} that is not stopped: {other}"
            )))
        }
    }
    destroy(&c)
}

fn kill_everything(c: &Container) -> Result<()> {
    let cgroup = c.cgroup()?;
    cgroup.kill_all()?;
    if state::frozen(&cgroup) {
        cgroup.freeze(false)?;
    }
    let _ = kill(Pid::from_raw(c.record.pid), Signal::SIGKILL);
    if !wait_gone(c, Duration::from_secs(10)) {
        return Err(Error::State(
            "the container's process did not die of SIGKILL".into(),
        ));
    }
    Ok(())
}

/// The cgroup, the poststop hooks, the state directory.
pub fn destroy(c: &Container) -> Result<()> {
    cgroups::remove(&c.cgroup()?)?;
    let hooks = c.record.spec.hooks().clone().unwrap_or_default();
    if let Err(e) = hooks::run(
        "poststop",
        hooks.poststop().as_ref(),
        &c.oci_state_as(Status::Stopped),
    ) {
        log::warn(&e.to_string());
    }
    std::fs::remove_dir_all(&c.dir).map_err(|e| Error::io(&c.dir, e))
}

/// `pause` / `resume`: the freezer.
pub fn freeze(root: &Path, id: &str, frozen: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    let _lock = c.lock()?;
    match (c.status(), frozen) {
        (Status::Running, true) | (Status::Paused, false) => {}
        (Status::Paused, true) => return Err(Error::State("container already paused".into())),
        (_, true) => return Err(Error::State("container not running".into())),
        (_, false) => return Err(Error::State("container not paused".into())),
    }
    tracing::info!(target: "explain", "echo {} > freezer", if frozen { "FROZEN" } else { "THAWED" });
    Ok(c.cgroup()?.freeze(frozen)?)
}

/// `ps [--format json]`: the container's processes (host PIDs).
pub fn ps(root: &Path, id: &str, json: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    let pids = c.cgroup()?.processes()?;
    if json {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let mut out = String::from("UID        PID   PPID  CMD\n");
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .unwrap_or("?")
                .to_string()
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                String::from_utf8_lossy(&b)
                    .replace('\0', " ")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<10} {:<5} {:<5} {cmd}\n",
            field("Uid:"),
            pid,
            field("PPid:")
        ));
    }
    print!("{out}");
    Ok(())
}

/// `update --resources FILE|-` and runc's flags for single limits.
pub fn update(root: &Path, id: &str, resources: Option<&str>, flags: &UpdateFlags) -> Result<()> {
    let c = Container::load(root, id)?;
    let _lock = c.lock()?;
    if c.status() == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    let mut r: serde_json::Value = match resources {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| Error::io("stdin", e))?;
            serde_json::from_str(&text)?
        }
        Some(path) => {
            serde_json::from_slice(&std::fs::read(path).map_err(|e| Error::io(path, e))?)?
        }
        None => serde_json::json!({}),
    };
    flags.merge(&mut r);
    let r: LinuxResources = serde_json::from_value(r)?;
    // New device rules still let the container reach the nodes its bundle
    // created, as at create.
    let nodes = c
        .record
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default();
    cgroups::apply(&c.cgroup()?, Some(&r), &nodes)
}

/// `update`'s flags for one limit each (runc's names).
#[derive(Debug, Default, Clone, clap::Args)]
pub struct UpdateFlags {
    /// Memory limit in bytes.
    #[arg(long, short = 'm')]
    pub memory: Option<i64>,
    /// Memory plus swap, in bytes (-1 unlimited).
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<i64>,
    /// Maximum number of processes (0 or -1 unlimited).
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
}

impl UpdateFlags {
    fn merge(&self, r: &mut serde_json::Value) {
        let mut set = |section: &str, key: &str, value: serde_json::Value| {
            r[section][key] = value;
        };
        if let Some(v) = self.memory {
            set("memory", "limit", v.into());
        }
        if let Some(v) = self.memory_swap {
            set("memory", "swap", v.into());
        }
        if let Some(v) = self.pids_limit {
            set("pids", "limit", v.into());
        }
        if let Some(v) = self.cpu_shares {
            set("cpu", "shares", v.into());
        }
        if let Some(v) = self.cpu_quota {
            set("cpu", "quota", v.into());
        }
        if let Some(v) = self.cpu_period {
            set("cpu", "period", v.into());
        }
        if let Some(v) = &self.cpuset_cpus {
            set("cpu", "cpus", v.clone().into());
        }
    }
}

/// One `stats` event, in the shape of runc's `events` (what go-runc
/// decodes for containerd).
fn stats_event(c: &Container) -> Result<serde_json::Value> {
    let cgroup = c.cgroup()?;
    let s = cgroup.stats()?;
    let pids_limit = cgroup
        .dir("pids")
        .and_then(|d| std::fs::read_to_string(d.join("pids.max")).ok())
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Ok(serde_json::json!({
        "type": "stats",
        "id": c.record.id,
        "data": {
            "cpu": {"usage": {"total": s.cpu_usage_ns, "percpu": [], "kernel": 0, "user": 0},
                    "throttling": {}},
            "memory": {
                "usage": {"usage": s.memory_bytes, "max": s.memory_peak_bytes.unwrap_or(0),
                          "limit": s.memory_limit_bytes.unwrap_or(u64::MAX), "failcnt": 0},
                "raw": {"inactive_file": s.memory_inactive_file},
                "oom_kills": s.oom_kills
            },
            "pids": {"current": s.pids, "limit": pids_limit},
            "blkio": {"ioServiceBytesRecursive": [
                {"op": "Read", "value": s.io_read_bytes},
                {"op": "Write", "value": s.io_write_bytes}
            ]}
        }
    }))
}

/// `events [--stats] [--interval D]`: one stats event, or one per
/// interval (and an `oom` event when the OOM killer strikes) until the
/// container stops.
pub fn events(root: &Path, id: &str, once: bool, interval: Duration) -> Result<()> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::State("container not running".into()));
    }
    let mut out = std::io::stdout();
    if once {
        writeln!(out, "{}", stats_event(&c)?).map_err(|e| Error::io("stdout", e))?;
        return Ok(());
    }
    let mut ooms = c.cgroup()?.stats()?.oom_kills;
    while c.status() != Status::Stopped {
        let event = stats_event(&c)?;
        let now = event["data"]["memory"]["oom_kills"]
            .as_u64()
            .unwrap_or(ooms);
        if now > ooms {
            ooms = now;
            writeln!(out, "{}", serde_json::json!({"type": "oom", "id": id}))
                .map_err(|e| Error::io("stdout", e))?;
        }
        writeln!(out, "{event}").map_err(|e| Error::io("stdout", e))?;
        out.flush().map_err(|e| Error::io("stdout", e))?;
        std::thread::sleep(interval);
    }
    Ok(())
}

/// `list [--format json]`.
pub fn list(root: &Path, json: bool) -> Result<()> {
    let all = state::list(root);
    if json {
        let states: Vec<serde_json::Value> = all.iter().map(Container::oci_state).collect();
        println!("{}", serde_json::to_string(&states)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<8} {:<10} {:<40} CREATED",
        "ID", "PID", "STATUS", "BUNDLE"
    );
    for c in all {
        let s = c.oci_state();
        println!(
            "{:<20} {:<8} {:<10} {:<40} {}",
            c.record.id,
            s["pid"],
            s["status"].as_str().unwrap_or_default(),
            c.record.bundle.display(),
            c.record.created
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_and_number() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert!(parse_signal("NOPE").is_err());
    }

    #[test]
    fn update_flags_merge_into_resources() {
        let flags = UpdateFlags {
            memory: Some(1 << 20),
            pids_limit: Some(5),
            ..UpdateFlags::default()
        };
        let mut r = serde_json::json!({"cpu": {"shares": 10}});
        flags.merge(&mut r);
        let r: LinuxResources = serde_json::from_value(r).unwrap();
        assert_eq!(r.memory().as_ref().unwrap().limit(), Some(1 << 20));
        assert_eq!(r.pids().as_ref().unwrap().limit(), 5);
        assert_eq!(r.cpu().as_ref().unwrap().shares(), Some(10));
    }
}
