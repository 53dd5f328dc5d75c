//! `create`: from an image and `docker run`'s flags to a container on disk,
//! with every check done before anything is written (Docker's messages).

use std::collections::BTreeMap;

use cgroup_demo::size;

use super::devices::{self, DeviceMapping};
use super::dir::Containers;
use super::mounts::{self, MountFlags};
use super::options::{self, LogConfig, NamespaceMode, Ulimit};
use super::record::{
    now, CgroupnsMode, Config, Container, HostConfig, HostPort, MountKind, NetworkMode,
    ProcessSpec, DEFAULT_SHM_SIZE,
};
use super::restart;
use super::security;
use super::setup;
use super::spec::{self, Overrides};
use crate::network::Networks;
use crate::store::{chain_ids, ImageId, Store};
use crate::volume::Volumes;
use crate::{Error, Result};

/// Why `create` refused a request (Docker's messages); checked before
/// anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreateError {
    #[error("SHM size can not be less than 0")]
    NegativeShmSize,
    #[error("conflicting options: hostname and the UTS mode")]
    HostnameWithUtsMode,
    #[error("Unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    #[error("conflicting options: port publishing and the container type network mode")]
    PublishWithoutOwnNetwork,
    #[error("user specified IP address is supported on user defined networks only")]
    IpOffUserNetwork,
    #[error("invalid IPv4 address: {0}")]
    InvalidIp(String),
    /// `-p`, as net-demo's parser words it.
    #[error("{0}")]
    Publish(String),
    #[error("Conflicting options: --restart and --rm")]
    RestartWithRm,
    #[error("Invalid --security-opt: {0:?} (supported: seccomp=unconfined, no-new-privileges)")]
    SecurityOpt(String),
    /// `--device-cgroup-rule` that does not parse.
    #[error("{0}")]
    DeviceRule(String),
    /// `--device` of a host path that is not there (or not a device).
    #[error("error gathering device information while adding custom device \"{path}\": {why}")]
    DeviceInfo { path: String, why: String },
}

/// `run`/`create` flags, as given.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub image: String,
    pub name: Option<String>,
    pub overrides: Overrides,
    pub hostname: Option<String>,
    pub tty: bool,
    pub interactive: bool,
    /// Attached `run -i`: the container's stdin closes with the client's.
    pub stdin_once: bool,
    pub auto_remove: bool,
    pub init: bool,
    pub cpu_shares: Option<u64>,
    pub cpus: Option<String>,
    pub cpuset_cpus: Option<String>,
    pub memory: Option<String>,
    pub memory_swap: Option<String>,
    pub pids_limit: Option<i64>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub memory_reservation: Option<String>,
    pub blkio_weight: Option<u16>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    /// `--device`, `--device-cgroup-rule`.
    pub devices: Vec<String>,
    pub device_cgroup_rules: Vec<String>,
    pub security_opt: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub restart: Option<String>,
    pub labels: Vec<String>,
    pub detach_keys: Option<String>,
    pub network: Option<String>,
    pub cgroup_parent: Option<String>,
    /// `--cgroupns`; `None` takes the host's default.
    pub cgroupns: Option<CgroupnsMode>,
    pub mounts: MountFlags,
    /// `-p`, `-P`, `--expose`, `--ip`, `--add-host`, `--dns`.
    pub publish: Vec<String>,
    pub publish_all: bool,
    pub expose: Vec<String>,
    pub ip: Option<String>,
    pub add_host: Vec<String>,
    pub dns: Vec<String>,
    // The run flags of issue 14, together.
    /// `--ulimit NAME=SOFT[:HARD]`.
    pub ulimits: Vec<String>,
    /// `--shm-size`.
    pub shm_size: Option<String>,
    /// `--group-add`: group names (resolved in the image) or numbers.
    pub group_add: Vec<String>,
    /// `--sysctl NAME=VALUE`.
    pub sysctls: Vec<String>,
    /// `--ipc`, `--pid`, `--uts` as given.
    pub ipc: Option<String>,
    pub pid: Option<String>,
    pub uts: Option<String>,
    /// `--health-*`, `--no-healthcheck`.
    pub health: super::health::Flags,
    /// `--log-driver`, `--log-opt`.
    pub log_driver: Option<String>,
    pub log_opts: Vec<String>,
    /// `--link`, `--dns-search`, `--dns-option`, `--network-alias`,
    /// `--mac-address`.
    pub naming: super::dns::NamingFlags,
}

