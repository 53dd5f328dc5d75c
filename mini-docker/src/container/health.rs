//! Health checks: Docker's `Config.Healthcheck` (from the image or the
//! `--health-*` flags) and `State.Health`, which the monitor updates after
//! each probe. The probe itself is a `mini-docker exec` the monitor starts
//! (see `monitor`): a short-lived process of its own, so the monitor's
//! resident set does not grow with the checks.

use std::ffi::OsString;
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Why a `--health-*` flag was refused (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("--no-healthcheck conflicts with --health-* options")]
    Conflict,
    #[error("--{0} cannot be negative")]
    Negative(&'static str),
    #[error("{0} in Healthcheck cannot be less than 1ms")]
    TooShort(&'static str),
    #[error("invalid argument \"{0}\" for \"--{1}\" flag: time: invalid duration \"{0}\"")]
    Duration(String, &'static str),
}

/// Docker's defaults when a healthcheck leaves a field at 0.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_RETRIES: u32 = 3;
/// What Docker keeps of a probe's output, and how many probes.
pub const MAX_OUTPUT: usize = 4096;
pub const MAX_LOG: usize = 5;

/// Docker's `Config.Healthcheck`; durations in nanoseconds, 0 = default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    /// `[]` inherit, `["NONE"]` disabled, `["CMD", args…]`,
    /// `["CMD-SHELL", command]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interval: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeout: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub start_period: i64,
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub retries: u32,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

/// The `--health-*` flags as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Flags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub retries: Option<i64>,
    pub none: bool,
}

/// A Go-style duration (`1s`, `500ms`, `1m30s`) in nanoseconds, negative
/// allowed so that the caller can say Docker's "cannot be negative".
fn duration(flag: &'static str, text: &str) -> Result<i64, Error> {
    let (sign, body) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    if body == "0" {
        return Ok(0);
    }
    let mut total: f64 = 0.0;
    let mut rest = body;
    if rest.is_empty() {
        return Err(Error::Duration(text.into(), flag));
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| Error::Duration(text.into(), flag))?;
        let value: f64 = rest[..digits]
            .parse()
            .map_err(|_| Error::Duration(text.into(), flag))?;
        rest = &rest[digits..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(Error::Duration(text.into(), flag)),
        };
        total += value * scale;
        rest = &rest[unit_end..];
    }
    Ok(sign * total.round() as i64)
}

impl Flags {
    fn any(&self) -> bool {
        self.cmd.is_some()
            || self.interval.is_some()
            || self.timeout.is_some()
            || self.start_period.is_some()
            || self.retries.is_some()
    }

    /// The container's healthcheck: the flags over the image's (Docker
    /// merges field by field), `None` when there is none at all.
    pub fn resolve(&self, image: Option<&Config>) -> Result<Option<Config>, Error> {
        if self.none {
            if self.any() {
                return Err(Error::Conflict);
            }
            return Ok(Some(Config {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        let field = |flag: &'static str, v: &Option<String>| -> Result<i64, Error> {
            let ns = v.as_deref().map(|t| duration(flag, t)).transpose()?;
            match ns {
                Some(n) if n < 0 => Err(Error::Negative(flag)),
                Some(n) => Ok(n),
                None => Ok(0),
            }
        };
        let interval = field("health-interval", &self.interval)?;
        let timeout = field("health-timeout", &self.timeout)?;
        let start_period = field("health-start-period", &self.start_period)?;
        if self.retries.is_some_and(|r| r < 0) {
            return Err(Error::Negative("health-retries"));
        }
        for (name, ns) in [
            ("Interval", interval),
            ("Timeout", timeout),
            ("StartPeriod", start_period),
        ] {
            if ns != 0 && ns < 1_000_000 {
                return Err(Error::TooShort(name));
            }
        }
        let mut config = image.cloned().unwrap_or_default();
        if let Some(cmd) = &self.cmd {
            config.test = vec!["CMD-SHELL".into(), cmd.clone()];
        }
        let or = |flag: i64, image: i64| if flag != 0 { flag } else { image };
        config.interval = or(interval, config.interval);
        config.timeout = or(timeout, config.timeout);
        config.start_period = or(start_period, config.start_period);
        config.retries = match self.retries {
            Some(r) if r > 0 => r as u32,
            _ => config.retries,
        };
        Ok((config != Config::default()).then_some(config))
    }
}

impl Config {
    /// The probe's command, `None` when checks are off (`NONE`, or no test).
    pub fn command(&self) -> Option<Vec<String>> {
        match self.test.split_first() {
            Some((kind, rest)) if kind == "CMD" && !rest.is_empty() => Some(rest.to_vec()),
            Some((kind, rest)) if kind == "CMD-SHELL" && !rest.is_empty() => {
                Some(vec!["/bin/sh".into(), "-c".into(), rest.join(" ")])
            }
            _ => None,
        }
    }

    fn or_default(ns: i64, default: Duration) -> Duration {
        if ns > 0 {
            Duration::from_nanos(ns as u64)
        } else {
            default
        }
    }

    pub fn interval(&self) -> Duration {
        Self::or_default(self.interval, DEFAULT_INTERVAL)
    }

    pub fn timeout(&self) -> Duration {
        Self::or_default(self.timeout, DEFAULT_TIMEOUT)
    }

    pub fn start_period(&self) -> Duration {
        Self::or_default(self.start_period, Duration::ZERO)
    }

    pub fn retries(&self) -> u32 {
        if self.retries > 0 {
            self.retries
        } else {
            DEFAULT_RETRIES
        }
    }
}

/// `State.Health.Status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        })
    }
}

/// One probe, as `State.Health.Log` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: Status,
    pub failing_streak: u32,
    pub log: Vec<Probe>,
}

