//! Lesson 2, narrated: each namespace type, inside vs outside.

mod basic;
mod common;
mod join;
mod mount;
mod pid;
mod user;

use clap::{Parser, Subcommand};
use ns_demo::Kind;

#[derive(Parser)]
#[command(version, about = "Lesson 2: namespaces, inside vs outside")]
struct Cli {
    #[command(flatten)]
    options: narrate::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// UTS: a hostname of its own.
    Uts {
        /// The hostname to set inside.
        #[arg(long, default_value = "container")]
        hostname: String,
    },
    /// PID: PID 1, its own process tree, orphans, and PID 1's death.
    Pid {
        /// Instead: how PID 1 handles `docker stop`'s SIGTERM (shell form,
        /// exec form, and with a minimal init).
        #[arg(long)]
        signals: bool,
        /// With --signals: seconds to wait after SIGTERM before SIGKILL.
        #[arg(long, default_value_t = 2.0)]
        stop_timeout: f64,
    },
    /// Mount: private mounts, and propagation (private, shared, slave).
    Mount,
    /// IPC: System V shared memory and message queues.
    Ipc,
    /// Network: only lo, down until brought up; keeping a namespace alive.
    Net,
    /// User: root inside, unprivileged outside.
    User,
    /// Cgroup: the process sees its own cgroup as `/`.
    Cgroup,
    /// Every namespace at once: a container without rootfs or limits.
    All {
        /// Command to run inside (default: only print the comparison).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Enter another process's namespaces (what nsenter and docker exec do).
    Join {
        /// The process whose namespaces to enter.
        pid: i32,
        /// Comma-separated: user,ipc,uts,net,pid,cgroup,mnt.
        #[arg(long, default_value = "ipc,uts,net,pid,cgroup,mnt", value_parser = parse_kinds)]
        ns: Kinds,
        /// Command to run inside (default: only print the comparison).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Remove what runs killed with SIGKILL left (kept netns, cgroups, scratch dirs).
    Clean,
    /// Helper for `pid --signals`: an application that exits cleanly on SIGTERM.
    #[command(hide = true)]
    SigtermApp,
}

/// A comma-separated namespace list as one clap value.
#[derive(Clone)]
struct Kinds(Vec<Kind>);

fn parse_kinds(list: &str) -> Result<Kinds, String> {
    Kind::parse_list(list).map(Kinds)
}

fn main() {
    let cli = Cli::parse();
    if let Command::SigtermApp = cli.command {
        // The app handles SIGTERM itself; the narrator's clean-up handler
        // would race it.
        std::process::exit(pid::sigterm_app().map_or(1, |code| code));
    }
    narrate::main("ns-demo", cli.options, |steps| match cli.command {
        Command::Uts { hostname } => basic::uts(steps, &hostname),
        Command::Pid { signals: false, .. } => pid::tree(steps),
        Command::Pid {
            signals: true,
            stop_timeout,
        } => pid::signals(steps, std::time::Duration::from_secs_f64(stop_timeout)),
        Command::Mount => mount::run(steps),
        Command::Ipc => basic::ipc(steps),
        Command::Net => basic::net(steps),
        Command::User => user::run(steps),
        Command::Cgroup => basic::cgroup(steps),
        Command::All { cmd } => join::all(steps, cmd),
        Command::Join { pid, ns, cmd } => join::join(steps, pid, &ns.0, cmd),
        Command::Clean => basic::clean(),
        Command::SigtermApp => unreachable!("handled before the narrator starts"),
    })
}
