//! `volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::{Args, Subcommand};
use mini_docker::container::mounts::volumes_in_use;
use mini_docker::events::{Action, Event, Kind};
use mini_docker::volume::Volumes;

use super::filters::Filters;
use super::format::{self, Listing};
use super::{inspect_each, Context, NamesArgs};

#[derive(Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Display detailed information on one or more volumes.
    Inspect(NamesArgs),
    /// Remove one or more volumes.
    #[command(alias = "remove")]
    Rm(RemoveArgs),
    /// Remove unused anonymous volumes (all unused ones with -a).
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Set metadata for a volume (KEY=VALUE).
    #[arg(short, long)]
    label: Vec<String>,
    /// Volume driver name (only `local`).
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set driver specific options: the local driver's `type=`, `device=`,
    /// `o=` (mounted with them in each container that uses the volume).
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    name: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only display volume names.
    #[arg(short, long)]
    quiet: bool,
    /// Filter output (dangling=true|false, name=…, label=…, driver=…).
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, "table …", or "json".
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Accepted for Docker compatibility (volumes in use are still refused).
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

/// Records a volume event (Docker's: the name as actor, `driver`).
fn volume_event(ctx: &Context, action: Action, name: &str, driver: &str) {
    ctx.containers.events().record(&Event::object(
        Kind::Volume,
        action,
        name,
        &[("driver", driver)],
    ));
}

pub fn run(ctx: &Context, command: VolumeCommand) -> Result<i32> {
    let volumes = Volumes::open(ctx.store.root())?;
    match command {
        VolumeCommand::Create(args) => {
            let labels: BTreeMap<String, String> = args
                .label
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l, ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let name = args
                .name
                .unwrap_or_else(mini_docker::container::dir::random_id);
            if args.driver != "local" {
                anyhow::bail!(
                    "create {name}: error looking up volume plugin {0}: plugin \"{0}\" not found",
                    args.driver
                );
            }
            let options: BTreeMap<String, String> = args
                .opt
                .iter()
                .map(|o| {
                    let (k, v) = o.split_once('=').unwrap_or((o, ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            let v = volumes.create_with(&name, labels, options)?;
            volume_event(ctx, Action::Create, &v.name, &v.driver);
            println!("{}", v.name);
            Ok(0)
        }
        VolumeCommand::Ls(args) => {
            let filters =
                match Filters::parse(&args.filter, &["dangling", "name", "label", "driver"]) {
                    Ok(f) => f,
                    Err(e) => return Ok(e.report()),
                };
            let dangling = match filters.bool("dangling") {
                Ok(d) => d,
                Err(e) => return Ok(e.report()),
            };
            let used = volumes_in_use(&ctx.containers)?;
            let mut rows = Vec::new();
            for v in volumes.list()? {
                let keep = dangling.is_none_or(|d| d != used.contains_key(&v.name))
                    && filters.any("name", |x| v.name.contains(x))
                    && filters.any("driver", |x| v.driver == x)
                    && filters.labels(&v.labels);
                if keep {
                    rows.push(serde_json::json!({
                        "Driver": v.driver,
                        "Labels": format::labels(&v.labels),
                        "Links": "N/A",
                        "Mountpoint": v.mountpoint,
                        "Name": v.name,
                        "Scope": v.scope,
                        "Size": "N/A",
                    }));
                }
            }
            rows.sort_by(|a, b| {
                let name =
                    |r: &serde_json::Value| r["Name"].as_str().unwrap_or_default().to_string();
                format::natural_cmp(&name(a), &name(b))
            });
            if format::quiet_applies(args.quiet, args.format.as_deref()) {
                rows.iter()
                    .for_each(|r| println!("{}", r["Name"].as_str().unwrap_or_default()));
                return Ok(0);
            }
            Ok(format::print(
                Listing::Volumes,
                args.format.as_deref(),
                &rows,
            ))
        }
        VolumeCommand::Inspect(args) => inspect_each(&args.names, args.format.as_deref(), |name| {
            Ok(serde_json::to_value(volumes.get(name)?)?)
        }),
        VolumeCommand::Rm(args) => {
            let used = volumes_in_use(&ctx.containers)?;
            let mut failed = false;
            for name in &args.names {
                let result = match used.get(name) {
                    Some(ids) => Err(anyhow::anyhow!(
                        "remove {name}: volume is in use - [{}]",
                        ids.join(", ")
                    )),
                    None => volumes.remove(name).map_err(Into::into).map(|()| {
                        volume_event(ctx, Action::Destroy, name, "local");
                    }),
                };
                match result {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            Ok(i32::from(failed))
        }
        VolumeCommand::Prune(args) => super::prune::volume_prune(ctx, args.all, args.force),
    }
}

/// `inspect NAME` for a volume, when nothing else has that name.
pub fn inspect_by_name(ctx: &Context, name: &str) -> Result<Option<serde_json::Value>> {
    let volumes = Volumes::open(ctx.store.root())?;
    match volumes.get(name) {
        Ok(v) => Ok(Some(serde_json::to_value(v)?)),
        Err(_) => Ok(None),
    }
}
