//! `container prune`, `image prune`, `volume prune`, `network prune` and
//! `system prune`: each removes what nothing uses any more, and prints what
//! it removed and how much space that gave back, as Docker does.

use std::path::Path;
use std::time::SystemTime;

use anyhow::{bail, Result};
use clap::Args;
use mini_docker::container::lifecycle::{self, is_running};
use mini_docker::container::mounts::volumes_in_use;
use mini_docker::container::{logs, wiring};
use mini_docker::network::{Networks, DEFAULT};
use mini_docker::reference::Reference;
use mini_docker::volume::Volumes;
use mini_docker::{human, image};

use super::Context;

/// Bytes under `path` (files, not following symlinks).
fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path)
        .map(|d| d.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}

/// What one prune removed: the lines to print, and the bytes freed.
#[derive(Debug, Default)]
pub struct Pruned {
    lines: Vec<String>,
    bytes: u64,
}

impl Pruned {
    fn print(&self, title: &str) {
        if !self.lines.is_empty() {
            println!("{title}:");
            self.lines.iter().for_each(|l| println!("{l}"));
            println!();
        }
    }
}

fn total(bytes: u64) {
    println!("Total reclaimed space: {}", human::size(bytes));
}

/// Stopped containers (and what dead monitors left).
pub fn containers(ctx: &Context) -> Result<Pruned> {
    let mut out = Pruned::default();
    for c in ctx.containers.list()? {
        let runtime = ctx.containers.runtime(&c.id)?;
        if is_running(&runtime) || runtime.monitor_alive() {
            continue;
        }
        let bytes = disk_usage(&ctx.containers.dir(&c.id).join("upper"));
        lifecycle::remove(&ctx.containers, &c, false)?;
        out.lines.push(c.id.clone());
        out.bytes += bytes;
    }
    Ok(out)
}

/// Unused volumes: anonymous ones, or all with `all`.
pub fn volumes(ctx: &Context, all: bool) -> Result<Pruned> {
    let volumes = Volumes::open(ctx.store.root())?;
    let used = volumes_in_use(&ctx.containers)?;
    let mut out = Pruned::default();
    for v in volumes.list()? {
        if used.contains_key(&v.name) || !(all || v.anonymous()) {
            continue;
        }
        let bytes = disk_usage(&v.mountpoint);
        volumes.remove(&v.name)?;
        out.lines.push(v.name);
        out.bytes += bytes;
    }
    Ok(out)
}

/// User networks no container is configured for.
pub fn networks(ctx: &Context) -> Result<Pruned> {
    let networks = Networks::open(ctx.store.root())?;
    let mut used: Vec<String> = Vec::new();
    for c in ctx.containers.list()? {
        used.extend(wiring::network_names(&c));
    }
    let mut out = Pruned::default();
    for n in networks.list()? {
        if n.name != DEFAULT && !used.contains(&n.name) {
            networks.remove(&n)?;
            out.lines.push(n.name);
        }
    }
    Ok(out)
}

/// Images no container uses: only untagged ("dangling") ones, or all
/// with `all`; with `until`, only those created before it.
pub fn images(ctx: &Context, all: bool, until: Option<SystemTime>) -> Result<Pruned> {
    let _lock = ctx.store.lock()?;
    let before =
        disk_usage(&ctx.store.root().join("blobs")) + disk_usage(&ctx.store.root().join("layers"));
    let tags = ctx.store.tags()?;
    let mut out = Pruned::default();
    for id in ctx.store.images()? {
        let tagged: Vec<&Reference> = tags
            .iter()
            .filter(|(_, t)| *t == id)
            .map(|(r, _)| r)
            .collect();
        if (!all && !tagged.is_empty()) || !ctx.store.containers_using(&id)?.is_empty() {
            continue;
        }
        if let Some(until) = until {
            let created = image::details(&ctx.store, &id)?
                .config
                .created
                .and_then(|c| human::parse_rfc3339(&c));
            if created.is_none_or(|c| c >= until) {
                continue;
            }
        }
        for r in tagged {
            ctx.store.untag(r)?;
            out.lines.push(format!("untagged: {}", r.familiar()));
        }
        ctx.store.delete_image(&id)?;
        out.lines.push(format!("deleted: {id}"));
    }
    let after =
        disk_usage(&ctx.store.root().join("blobs")) + disk_usage(&ctx.store.root().join("layers"));
    out.bytes = before.saturating_sub(after);
    Ok(out)
}

#[derive(Args)]
pub struct ContainerArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

pub fn container_prune(ctx: &Context) -> Result<i32> {
    let pruned = containers(ctx)?;
    pruned.print("Deleted Containers");
    total(pruned.bytes);
    Ok(0)
}

#[derive(Args)]
pub struct ImageArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (until=<timestamp or duration>).
    #[arg(long)]
    filter: Vec<String>,
}

fn until(filters: &[String]) -> Result<Option<SystemTime>> {
    let mut until = None;
    for f in filters {
        match f.split_once('=') {
            Some(("until", value)) => until = Some(logs::parse_since(value)?),
            _ => bail!("invalid filter '{f}' (this mini-docker knows until=…)"),
        }
    }
    Ok(until)
}

pub fn image_prune(ctx: &Context, args: &ImageArgs) -> Result<i32> {
    let pruned = images(ctx, args.all, until(&args.filter)?)?;
    pruned.print("Deleted Images");
    total(pruned.bytes);
    Ok(0)
}

#[derive(Args)]
pub struct SystemArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Prune anonymous volumes too.
    #[arg(long)]
    volumes: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (until=<timestamp or duration>).
    #[arg(long)]
    filter: Vec<String>,
}

/// `system prune`: stopped containers, unused networks, dangling (or with
/// `-a` all unused) images, and with `--volumes` unused anonymous volumes.
pub fn system_prune(ctx: &Context, args: &SystemArgs) -> Result<i32> {
    let until = until(&args.filter)?;
    let c = containers(ctx)?;
    c.print("Deleted Containers");
    let n = networks(ctx)?;
    n.print("Deleted Networks");
    let v = if args.volumes {
        volumes(ctx, false)?
    } else {
        Pruned::default()
    };
    v.print("Deleted Volumes");
    let i = images(ctx, args.all, until)?;
    i.print("Deleted Images");
    total(c.bytes + v.bytes + i.bytes);
    Ok(0)
}

pub fn volume_prune(ctx: &Context, all: bool) -> Result<i32> {
    let pruned = volumes(ctx, all)?;
    pruned.print("Deleted Volumes");
    total(pruned.bytes);
    Ok(0)
}

pub fn network_prune(ctx: &Context) -> Result<i32> {
    networks(ctx)?.print("Deleted Networks");
    Ok(0)
}
