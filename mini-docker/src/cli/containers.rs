//! `run`, `create`, `start`, `ps`, `logs`, `stop`, `kill`, `restart`, `rm`,
//! `wait`, `pause`, `unpause`, `rename`, `top`, `container inspect` and
//! `container prune`.

use std::io::{IsTerminal as _, Write as _};
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use mini_docker::container::create::{self, Request};
use mini_docker::container::lifecycle::{self, effective, is_running};
use mini_docker::container::monitor::{self, Started};
use mini_docker::container::options::{self, PullPolicy};
use mini_docker::container::protocol::{self, Message};
use mini_docker::container::record::{Container, MountKind, Status};
use mini_docker::container::spec::Overrides;
use mini_docker::container::{health, logs};
use mini_docker::distribution;
use mini_docker::human;
use mini_docker::reference::Reference;
use serde_json::{json, Value};

use super::attach::{self, Ended};
use super::filters::{FilterError, Filters};
use super::format::{self, Listing};
use super::{table, Context, Failure};

/// The flags `run` and `create` share.
#[derive(Args, Debug, Clone)]
#[command(disable_help_flag = true)]
pub struct CreateArgs {
    /// Assign a name to the container.
    #[arg(long)]
    name: Option<String>,
    /// Keep STDIN open even if not attached (`-i=false` to turn off).
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value_t = false, action = clap::ArgAction::Set)]
    interactive: bool,
    /// Allocate a pseudo-TTY (`-t=false` to turn off).
    #[arg(short, long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
          default_value_t = false, action = clap::ArgAction::Set)]
    tty: bool,
    /// Automatically remove the container when it exits.
    #[arg(long)]
    rm: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long)]
    env_file: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    user: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    init: bool,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Number of CPUs.
    #[arg(long, allow_hyphen_values = true)]
    cpus: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory limit.
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// CFS scheduler period in microseconds (1000 to 1000000).
    #[arg(long, allow_hyphen_values = true)]
    cpu_period: Option<i64>,
    /// CFS scheduler quota in microseconds per period (-1: unlimited).
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// Memory soft limit (v1 memory.soft_limit_in_bytes, v2 memory.low).
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Block IO relative weight, 10 to 1000 (0: not set).
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    read_only: bool,
    /// Add Linux capabilities.
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities.
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    privileged: bool,
    /// Add a host device to the container (HOST[:CONTAINER][:PERMISSIONS]).
    #[arg(long)]
    device: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 rwm').
    #[arg(long)]
    device_cgroup_rule: Vec<String>,
    /// Security options (seccomp=unconfined, no-new-privileges).
    #[arg(long)]
    security_opt: Vec<String>,
    /// Signal to stop the container.
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long)]
    stop_timeout: Option<i64>,
    /// Restart policy to apply when a container exits (no, always, on-failure[:N]).
    #[arg(long)]
    restart: Option<String>,
    /// Set meta data on a container.
    #[arg(short, long)]
    label: Vec<String>,
    /// Override the key sequence for detaching a container.
    #[arg(long)]
    detach_keys: Option<String>,
    /// Connect a container to a network: bridge (default), host, none,
    /// container:NAME|ID, or a user network's name.
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Publish a container's port(s) to the host ([ip:]hostPort:containerPort[/proto], or containerPort).
    #[arg(short, long)]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or a range of ports.
    #[arg(long)]
    expose: Vec<String>,
    /// IPv4 address (on a user network).
    #[arg(long)]
    ip: Option<String>,
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long)]
    add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long)]
    dns: Vec<String>,
    /// Add link to another container (NAME[:ALIAS]).
    #[arg(long)]
    link: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long)]
    dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long, alias = "dns-opt")]
    dns_option: Vec<String>,
    /// Add network-scoped alias for the container.
    #[arg(long, alias = "net-alias")]
    network_alias: Vec<String>,
    /// Container MAC address (e.g., 92:d0:c6:0a:29:33).
    #[arg(long)]
    mac_address: Option<String>,
    /// Bind mount a volume (NAME:/path[:ro], /host/path:/path[:ro], /path).
    #[arg(short, long = "volume")]
    volume: Vec<String>,
    /// Attach a filesystem mount (type=volume|bind|tmpfs,source=…,target=…[,readonly]).
    #[arg(long)]
    mount: Vec<String>,
    /// Mount a tmpfs directory (/path[:options]).
    #[arg(long)]
    tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s) (NAME[:ro|rw]).
    #[arg(long)]
    volumes_from: Vec<String>,
    /// Optional parent cgroup for the container.
    #[arg(long, env = "MINI_DOCKER_CGROUP_PARENT")]
    cgroup_parent: Option<String>,
    /// Cgroup namespace to use (host|private); the default is private on
    /// cgroup v2, host on v1.
    #[arg(long)]
    cgroupns: Option<String>,
    // Issue 14's flags, together (see `container::options`).
    /// Pull image before running ("always", "missing", "never").
    #[arg(long, default_value = "missing")]
    pull: String,
    /// Ulimit options (NAME=SOFT[:HARD]).
    #[arg(long)]
    ulimit: Vec<String>,
    /// Size of /dev/shm.
    #[arg(long)]
    shm_size: Option<String>,
    /// Add additional groups to join.
    #[arg(long)]
    group_add: Vec<String>,
    /// Sysctl options (namespaced ones only).
    #[arg(long)]
    sysctl: Vec<String>,
    /// IPC mode to use (host, container:NAME).
    #[arg(long)]
    ipc: Option<String>,
    /// PID namespace to use (host, container:NAME).
    #[arg(long)]
    pid: Option<String>,
    /// UTS namespace to use (host, container:NAME).
    #[arg(long)]
    uts: Option<String>,
    /// Write the container ID to the file.
    #[arg(long)]
    cidfile: Option<String>,
    /// Read in a line delimited file of labels.
    #[arg(long)]
    label_file: Vec<String>,
    /// Set platform if server is multi-platform capable (linux/amd64 only).
    #[arg(long)]
    platform: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short, long)]
    attach: Vec<String>,
    /// Command to run to check health.
    #[arg(long, allow_hyphen_values = true)]
    health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h).
    #[arg(long, allow_hyphen_values = true)]
    health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h).
    #[arg(long, allow_hyphen_values = true)]
    health_timeout: Option<String>,
    /// Start period for the container to initialize before counting retries (ms|s|m|h).
    #[arg(long, allow_hyphen_values = true)]
    health_start_period: Option<String>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(long, allow_hyphen_values = true)]
    health_retries: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long)]
    no_healthcheck: bool,
    /// Logging driver for the container (json-file, none).
    #[arg(long)]
    log_driver: Option<String>,
    /// Log driver options (max-size=10m,max-file=3).
    #[arg(long)]
    log_opt: Vec<String>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// The image, then the container's command line: everything after the
    /// image belongs to the container, even what looks like our flags
    /// (`IMAGE -c x`, `IMAGE --rm`), as Docker parses it.
    #[arg(
        required = true,
        trailing_var_arg = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    image_and_command: Vec<String>,
}

