//! The `run`/`create` flags of issue 14 as types: `--ulimit`, `--sysctl`,
//! `--ipc`/`--pid`/`--uts`, `--pull`, `--platform`, `--attach`,
//! `--log-driver`/`--log-opt`. Each parser gives Docker's message, so that
//! a typo fails before anything exists (exit 125).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why a flag's value was refused; each prints as Docker words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid argument \"{value}\" for \"{flag}\" flag: {why}")]
    Invalid {
        flag: &'static str,
        value: String,
        why: String,
    },
    #[error("--{0}: invalid {1} mode")]
    NamespaceMode(&'static str, &'static str),
    #[error("invalid pull option: '{0}': must be one of \"always\", \"missing\" or \"never\"")]
    Pull(String),
    #[error("{0}")]
    Platform(String),
    #[error("error looking up logging plugin {0}: plugin \"{0}\" not found")]
    LogDriver(String),
    #[error("invalid logging opts for driver {0}")]
    LogOptsForNone(String),
    #[error("unknown log opt '{0}' for json-file log driver")]
    LogOpt(String),
    #[error("failed to initialize logging driver: {0}")]
    LogValue(String),
    #[error("--ulimit {name}: hard limit {hard} is above the host's {host} and raising it needs CAP_SYS_RESOURCE")]
    UlimitAboveHost {
        name: String,
        /// `unlimited` or a number.
        hard: String,
        host: u64,
    },
    #[error("sysctl \"{0}\" not allowed in host network namespace")]
    SysctlInHostNetwork(String),
    #[error("sysctl \"{0}\" not allowed in host IPC namespace")]
    SysctlInHostIpc(String),
}

/// pflag's refusal of a flag's value.
pub fn invalid(flag: &'static str, value: &str, why: impl Into<String>) -> Error {
    Error::Invalid {
        flag,
        value: value.into(),
        why: why.into(),
    }
}

/// One `--ulimit`, in Docker's `HostConfig.Ulimits` shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ulimit {
    pub name: String,
    /// -1 is unlimited. (Hard before soft: the order Docker's JSON has.)
    pub hard: i64,
    pub soft: i64,
}

/// The names Docker accepts and the resource each sets.
const ULIMITS: [(&str, libc::__rlimit_resource_t); 15] = [
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];