impl Health {
    /// Docker's rules: a success makes it healthy; failures count once the
    /// start period is over (or once it was healthy), and `retries` of them
    /// in a row make it unhealthy.
    pub fn record(&mut self, probe: Probe, in_start_period: bool, retries: u32) {
        if probe.exit_code == 0 {
            self.status = Status::Healthy;
            self.failing_streak = 0;
        } else if !(in_start_period && self.status == Status::Starting) {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = Status::Unhealthy;
            }
        }
        self.log.push(probe);
        let excess = self.log.len().saturating_sub(MAX_LOG);
        self.log.drain(..excess);
    }
}

/// The monitor's side: when the next probe is due, the probe in flight
/// (a `mini-docker exec` child whose stdout and stderr share one pipe),
/// and the state it keeps in `State.Health`.
#[derive(Debug)]
pub struct Checker {
    config: Config,
    command: Vec<String>,
    /// `mini-docker --root … --runroot … exec ID`: the probe's command line
    /// before the test's arguments.
    exec: Vec<OsString>,
    program: PathBuf,
    started: Instant,
    next: Instant,
    running: Option<Running>,
    pub health: Health,
}

#[derive(Debug)]
struct Running {
    pid: i32,
    output: Option<OwnedFd>,
    buffer: Vec<u8>,
    start: String,
    deadline: Instant,
    code: Option<i32>,
}

impl Checker {
    /// `None` when the container has no (enabled) healthcheck. `program`
    /// is the `mini-docker` binary, `global` its `--root`/`--runroot`.
    pub fn new(
        config: Option<&Config>,
        program: PathBuf,
        global: &[OsString],
        id: &str,
        previous: Option<Health>,
    ) -> Option<Self> {
        let config = config?.clone();
        let command = config.command()?;
        let mut exec = global.to_vec();
        exec.extend(["exec".into(), id.into()]);
        let now = Instant::now();
        let mut health = previous.unwrap_or_default();
        health.status = Status::Starting;
        health.failing_streak = 0;
        Some(Checker {
            next: now + config.interval(),
            config,
            command,
            exec,
            program,
            started: now,
            running: None,
            health,
        })
    }

    /// How long the monitor may sleep before [`tick`](Self::tick) has work.
    pub fn wait(&self) -> Duration {
        let until = match &self.running {
            Some(r) if r.code.is_none() => r.deadline,
            Some(_) => Instant::now(),
            None => self.next,
        };
        until.saturating_duration_since(Instant::now())
    }

