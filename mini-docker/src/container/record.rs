//! What is stored about a container, in Docker's `inspect` shape so that
//! `inspect` prints the files almost as they are: `config.json` (what to
//! run and with which limits, fixed at create) and `state.json` (what is
//! happening now, written by the monitor and the lifecycle commands).
//!
//! The request is resolved once, at create: statuses, restart policies,
//! network modes, mount kinds, namespace modes and cgroupns modes are
//! enums here, spelled as Docker spells them only when stored or printed;
//! the process is fixed as a [`ProcessSpec`]. Each part maps onto the OCI
//! runtime specification (the `oci-spec` types `mini-runc` reads) field by
//! field, should the record become that: [`ProcessSpec`] is `process`
//! (`args`, `env`, `cwd`, `user.uid/gid/additionalGids`, the capability
//! sets, `noNewPrivileges`); [`MountPoint`] is a `mounts` entry
//! (`destination`, `type`, `source`, options from `RW`/`Propagation`);
//! [`HostConfig`]'s limits are `linux.resources` (through
//! [`super::monitor::limits_of`]), its devices `linux.devices` and
//! `linux.resources.devices`, its namespace modes `linux.namespaces`
//! (`container:X` a namespace `path`), [`NetworkMode`] the network
//! namespace, `ulimits` `process.rlimits`, `sysctls` `linux.sysctl`, and
//! the masked and read-only paths of [`super::setup`] `linux.maskedPaths` /
//! `readonlyPaths`. What has no place there (names, links, ports, the
//! restart policy, logs) is the front end's, kept beside it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use super::network_mode::NetworkMode;
pub use super::restart::RestartPolicy;
pub use super::status::Status;

/// `config.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Container {
    pub id: String,
    /// RFC 3339 with nanoseconds, as Docker prints it.
    pub created: String,
    pub path: String,
    pub args: Vec<String>,
    /// The image ID (`sha256:…`); the store's in-use check reads it.
    pub image: String,
    /// `/name`, with Docker's leading slash.
    pub name: String,
    pub config: Config,
    pub host_config: HostConfig,
    /// Volumes, bind mounts and tmpfs mounts, in Docker's `Mounts` shape.
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    /// mini-docker's own: networks joined with `network connect`, besides
    /// `HostConfig.NetworkMode`.
    #[serde(default)]
    pub connected_networks: Vec<String>,
    /// mini-docker's own: the process as resolved at create time.
    pub process: ProcessSpec,
}

/// One entry of Docker's `Mounts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: MountKind,
    /// The volume's name (volumes only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The host directory: a volume's `_data`, a bind mount's source.
    pub source: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub driver: String,
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    pub propagation: String,
    /// mini-docker's own: tmpfs mount options (`size=64m,mode=1777`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub options: String,
}

/// Docker's mount types (`Mounts[].Type`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A named or anonymous volume of the store.
    #[default]
    Volume,
    /// A host path.
    Bind,
    /// A tmpfs of the container's own.
    Tmpfs,
}