impl Ulimit {
    /// `NAME=SOFT[:HARD]`; a single value is both limits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bad = |why: String| invalid("--ulimit", text, why);
        let (name, values) = text
            .split_once('=')
            .ok_or_else(|| bad(format!("invalid ulimit argument: {text}")))?;
        if !ULIMITS.iter().any(|(n, _)| *n == name) {
            return Err(bad(format!("invalid ulimit type: {name}")));
        }
        let parts: Vec<&str> = values.split(':').collect();
        if parts.len() > 2 {
            return Err(bad(format!(
                "too many limit value arguments - {values}, can only have up to two, `soft[:hard]`"
            )));
        }
        let number = |p: &str| {
            p.parse::<i64>()
                .map_err(|_| bad(format!("strconv.ParseInt: parsing \"{p}\": invalid syntax")))
        };
        let soft = number(parts[0])?;
        let hard = parts.get(1).map_or(Ok(soft), |h| number(h))?;
        let unlimited = |v: i64| v < 0;
        if !unlimited(hard) && (unlimited(soft) || soft > hard) {
            return Err(bad(format!(
                "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )));
        }
        Ok(Ulimit {
            name: name.into(),
            soft,
            hard,
        })
    }

    fn resource(&self) -> libc::__rlimit_resource_t {
        ULIMITS
            .iter()
            .find(|(n, _)| *n == self.name)
            .map_or(libc::RLIMIT_NOFILE, |(_, r)| *r)
    }

    fn raw(v: i64) -> libc::rlim_t {
        if v < 0 {
            libc::RLIM_INFINITY
        } else {
            v as libc::rlim_t
        }
    }

    /// Refuses a hard limit above this process's own when it cannot raise
    /// one (no CAP_SYS_RESOURCE): `setrlimit` would fail in the container
    /// after the filesystem was built, with a vaguer error.
    pub fn check_raisable(&self) -> Result<(), crate::Error> {
        if has_sys_resource() {
            return Ok(());
        }
        let current = current_limit(self.resource());
        let wanted = Self::raw(self.hard);
        if current.rlim_max != libc::RLIM_INFINITY
            && (wanted == libc::RLIM_INFINITY || wanted > current.rlim_max)
        {
            return Err(Error::UlimitAboveHost {
                name: self.name.clone(),
                hard: if self.hard < 0 {
                    "unlimited".to_string()
                } else {
                    self.hard.to_string()
                },
                host: current.rlim_max,
            }
            .into());
        }
        Ok(())
    }

    /// `setrlimit` in the container's process, before `execve`.
    pub fn apply(&self) -> Result<(), crate::Error> {
        let limit = libc::rlimit {
            rlim_cur: Self::raw(self.soft),
            rlim_max: Self::raw(self.hard),
        };
        // SAFETY: setrlimit reads a struct we own.
        if unsafe { libc::setrlimit(self.resource(), &limit) } != 0 {
            return Err(crate::Error::io(
                format!("setrlimit {}={}:{}", self.name, self.soft, self.hard),
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

fn current_limit(resource: libc::__rlimit_resource_t) -> libc::rlimit {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into a struct we own.
    unsafe { libc::getrlimit(resource, &mut limit) };
    limit
}

/// Whether this process's effective set has CAP_SYS_RESOURCE (bit 24).
fn has_sys_resource() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 24) != 0)
}

/// `--sysctl NAME=VALUE`, checked against Docker's list of namespaced
/// sysctls: those are the only ones a container can set without changing
/// the host. `net.*` needs the container's own network namespace, which
/// [`check_sysctls`] verifies against the network mode.
pub fn parse_sysctl(text: &str) -> Result<(String, String), Error> {
    let refused = || {
        invalid(
            "--sysctl",
            text,
            format!("sysctl '{text}' is not whitelisted"),
        )
    };
    let (key, value) = text.split_once('=').ok_or_else(refused)?;
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
    ];
    let allowed = ipc.contains(&key)
        || key.starts_with("kernel.shm")
        || key.starts_with("fs.mqueue.")
        || key.starts_with("net.");
    if !allowed {
        return Err(refused());
    }
    Ok((key.into(), value.into()))
}

/// The run-time side of Docker's sysctl rules: `net.*` belongs to the
/// network namespace, the IPC ones to the IPC namespace; neither may be
/// the host's (runc's message).
pub fn check_sysctls(
    sysctls: &BTreeMap<String, String>,
    shares_host_net: bool,
    ipc: &NamespaceMode,
) -> Result<(), crate::Error> {
    for key in sysctls.keys() {
        if key.starts_with("net.") && shares_host_net {
            return Err(Error::SysctlInHostNetwork(key.clone()).into());
        }
        if !key.starts_with("net.") && *ipc == NamespaceMode::Host {
            return Err(Error::SysctlInHostIpc(key.clone()).into());
        }
    }
    Ok(())
}

/// `--ipc`, `--pid`, `--uts`: a namespace of the container's own, the
/// host's, or another container's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum NamespaceMode {
    #[default]
    Private,
    Host,
    /// `container:NAME|ID` as given.
    Container(String),
}

impl NamespaceMode {
    /// `flag` is `ipc`, `pid` or `uts` (for the message); IPC also knows
    /// Docker's `private` and `shareable` (both a namespace of its own).
    pub fn parse(flag: &'static str, text: &str) -> Result<Self, Error> {
        let what = match flag {
            "ipc" => "IPC",
            "pid" => "PID",
            _ => "UTS",
        };
        match text {
            "" => Ok(NamespaceMode::Private),
            "private" | "shareable" if flag == "ipc" => Ok(NamespaceMode::Private),
            "host" => Ok(NamespaceMode::Host),
            _ => match text.strip_prefix("container:") {
                Some(name) if !name.is_empty() => Ok(NamespaceMode::Container(name.into())),
                _ => Err(Error::NamespaceMode(flag, what)),
            },
        }
    }

    pub fn container(&self) -> Option<&str> {
        match self {
            NamespaceMode::Container(name) => Some(name),
            _ => None,
        }
    }
}

impl fmt::Display for NamespaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NamespaceMode::Private => Ok(()),
            NamespaceMode::Host => f.write_str("host"),
            NamespaceMode::Container(name) => write!(f, "container:{name}"),
        }
    }
}

impl From<NamespaceMode> for String {
    fn from(mode: NamespaceMode) -> String {
        mode.to_string()
    }
}

impl TryFrom<String> for NamespaceMode {
    type Error = Error;
    fn try_from(text: String) -> Result<Self, Error> {
        NamespaceMode::parse("ipc", &text)
    }
}

/// `--pull`: when `run`/`create` asks a registry for the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    /// Only the local store; a missing image is an error.
    Never,
}

impl FromStr for PullPolicy {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "always" => Ok(PullPolicy::Always),
            "missing" | "" => Ok(PullPolicy::Missing),
            "never" => Ok(PullPolicy::Never),
            _ => Err(Error::Pull(text.into())),
        }
    }
}

