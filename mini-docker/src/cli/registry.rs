//! `pull`, `push`, `login`, `logout`.

use std::io::Read as _;

use anyhow::{bail, Result};
use clap::Args;
use mini_docker::auth::{AuthStore, Credentials};
use mini_docker::distribution::{self, Lines};
use mini_docker::reference::{Reference, DEFAULT_REGISTRY};
use mini_docker::registry::Registry;

use super::Context;

#[derive(Args)]
pub struct PullArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// NAME[:TAG|@DIGEST]
    image: String,
}

pub fn pull(ctx: &Context, args: &PullArgs) -> Result<i32> {
    let reference: Reference = args.image.parse()?;
    let auth = AuthStore::new(ctx.store.root());
    distribution::pull(&ctx.store, &auth, &reference, progress(args.quiet).as_ref())?;
    super::images::image_event(
        ctx,
        mini_docker::events::Action::Pull,
        &reference.familiar(),
        &reference.familiar_name(),
    );
    if args.quiet {
        println!(
            "{}/{}{}",
            reference.registry,
            reference.path,
            suffix(&reference)
        );
    }
    Ok(0)
}

/// Bars on a terminal, one line per event otherwise (or nothing with -q).
fn progress(quiet: bool) -> Box<dyn distribution::Progress> {
    use std::io::IsTerminal as _;
    if !quiet && std::io::stdout().is_terminal() {
        Box::<distribution::Bars>::default()
    } else {
        Box::new(Lines { quiet })
    }
}

fn suffix(r: &Reference) -> String {
    match (&r.tag, &r.digest) {
        (_, Some(d)) => format!("@{d}"),
        (Some(t), None) => format!(":{t}"),
        (None, None) => String::new(),
    }
}

#[derive(Args)]
pub struct PushArgs {
    /// Suppress verbose output.
    #[arg(short, long)]
    quiet: bool,
    /// NAME[:TAG]
    image: String,
}

pub fn push(ctx: &Context, args: &PushArgs) -> Result<i32> {
    let reference: Reference = args.image.parse()?;
    if reference.digest.is_some() {
        bail!("cannot push a digest reference");
    }
    let auth = AuthStore::new(ctx.store.root());
    let digest = distribution::push(&ctx.store, &auth, &reference, progress(args.quiet).as_ref())?;
    if args.quiet {
        println!("{}@{digest}", reference.familiar_name());
    }
    Ok(0)
}

#[derive(Args)]
pub struct LoginArgs {
    #[arg(short, long)]
    username: Option<String>,
    #[arg(short, long)]
    password: Option<String>,
    /// Take the password from stdin.
    #[arg(long)]
    password_stdin: bool,
    /// The registry (default: Docker Hub).
    server: Option<String>,
}

pub fn login(ctx: &Context, args: &LoginArgs) -> Result<i32> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    let Some(username) = args.username.clone() else {
        bail!("username is required (--username)");
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut p = String::new();
            std::io::stdin().read_to_string(&mut p)?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => bail!("password is required (--password or --password-stdin)"),
    };
    let credentials = Credentials { username, password };
    Registry::new(&server, Some(credentials.clone()))?.ping()?;
    AuthStore::new(ctx.store.root()).set(&server, &credentials)?;
    println!("Login Succeeded");
    Ok(0)
}

#[derive(Args)]
pub struct LogoutArgs {
    server: Option<String>,
}

pub fn logout(ctx: &Context, args: &LogoutArgs) -> Result<i32> {
    let server = args
        .server
        .clone()
        .unwrap_or_else(|| DEFAULT_REGISTRY.to_string());
    if AuthStore::new(ctx.store.root()).remove(&server)? {
        println!("Removing login credentials for {server}");
    } else {
        println!("Not logged in to {server}");
    }
    Ok(0)
}
