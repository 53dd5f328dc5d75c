//! Argument parsing and dispatch. Errors print as `Error: …` on one line
//! and exit 1; a command line clap cannot parse exits 125, as Docker's CLI
//! does.

mod attach;
mod containers;
mod docs;
mod events;
mod exec;
mod files;
mod filters;
mod format;
mod images;
mod networks;
mod prune;
mod registry;
mod stats;
mod system;
mod table;
mod template;
mod top;
mod update;
mod volumes;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use mini_docker::container::dir::Containers;
use mini_docker::store::Store;
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "mini-docker",
    version,
    about = "A daemonless, Docker-compatible container runtime"
)]
pub struct Cli {
    /// Where images, containers and volumes are stored.
    #[arg(
        long,
        global = true,
        env = "MINI_DOCKER_ROOT",
        default_value = "/var/lib/mini-docker"
    )]
    root: PathBuf,
    /// Where runtime state (sockets, pid files, locks) lives.
    #[arg(
        long,
        global = true,
        env = "MINI_DOCKER_RUNROOT",
        default_value = "/run/mini-docker"
    )]
    runroot: PathBuf,
    /// Print each step as the equivalent shell command or syscall.
    #[arg(long, global = true)]
    explain: bool,
    /// Logging level; "debug" also prints the --explain lines.
    #[arg(long, global = true, default_value = "info", value_parser = ["debug", "info", "warn", "error", "fatal"])]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a shell completion script (bash, zsh, fish).
    Completion(docs::CompletionArgs),
    /// Write man pages for every command to a directory.
    #[command(hide = true)]
    Manpages(docs::ManpagesArgs),
    /// List images.
    Images(images::ListArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Create a tag TARGET that refers to SOURCE.
    Tag { source: String, target: String },
    /// Remove one or more images.
    Rmi(images::RemoveArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Return low-level information on containers or images.
    Inspect(InspectArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(images::ImportArgs),
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
    /// Log in to a registry.
    Login(registry::LoginArgs),
    /// Log out from a registry.
    Logout(registry::LogoutArgs),
    /// Save one or more images to a tar archive.
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(images::LoadArgs),
    /// Create and run a new container from an image.
    Run(containers::RunArgs),
    /// Create a new container.
    Create(containers::CreateArgs),
    /// Start one or more stopped containers.
    Start(containers::StartArgs),
    /// List containers.
    Ps(containers::PsArgs),
    /// Fetch the logs of a container.
    Logs(containers::LogsArgs),
    /// Stop one or more running containers.
    Stop(containers::StopArgs),
    /// Restart one or more containers.
    Restart(containers::StopArgs),
    /// Kill one or more running containers.
    Kill(containers::KillArgs),
    /// Remove one or more containers.
    Rm(containers::RmArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(containers::PauseArgs),
    /// Pause all processes within one or more containers.
    Pause(containers::PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(containers::PauseArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Display the running processes of a container.
    Top(containers::TopArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(containers::AttachArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(files::CpArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(files::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(files::CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(files::ExportArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(volumes::VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(networks::NetworkCommand),
    /// Manage mini-docker.
    #[command(subcommand)]
    System(SystemCommand),
    /// List port mappings or a specific mapping for the container.
    Port(networks::PortArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Show the mini-docker version information.
    Version(system::FormatArgs),
    /// Display system-wide information.
    Info(system::FormatArgs),
}

#[derive(Subcommand)]
enum ContainerCommand {
    /// Create and run a new container from an image.
    Run(containers::RunArgs),
    /// Create a new container.
    Create(containers::CreateArgs),
    /// Start one or more stopped containers.
    Start(containers::StartArgs),
    /// List containers.
    #[command(alias = "ps", alias = "list")]
    Ls(containers::PsArgs),
    /// Fetch the logs of a container.
    Logs(containers::LogsArgs),
    /// Stop one or more running containers.
    Stop(containers::StopArgs),
    /// Restart one or more containers.
    Restart(containers::StopArgs),
    /// Kill one or more running containers.
    Kill(containers::KillArgs),
    /// Remove one or more containers.
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(containers::PauseArgs),
    /// Pause all processes within one or more containers.
    Pause(containers::PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(containers::PauseArgs),
    /// Rename a container.
    Rename(containers::RenameArgs),
    /// Display the running processes of a container.
    Top(containers::TopArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Execute a command in a running container.
    Exec(exec::ExecArgs),
    /// Attach to a running container.
    Attach(containers::AttachArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(files::CpArgs),
    /// Inspect changes on a container's filesystem.
    Diff(files::DiffArgs),
    /// Create a new image from a container's changes.
    Commit(files::CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(files::ExportArgs),
    /// Remove all stopped containers.
    Prune(prune::ContainerArgs),
    /// List port mappings or a specific mapping for the container.
    Port(networks::PortArgs),
    /// Update configuration of one or more containers.
    Update(update::UpdateArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(stats::StatsArgs),
}

#[derive(Subcommand)]
enum SystemCommand {
    /// Remove unused data: stopped containers, unused networks, dangling images (and volumes).
    Prune(prune::SystemArgs),
    /// Show mini-docker disk usage.
    Df(system::DfArgs),
    /// Get real time events from the server.
    Events(events::EventsArgs),
    /// Display system-wide information.
    Info(system::FormatArgs),
    /// Remove everything: containers (stopping running ones), images,
    /// volumes, networks with their bridges and NAT rules, and the state
    /// directories.
    Reset(prune::ResetArgs),
}

#[derive(Args)]
pub struct InspectArgs {
    /// Format the output using a Go template, e.g. '{{.Id}}' or '{{json .Config}}'.
    #[arg(short, long)]
    format: Option<String>,
    /// Return JSON for the specified type only (container, image, network, volume).
    #[arg(long = "type", value_parser = ["container", "image", "network", "volume"])]
    kind: Option<String>,
    /// Display total file sizes if the type is container.
    #[arg(short, long)]
    size: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// List images.
    #[command(alias = "list")]
    Ls(images::ListArgs),
    /// Remove one or more images.
    #[command(alias = "remove")]
    Rm(images::RemoveArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
    /// Show the history of an image.
    History(images::HistoryArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(images::ImportArgs),
    /// Create a tag TARGET that refers to SOURCE.
    Tag { source: String, target: String },
    /// Download an image from a registry.
    Pull(registry::PullArgs),
    /// Upload an image to a registry.
    Push(registry::PushArgs),
    /// Save one or more images to a tar archive.
    Save(images::SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(images::LoadArgs),
    /// Remove unused images.
    Prune(prune::ImageArgs),
}

/// A parsed command line ready to run against a store.
pub struct Context {
    pub store: Store,
    pub containers: Containers,
    /// The run directory (`--runroot`).
    pub runroot: PathBuf,
    /// The global flags, for the monitor's command line.
    pub global: Vec<OsString>,
}

/// A failure whose exit code is not the command's usual one: what kind it
/// is, so that [`exit_code`] (Docker's rules, in one place) can give it
/// its code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Refused by the CLI before the daemon is asked, with exit 1 from any
    /// command (`the input device is not a TTY`, `exec` of a stopped
    /// container).
    #[error("{0}")]
    Refused(String),
    /// The daemon's error once the flags were accepted: 1, but 125 from
    /// `run` (which reports every failure before its command as 125).
    #[error("{0}")]
    Daemon(String),
    /// A flag's value the CLI refuses: 125 from every command.
    #[error("{0}")]
    Flag(String),
    /// The container's command did not start: mini-docker's failure (125),
    /// or the command cannot be invoked (126) or found (127).
    #[error("{message}")]
    Command { code: i32, message: String },
}

/// What a command is, as far as Docker's exit codes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Run,
    /// `create` and `exec`: 125 before the command starts, like `run`.
    CreateOrExec,
    Other,
}

impl Kind {
    fn of(command: &Command) -> Kind {
        match command {
            Command::Run(_) | Command::Container(ContainerCommand::Run(_)) => Kind::Run,
            Command::Create(_)
            | Command::Exec(_)
            | Command::Container(ContainerCommand::Create(_) | ContainerCommand::Exec(_)) => {
                Kind::CreateOrExec
            }
            _ => Kind::Other,
        }
    }
}

/// Docker's exit code for a command of `kind` failing with `e`: `run`,
/// `create` and `exec` exit 125 when they fail before the command starts,
/// everything else 1; a [`Failure`] says when that rule does not apply.
fn exit_code(e: &anyhow::Error, kind: Kind) -> i32 {
    let (run, before_start) = match kind {
        Kind::Run => (true, 125),
        Kind::CreateOrExec => (false, 125),
        Kind::Other => (false, 1),
    };
    match e.downcast_ref::<Failure>() {
        Some(Failure::Refused(_)) => 1,
        Some(Failure::Daemon(_)) if run => 125,
        Some(Failure::Daemon(_)) => 1,
        Some(Failure::Flag(_)) => 125,
        Some(Failure::Command { code, .. }) => *code,
        None => before_start,
    }
}

/// `volume inspect` and `network inspect`: names and a format.
#[derive(Args)]
pub struct NamesArgs {
    /// Format output using a Go template.
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

/// Every `inspect`: looks each name up, reports the ones that fail on
/// stderr (exit 1), prints the others as a JSON array or per `format`.
/// A template that does not parse is refused first, as Docker's exit 64.
pub fn inspect_each(
    names: &[String],
    format: Option<&str>,
    lookup: impl Fn(&str) -> anyhow::Result<Value>,
) -> anyhow::Result<i32> {
    let template = match format.map(template::Template::parse).transpose() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("template parsing error: {e}");
            return Ok(64);
        }
    };
    let mut values = Vec::new();
    let mut failed = false;
    for name in names {
        match lookup(name) {
            Ok(v) => values.push(v),
            Err(e) => {
                eprintln!("Error: {e:#}");
                failed = true;
            }
        }
    }
    let printed = print_inspected(&values, template.as_ref())?;
    Ok(if printed != 0 {
        printed
    } else {
        i32::from(failed)
    })
}

/// Prints `inspect` results: a JSON array, or the template per object.
/// A template that fails on an object ends the output with Docker's
/// message and exit 1.
pub fn print_inspected(
    values: &[Value],
    template: Option<&template::Template>,
) -> anyhow::Result<i32> {
    let Some(template) = template else {
        println!("{}", serde_json::to_string_pretty(values)?);
        return Ok(0);
    };
    for v in values {
        match template.inspect(v) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                println!();
                eprintln!("template parsing error: {e}");
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// The order of Docker's container inspect fields (`{{json .}}` and the
/// plain output keep it); fields Docker lacks follow.
const CONTAINER_ORDER: &[&str] = &[
    "Id",
    "Created",
    "Path",
    "Args",
    "State",
    "Image",
    "ResolvConfPath",
    "HostnamePath",
    "HostsPath",
    "LogPath",
    "Name",
    "RestartCount",
    "Driver",
    "Platform",
    "MountLabel",
    "ProcessLabel",
    "AppArmorProfile",
    "ExecIDs",
    "HostConfig",
    "GraphDriver",
    "SizeRw",
    "SizeRootFs",
    "Mounts",
    "Config",
    "NetworkSettings",
];

/// `value`'s top-level fields in `order`, the others after them.
fn in_docker_order(value: Value, order: &[&str]) -> Value {
    let Value::Object(mut fields) = value else {
        return value;
    };
    let mut out = serde_json::Map::new();
    for key in order {
        if let Some(v) = fields.remove(*key) {
            out.insert((*key).to_string(), v);
        }
    }
    out.extend(fields);
    Value::Object(out)
}

/// `inspect`: containers first, then images, networks and volumes, as
/// Docker looks names up (`--type` keeps to one kind).
fn inspect(ctx: &Context, args: &InspectArgs, only: Option<&str>) -> anyhow::Result<i32> {
    let only = args.kind.as_deref().or(only);
    let wants = |kind: &str| only.is_none_or(|o| o == kind);
    inspect_each(&args.names, args.format.as_deref(), |name| {
        if wants("container") {
            if let Ok(c) = ctx.containers.find(name) {
                let mut v = containers::inspect_value(ctx, &c)?;
                if args.size {
                    let (rw, root_fs) = system::container_sizes(ctx, &c)?;
                    v["SizeRw"] = rw.into();
                    v["SizeRootFs"] = root_fs.into();
                }
                return Ok(in_docker_order(v, CONTAINER_ORDER));
            }
        }
        if wants("image") {
            match ctx
                .store
                .resolve(name)
                .and_then(|id| mini_docker::image::details(&ctx.store, &id))
            {
                Ok(d) => return Ok(mini_docker::image::inspect(&ctx.store, &d)),
                // `image inspect` reports why; plain `inspect` tries the next kind.
                Err(mini_docker::Error::NotFound(_)) if only.is_some() => {
                    return Err(anyhow::anyhow!("No such image: {name}"))
                }
                Err(e) if only.is_some() => return Err(e.into()),
                Err(_) => {}
            }
        }
        if wants("network") {
            if let Some(v) = networks::inspect_by_name(ctx, name)? {
                return Ok(v);
            }
        }
        if wants("volume") {
            if let Some(v) = volumes::inspect_by_name(ctx, name)? {
                return Ok(v);
            }
        }
        Err(match only {
            Some(kind) => anyhow::anyhow!("No such {kind}: {name}"),
            None => anyhow::anyhow!("No such object: {name}"),
        })
    })
}

/// For the commands that run until interrupted (live `stats`, `events`):
/// Ctrl-C (SIGINT) ends them even when the shell started us with SIGINT
/// ignored, as it does for a background job of a script.
pub fn end_on_interrupt() {
    // SAFETY: restoring a signal's default action; no handler runs.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
}

/// Dies of SIGPIPE, as Docker's CLI does when its output is gone (`logs c
/// | head -1`): the shell sees 141, nothing is printed. Rust ignores
/// SIGPIPE, so a closed stdout is an error we turn back into the signal.
pub fn stdout_closed() -> ! {
    // SAFETY: restoring a signal's default action and raising it.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        libc::raise(libc::SIGPIPE);
    }
    std::process::exit(141)
}

/// `println!` on a closed pipe panics; that panic is a closed stdout.
fn die_quietly_on_a_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            stdout_closed();
        }
        default(info);
    }));
}

/// The subcommand words of a command line (`["container", "rm"]`), as
/// far as they name commands.
fn command_path(args: &[String]) -> (Vec<String>, clap::Command) {
    use clap::CommandFactory as _;
    let mut command = Cli::command();
    let mut path = Vec::new();
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word.starts_with('-') {
            if matches!(word.as_str(), "--root" | "--runroot" | "--log-level") {
                words.next();
            }
            continue;
        }
        match command.find_subcommand(word) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                command = sub.clone();
            }
            None => break,
        }
    }
    (path, command)
}

/// Docker's wording for a wrong number of arguments, from the command's
/// positional arguments: `requires exactly 1 argument`, `requires at least
/// 2 arguments`, `requires at least 1 and at most 2 arguments`.
fn arity_message(command: &clap::Command) -> String {
    let (mut least, mut most) = (0usize, Some(0usize));
    for arg in command.get_positionals() {
        let range = arg.get_num_args().unwrap_or_default();
        let multiple = arg.get_action().takes_values() && range.max_values() > 1;
        let min = if arg.is_required_set() {
            range.min_values().max(1)
        } else {
            0
        };
        least += min;
        most = match (most, multiple) {
            (Some(m), false) => Some(m + 1),
            _ => None,
        };
    }
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match most {
        Some(m) if m == least => format!("requires exactly {least} {}", plural(least)),
        Some(m) => format!("requires at least {least} and at most {m} {}", plural(m)),
        None => format!("requires at least {least} {}", plural(least)),
    }
}

/// A command line clap refuses, reported as Docker's CLI does: a wrong
/// number of arguments exits 1 (`"mini-docker exec" requires at least 2
/// arguments.`), an unknown flag 125 (`unknown flag: --x`); help exits 0.
fn refuse_command_line(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ErrorKind};
    let args: Vec<String> = std::env::args().collect();
    let (path, command) = command_path(&args);
    let name = format!("mini-docker {}", path.join(" "));
    let hint = format!("See '{name} --help'.");
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            std::process::exit(0);
        }
        ErrorKind::MissingRequiredArgument | ErrorKind::TooFewValues
            if !path.is_empty() && command.get_positionals().next().is_some() =>
        {
            eprintln!("\"{name}\" {}.\n{hint}", arity_message(&command));
            std::process::exit(1);
        }
        ErrorKind::UnknownArgument => {
            let flag = e
                .get(ContextKind::InvalidArg)
                .map(ToString::to_string)
                .unwrap_or_default();
            if flag.starts_with('-') {
                eprintln!("unknown flag: {flag}\n{hint}");
                std::process::exit(125);
            }
            // A word too many.
            let why = if command.get_positionals().next().is_none() {
                "accepts no arguments".to_string()
            } else {
                arity_message(&command)
            };
            eprintln!("\"{name}\" {why}.\n{hint}");
            std::process::exit(1);
        }
        _ => {
            let _ = e.print();
            std::process::exit(125);
        }
    }
}

pub fn main() {
    die_quietly_on_a_closed_stdout();
    let cli = Cli::try_parse().unwrap_or_else(|e| refuse_command_line(e));
    narrate::init(cli.explain || cli.log_level == "debug");
    let kind = Kind::of(&cli.command);
    let code = run(cli).unwrap_or_else(|e| {
        eprintln!("Error: {e:#}");
        exit_code(&e, kind)
    });
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    // Generated from the definitions alone: no store is opened.
    match &cli.command {
        Command::Completion(a) => return docs::completion(a),
        Command::Manpages(a) => return docs::manpages(a),
        _ => {}
    }
    // Runtime state (locks, sockets of running containers) lives here.
    // Absolute, because the monitor (which gets them too) works from `/`.
    let (root, runroot) = (
        std::path::absolute(&cli.root)?,
        std::path::absolute(&cli.runroot)?,
    );
    // Both roots are private when mini-docker makes them (see `damage`).
    mini_docker::damage::create_private(&runroot)?;
    let mut global: Vec<OsString> = vec![
        "--root".into(),
        root.clone().into(),
        "--runroot".into(),
        runroot.clone().into(),
    ];
    if cli.explain {
        global.push("--explain".into());
    }
    let ctx = Context {
        store: Store::open(&root)?,
        containers: Containers::open(&root, &runroot.join("containers"))?,
        runroot,
        global,
    };
    match cli.command {
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => images::list(&ctx, &args),
        Command::Tag { source, target } | Command::Image(ImageCommand::Tag { source, target }) => {
            images::tag(&ctx, &source, &target)
        }
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => images::remove(&ctx, &args),
        Command::History(args) | Command::Image(ImageCommand::History(args)) => {
            images::history(&ctx, &args)
        }
        Command::Inspect(args) => inspect(&ctx, &args, None),
        Command::Image(ImageCommand::Inspect(args)) => inspect(&ctx, &args, Some("image")),
        Command::Container(ContainerCommand::Inspect(args)) => {
            inspect(&ctx, &args, Some("container"))
        }
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => {
            images::import(&ctx, &args)
        }
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => {
            registry::pull(&ctx, &args)
        }
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => {
            registry::push(&ctx, &args)
        }
        Command::Login(args) => registry::login(&ctx, &args),
        Command::Logout(args) => registry::logout(&ctx, &args),
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => images::save(&ctx, &args),
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => images::load(&ctx, &args),
        Command::Container(c) => container_command(&ctx, c),
        Command::Volume(v) => volumes::run(&ctx, v),
        Command::Network(n) => networks::run(&ctx, n),
        Command::System(SystemCommand::Prune(a)) => prune::system_prune(&ctx, &a),
        Command::System(SystemCommand::Reset(a)) => prune::system_reset(&ctx, &a),
        Command::System(SystemCommand::Df(a)) => system::df(&ctx, &a),
        Command::System(SystemCommand::Events(a)) | Command::Events(a) => events::events(&ctx, &a),
        Command::System(SystemCommand::Info(a)) | Command::Info(a) => system::info(&ctx, &a),
        Command::Version(a) => system::version(&ctx, &a),
        Command::Update(a) => update::update(&ctx, &a),
        Command::Stats(a) => stats::stats(&ctx, &a),
        Command::Image(ImageCommand::Prune(a)) => prune::image_prune(&ctx, &a),
        Command::Port(a) => networks::port(&ctx, &a),
        Command::Run(a) => containers::run(&ctx, &a),
        Command::Create(a) => containers::create(&ctx, &a),
        Command::Start(a) => containers::start(&ctx, &a),
        Command::Ps(a) => containers::ps(&ctx, &a),
        Command::Logs(a) => containers::logs(&ctx, &a),
        Command::Stop(a) => containers::stop(&ctx, &a),
        Command::Restart(a) => containers::restart(&ctx, &a),
        Command::Kill(a) => containers::kill(&ctx, &a),
        Command::Rm(a) => containers::rm(&ctx, &a),
        Command::Wait(a) => containers::wait(&ctx, &a),
        Command::Pause(a) => containers::pause(&ctx, &a, true),
        Command::Unpause(a) => containers::pause(&ctx, &a, false),
        Command::Rename(a) => containers::rename(&ctx, &a),
        Command::Top(a) => containers::top(&ctx, &a),
        Command::Exec(a) => exec::exec(&ctx, &a),
        Command::Attach(a) => containers::attach_to(&ctx, &a),
        Command::Cp(a) => files::cp(&ctx, &a),
        Command::Diff(a) => files::diff(&ctx, &a),
        Command::Commit(a) => files::commit(&ctx, &a),
        Command::Export(a) => files::export(&ctx, &a),
        Command::Completion(_) | Command::Manpages(_) => unreachable!("handled before the store"),
    }
}

fn container_command(ctx: &Context, command: ContainerCommand) -> anyhow::Result<i32> {
    use ContainerCommand as C;
    match command {
        C::Run(a) => containers::run(ctx, &a),
        C::Create(a) => containers::create(ctx, &a),
        C::Start(a) => containers::start(ctx, &a),
        C::Ls(a) => containers::ps(ctx, &a),
        C::Logs(a) => containers::logs(ctx, &a),
        C::Stop(a) => containers::stop(ctx, &a),
        C::Restart(a) => containers::restart(ctx, &a),
        C::Kill(a) => containers::kill(ctx, &a),
        C::Rm(a) => containers::rm(ctx, &a),
        C::Wait(a) => containers::wait(ctx, &a),
        C::Pause(a) => containers::pause(ctx, &a, true),
        C::Unpause(a) => containers::pause(ctx, &a, false),
        C::Rename(a) => containers::rename(ctx, &a),
        C::Top(a) => containers::top(ctx, &a),
        C::Inspect(a) => inspect(ctx, &a, Some("container")),
        C::Exec(a) => exec::exec(ctx, &a),
        C::Attach(a) => containers::attach_to(ctx, &a),
        C::Cp(a) => files::cp(ctx, &a),
        C::Diff(a) => files::diff(ctx, &a),
        C::Commit(a) => files::commit(ctx, &a),
        C::Export(a) => files::export(ctx, &a),
        C::Prune(a) => prune::container_prune(ctx, &a),
        C::Port(a) => networks::port(ctx, &a),
        C::Update(a) => update::update(ctx, &a),
        C::Stats(a) => stats::stats(ctx, &a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(line: &[&str]) -> String {
        let args: Vec<String> = line.iter().map(|s| s.to_string()).collect();
        let (path, command) = command_path(&args);
        format!("{} {}", path.join(" "), arity_message(&command))
    }

    #[test]
    fn arity_is_worded_as_docker_words_it() {
        assert_eq!(message(&["md", "run"]), "run requires at least 1 argument");
        assert_eq!(
            message(&["md", "exec"]),
            "exec requires at least 2 arguments"
        );
        assert_eq!(message(&["md", "logs"]), "logs requires exactly 1 argument");
        assert_eq!(message(&["md", "tag"]), "tag requires exactly 2 arguments");
        assert_eq!(
            message(&["md", "--root", "/x", "port"]),
            "port requires at least 1 and at most 2 arguments"
        );
        assert_eq!(
            message(&["md", "container", "rm", "-f"]),
            "container rm requires at least 1 argument"
        );
    }
}

#[cfg(test)]
mod exit_code_tests {
    use super::*;

    #[test]
    fn dockers_exit_codes_in_one_place() {
        let code = |e: anyhow::Error, kind| exit_code(&e, kind);
        let plain = || anyhow::anyhow!("No such image: nope");
        assert_eq!(code(plain(), Kind::Run), 125);
        assert_eq!(code(plain(), Kind::CreateOrExec), 125);
        assert_eq!(code(plain(), Kind::Other), 1);
        let daemon = || Failure::Daemon("Conflict.".into()).into();
        assert_eq!(code(daemon(), Kind::Run), 125);
        assert_eq!(code(daemon(), Kind::CreateOrExec), 1);
        let refused = || Failure::Refused("the input device is not a TTY".into()).into();
        assert_eq!(code(refused(), Kind::Run), 1);
        assert_eq!(code(Failure::Flag("bad".into()).into(), Kind::Other), 125);
        let missing = Failure::Command {
            code: 127,
            message: "not found".into(),
        };
        assert_eq!(code(missing.into(), Kind::Run), 127);
    }
}
