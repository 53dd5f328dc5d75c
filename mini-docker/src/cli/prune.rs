//! `container prune`, `image prune`, `volume prune`, `network prune` and
//! `system prune`: each removes what nothing uses any more, and prints what
//! it removed and how much space that gave back, as Docker does. Each asks
//! first, with Docker's warning and `[y/N]`, unless `-f`; no answer (a
//! closed or empty stdin) is no.

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
use mini_docker::{human, image, reset};

use super::Context;

/// Bytes under `path` (files, not following symlinks).
pub(super) fn disk_usage(path: &Path) -> u64 {
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

/// Docker's confirmation: the warning, then `Are you sure you want to
/// continue? [y/N] ` on the same line as the answer; only `y` or `yes`
/// (any case) go on.
fn confirm(warning: &str) -> bool {
    use std::io::Write as _;
    print!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    is_yes(&answer)
}

fn is_yes(answer: &str) -> bool {
    let answer = answer.trim();
    answer.eq_ignore_ascii_case("y") || answer.eq_ignore_ascii_case("yes")
}

/// The `system prune` warning: one line per kind of thing it removes.
fn system_warning(all: bool, volumes: bool) -> String {
    let mut items = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if volumes {
        items.push("all anonymous volumes not used by at least one container");
    }
    if all {
        items.push("all images without at least one container associated to them");
        items.push("all build cache");
    } else {
        items.push("all dangling images");
        items.push("all dangling build cache");
    }
    let lines: Vec<String> = items.iter().map(|i| format!("  - {i}")).collect();
    format!("WARNING! This will remove:\n{}\n", lines.join("\n"))
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

pub fn container_prune(ctx: &Context, args: &ContainerArgs) -> Result<i32> {
    if !args.force && !confirm("WARNING! This will remove all stopped containers.") {
        // Docker's CLI reports nothing reclaimed when told no.
        total(0);
        return Ok(0);
    }
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
    let until = until(&args.filter)?;
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning) {
        total(0);
        return Ok(0);
    }
    let pruned = images(ctx, args.all, until)?;
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
    if !args.force && !confirm(&system_warning(args.all, args.volumes)) {
        return Ok(0);
    }
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

pub fn volume_prune(ctx: &Context, all: bool, force: bool) -> Result<i32> {
    let warning = if all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !force && !confirm(warning) {
        total(0);
        return Ok(0);
    }
    let pruned = volumes(ctx, all)?;
    pruned.print("Deleted Volumes");
    total(pruned.bytes);
    Ok(0)
}

pub fn network_prune(ctx: &Context, force: bool) -> Result<i32> {
    if !force
        && !confirm(
            "WARNING! This will remove all custom networks not used by at least one container.",
        )
    {
        return Ok(0);
    }
    networks(ctx)?.print("Deleted Networks");
    Ok(0)
}

#[derive(Args)]
pub struct ResetArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

/// The `system reset` warning, naming the two directories that go.
fn reset_warning(root: &Path, runroot: &Path) -> String {
    format!(
        "WARNING! This will remove:\n  - all containers (running ones are stopped)\n  - all images\n  - all volumes\n  - all networks, the default bridge included, and their NAT rules\n  - the directories {} and {}\n",
        root.display(),
        runroot.display()
    )
}

/// `system reset` (Podman's): everything this store made, on disk and on
/// the host, then the store itself.
pub fn system_reset(ctx: &Context, args: &ResetArgs) -> Result<i32> {
    let root = ctx.store.root();
    if !args.force && !confirm(&reset_warning(root, &ctx.runroot)) {
        return Ok(0);
    }
    let bytes = disk_usage(root);
    let removed = reset::reset(&ctx.store, &ctx.containers, &ctx.runroot)?;
    let section = |title: &str, lines: &[String]| {
        Pruned {
            lines: lines.to_vec(),
            bytes: 0,
        }
        .print(title)
    };
    section("Deleted Containers", &removed.containers);
    section("Deleted Networks", &removed.networks);
    section("Deleted NAT Rules", &removed.nat_rules);
    section("Deleted Volumes", &removed.volumes);
    section("Deleted Images", &removed.images);
    section("Unmounted", &removed.mounts);
    let dirs: Vec<String> = removed
        .directories
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    section("Removed Directories", &dirs);
    total(bytes);
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_y_or_yes_goes_on() {
        for yes in ["y\n", "Y", "yes\n", "YES"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "n", "no", "yy", "sure"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn the_system_warning_lists_what_goes() {
        let w = system_warning(true, true);
        assert!(w.starts_with("WARNING! This will remove:\n  - all stopped containers\n"));
        assert!(w.contains("  - all anonymous volumes not used by at least one container\n"));
        assert!(w.ends_with("  - all build cache\n"));
        assert!(system_warning(false, false).ends_with("  - all dangling build cache\n"));
    }

    #[test]
    fn the_reset_warning_names_both_directories() {
        let w = reset_warning(
            Path::new("/var/lib/mini-docker"),
            Path::new("/run/mini-docker"),
        );
        assert!(w.starts_with("WARNING! This will remove:\n  - all containers"));
        assert!(w.ends_with("  - the directories /var/lib/mini-docker and /run/mini-docker\n"));
    }
}