/// Docker's `Config`: the container's side of `docker run`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    pub cmd: Option<Vec<String>>,
    /// The image as the user named it.
    pub image: String,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub labels: BTreeMap<String, String>,
    /// `EXPOSE`d ports (image and `--expose`): `"80/tcp" → {}`.
    #[serde(default)]
    pub exposed_ports: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--health-*` over the image's `HEALTHCHECK`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::Config>,
}

/// One host side of a published port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostPort {
    pub host_ip: String,
    pub host_port: String,
}

/// Published ports: `"80/tcp" → [{HostIp, HostPort}]`.
pub type Ports = BTreeMap<String, Vec<HostPort>>;

/// Docker's `HostConfig`: limits and privileges.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    pub network_mode: NetworkMode,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--device`.
    #[serde(default)]
    pub devices: Vec<super::devices::DeviceMapping>,
    /// `--device-cgroup-rule`.
    #[serde(default)]
    pub device_cgroup_rules: Vec<String>,
    pub readonly_rootfs: bool,
    pub security_opt: Vec<String>,
    pub init: bool,
    pub cpu_shares: u64,
    pub nano_cpus: u64,
    pub cpuset_cpus: String,
    pub memory: i64,
    pub memory_swap: i64,
    pub pids_limit: i64,
    /// `--cpu-period`, microseconds (0: not set).
    #[serde(default)]
    pub cpu_period: i64,
    /// `--cpu-quota`, microseconds (0: not set; negative: unlimited).
    #[serde(default)]
    pub cpu_quota: i64,
    /// `--memory-reservation`, bytes (0: not set).
    #[serde(default)]
    pub memory_reservation: i64,
    /// `--blkio-weight`, 10..=1000 (0: not set).
    #[serde(default)]
    pub blkio_weight: u16,
    pub cgroup_parent: String,
    /// `--cgroupns`, or the host's default when not given.
    #[serde(default)]
    pub cgroupns_mode: CgroupnsMode,
    /// `-v` as given.
    #[serde(default)]
    pub binds: Vec<String>,
    /// `-p`: `"80/tcp" → [{HostIp, HostPort}]`.
    #[serde(default)]
    pub port_bindings: Ports,
    /// `-P`: every exposed port to a random host port.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// `--add-host NAME:IP`.
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `--dns`.
    #[serde(default)]
    pub dns: Vec<String>,
    /// `--link`, `--dns-search`, `--dns-option`, `--network-alias`,
    /// `--mac-address` (see [`super::dns`]).
    #[serde(flatten)]
    pub naming: super::dns::Naming,
    /// mini-docker's own: `--ip` on a user network.
    #[serde(
        default,
        rename = "IPv4Address",
        skip_serializing_if = "String::is_empty"
    )]
    pub ipv4_address: String,
    #[serde(default)]
    pub volumes_from: Vec<String>,
    /// mini-docker's own: the detach key sequence for attach.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_keys: Option<String>,
    // The run flags of issue 14, together (see `options`).
    /// `--ulimit`, set in the container's process before `execve`.
    #[serde(default)]
    pub ulimits: Vec<super::options::Ulimit>,
    /// `--shm-size`: the size of the `/dev/shm` tmpfs, in bytes.
    #[serde(default = "default_shm_size")]
    pub shm_size: i64,
    /// `--group-add`, as given (names resolved at create).
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--sysctl`, written into `/proc/sys` before it is made read-only.
    #[serde(default)]
    pub sysctls: BTreeMap<String, String>,
    #[serde(default)]
    pub ipc_mode: super::options::NamespaceMode,
    #[serde(default)]
    pub pid_mode: super::options::NamespaceMode,
    #[serde(default, rename = "UTSMode")]
    pub uts_mode: super::options::NamespaceMode,
    /// `--log-driver`, `--log-opt`.
    #[serde(default)]
    pub log_config: super::options::LogConfig,
}

/// Docker's `/dev/shm`: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 64 << 20;

fn default_shm_size() -> i64 {
    DEFAULT_SHM_SIZE
}

/// Docker's `--cgroupns`: whether the container gets a cgroup namespace
/// rooted at its own cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupnsMode {
    /// The host's namespace: `/proc/self/cgroup` shows host paths.
    Host,
    /// A new namespace: the container's cgroup is its `/`. The default for
    /// records written before the flag existed, which always had one.
    #[default]
    Private,
}

impl CgroupnsMode {
    /// Docker's default: `private` where the kernel's cgroup v2 makes
    /// delegation safe, `host` on v1 (as Docker has always run there).
    pub fn default_for(version: cgroup_demo::Version) -> Self {
        match version {
            cgroup_demo::Version::V2 => CgroupnsMode::Private,
            cgroup_demo::Version::V1 => CgroupnsMode::Host,
        }
    }
}

impl std::str::FromStr for CgroupnsMode {
    type Err = super::options::Error;

    /// `host` or `private`, with Docker's message for anything else.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "host" => Ok(CgroupnsMode::Host),
            "private" => Ok(CgroupnsMode::Private),
            _ => Err(super::options::Error::NamespaceMode("cgroupns", "CGROUP")),
        }
    }
}

impl std::fmt::Display for CgroupnsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CgroupnsMode::Host => "host",
            CgroupnsMode::Private => "private",
        })
    }
}

/// The resolved process: what the monitor hands to the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    /// Capability names (`CAP_CHOWN`…) the process keeps.
    pub capabilities: Vec<String>,
    pub seccomp: bool,
    pub no_new_privileges: bool,
}

/// Docker's `State`, kept as one [`Status`] plus what the last start and
/// exit left. Every change of status is one of the methods below, so the
/// legal moves are in one place ([`super::status`] says which commands may
/// make them). It is stored and printed in Docker's shape ([`StateView`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "StateView", from = "StateView")]
pub struct State {
    pub status: Status,
    pub oom_killed: bool,
    pub pid: i32,
    pub exit_code: i32,
    pub error: String,
    pub started_at: String,
    pub finished_at: String,
    /// Only for a container with a healthcheck.
    pub health: Option<super::health::Health>,
}

/// Docker's zero time, for "never".
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

impl Default for State {
    fn default() -> Self {
        State {
            status: Status::Created,
            oom_killed: false,
            pid: 0,
            exit_code: 0,
            error: String::new(),
            started_at: ZERO_TIME.into(),
            finished_at: ZERO_TIME.into(),
            health: None,
        }
    }
}

impl State {
    /// Docker's `State.Running`: a process exists, frozen or not.
    pub fn running(&self) -> bool {
        self.status.has_process()
    }

    pub fn paused(&self) -> bool {
        self.status == Status::Paused
    }

    pub fn restarting(&self) -> bool {
        self.status == Status::Restarting
    }

    /// The monitor started the container's process `pid`.
    pub fn start(&mut self, pid: i32) {
        self.status = Status::Running;
        self.pid = pid;
        self.exit_code = 0;
        self.oom_killed = false;
        self.started_at = now();
        self.finished_at = ZERO_TIME.into();
    }

    /// The process could not be started; a container that never ran stays
    /// `created`, as Docker's does.
    pub fn start_failed(&mut self, code: i32, message: String, first: bool) {
        self.pid = 0;
        self.exit_code = code;
        self.error = message;
        if first {
            self.status = Status::Created;
        } else {
            self.status = Status::Exited;
            self.finished_at = now();
        }
    }

    /// The process ended with `code`; `restarting` when the restart policy
    /// will start it again.
    pub fn exit(&mut self, code: i32, oom_killed: bool, restarting: bool) {
        self.status = if restarting {
            Status::Restarting
        } else {
            Status::Exited
        };
        self.pid = 0;
        self.exit_code = code;
        self.oom_killed = oom_killed;
        self.finished_at = now();
    }

    /// A restart that will not happen after all (`stop` during the delay).
    pub fn restart_cancelled(&mut self) {
        self.status = Status::Exited;
    }

    /// `pause` (true) or `unpause` (false).
    pub fn freeze(&mut self, frozen: bool) {
        self.status = if frozen {
            Status::Paused
        } else {
            Status::Running
        };
    }

    /// Its monitor is gone: nothing supervises it any more.
    pub fn monitor_lost(&mut self) {
        self.status = Status::Dead;
        self.pid = 0;
    }
}

/// Docker's `State` object as `inspect` prints it and `state.json` holds
/// it: the status spelled out and again as four booleans.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateView {
    /// created, running, paused, restarting, exited, dead.
    status: Status,
    running: bool,
    paused: bool,
    restarting: bool,
    #[serde(rename = "OOMKilled")]
    oom_killed: bool,
    dead: bool,
    pid: i32,
    exit_code: i32,
    error: String,
    started_at: String,
    finished_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    health: Option<super::health::Health>,
}

impl From<State> for StateView {
    fn from(s: State) -> Self {
        StateView {
            running: s.running(),
            paused: s.paused(),
            restarting: s.restarting(),
            dead: s.status == Status::Dead,
            status: s.status,
            oom_killed: s.oom_killed,
            pid: s.pid,
            exit_code: s.exit_code,
            error: s.error,
            started_at: s.started_at,
            finished_at: s.finished_at,
            health: s.health,
        }
    }
}

/// The booleans of a stored state are Docker's copies of its status (they
/// always agreed with it): the status alone is read back.
impl From<StateView> for State {
    fn from(v: StateView) -> Self {
        State {
            status: v.status,
            oom_killed: v.oom_killed,
            pid: v.pid,
            exit_code: v.exit_code,
            error: v.error,
            started_at: v.started_at,
            finished_at: v.finished_at,
            health: v.health,
        }
    }
}

/// `state.json`: Docker's `State` plus what only mini-docker needs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Runtime {
    pub state: State,
    pub restart_count: u32,
    /// The monitor's PID and its start time (jiffies after boot, from
    /// `/proc/PID/stat`): both must match for the monitor to be alive, so a
    /// recycled PID is not mistaken for it.
    pub monitor_pid: i32,
    pub monitor_start: u64,
    /// Set by `stop`/`kill`: the restart policy must not bring it back.
    pub stopped_by_user: bool,
    /// Where the running container is on each network.
    #[serde(default)]
    pub networks: BTreeMap<String, crate::network::Endpoint>,
    /// Published ports as they are now: `"80/tcp" → [{HostIp, HostPort}]`.
    #[serde(default)]
    pub ports: Ports,
}

impl Runtime {
    /// Whether the recorded monitor process still exists.
    pub fn monitor_alive(&self) -> bool {
        self.monitor_pid > 0 && start_time(self.monitor_pid) == Some(self.monitor_start)
    }
}

/// Field 22 of `/proc/PID/stat`: when the process started.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: count after its ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19)?.parse().ok()
}

/// Now, as Docker prints times: RFC 3339 in UTC with nanoseconds.
pub fn now() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_serialises_with_dockers_field_names() {
        let v = serde_json::to_value(State::default()).unwrap();
        for field in [
            "Status",
            "Running",
            "Paused",
            "OOMKilled",
            "Pid",
            "ExitCode",
        ] {
            assert!(v.get(field).is_some(), "{field} missing from {v}");
        }
        assert_eq!(v["StartedAt"], ZERO_TIME);
    }

    #[test]
    fn state_reads_records_written_with_dockers_booleans() {
        // A paused container's state.json as every version has written it.
        let old = serde_json::json!({
            "Status": "paused", "Running": true, "Paused": true,
            "Restarting": false, "OOMKilled": false, "Dead": false,
            "Pid": 42, "ExitCode": 0, "Error": "",
            "StartedAt": "2026-12-01T04:40:00.000000000Z", "FinishedAt": ZERO_TIME,
        });
        let state: State = serde_json::from_value(old.clone()).unwrap();
        assert_eq!((state.status, state.pid), (Status::Paused, 42));
        assert!(state.running() && state.paused() && !state.restarting());
        assert_eq!(serde_json::to_value(&state).unwrap(), old);
    }

    #[test]
    fn transitions_keep_dockers_booleans_consistent() {
        let mut s = State::default();
        s.start(7);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(
            (v["Status"].as_str(), v["Running"].as_bool()),
            (Some("running"), Some(true))
        );
        s.freeze(true);
        assert!(s.running() && s.paused());
        s.exit(137, true, true);
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["Status"], "restarting");
        assert_eq!(
            (v["Running"].as_bool(), v["Paused"].as_bool()),
            (Some(false), Some(false))
        );
        assert_eq!(
            (v["Restarting"].as_bool(), v["OOMKilled"].as_bool()),
            (Some(true), Some(true))
        );
        assert_eq!((s.pid, s.exit_code), (0, 137));
        s.restart_cancelled();
        assert_eq!(s.status, Status::Exited);
        let mut never = State::default();
        never.start_failed(127, "not found".into(), true);
        assert_eq!(
            (never.status, never.finished_at.as_str()),
            (Status::Created, ZERO_TIME)
        );
    }

    #[test]
    fn cgroupns_mode_parses_and_serialises_as_docker_spells_it() {
        assert_eq!("host".parse::<CgroupnsMode>().unwrap(), CgroupnsMode::Host);
        assert_eq!(
            "private".parse::<CgroupnsMode>().unwrap(),
            CgroupnsMode::Private
        );
        assert_eq!(
            "container:x"
                .parse::<CgroupnsMode>()
                .unwrap_err()
                .to_string(),
            "--cgroupns: invalid CGROUP mode"
        );
        let v = serde_json::to_value(HostConfig {
            cgroupns_mode: CgroupnsMode::Host,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(v["CgroupnsMode"], "host");
        // A record from before the flag: its container had a private one.
        let mut old = v.clone();
        old.as_object_mut().unwrap().remove("CgroupnsMode");
        let old: HostConfig = serde_json::from_value(old).unwrap();
        assert_eq!(old.cgroupns_mode, CgroupnsMode::Private);
        use cgroup_demo::Version;
        assert_eq!(CgroupnsMode::default_for(Version::V1), CgroupnsMode::Host);
        assert_eq!(
            CgroupnsMode::default_for(Version::V2),
            CgroupnsMode::Private
        );
    }

    #[test]
    fn own_start_time_is_readable() {
        let me = std::process::id() as i32;
        assert!(start_time(me).is_some());
        let runtime = Runtime {
            monitor_pid: me,
            monitor_start: start_time(me).unwrap(),
            ..Default::default()
        };
        assert!(runtime.monitor_alive());
        let recycled = Runtime {
            monitor_start: 1,
            ..runtime
        };
        assert!(!recycled.monitor_alive());
    }
}
