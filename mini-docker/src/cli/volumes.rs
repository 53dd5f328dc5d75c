//! `volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use mini_docker::container::mounts::volumes_in_use;
use mini_docker::volume::Volumes;

use super::{inspect_each, table, Context, NamesArgs};

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
    name: Option<String>,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only display volume names.
    #[arg(short, long)]
    quiet: bool,
    /// Filter output (dangling=true|false, name=…, label=…).
    #[arg(short, long)]
    filter: Vec<String>,
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
            println!("{}", volumes.create(&name, labels)?.name);
            Ok(0)
        }
        VolumeCommand::Ls(args) => {
            let used = volumes_in_use(&ctx.containers)?;
            let mut rows = Vec::new();
            for v in volumes.list()? {
                let mut keep = true;
                for filter in &args.filter {
                    let Some((key, value)) = filter.split_once('=') else {
                        bail!("bad format of filter (expected name=value): {filter}");
                    };
                    keep &= match key {
                        "dangling" => (value == "true") != used.contains_key(&v.name),
                        "name" => v.name.contains(value),
                        "label" => match value.split_once('=') {
                            Some((k, x)) => v.labels.get(k).is_some_and(|l| l == x),
                            None => v.labels.contains_key(value),
                        },
                        "driver" => v.driver == value,
                        _ => bail!("invalid filter '{key}'"),
                    };
                }
                if keep {
                    rows.push(vec![v.driver.clone(), v.name.clone()]);
                }
            }
            if args.quiet {
                rows.iter().for_each(|r| println!("{}", r[1]));
            } else {
                table::print(&["DRIVER", "VOLUME NAME"], &rows);
            }
            Ok(0)
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
                    None => volumes.remove(name).map_err(Into::into),
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