/// `--platform`: this runtime runs linux/amd64 images only, so that is
/// all it accepts (`linux` alone means the host's architecture).
pub fn check_platform(text: &str) -> Result<(), Error> {
    let lower = text.to_ascii_lowercase();
    let mut parts = lower.split('/');
    let os = parts.next().unwrap_or_default();
    let arch = parts.next();
    let ok = os == "linux"
        && matches!(arch, None | Some("amd64" | "x86_64" | "x86-64"))
        && parts.next().is_none();
    if ok {
        return Ok(());
    }
    Err(Error::Platform(format!(
        "image with reference was found but does not match the specified platform: wanted {text}, actual: linux/amd64"
    )))
}

/// `-a, --attach`: which of the container's streams `run` attaches to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdin,
    Stdout,
    Stderr,
}

impl FromStr for Stream {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self, Error> {
        match text.to_ascii_lowercase().as_str() {
            "stdin" => Ok(Stream::Stdin),
            "stdout" => Ok(Stream::Stdout),
            "stderr" => Ok(Stream::Stderr),
            _ => Err(invalid(
                "-a, --attach",
                text,
                "valid streams are STDIN, STDOUT and STDERR",
            )),
        }
    }
}

/// `--log-driver`: the two this runtime has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogDriver {
    #[default]
    #[serde(rename = "json-file")]
    JsonFile,
    #[serde(rename = "none")]
    None,
}

/// Docker's `HostConfig.LogConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogConfig {
    #[serde(rename = "Type")]
    pub driver: LogDriver,
    pub config: BTreeMap<String, String>,
}

/// What the monitor's json-file writer does with `max-size`/`max-file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Bytes after which the log is rotated.
    pub max_size: u64,
    /// Files kept, the current one included (at least 1).
    pub max_file: u32,
}

impl LogConfig {
    /// From `--log-driver` and `--log-opt K=V` (the options split on
    /// commas too, so `max-size=10m,max-file=3` is one flag).
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<Self, Error> {
        let driver = match driver.unwrap_or("json-file") {
            "json-file" | "" => LogDriver::JsonFile,
            "none" => LogDriver::None,
            other => return Err(Error::LogDriver(other.into())),
        };
        let mut config = BTreeMap::new();
        for opt in opts.iter().flat_map(|o| o.split(',')) {
            let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
            config.insert(k.to_string(), v.to_string());
        }
        if driver == LogDriver::None && !config.is_empty() {
            return Err(Error::LogOptsForNone("none".into()));
        }
        for key in config.keys() {
            let known = [
                "max-size",
                "max-file",
                "compress",
                "labels",
                "labels-regex",
                "env",
                "env-regex",
                "tag",
            ];
            if !known.contains(&key.as_str()) {
                return Err(Error::LogOpt(key.clone()));
            }
        }
        let log = LogConfig { driver, config };
        log.rotation()?;
        Ok(log)
    }