/// The issue-14 flags that shape `HostConfig`, checked (Docker's order of
/// complaints: parsing first, then conflicts with the other flags).
struct RunFlags {
    ulimits: Vec<Ulimit>,
    shm_size: i64,
    sysctls: BTreeMap<String, String>,
    ipc: NamespaceMode,
    pid: NamespaceMode,
    uts: NamespaceMode,
    log: LogConfig,
}

fn run_flags(request: &Request, containers: &Containers, host_network: bool) -> Result<RunFlags> {
    let ulimits = request
        .ulimits
        .iter()
        .map(|u| Ulimit::parse(u))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    for u in &ulimits {
        u.check_raisable()?;
    }
    let shm_size = match request.shm_size.as_deref() {
        Some(s) => parse_size("--shm-size", s)?,
        None => DEFAULT_SHM_SIZE,
    };
    if shm_size < 0 {
        return Err(CreateError::NegativeShmSize.into());
    }
    let shm_size = if shm_size == 0 {
        DEFAULT_SHM_SIZE
    } else {
        shm_size
    };
    let mode = |flag, v: &Option<String>| NamespaceMode::parse(flag, v.as_deref().unwrap_or(""));
    let (ipc, pid, uts) = (
        mode("ipc", &request.ipc)?,
        mode("pid", &request.pid)?,
        mode("uts", &request.uts)?,
    );
    if uts != NamespaceMode::Private && request.hostname.is_some() {
        return Err(CreateError::HostnameWithUtsMode.into());
    }
    for m in [&ipc, &pid, &uts] {
        if let Some(name) = m.container() {
            containers.find(name)?;
        }
    }
    let mut sysctls = BTreeMap::new();
    for s in &request.sysctls {
        let (k, v) = options::parse_sysctl(s)?;
        sysctls.insert(k, v);
    }
    options::check_sysctls(&sysctls, host_network, &ipc)?;
    let log = LogConfig::parse(request.log_driver.as_deref(), &request.log_opts)?;
    Ok(RunFlags {
        ulimits,
        shm_size,
        sysctls,
        ipc,
        pid,
        uts,
        log,
    })
}

/// `--group-add`: numbers as they are, names looked up in the image's
/// `/etc/group` (Docker's message when a name is not there).
fn extra_groups(names: &[String], files: spec::ImageFiles) -> Result<Vec<u32>> {
    let group = files("etc/group").unwrap_or_default();
    names
        .iter()
        .map(|name| {
            if let Ok(gid) = name.parse::<u32>() {
                return Ok(gid);
            }
            group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() > 2 && f[0] == name)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| CreateError::NoSuchGroup(name.clone()).into())
        })
        .collect()
}

fn parse_size(flag: &'static str, text: &str) -> Result<i64> {
    size::parse_bytes(text)
        .map_err(|_| options::invalid(flag, text, format!("invalid size: '{text}'")).into())
}