impl CreateArgs {
    fn image(&self) -> &str {
        &self.image_and_command[0]
    }

    fn command(&self) -> &[String] {
        &self.image_and_command[1..]
    }
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    detach: bool,
    /// Proxy received signals to the process.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    #[command(flatten)]
    create: CreateArgs,
}

/// `--env-file`: `NAME=value` lines, `NAME` alone taken from our
/// environment, `#` comments and blank lines skipped.
fn env_file(path: &str) -> Result<Vec<String>> {
    // Worded as Docker's (Go's) error: `open F: no such file or directory`.
    let text = std::fs::read_to_string(path).map_err(|e| {
        let why = e.to_string();
        let why = why.split(" (os error").next().unwrap_or_default();
        anyhow::anyhow!("open {path}: {}", why.to_lowercase())
    })?;
    Ok(text
        .lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// `-a`: the streams named (none given: all, as before).
fn attached_streams(args: &CreateArgs) -> Result<Vec<options::Stream>> {
    Ok(args
        .attach
        .iter()
        .map(|s| s.parse())
        .collect::<std::result::Result<_, _>>()?)
}

fn request(args: &CreateArgs, attached_stdin: bool) -> Result<Request> {
    let mut labels = Vec::new();
    for file in &args.label_file {
        labels.extend(env_file(file)?);
    }
    labels.extend(args.label.iter().cloned());
    let mut env = Vec::new();
    for file in &args.env_file {
        env.extend(env_file(file)?);
    }
    env.extend(args.env.iter().cloned());
    if let Some(keys) = &args.detach_keys {
        attach::parse_detach_keys(keys)?;
    }
    Ok(Request {
        image: args.image().to_string(),
        name: args.name.clone(),
        overrides: Overrides {
            entrypoint: args.entrypoint.clone(),
            cmd: args.command().to_vec(),
            env,
            workdir: args.workdir.clone(),
            user: args.user.clone(),
        },
        hostname: args.hostname.clone(),
        tty: args.tty,
        interactive: args.interactive,
        stdin_once: args.interactive && attached_stdin,
        auto_remove: args.rm,
        init: args.init,
        cpu_shares: args.cpu_shares,
        cpus: args.cpus.clone(),
        cpuset_cpus: args.cpuset_cpus.clone(),
        memory: args.memory.clone(),
        memory_swap: args.memory_swap.clone(),
        pids_limit: args.pids_limit,
        cpu_period: args.cpu_period,
        cpu_quota: args.cpu_quota,
        memory_reservation: args.memory_reservation.clone(),
        blkio_weight: args.blkio_weight,
        read_only: args.read_only,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        privileged: args.privileged,
        devices: args.device.clone(),
        device_cgroup_rules: args.device_cgroup_rule.clone(),
        security_opt: args.security_opt.clone(),
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        restart: args.restart.clone(),
        labels,
        detach_keys: args.detach_keys.clone(),
        network: args.network.clone(),
        cgroup_parent: args.cgroup_parent.clone(),
        // Docker takes an empty value as "the default".
        cgroupns: args
            .cgroupns
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(str::parse)
            .transpose()?,
        mounts: mini_docker::container::mounts::MountFlags {
            volumes: args.volume.clone(),
            mounts: args.mount.clone(),
            tmpfs: args.tmpfs.clone(),
            volumes_from: args.volumes_from.clone(),
        },
        publish: args.publish.clone(),
        publish_all: args.publish_all,
        expose: args.expose.clone(),
        ip: args.ip.clone(),
        add_host: args.add_host.clone(),
        dns: args.dns.clone(),
        ulimits: args.ulimit.clone(),
        shm_size: args.shm_size.clone(),
        group_add: args.group_add.clone(),
        sysctls: args.sysctl.clone(),
        ipc: args.ipc.clone(),
        pid: args.pid.clone(),
        uts: args.uts.clone(),
        health: health::Flags {
            cmd: args.health_cmd.clone(),
            interval: args.health_interval.clone(),
            timeout: args.health_timeout.clone(),
            start_period: args.health_start_period.clone(),
            retries: args.health_retries,
            none: args.no_healthcheck,
        },
        log_driver: args.log_driver.clone(),
        log_opts: args.log_opt.clone(),
        naming: mini_docker::container::dns::NamingFlags {
            links: args.link.clone(),
            dns_search: args.dns_search.clone(),
            dns_options: args.dns_option.clone(),
            network_aliases: args.network_alias.clone(),
            mac_address: args.mac_address.clone(),
        },
    })
}

/// The image per `--pull`: from the store, pulled first when it is not
/// there (`missing`, as Docker does, with the progress on stderr), always
/// pulled (`always`), or never (`never`: Docker's "No such image").
fn image_for_run(
    ctx: &Context,
    name: &str,
    policy: PullPolicy,
) -> Result<mini_docker::store::ImageId> {
    let local = match policy {
        PullPolicy::Always => Err(mini_docker::Error::NotFound(String::new())),
        _ => ctx.store.resolve(name),
    };
    match local {
        Ok(id) => Ok(id),
        Err(mini_docker::Error::NotFound(_)) if policy == PullPolicy::Never => {
            let reference: Reference = name.parse()?;
            bail!("No such image: {}", reference.familiar())
        }
        Err(mini_docker::Error::NotFound(_)) => {
            let reference: Reference = name.parse()?;
            if policy == PullPolicy::Missing {
                eprintln!("Unable to find image '{}' locally", reference.familiar());
            }
            let auth = mini_docker::auth::AuthStore::new(ctx.store.root());
            struct Stderr;
            impl distribution::Progress for Stderr {
                fn line(&self, text: &str) {
                    eprintln!("{text}");
                }
            }
            Ok(distribution::pull(&ctx.store, &auth, &reference, &Stderr)?)
        }
        Err(e) => Err(e.into()),
    }
}

/// A failure past the flags is the daemon's ([`Failure::Daemon`]: `create`
/// exits 1 with it, `run` 125).
fn create_container(ctx: &Context, args: &CreateArgs, attached_stdin: bool) -> Result<Container> {
    // Docker's order: the flags first, the cidfile next, the image last.
    let policy: PullPolicy = args.pull.parse()?;
    if let Some(platform) = &args.platform {
        options::check_platform(platform)?;
    }
    let streams = attached_streams(args)?;
    let request = request(args, attached_stdin)?;
    // The namespace modes, the health flags' conflicts and signs are the
    // CLI's own checks in Docker (exit 125 from create too); the rest is
    // the daemon's.
    for (flag, mode) in [("ipc", &args.ipc), ("pid", &args.pid), ("uts", &args.uts)] {
        options::NamespaceMode::parse(flag, mode.as_deref().unwrap_or(""))?;
    }
    if let Err(
        e @ (mini_docker::container::health::Error::Conflict
        | mini_docker::container::health::Error::Negative(_)),
    ) = request.health.resolve(None)
    {
        bail!(e);
    }
    create_checked(ctx, args, policy, &streams, &request).map_err(|e| {
        // Flag values the library checks late are still the CLI's (pflag's
        // `invalid argument "…" for "--x" flag`: 125 from both commands).
        let flag_error = e
            .downcast_ref::<mini_docker::Error>()
            .is_some_and(mini_docker::Error::is_flag_value);
        if flag_error || e.downcast_ref::<Failure>().is_some() {
            e
        } else {
            Failure::Daemon(format!("{e:#}")).into()
        }
    })
}

/// The daemon's side of `create`: the cidfile, the image, the container.
fn create_checked(
    ctx: &Context,
    args: &CreateArgs,
    policy: PullPolicy,
    streams: &[options::Stream],
    request: &create::Request,
) -> Result<Container> {
    if let Some(path) = &args.cidfile {
        if std::path::Path::new(path).exists() {
            bail!("container ID file found, make sure the other container isn't running or delete {path}");
        }
    }
    let image = image_for_run(ctx, args.image(), policy)?;
    let (mut container, warnings) = create::create(&ctx.store, &ctx.containers, &image, request)?;
    for w in warnings {
        eprintln!("WARNING: {w}");
    }
    if !streams.is_empty() {
        container.config.attach_stdin = streams.contains(&options::Stream::Stdin);
        container.config.attach_stdout = streams.contains(&options::Stream::Stdout);
        container.config.attach_stderr = streams.contains(&options::Stream::Stderr);
        ctx.containers.save_config(&container)?;
    }
    if let Some(path) = &args.cidfile {
        write_cidfile(path, &container.id)?;
    }
    Ok(container)
}

/// `--cidfile`: written whole under a temporary name, then linked into
/// place — a link fails if the name exists, so a concurrent run cannot be
/// overwritten and a reader never sees half an ID.
fn write_cidfile(path: &str, id: &str) -> Result<()> {
    let target = std::path::Path::new(path);
    let temporary = target.with_file_name(format!(
        ".{}.{}.tmp",
        target
            .file_name()
            .map_or("cidfile".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    std::fs::write(&temporary, id).with_context(|| format!("writing {}", temporary.display()))?;
    let linked = std::fs::hard_link(&temporary, target);
    let _ = std::fs::remove_file(&temporary);
    match linked {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "container ID file found, make sure the other container isn't running or delete {path}"
        ),
        other => other.with_context(|| format!("writing the container ID file {path}")),
    }
}

pub fn create(ctx: &Context, args: &CreateArgs) -> Result<i32> {
    let container = create_container(ctx, args, false)?;
    println!("{}", container.id);
    Ok(0)
}

/// Starts the monitor; errors carry Docker's exit code.
fn start_container(
    ctx: &Context,
    container: &Container,
    attach: Option<UnixStream>,
) -> Result<i32> {
    let mut out = std::io::stdout();
    let size = if attach.is_some() && container.config.tty {
        attach::terminal_size()
    } else {
        None
    };
    if attach.is_some() {
        // Docker's order: attach, then start.
        ctx.containers
            .record(mini_docker::events::Action::Attach, container, &[]);
    }
    match monitor::launch(&ctx.global, &container.id, attach, size, &mut out)? {
        Started::Running { pid } => Ok(pid),
        Started::Failed { code, message } => Err(Failure::Command {
            code,
            message: format!(
                "failed to start container \"{}\": {message}",
                &container.id[..12]
            ),
        }
        .into()),
    }
}

fn client_options(c: &Container, attach_stdin: bool, sig_proxy: bool) -> Result<attach::Options> {
    Ok(attach::Options {
        stdin: attach_stdin,
        tty: c.config.tty,
        detach_keys: attach::parse_detach_keys(
            c.host_config
                .detach_keys
                .as_deref()
                .unwrap_or("ctrl-p,ctrl-q"),
        )?,
        proxy_signals: sig_proxy,
        stdout: true,
        stderr: true,
    })
}

/// Follows an attachment to its end: the container's exit code, 0 when
/// the user detached.
fn follow(socket: UnixStream, options: &attach::Options) -> Result<i32> {
    match attach::attach(socket, options)? {
        Ended::Exited(code) => Ok(code),
        Ended::Detached => {
            eprintln!("read escape sequence");
            Ok(0)
        }
        Ended::Lost => bail!("the container's monitor went away"),
    }
}

/// Keeps the v1 cgroup migration primed from now until the guard is
/// dropped (see `Driver::keep_migration_primed`): while the container is
/// created and its monitor prepares it, so that the monitor moves the
/// container's first process without waiting for a grace period. The
/// priming thread is the CLI's: the monitor must stay single-threaded.
fn keep_cgroup_migration_primed() -> Option<cgroup_demo::Primed> {
    cgroup_demo::Driver::for_host()
        .ok()?
        .keep_migration_primed()
}

pub fn run(ctx: &Context, args: &RunArgs) -> Result<i32> {
    if args.detach && !args.create.attach.is_empty() {
        bail!("Conflicting options: -a and -d");
    }
    if args.create.interactive && args.create.tty && !args.detach && !std::io::stdin().is_terminal()
    {
        // Docker's CLI refuses before creating anything.
        return Err(Failure::Refused("the input device is not a TTY".into()).into());
    }
    let primed = keep_cgroup_migration_primed();
    let container = create_container(ctx, &args.create, !args.detach)?;
    if args.detach {
        start_container(ctx, &container, None)?;
        drop(primed);
        println!("{}", container.id);
        return Ok(0);
    }
    let (client, monitor_end) = UnixStream::pair()?;
    start_container(ctx, &container, Some(monitor_end))?;
    drop(primed);
    let mut options = client_options(&container, args.create.interactive, args.sig_proxy)?;
    options.stdout = container.config.attach_stdout;
    options.stderr = container.config.attach_stderr;
    if !args.create.attach.is_empty() && !container.config.attach_stdin {
        options.stdin = false;
    }
    follow(client, &options)
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN.
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long)]
    detach_keys: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(ctx: &Context, args: &StartArgs) -> Result<i32> {
    let mut failed = Vec::new();
    for key in &args.containers {
        let result = (|| -> Result<i32> {
            let mut c = ctx.containers.find(key)?;
            if let Some(keys) = &args.detach_keys {
                attach::parse_detach_keys(keys)?;
                c.host_config.detach_keys = Some(keys.clone());
            }
            if !effective(&ctx.containers.runtime(&c.id)?)
                .status
                .can_start()
            {
                // Already running: nothing to do, reported as started.
                if !args.attach {
                    println!("{key}");
                }
                return Ok(0);
            }
            if !args.attach {
                start_container(ctx, &c, None)?;
                println!("{key}");
                return Ok(0);
            }
            let (client, monitor_end) = UnixStream::pair()?;
            start_container(ctx, &c, Some(monitor_end))?;
            let options = client_options(&c, args.interactive, true)?;
            follow(client, &options)
        })();
        // Unlike run, start exits 1 whatever stopped the command: Docker
        // reports each failure, then the list of containers that failed.
        match result {
            Ok(code) if args.attach => return Ok(code),
            Ok(_) => {}
            Err(e) if args.attach => return Err(Failure::Daemon(format!("{e:#}")).into()),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed.push(key.as_str());
            }
        }
    }
    if !failed.is_empty() {
        bail!("failed to start containers: {}", failed.join(", "));
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN.
    #[arg(long)]
    no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long)]
    detach_keys: Option<String>,
    container: String,
}

pub fn attach_to(ctx: &Context, args: &AttachArgs) -> Result<i32> {
    let mut c = ctx.containers.find(&args.container)?;
    if !is_running(&ctx.containers.runtime(&c.id)?) {
        bail!("You cannot attach to a stopped container, start it first");
    }
    if let Some(keys) = &args.detach_keys {
        c.host_config.detach_keys = Some(keys.clone());
    }
    let socket = UnixStream::connect(ctx.containers.socket(&c.id))
        .context("connecting to the container's monitor")?;
    let options = client_options(&c, !args.no_stdin && c.config.open_stdin, args.sig_proxy)?;
    ctx.containers
        .record(mini_docker::events::Action::Attach, &c, &[]);
    follow(socket, &options)
}

/// `Up 5 seconds`, `Exited (0) 3 seconds ago`, as `ps` words it.
pub(super) fn status_text(c: &Container, ctx: &Context) -> (Status, String) {
    let runtime = ctx.containers.runtime(&c.id).unwrap_or_else(|e| {
        if mini_docker::damage::is_damage(&e) {
            let record = ctx.containers.dir(&c.id).join("state.json");
            mini_docker::damage::report(&record, &e);
        }
        Default::default()
    });
    let state = effective(&runtime);
    let ago = |t: &str| {
        human::parse_rfc3339(t)
            .map(human::since)
            .unwrap_or_default()
    };
    let up = |t: &str| {
        human::parse_rfc3339(t)
            .map(|t| human::duration(SystemTime::now().duration_since(t).unwrap_or_default()))
            .unwrap_or_default()
    };
    let health = match &state.health {
        Some(h) if h.status == health::Status::Starting => " (health: starting)".to_string(),
        Some(h) => format!(" ({})", h.status),
        None => String::new(),
    };
    let text = match state.status {
        Status::Running => format!("Up {}{health}", up(&state.started_at)),
        Status::Paused => format!("Up {} (Paused)", up(&state.started_at)),
        Status::Restarting => format!(
            "Restarting ({}) {}",
            state.exit_code,
            ago(&state.finished_at)
        ),
        Status::Exited => format!("Exited ({}) {}", state.exit_code, ago(&state.finished_at)),
        Status::Dead => "Dead".into(),
        Status::Created => "Created".into(),
    };
    (state.status, text)
}

/// `ps`'s COMMAND: Docker's daemon wraps arguments holding a space in
/// single quotes, its CLI cuts at 20 characters and Go-quotes the result.
pub(super) fn short_command(c: &Container, no_trunc: bool) -> String {
    let command = c
        .process
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| {
            if i > 0 && a.contains(' ') {
                format!("'{a}'")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let shown = if !no_trunc && command.chars().count() > 20 {
        format!("{}…", command.chars().take(19).collect::<String>())
    } else {
        command
    };
    super::template::go_quote(&shown)
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    latest: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long)]
    last: Option<usize>,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Filter output: status=, exited=, name=, label=, id=, ancestor=, before=, since=, volume=, network=, health=.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, "table …", or "json".
    #[arg(long)]
    format: Option<String>,
}

/// The keys `ps --filter` takes (Docker's, less `is-task`, `publish`, `expose`).
const PS_FILTERS: &[&str] = &[
    "ancestor", "before", "exited", "health", "id", "label", "name", "network", "since", "status",
    "volume",
];

const STATUSES: &[&str] = &[
    "created",
    "restarting",
    "running",
    "removing",
    "paused",
    "exited",
    "dead",
];

/// Refuses the values Docker's daemon refuses.
fn check_ps_filters(filters: &Filters) -> Result<(), FilterError> {
    let bad = |key: &str, value: &str| FilterError::BadValue {
        key: key.into(),
        value: value.into(),
    };
    if let Some(s) = filters.values("status").find(|s| !STATUSES.contains(s)) {
        return Err(bad("status", s));
    }
    if let Some(e) = filters.values("exited").find(|e| e.parse::<i32>().is_err()) {
        return Err(bad("exited", e));
    }
    let health = ["starting", "healthy", "unhealthy", "none"];
    if let Some(h) = filters.values("health").find(|h| !health.contains(h)) {
        return Err(bad("health", h));
    }
    Ok(())
}

/// `ps`'s IMAGE as Docker's daemon and CLI make it: the name the
/// container was created with while it still names the container's image,
/// its image ID otherwise (the tag moved or went); truncated, a name that
/// is that ID (`sha256:…`, 64 or 12 hex) shows as the 12-character ID.
fn ps_image(ctx: &Context, c: &Container, no_trunc: bool) -> String {
    let short = |s: &str| {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        hex[..hex.len().min(12)].to_string()
    };
    let mut image = c.config.image.clone();
    if image != c.image
        && ctx.store.resolve(&image).map(|id| id.to_string()).ok() != Some(c.image.clone())
    {
        image = c.image.clone();
    }
    if !no_trunc && short(&image) == short(&c.image) {
        short(&c.image)
    } else {
        image
    }
}

/// The size of the container's image, `ps`'s "virtual" size.
fn virtual_size(ctx: &Context, c: &Container) -> String {
    ctx.store
        .resolve(&c.image)
        .and_then(|id| mini_docker::image::details(&ctx.store, &id))
        .map_or_else(|_| "0B".into(), |d| human::size(d.size))
}

/// Whether `c` (at `index` in creation order) passes every filter.
fn ps_keep(
    ctx: &Context,
    list: &[Container],
    index: usize,
    status: Status,
    filters: &Filters,
) -> bool {
    let c = &list[index];
    let runtime = effective(&ctx.containers.runtime(&c.id).unwrap_or_default());
    let exit_code = runtime.exit_code;
    let health = runtime.health.map(|h| h.status.to_string());
    let position = |key: &str| {
        filters
            .values(key)
            .map(|v| {
                list.iter()
                    .position(|o| o.id.starts_with(v) || o.name.trim_start_matches('/') == v)
            })
            .collect::<Vec<_>>()
    };
    let image = &c.config.image;
    filters.any("status", |v| v == status.as_str())
        && filters.any("exited", |v| {
            status == Status::Exited && v.parse() == Ok(exit_code)
        })
        && filters.any("name", |v| {
            c.name
                .trim_start_matches('/')
                .contains(v.trim_start_matches('/'))
        })
        && filters.any("id", |v| c.id.starts_with(v))
        && filters.labels(&c.config.labels)
        && filters.any("ancestor", |v| {
            image == v
                || image == &format!("{v}:latest")
                || v == format!("{image}:latest")
                || c.image
                    .trim_start_matches("sha256:")
                    .starts_with(v.trim_start_matches("sha256:"))
        })
        && position("before")
            .iter()
            .all(|p| p.is_some_and(|p| index < p))
        && position("since")
            .iter()
            .all(|p| p.is_some_and(|p| index > p))
        && filters.any("volume", |v| {
            c.mounts
                .iter()
                .any(|m| m.name == v || m.destination == v || m.source == v)
        })
        && filters.any("network", |v| {
            c.host_config.network_mode.to_string() == v
                || c.connected_networks.iter().any(|n| n == v)
        })
        && filters.any("health", |v| match health.as_deref() {
            Some(now) => now == v,
            None => v == "none",
        })
}

pub fn ps(ctx: &Context, args: &PsArgs) -> Result<i32> {
    let filters = match Filters::parse(&args.filter, PS_FILTERS)
        .and_then(|f| check_ps_filters(&f).map(|()| f))
    {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    let list = ctx.containers.list()?;
    let last = if args.latest { Some(1) } else { args.last };
    // A status filter looks at every container; `exited=N` does not (Docker 20.10).
    let all = args.all || last.is_some() || filters.contains("status");
    let mut objects = Vec::new();
    // The image's size, looked up once per image (not once per container).
    let mut sizes: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    // Newest first.
    for (index, c) in list.iter().enumerate().rev() {
        let (status, status_line) = status_text(c, ctx);
        if !all && !status.is_live() {
            continue;
        }
        if !ps_keep(ctx, &list, index, status, &filters) {
            continue;
        }
        let id = if args.no_trunc {
            c.id.clone()
        } else {
            c.id[..12].to_string()
        };
        let created = human::parse_rfc3339(&c.created);
        let name = c.name.trim_start_matches('/').to_string();
        let command = short_command(c, args.no_trunc);
        let ports = ctx
            .containers
            .runtime(&c.id)
            .map(|r| mini_docker::container::wiring::ports_column(&r.ports))
            .unwrap_or_default();
        objects.push(json!({
            "Command": command,
            "CreatedAt": created.map(human::docker_time).unwrap_or_default(),
            "ID": id,
            "Image": ps_image(ctx, c, args.no_trunc),
            "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            "LocalVolumes": c.mounts.iter().filter(|m| m.kind == MountKind::Volume).count().to_string(),
            "Mounts": c.mounts.iter().map(|m| if m.name.is_empty() { m.source.clone() } else { m.name.clone() }).collect::<Vec<_>>().join(","),
            "Names": name,
            "Networks": c.host_config.network_mode,
            "Ports": ports,
            "RunningFor": created.map(human::since).unwrap_or_default(),
            // Docker without --size: no writable-layer size, the image's as "virtual".
            "Size": format!("0B (virtual {})", sizes.entry(&c.image).or_insert_with(|| virtual_size(ctx, c))),
            "State": status,
            "Status": status_line,
        }));
        if last.is_some_and(|n| objects.len() >= n) {
            break;
        }
    }
    if format::quiet_applies(args.quiet, args.format.as_deref()) {
        for o in &objects {
            println!("{}", o["ID"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    Ok(format::print(
        Listing::Containers,
        args.format.as_deref(),
        &objects,
    ))
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all).
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    timestamps: bool,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m).
    #[arg(long)]
    since: Option<String>,
    container: String,
}

pub fn logs(ctx: &Context, args: &LogsArgs) -> Result<i32> {
    let c = ctx.containers.find(&args.container)?;
    let log_config = &c.host_config.log_config;
    if log_config.driver == options::LogDriver::None {
        bail!("configured logging driver does not support reading");
    }
    let max_file = log_config.rotation()?.map_or(1, |r| r.max_file);
    let path = ctx.containers.log_path(&c.id);
    let filter = logs::Filter {
        tail: match args.tail.as_str() {
            "all" | "-1" => None,
            n => Some(
                n.parse()
                    .with_context(|| format!("invalid tail value: {n}"))?,
            ),
        },
        since: args.since.as_deref().map(logs::parse_since).transpose()?,
    };
    // Buffered (a line-buffered stdout makes a system call of every line,
    // and `logs -f` of a fast writer fell seconds behind), each stream
    // flushed before the other is written so that their order holds.
    let print = |entries: Vec<logs::Entry>| {
        let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
        for e in entries {
            let line = if args.timestamps {
                format!("{} {}", e.time, e.log)
            } else {
                e.log
            };
            let written = if e.stream == "stderr" {
                out.flush().and_then(|()| err.write_all(line.as_bytes()))
            } else {
                err.flush().and_then(|()| out.write_all(line.as_bytes()))
            };
            if written.is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) {
                super::stdout_closed();
            }
        }
        let _ = err.flush();
        if out
            .flush()
            .is_err_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        {
            super::stdout_closed();
        }
    };
    let (entries, mut follower) = logs::read_all(&path, max_file)?;
    print(filter.apply(entries));
    if !args.follow {
        return Ok(0);
    }
    let since_only = logs::Filter {
        tail: None,
        since: filter.since,
    };
    loop {
        let live = ctx
            .containers
            .runtime(&c.id)
            .is_ok_and(|r| r.monitor_alive());
        let new = follower.read_new()?;
        let caught_up = new.is_empty();
        print(since_only.apply(new));
        if !live {
            return Ok(0);
        }
        // Behind a fast writer, straight on to the next records.
        if caught_up {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container.
    #[arg(short, long)]
    signal: Option<String>,
    /// Seconds to wait before killing the container.
    #[arg(short, long)]
    time: Option<u64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Runs `action` for each named container, printing each name as Docker
/// does; errors are reported one per line and make the exit code 1.
fn each(ctx: &Context, keys: &[String], action: impl Fn(&Container) -> Result<()>) -> Result<i32> {
    let mut failed = false;
    for key in keys {
        match ctx
            .containers
            .find(key)
            .map_err(anyhow::Error::from)
            .and_then(|c| action(&c))
        {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

fn stop_timeout(c: &Container, flag: Option<u64>) -> Duration {
    Duration::from_secs(
        flag.or(c.config.stop_timeout.and_then(|t| u64::try_from(t).ok()))
            .unwrap_or(10),
    )
}

pub fn stop(ctx: &Context, args: &StopArgs) -> Result<i32> {
    each(ctx, &args.containers, |c| {
        let mut c = c.clone();
        if let Some(s) = &args.signal {
            lifecycle::parse_signal(s)?;
            c.config.stop_signal = Some(s.clone());
        }
        Ok(lifecycle::stop(
            &ctx.containers,
            &c,
            stop_timeout(&c, args.time),
        )?)
    })
}

pub fn restart(ctx: &Context, args: &StopArgs) -> Result<i32> {
    each(ctx, &args.containers, |c| {
        lifecycle::stop(&ctx.containers, c, stop_timeout(c, args.time))?;
        start_container(ctx, c, None)?;
        ctx.containers
            .record(mini_docker::events::Action::Restart, c, &[]);
        Ok(())
    })
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(ctx: &Context, args: &KillArgs) -> Result<i32> {
    let signal = lifecycle::parse_signal(&args.signal)?;
    // Docker words a missing container as a failed kill.
    let (found, missing): (Vec<&String>, Vec<&String>) = args
        .containers
        .iter()
        .partition(|k| ctx.containers.find(k).is_ok());
    for key in &missing {
        eprintln!(
            "Error response from daemon: Cannot kill container: {key}: No such container: {key}"
        );
    }
    let found: Vec<String> = found.into_iter().cloned().collect();
    let code = each(ctx, &found, |c| {
        lifecycle::signal(&ctx.containers, c, signal)?;
        if signal == nix::sys::signal::Signal::SIGKILL {
            lifecycle::wait_for_monitor(&ctx.containers, &c.id, Duration::from_secs(10));
        }
        Ok(())
    })?;
    Ok(if missing.is_empty() { code } else { 1 })
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn rm(ctx: &Context, args: &RmArgs) -> Result<i32> {
    let volumes = mini_docker::volume::Volumes::open(ctx.store.root())?;
    // A container whose config.json is damaged is found by its ID alone.
    let (damaged, keys): (Vec<String>, Vec<String>) =
        args.containers.iter().cloned().partition(|key| {
            args.force && ctx.containers.find(key).is_err() && ctx.containers.damaged(key).is_some()
        });
    let mut failed = false;
    for key in &damaged {
        let id = ctx.containers.damaged(key).expect("checked above");
        match lifecycle::remove_damaged(&ctx.containers, &id) {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    for key in &keys {
        let c = match ctx.containers.find(key) {
            Ok(c) => c,
            // As Docker's CLI: reported, but `-f` of a missing container
            // is no failure (scripts clean up with it).
            Err(mini_docker::Error::NotFound(e)) => {
                eprintln!("Error: {e}");
                failed |= !args.force;
                continue;
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
                continue;
            }
        };
        match lifecycle::remove(&ctx.containers, &c, args.force) {
            Ok(()) => {
                if args.volumes {
                    lifecycle::remove_anonymous_volumes(&volumes, &ctx.containers, &c);
                }
                println!("{key}");
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn pause(ctx: &Context, args: &PauseArgs, frozen: bool) -> Result<i32> {
    each(ctx, &args.containers, |c| {
        Ok(lifecycle::freeze(&ctx.containers, c, frozen)?)
    })
}

pub fn wait(ctx: &Context, args: &PauseArgs) -> Result<i32> {
    let mut failed = false;
    for key in &args.containers {
        let code = (|| -> Result<i32> {
            let c = ctx.containers.find(key)?;
            loop {
                let runtime = ctx.containers.runtime(&c.id)?;
                let state = effective(&runtime);
                if state.status.is_finished() {
                    return Ok(state.exit_code);
                }
                if state.running() {
                    // The monitor tells its clients the exit code.
                    if let Ok(mut socket) = UnixStream::connect(ctx.containers.socket(&c.id)) {
                        loop {
                            match protocol::read(&mut socket) {
                                Ok(Some(Message::Exit(code))) => return Ok(code),
                                Ok(Some(_)) => {}
                                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                                    return Err(mini_docker::Error::Protocol(format!(
                                        "the container's monitor sent a malformed message: {e}"
                                    ))
                                    .into())
                                }
                                // Gone: the state says how it ended.
                                Ok(None) | Err(_) => break,
                            }
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })();
        match code {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(ctx: &Context, args: &RenameArgs) -> Result<i32> {
    let new = args.new_name.trim_start_matches('/');
    if !mini_docker::container::dir::valid_name(new) {
        bail!("Invalid container name ({new}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }
    let _lock = ctx.containers.lock_all()?;
    let mut c = ctx.containers.find(&args.container)?;
    if ctx
        .containers
        .list()?
        .iter()
        .any(|o| o.name == format!("/{new}"))
    {
        let holder = ctx.containers.find(new)?;
        eprintln!("Error response from daemon: Error when allocating new name: Conflict. The container name \"/{new}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.", holder.id);
        bail!("failed to rename container named {}", args.container);
    }
    let old = std::mem::replace(&mut c.name, format!("/{new}"));
    ctx.containers.save_config(&c)?;
    ctx.containers
        .record(mini_docker::events::Action::Rename, &c, &[("oldName", old)]);
    Ok(0)
}

#[derive(Args, Debug)]
pub struct TopArgs {
    container: String,
    /// `ps` options (Docker's `docker top CONTAINER [ps OPTIONS]`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

/// `top [PS-OPTIONS]`: the processes of the container's cgroup, as `ps`
/// shows them (see `top.rs`).
pub fn top(ctx: &Context, args: &TopArgs) -> Result<i32> {
    let c = ctx.containers.find(&args.container)?;
    if !is_running(&ctx.containers.runtime(&c.id)?) {
        bail!("Container {} is not running", c.id);
    }
    // Docker's default is `ps -ef`; without a `ps` on the host, the same
    // four columns as the table below are read from /proc.
    let ps_args = if args.ps_args.is_empty() {
        vec!["-ef".to_string()]
    } else {
        args.ps_args.clone()
    };
    if let Some(code) = super::top::ps(&c, &ps_args)? {
        return Ok(code);
    }
    let mut rows = Vec::new();
    for pid in lifecycle::cgroup(&c)?.processes()? {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
        let fields: Vec<&str> = after.split(' ').collect();
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines().find_map(|l| {
                    l.strip_prefix("Uid:")
                        .map(|v| v.split_whitespace().next().unwrap_or("0").to_string())
                })
            })
            .unwrap_or_default();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| {
                b.split(|&x| x == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let uid_name = if uid == "0" { "root".to_string() } else { uid };
        rows.push(vec![
            uid_name,
            pid.to_string(),
            fields.get(1).unwrap_or(&"").to_string(),
            cmd,
        ]);
    }
    table::print(&["UID", "PID", "PPID", "CMD"], &rows);
    Ok(0)
}

/// Docker's `inspect` object for a container.
pub fn inspect_value(ctx: &Context, c: &Container) -> Result<Value> {
    let runtime = ctx.containers.runtime(&c.id)?;
    let state = effective(&runtime);
    let dir = ctx.containers.dir(&c.id);
    let mut value = serde_json::to_value(c)?;
    let object = value.as_object_mut().context("container record")?;
    object.remove("Process");
    object.insert("State".into(), serde_json::to_value(&state)?);
    object.insert("RestartCount".into(), json!(runtime.restart_count));
    object.insert("Driver".into(), json!("overlay2"));
    object.insert("LogPath".into(), json!(ctx.containers.log_path(&c.id)));
    object.insert("HostnamePath".into(), json!(dir.join("hostname")));
    object.insert("HostsPath".into(), json!(dir.join("hosts")));
    object.insert("ResolvConfPath".into(), json!(dir.join("resolv.conf")));
    object.insert(
        "GraphDriver".into(),
        json!({
            "Name": "overlay2",
            "Data": {
                "UpperDir": dir.join("upper"),
                "WorkDir": dir.join("work"),
                "MergedDir": dir.join("merged"),
            }
        }),
    );
    let primary = runtime
        .networks
        .get(&c.host_config.network_mode.to_string());
    object.insert(
        "NetworkSettings".into(),
        json!({
            "Networks": runtime.networks,
            "Ports": runtime.ports,
            "IPAddress": primary.map(|e| e.ip_address.clone()).unwrap_or_default(),
            "Gateway": primary.map(|e| e.gateway.clone()).unwrap_or_default(),
            "MacAddress": primary.map(|e| e.mac_address.clone()).unwrap_or_default(),
        }),
    );
    Ok(value)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::RunArgs;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(line: &[&str]) -> RunArgs {
        Run::try_parse_from(std::iter::once("run").chain(line.iter().copied()))
            .unwrap()
            .args
    }

    #[test]
    fn everything_after_the_image_belongs_to_the_container() {
        let r = parse(&["--rm", "--entrypoint", "sh", "busybox", "-c", "echo x"]);
        assert_eq!(r.create.image(), "busybox");
        assert_eq!(r.create.command(), ["-c", "echo x"]);
        assert!(r.create.rm);
        let r = parse(&["busybox", "echo", "--rm", "-d", "--", "x"]);
        assert_eq!(r.create.command(), ["echo", "--rm", "-d", "--", "x"]);
        assert!(!r.create.rm && !r.detach);
        assert!(parse(&["busybox"]).create.command().is_empty());
    }
}