    /// `None` when the log grows without bound (no `max-size`).
    pub fn rotation(&self) -> Result<Option<Rotation>, Error> {
        let max_file = match self.config.get("max-file") {
            Some(v) => {
                let n: i64 = v.parse().map_err(|_| {
                    Error::LogValue(format!("strconv.Atoi: parsing \"{v}\": invalid syntax"))
                })?;
                if n < 1 {
                    return Err(Error::LogValue("max-file cannot be less than 1".into()));
                }
                n as u32
            }
            None => 1,
        };
        let Some(size) = self.config.get("max-size") else {
            if max_file > 1 {
                return Err(Error::LogValue(
                    "max-file cannot be set without max-size".into(),
                ));
            }
            return Ok(None);
        };
        let bytes = cgroup_demo::size::parse_bytes(size)
            .map_err(|_| Error::LogValue(format!("invalid size: '{size}'")))?;
        Ok((bytes > 0).then_some(Rotation {
            max_size: bytes as u64,
            max_file,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulimits_parse_with_dockers_messages() {
        assert_eq!(
            Ulimit::parse("nofile=100:200").unwrap(),
            Ulimit {
                name: "nofile".into(),
                soft: 100,
                hard: 200
            }
        );
        assert_eq!(Ulimit::parse("nproc=7").unwrap().hard, 7);
        let msg = |t| Ulimit::parse(t).unwrap_err().to_string();
        assert_eq!(
            msg("nofile"),
            "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile"
        );
        assert!(msg("bogus=1").ends_with("invalid ulimit type: bogus"));
        assert!(msg("nofile=10:5")
            .ends_with("ulimit soft limit must be less than or equal to hard limit: 10 > 5"));
        assert!(msg("nofile=1:2:3").contains("too many limit value arguments - 1:2:3"));
        assert!(msg("nofile=abc").ends_with("parsing \"abc\": invalid syntax"));
    }

    #[test]
    fn only_namespaced_sysctls_pass() {
        for ok in [
            "kernel.shmmax=1",
            "kernel.sem=1 2 3 4",
            "fs.mqueue.msg_max=5",
            "net.ipv4.ip_forward=1",
            "kernel.msgmax=9",
        ] {
            assert!(parse_sysctl(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            parse_sysctl("kernel.hostname=x").unwrap_err().to_string(),
            "invalid argument \"kernel.hostname=x\" for \"--sysctl\" flag: sysctl 'kernel.hostname=x' is not whitelisted"
        );
        assert!(parse_sysctl("foo").is_err());
        let net: BTreeMap<_, _> = [("net.ipv4.ip_forward".to_string(), "1".to_string())].into();
        assert_eq!(
            check_sysctls(&net, true, &NamespaceMode::Private)
                .unwrap_err()
                .to_string(),
            "sysctl \"net.ipv4.ip_forward\" not allowed in host network namespace"
        );
        assert!(check_sysctls(&net, false, &NamespaceMode::Host).is_ok());
    }

    #[test]
    fn namespace_modes_parse_and_serialise() {
        assert_eq!(
            NamespaceMode::parse("pid", "host").unwrap(),
            NamespaceMode::Host
        );
        assert_eq!(
            NamespaceMode::parse("ipc", "container:web").unwrap(),
            NamespaceMode::Container("web".into())
        );
        assert_eq!(
            NamespaceMode::parse("pid", "bogus")
                .unwrap_err()
                .to_string(),
            "--pid: invalid PID mode"
        );
        assert_eq!(
            NamespaceMode::parse("uts", "container:")
                .unwrap_err()
                .to_string(),
            "--uts: invalid UTS mode"
        );
        let v = serde_json::to_value(NamespaceMode::Container("a".into())).unwrap();
        assert_eq!(v, "container:a");
        let back: NamespaceMode = serde_json::from_value(v).unwrap();
        assert_eq!(back, NamespaceMode::Container("a".into()));
        assert_eq!(serde_json::to_value(NamespaceMode::Private).unwrap(), "");
    }

    #[test]
    fn pull_platform_and_attach() {
        assert_eq!("never".parse::<PullPolicy>().unwrap(), PullPolicy::Never);
        assert_eq!(
            "sometimes".parse::<PullPolicy>().unwrap_err().to_string(),
            "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""
        );
        assert!(check_platform("linux").is_ok());
        assert!(check_platform("linux/amd64").is_ok());
        assert!(check_platform("linux/arm64")
            .unwrap_err()
            .to_string()
            .contains("wanted linux/arm64, actual: linux/amd64"));
        assert!(check_platform("windows/amd64").is_err());
        assert_eq!("STDOUT".parse::<Stream>().unwrap(), Stream::Stdout);
        assert_eq!(
            "foo".parse::<Stream>().unwrap_err().to_string(),
            "invalid argument \"foo\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
        );
    }

    #[test]
    fn log_config_and_rotation() {
        let log = LogConfig::parse(None, &["max-size=10m,max-file=3".into()]).unwrap();
        assert_eq!(
            log.rotation().unwrap(),
            Some(Rotation {
                max_size: 10 << 20,
                max_file: 3
            })
        );
        let v = serde_json::to_value(&log).unwrap();
        assert_eq!(v["Type"], "json-file");
        assert_eq!(v["Config"]["max-file"], "3");
        assert_eq!(
            LogConfig::parse(None, &[]).unwrap().rotation().unwrap(),
            None
        );
        let err = |d: Option<&str>, o: &[&str]| {
            let o: Vec<String> = o.iter().map(|s| s.to_string()).collect();
            LogConfig::parse(d, &o).unwrap_err().to_string()
        };
        assert_eq!(
            err(Some("syslog"), &[]),
            "error looking up logging plugin syslog: plugin \"syslog\" not found"
        );
        assert_eq!(
            err(Some("none"), &["max-size=1m"]),
            "invalid logging opts for driver none"
        );
        assert_eq!(
            err(None, &["foo=bar"]),
            "unknown log opt 'foo' for json-file log driver"
        );
        assert_eq!(
            err(None, &["max-size=abc"]),
            "failed to initialize logging driver: invalid size: 'abc'"
        );
        assert!(LogConfig::parse(Some("none"), &[]).is_ok());
    }
}
