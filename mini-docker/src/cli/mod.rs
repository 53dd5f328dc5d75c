//! Argument parsing and dispatch. Errors print as `Error: …` on one line
//! and exit 1; a command line clap cannot parse exits 125, as Docker's CLI
//! does.

mod images;
mod registry;
mod table;
mod template;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use mini_docker::store::Store;

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
    /// Return low-level information on images.
    Inspect(images::InspectArgs),
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
    Inspect(images::InspectArgs),
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
}

/// A parsed command line ready to run against a store.
pub struct Context {
    pub store: Store,
}

pub fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = e.print();
            std::process::exit(125);
        }
        Err(e) => {
            let _ = e.print();
            std::process::exit(0);
        }
    };
    narrate::init(cli.explain || cli.log_level == "debug");
    let code = run(cli).unwrap_or_else(|e| {
        eprintln!("Error: {e:#}");
        1
    });
    std::process::exit(code);
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    // Runtime state (locks, sockets of running containers) lives here.
    std::fs::create_dir_all(&cli.runroot)
        .map_err(|e| anyhow::anyhow!("{}: {e}", cli.runroot.display()))?;
    let ctx = Context {
        store: Store::open(&cli.root)?,
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
        Command::Inspect(args) | Command::Image(ImageCommand::Inspect(args)) => {
            images::inspect(&ctx, &args)
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
    }
}
