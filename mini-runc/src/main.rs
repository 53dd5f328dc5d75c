//! mini-runc: an OCI runtime with runc's command line, so that Docker,
//! containerd and podman can run containers on mini-docker's runtime core
//! (its filesystem steps, capabilities and seccomp, ns-demo's clone,
//! cgroup-demo's limits). See lessons/10-oci-runtime.md.

mod cgroups;
mod config;
mod create;
mod error;
mod exec;
mod hooks;
mod init;
mod lifecycle;
mod log;
mod mounts;
mod process;
mod run;
mod seccomp;
mod spec;
mod state;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

pub use error::{Error, Result};

#[derive(Debug, Parser)]
#[command(
    name = "mini-runc",
    version = concat!(env!("CARGO_PKG_VERSION"), "\nspec: 1.2.0"),
    about = "An OCI runtime with runc's command line, built from mini-docker's runtime core"
)]
struct Cli {
    /// Where container state is kept.
    #[arg(long, global = true, default_value = "/run/mini-runc")]
    root: PathBuf,
    /// Log file (default: stderr).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    log_format: log::Format,
    /// Log every mount, clone and cgroup write as its shell equivalent.
    #[arg(long, global = true)]
    debug: bool,
    /// Accepted for runc compatibility: cgroupfs is used, with a warning.
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Accepted for runc compatibility (checkpointing is refused).
    #[arg(long, global = true, hide = true)]
    criu: Option<String>,
    /// Accepted for runc compatibility.
    #[arg(long, global = true, hide = true)]
    rootless: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The bundle: config.json and the root filesystem.
    #[arg(long, short = 'b', default_value = ".")]
    bundle: PathBuf,
    /// A unix socket to send the pty master to (process.terminal).
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// chroot instead of pivot_root (a root on a ramfs).
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Accepted: no session keyring is created either way.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Descriptors beyond stdio the process keeps.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    id: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a container: everything but the user's command, which waits.
    Create(CreateArgs),
    /// Let a created container's command run.
    Start { id: String },
    /// Print the container's state as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to the container.
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        /// Every process of the container, not only its first.
        #[arg(long, short = 'a')]
        all: bool,
    },
    /// Delete a stopped container (a running one with --force).
    Delete {
        id: String,
        #[arg(long, short = 'f')]
        force: bool,
    },
    /// create + start; in the foreground, wait and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        #[arg(long, short = 'd')]
        detach: bool,
        /// Accepted for runc compatibility.
        #[arg(long)]
        keep: bool,
    },
    /// Run another process in a running container.
    Exec {
        #[arg(long = "console-socket")]
        console_socket: Option<PathBuf>,
        #[arg(long)]
        cwd: Option<String>,
        #[arg(long, short = 'e')]
        env: Vec<String>,
        #[arg(long, short = 't')]
        tty: bool,
        /// uid[:gid]
        #[arg(long, short = 'u')]
        user: Option<String>,
        #[arg(long = "additional-gids", short = 'g')]
        additional_gids: Vec<u32>,
        /// The process as JSON (the specification's process object).
        #[arg(long, short = 'p')]
        process: Option<PathBuf>,
        #[arg(long, short = 'd')]
        detach: bool,
        #[arg(long = "pid-file")]
        pid_file: Option<PathBuf>,
        #[arg(long = "process-label")]
        process_label: Option<String>,
        #[arg(long)]
        apparmor: Option<String>,
        #[arg(long = "no-new-privs")]
        no_new_privs: bool,
        #[arg(long, short = 'c')]
        cap: Vec<String>,
        #[arg(long = "preserve-fds", default_value_t = 0)]
        preserve_fds: u32,
        #[arg(long = "ignore-paused")]
        ignore_paused: bool,
        id: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// The container's processes.
    Ps {
        id: String,
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        /// Accepted for runc compatibility (ps options).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
        ps_args: Vec<String>,
    },
    /// Freeze every process of the container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Change the container's cgroup limits.
    Update {
        id: String,
        /// The specification's linux.resources as JSON (`-`: stdin).
        #[arg(long, short = 'r')]
        resources: Option<String>,
        #[command(flatten)]
        flags: lifecycle::UpdateFlags,
    },
    /// Resource usage (and OOM) events as JSON.
    Events {
        id: String,
        /// One stats event, then exit.
        #[arg(long)]
        stats: bool,
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        interval: Duration,
    },
    /// What this runtime supports, as the specification's features JSON.
    Features,
    /// Write a default config.json.
    Spec {
        #[arg(long, short = 'b', default_value = ".")]
        bundle: PathBuf,
    },
    /// List containers.
    List {
        #[arg(long, short = 'f', default_value = "table")]
        format: String,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// Refused: mini-runc has no CRIU support.
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Refused: mini-runc has no CRIU support.
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() {
    let mut cli = Cli::parse();
    // `create` works from the bundle's directory: relative paths given
    // on the command line are the caller's, so they are made absolute.
    cli.root = absolute(&cli.root);
    log::init(cli.log.clone(), cli.log_format, cli.debug);
    if cli.systemd_cgroup {
        log::warn("--systemd-cgroup: mini-runc has no systemd driver; the cgroup is made with cgroupfs at the path runc's systemd driver would use");
    }
    let code = match dispatch(&cli) {
        Ok(code) => code,
        Err(e) => {
            let message = e.to_string();
            log::error(&message);
            if cli.log.is_some() {
                eprintln!("mini-runc: {message}");
            }
            1
        }
    };
    std::process::exit(code);
}

fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn create_options(cli: &Cli, a: &CreateArgs, detach: bool) -> create::Options {
    create::Options {
        root: cli.root.clone(),
        id: a.id.clone(),
        bundle: absolute(&a.bundle),
        pid_file: a.pid_file.as_deref().map(absolute),
        console_socket: a.console_socket.as_deref().map(absolute),
        no_pivot: a.no_pivot,
        systemd_cgroup: cli.systemd_cgroup,
        detach,
        preserve_fds: a.preserve_fds,
    }
}

fn dispatch(cli: &Cli) -> Result<i32> {
    let root = &cli.root;
    match &cli.command {
        Command::Create(a) => create::create(&create_options(cli, a, true)).map(|_| 0),
        Command::Start { id } => lifecycle::start(root, id).map(|()| 0),
        Command::State { id } => lifecycle::state(root, id).map(|()| 0),
        Command::Kill { id, signal, all } => {
            lifecycle::kill_container(root, id, lifecycle::parse_signal(signal)?, *all).map(|()| 0)
        }
        Command::Delete { id, force } => lifecycle::delete(root, id, *force).map(|()| 0),
        Command::Run { create, detach, .. } => run::run(&create_options(cli, create, *detach)),
        Command::Exec {
            console_socket,
            cwd,
            env,
            tty,
            user,
            additional_gids,
            process,
            detach,
            pid_file,
            process_label,
            apparmor,
            no_new_privs,
            cap,
            preserve_fds,
            ignore_paused,
            id,
            args,
        } => {
            if process_label.is_some() || apparmor.is_some() {
                log::warn("--process-label/--apparmor are ignored: mini-runc has no LSM support");
            }
            let c = state::Container::load(root, id)?;
            let mut p = match process {
                Some(path) => {
                    let text = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                    serde_json::from_slice(&text)
                        .map_err(|e| Error::Config(format!("{}: {e}", path.display())))?
                }
                None => {
                    if args.is_empty() {
                        return Err(Error::Usage("exec needs a command (or --process)".into()));
                    }
                    exec::from_flags(
                        &c,
                        &exec::Flags {
                            args: args.clone(),
                            tty: *tty,
                            cwd: cwd.clone(),
                            env: env.clone(),
                            user: user.clone(),
                            no_new_privs: *no_new_privs,
                        },
                    )?
                }
            };
            exec::extend(&mut p, additional_gids, cap)?;
            exec::exec(
                root,
                id,
                exec::Options {
                    process: p,
                    detach: *detach,
                    pid_file: pid_file.clone(),
                    console_socket: console_socket.clone(),
                    ignore_paused: *ignore_paused,
                    preserve_fds: *preserve_fds,
                },
            )
        }
        Command::Ps { id, format, .. } => lifecycle::ps(root, id, format == "json").map(|()| 0),
        Command::Pause { id } => lifecycle::freeze(root, id, true).map(|()| 0),
        Command::Resume { id } => lifecycle::freeze(root, id, false).map(|()| 0),
        Command::Update {
            id,
            resources,
            flags,
        } => lifecycle::update(root, id, resources.as_deref(), flags).map(|()| 0),
        Command::Events {
            id,
            stats,
            interval,
        } => lifecycle::events(root, id, *stats, *interval).map(|()| 0),
        Command::Features => spec::features().map(|()| 0),
        Command::Spec { bundle } => spec::write_default(bundle).map(|()| 0),
        Command::List { format, quiet } => {
            if *quiet {
                for c in state::list(root) {
                    println!("{}", c.record.id);
                }
                Ok(0)
            } else {
                lifecycle::list(root, format == "json").map(|()| 0)
            }
        }
        Command::Checkpoint { .. } => Err(Error::Unsupported(
            "checkpoint (there is no CRIU support)".into(),
        )),
        Command::Restore { .. } => Err(Error::Unsupported(
            "restore (there is no CRIU support)".into(),
        )),
    }
}