/// Checks the request, resolves the image's defaults and writes the
/// container. Returns it with Docker's warnings (adjusted limits).
pub fn create(
    store: &Store,
    containers: &Containers,
    image: &ImageId,
    request: &Request,
) -> Result<(Container, Vec<String>)> {
    let image_config = store.config(image)?;
    let run = &image_config.config;

    let memory = request
        .memory
        .as_deref()
        .map(|m| parse_size("-m, --memory", m))
        .transpose()?;
    let memory_swap = match request.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        Some(s) => Some(parse_size("--memory-swap", s)?),
        None => None,
    };
    let memory_reservation = request
        .memory_reservation
        .as_deref()
        .map(|m| parse_size("--memory-reservation", m))
        .transpose()?;
    let cpus = request
        .cpus
        .as_deref()
        .map(|c| {
            c.parse::<f64>().map_err(|_| {
                options::invalid(
                    "--cpus",
                    c,
                    format!("failed to parse {c} as a rational number"),
                )
            })
        })
        .transpose()?;
    let network_mode = request
        .network
        .clone()
        .map(NetworkMode::from)
        .unwrap_or_default();
    let networks = Networks::open(store.root())?;
    match &network_mode {
        NetworkMode::None | NetworkMode::Host => {}
        NetworkMode::Container(other) => {
            containers.find(other)?;
        }
        NetworkMode::Network(name) => {
            networks.get(name)?;
        }
    }
    let is_bridge = network_mode.network().is_some();
    if !is_bridge && (!request.publish.is_empty() || request.publish_all) {
        return Err(CreateError::PublishWithoutOwnNetwork.into());
    }
    if request.ip.is_some() && (!is_bridge || network_mode == NetworkMode::default()) {
        return Err(CreateError::IpOffUserNetwork.into());
    }
    let flags = run_flags(request, containers, network_mode.shares_stack())?;
    let ipv4_address = match &request.ip {
        Some(ip) => ip
            .parse::<std::net::Ipv4Addr>()
            .map_err(|_| CreateError::InvalidIp(ip.clone()))?
            .to_string(),
        None => String::new(),
    };
    for host in &request.add_host {
        match host.split_once(':') {
            Some((name, ip)) if !name.is_empty() && ip.parse::<std::net::IpAddr>().is_ok() => {}
            _ => {
                let ip = host.split_once(':').map_or("", |(_, ip)| ip);
                let why = format!("invalid IP address in add-host: \"{ip}\"");
                return Err(options::invalid("--add-host", host, why).into());
            }
        }
    }
    let mut port_bindings: BTreeMap<String, Vec<HostPort>> = BTreeMap::new();
    let mut exposed: BTreeMap<String, serde_json::Value> =
        run.exposed_ports.clone().unwrap_or_default();
    for spec in &request.publish {
        let ports = net_demo::publish::parse_publish(spec)
            .map_err(|e: net_demo::Error| CreateError::Publish(e.to_string()))?;
        for port in ports {
            let key = format!("{}/{}", port.container_port, port.proto);
            exposed.insert(key.clone(), serde_json::json!({}));
            port_bindings.entry(key).or_default().push(HostPort {
                host_ip: port.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                host_port: port.host_port.map(|p| p.to_string()).unwrap_or_default(),
            });
        }
    }
    for port in &request.expose {
        let key = if port.contains('/') {
            port.clone()
        } else {
            format!("{port}/tcp")
        };
        exposed.insert(key, serde_json::json!({}));
    }
    // Recorded at create, as Docker's daemon fills it in: what inspect
    // shows is what every start uses.
    let cgroupns_mode = match request.cgroupns {
        Some(mode) => mode,
        None => CgroupnsMode::default_for(cgroup_demo::Layout::detect()?.version()),
    };
    let mut host_config = HostConfig {
        cgroupns_mode,
        network_mode,
        port_bindings,
        publish_all_ports: request.publish_all,
        extra_hosts: request.add_host.clone(),
        dns: request.dns.clone(),
        naming: super::dns::Naming::from_flags(&request.naming, containers)?,
        ipv4_address,
        restart_policy: request
            .restart
            .as_deref()
            .map(str::parse)
            .transpose()?
            .unwrap_or_default(),
        auto_remove: request.auto_remove,
        cap_add: request.cap_add.clone(),
        cap_drop: request.cap_drop.clone(),
        privileged: request.privileged,
        devices: request
            .devices
            .iter()
            .map(|d| DeviceMapping::parse(d))
            .collect::<Result<_>>()?,
        device_cgroup_rules: request.device_cgroup_rules.clone(),
        readonly_rootfs: request.read_only,
        security_opt: request.security_opt.clone(),
        init: request.init,
        cpu_shares: request.cpu_shares.unwrap_or(0),
        nano_cpus: cpus.map_or(0, |c| (c * 1e9).round() as u64),
        cpuset_cpus: request.cpuset_cpus.clone().unwrap_or_default(),
        memory: memory.unwrap_or(0),
        memory_swap: memory_swap.unwrap_or(0),
        pids_limit: request.pids_limit.unwrap_or(0),
        cpu_period: request.cpu_period.unwrap_or(0),
        cpu_quota: request.cpu_quota.unwrap_or(0),
        memory_reservation: memory_reservation.unwrap_or(0),
        blkio_weight: request.blkio_weight.unwrap_or(0),
        cgroup_parent: request.cgroup_parent.clone().unwrap_or_default(),
        binds: request.mounts.volumes.clone(),
        volumes_from: request.mounts.volumes_from.clone(),
        detach_keys: request.detach_keys.clone(),
        ulimits: flags.ulimits,
        shm_size: flags.shm_size,
        group_add: request.group_add.clone(),
        sysctls: flags.sysctls,
        ipc_mode: flags.ipc,
        pid_mode: flags.pid,
        uts_mode: flags.uts,
        log_config: flags.log,
    };
    if host_config.auto_remove && host_config.restart_policy.name != restart::Name::No {
        return Err(CreateError::RestartWithRm.into());
    }
    if cpus.is_some_and(|c| c < 0.0) {
        let value = request.cpus.as_deref().unwrap_or_default();
        return Err(options::invalid("--cpus", value, "invalid value: must be positive").into());
    }
    // The devices must exist and the rules parse, before anything exists.
    devices::policy(
        false,
        &host_config.devices,
        &host_config.device_cgroup_rules,
    )
    .map_err(|e| match e {
        // The rule's own words, without the chain `{:#}` would add.
        Error::Cgroup(e) => CreateError::DeviceRule(e.to_string()).into(),
        e => e,
    })?;
    // Docker's checks on the limits, before anything exists.
    let mut probe = Container {
        host_config: host_config.clone(),
        ..Default::default()
    };
    let mut warnings = super::monitor::limits_of(&probe)
        .resolve(super::monitor::online_cpus())?
        .warnings;
    // A loopback resolver is the host's, unreachable from the container's
    // own loopback: Docker warns.
    for dns in &request.dns {
        if dns
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        {
            warnings.push(format!(
                "Localhost DNS setting (--dns={dns}) may fail in containers."
            ));
        }
    }

    let mut seccomp = !request.privileged;
    let mut no_new_privileges = false;
    for opt in &request.security_opt {
        let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), "true"));
        match (key, value) {
            ("seccomp", "unconfined") => seccomp = false,
            ("no-new-privileges", "true") => no_new_privileges = true,
            ("no-new-privileges", "false") => no_new_privileges = false,
            ("label" | "apparmor", _) => {}
            _ => return Err(CreateError::SecurityOpt(opt.clone()).into()),
        }
    }
    let capabilities =
        security::capabilities(&request.cap_add, &request.cap_drop, request.privileged)?;

    let files = |rel: &str| image_file(store, image, rel);
    let mut process = spec::process(run, &request.overrides, &files, |k| std::env::var(k).ok())?;
    for gid in extra_groups(&request.group_add, &files)? {
        if !process.groups.contains(&gid) {
            process.groups.push(gid);
        }
    }
    let healthcheck = request.health.resolve(run.healthcheck.as_ref())?;
    let mut labels: BTreeMap<String, String> = run.labels.clone().unwrap_or_default();
    for label in &request.labels {
        let (k, v) = label.split_once('=').unwrap_or((label, ""));
        labels.insert(k.into(), v.into());
    }
    if let Some(signal) = &request.stop_signal {
        super::lifecycle::parse_signal(signal)?;
    }
    let config = Config {
        hostname: String::new(),
        user: request
            .overrides
            .user
            .clone()
            .or(run.user.clone())
            .unwrap_or_default(),
        attach_stdin: request.interactive,
        attach_stdout: true,
        attach_stderr: true,
        tty: request.tty,
        open_stdin: request.interactive,
        stdin_once: request.stdin_once,
        env: process.env.clone(),
        cmd: if request.overrides.cmd.is_empty() {
            if request.overrides.entrypoint.is_some() {
                None
            } else {
                run.cmd.clone()
            }
        } else {
            Some(request.overrides.cmd.clone())
        },
        image: request.image.clone(),
        working_dir: process.cwd.clone(),
        entrypoint: match &request.overrides.entrypoint {
            Some(e) if e.is_empty() => None,
            Some(e) => Some(vec![e.clone()]),
            None => run.entrypoint.clone(),
        },
        labels,
        exposed_ports: exposed,
        stop_signal: request.stop_signal.clone().or(run.stop_signal.clone()),
        stop_timeout: request.stop_timeout,
        healthcheck,
    };
    host_config.security_opt = request.security_opt.clone();
    probe = Container {
        created: now(),
        path: process.args[0].clone(),
        args: process.args[1..].to_vec(),
        image: image.to_string(),
        config,
        host_config,
        process: ProcessSpec {
            args: process.args.clone(),
            env: process.env.clone(),
            cwd: process.cwd.clone(),
            uid: process.uid,
            gid: process.gid,
            additional_gids: process.groups.clone(),
            capabilities,
            seccomp,
            no_new_privileges,
        },
        ..Default::default()
    };
    // Last, as it creates volumes; an anonymous one is removed again if the
    // container cannot be created.
    let volumes = Volumes::open(store.root())?;
    let image_volumes: Vec<String> = run
        .volumes
        .as_ref()
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    probe.mounts = mounts::resolve(&request.mounts, &image_volumes, &volumes, containers)?;
    let anonymous: Vec<String> = probe
        .mounts
        .iter()
        .filter(|m| {
            m.kind == MountKind::Volume && volumes.get(&m.name).is_ok_and(|v| v.anonymous())
        })
        .map(|m| m.name.clone())
        .collect();
    let created = containers.create(request.name.as_deref(), |id, dir| {
        let mut c = probe;
        c.id = id.to_string();
        // `--uts host`: the host's name is the container's (and is shown).
        c.config.hostname = match (&request.hostname, &c.host_config.uts_mode) {
            (Some(name), _) => name.clone(),
            (None, NamespaceMode::Host) => nix::unistd::gethostname()
                .map(|h| h.to_string_lossy().into_owned())
                .unwrap_or_default(),
            (None, _) => id[..12].to_string(),
        };
        c.process.env = spec::daemon_env(&c.process.env, &c.config.hostname, c.config.tty);
        let resolv = super::dns::resolv_conf(
            super::dns::host_resolv_conf().as_deref(),
            &c.host_config.dns,
            &c.host_config.naming,
            c.host_config.network_mode.on_user_network(),
        );
        setup::write_etc_files(dir, &c.config.hostname, &resolv)?;
        Ok(c)
    });
    let container = created.inspect_err(|_| {
        for name in &anonymous {
            let _ = volumes.remove(name);
        }
    })?;
    Ok((container, warnings))
}

/// A file of the image, read from the topmost layer that has it (a
/// whiteout there means the file was deleted).
pub fn image_file(store: &Store, image: &ImageId, rel: &str) -> Option<String> {
    let config = store.config(image).ok()?;
    for chain in chain_ids(&config.rootfs.diff_ids).iter().rev() {
        let path = store.layer_dir(chain).join("diff").join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if overlay_demo::whiteout::is_whiteout(&meta) => return None,
            Ok(meta) if meta.is_file() => return std::fs::read_to_string(&path).ok(),
            _ => {}
        }
    }
    None
}