    /// The probe's output pipe, for the monitor's poll.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.running
            .as_ref()
            .and_then(|r| r.output.as_ref())
            .map(|f| f.as_fd())
    }

    /// Reads what the probe wrote (up to Docker's 4 KiB are kept).
    pub fn read_output(&mut self) {
        let Some(r) = &mut self.running else { return };
        let Some(fd) = &r.output else { return };
        let mut buffer = [0u8; 4096];
        loop {
            let n = match nix::unistd::read(fd.as_raw_fd(), &mut buffer) {
                Ok(0) => {
                    r.output = None;
                    return;
                }
                Ok(n) => n,
                Err(_) => return,
            };
            let room = MAX_OUTPUT.saturating_sub(r.buffer.len());
            r.buffer.extend_from_slice(&buffer[..n.min(room)]);
        }
    }

    /// The monitor reaped `pid`: true when it was the probe.
    pub fn reaped(&mut self, pid: i32, code: i32) -> bool {
        match &mut self.running {
            Some(r) if r.pid == pid => {
                r.code = Some(code);
                true
            }
            _ => false,
        }
    }

    /// Starts a due probe, kills one past its timeout, and records a
    /// finished one; returns the new health when it changed.
    pub fn tick(&mut self) -> Option<Health> {
        let now = Instant::now();
        let Some(r) = &mut self.running else {
            if now >= self.next {
                self.spawn();
            }
            return None;
        };
        if r.code.is_none() && now >= r.deadline {
            // SAFETY: a signal to our own child.
            unsafe { libc::kill(r.pid, libc::SIGKILL) };
            r.code = Some(-1);
            r.buffer = format!(
                "Health check exceeded timeout ({})",
                humantime::format_duration(self.config.timeout())
            )
            .into_bytes();
            r.output = None;
        }
        let r = self.running.as_mut()?;
        let code = r.code?;
        if r.output.is_some() {
            self.read_output();
        }
        let r = self.running.take()?;
        let probe = Probe {
            start: r.start,
            end: super::record::now(),
            exit_code: code,
            output: String::from_utf8_lossy(&r.buffer).into_owned(),
        };
        let in_start_period = now.duration_since(self.started) < self.config.start_period();
        self.health
            .record(probe, in_start_period, self.config.retries());
        self.next = now + self.config.interval();
        Some(self.health.clone())
    }

    fn spawn(&mut self) {
        let start = super::record::now();
        let failed = |why: String, health: &mut Health, config: &Config| {
            let probe = Probe {
                start: start.clone(),
                end: super::record::now(),
                exit_code: -1,
                output: why,
            };
            health.record(probe, false, config.retries());
        };
        let Ok((read, write)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
            failed("pipe failed".into(), &mut self.health, &self.config);
            self.next = Instant::now() + self.config.interval();
            return;
        };
        let spawned = write.try_clone().and_then(|err| {
            Command::new(&self.program)
                .args(&self.exec)
                .args(&self.command)
                .stdin(Stdio::null())
                .stdout(Stdio::from(write))
                .stderr(Stdio::from(err))
                .spawn()
        });
        match spawned {
            Ok(child) => {
                // SAFETY: fcntl on the read end we own.
                unsafe {
                    let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
                    libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK);
                }
                self.running = Some(Running {
                    pid: child.id() as i32,
                    output: Some(read),
                    buffer: Vec::new(),
                    start,
                    deadline: Instant::now() + self.config.timeout(),
                    code: None,
                });
            }
            Err(e) => {
                failed(e.to_string(), &mut self.health, &self.config);
                self.next = Instant::now() + self.config.interval();
            }
        }
    }

    /// The container stopped: a probe still running is killed (its exit
    /// is reaped by the monitor's loop or lost with the monitor).
    pub fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            if r.code.is_none() {
                // SAFETY: a signal to our own child.
                unsafe { libc::kill(r.pid, libc::SIGKILL) };
                let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(r.pid), None);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(duration("x", "1s").unwrap(), 1_000_000_000);
        assert_eq!(duration("x", "1m30s").unwrap(), 90_000_000_000);
        assert_eq!(duration("x", "500ms").unwrap(), 500_000_000);
        assert_eq!(duration("x", "-1s").unwrap(), -1_000_000_000);
        assert!(duration("x", "10").is_err());
        assert!(duration("x", "abc").is_err());
    }

    #[test]
    fn flags_merge_over_the_image_with_dockers_messages() {
        let flags = Flags {
            cmd: Some("exit 0".into()),
            interval: Some("1s".into()),
            ..Default::default()
        };
        let c = flags.resolve(None).unwrap().unwrap();
        assert_eq!(c.test, ["CMD-SHELL", "exit 0"]);
        assert_eq!(c.interval(), Duration::from_secs(1));
        assert_eq!(c.retries(), 3);
        assert_eq!(c.command().unwrap(), ["/bin/sh", "-c", "exit 0"]);
        let image = Config {
            test: vec!["CMD".into(), "true".into()],
            retries: 5,
            ..Default::default()
        };
        let merged = Flags {
            interval: Some("2s".into()),
            ..Default::default()
        }
        .resolve(Some(&image))
        .unwrap()
        .unwrap();
        assert_eq!((merged.retries, merged.interval), (5, 2_000_000_000));
        assert_eq!(Flags::default().resolve(None).unwrap(), None);
        let off = Flags {
            none: true,
            ..Default::default()
        }
        .resolve(Some(&image))
        .unwrap()
        .unwrap();
        assert_eq!(off.command(), None);
        let err = |f: Flags| f.resolve(None).unwrap_err().to_string();
        assert_eq!(
            err(Flags {
                none: true,
                cmd: Some("x".into()),
                ..Default::default()
            }),
            "--no-healthcheck conflicts with --health-* options"
        );
        assert_eq!(
            err(Flags {
                interval: Some("-1s".into()),
                ..Default::default()
            }),
            "--health-interval cannot be negative"
        );
        assert_eq!(
            err(Flags {
                retries: Some(-1),
                ..Default::default()
            }),
            "--health-retries cannot be negative"
        );
        assert_eq!(
            err(Flags {
                interval: Some("10us".into()),
                ..Default::default()
            }),
            "Interval in Healthcheck cannot be less than 1ms"
        );
    }

    #[test]
    fn status_follows_dockers_rules() {
        let probe = |code| Probe {
            exit_code: code,
            ..Default::default()
        };
        let mut h = Health::default();
        h.record(probe(1), true, 2);
        assert_eq!((h.status, h.failing_streak), (Status::Starting, 0));
        h.record(probe(1), false, 2);
        assert_eq!((h.status, h.failing_streak), (Status::Starting, 1));
        h.record(probe(1), false, 2);
        assert_eq!((h.status, h.failing_streak), (Status::Unhealthy, 2));
        h.record(probe(0), false, 2);
        assert_eq!((h.status, h.failing_streak), (Status::Healthy, 0));
        for _ in 0..6 {
            h.record(probe(0), false, 2);
        }
        assert_eq!(h.log.len(), MAX_LOG);
        assert_eq!(serde_json::to_value(&h).unwrap()["Status"], "healthy");
    }
}
