//! `images`, `tag`, `rmi`, `history`, `inspect`, `import`.

use std::path::PathBuf;
use std::time::SystemTime;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use mini_docker::digest::Digest;
use mini_docker::events::{Action, Event, Kind};
use mini_docker::human;
use mini_docker::image::{self, Details};
use mini_docker::reference::Reference;
use mini_docker::store::{chain_ids, ImageId};
use serde_json::json;

use super::filters::{FilterError, Filters};
use super::format::{self, Listing};
use super::Context;

#[derive(Args)]
pub struct ListArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Show digests.
    #[arg(long)]
    digests: bool,
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Filter output: dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output: a Go template such as "{{.Repository}}:{{.Tag}}", "table …", or "json".
    #[arg(long)]
    format: Option<String>,
    /// Only images whose name matches REPOSITORY[:TAG] (`*` globs).
    reference: Option<String>,
}

/// One line of `docker images`.
struct Row {
    repository: String,
    tag: String,
    digest: String,
    details: Details,
}

enum Filter {
    Dangling(bool),
    Reference(String),
    Label(String),
    Before(SystemTime),
    Since(SystemTime),
}

/// Docker's image filters, and the positional `REPOSITORY[:TAG]` as a
/// reference filter; a refused one comes back as Docker's error.
fn parse_filters(
    ctx: &Context,
    raw: &[String],
    positional: Option<&str>,
) -> Result<Result<Vec<Filter>, FilterError>> {
    let filters = match Filters::parse(raw, &["dangling", "reference", "label", "before", "since"])
    {
        Ok(f) => f,
        Err(e) => return Ok(Err(e)),
    };
    let mut out = Vec::new();
    match filters.bool("dangling") {
        Ok(Some(d)) => out.push(Filter::Dangling(d)),
        Ok(None) => {}
        Err(e) => return Ok(Err(e)),
    }
    let created = |name: &str| -> Result<SystemTime> {
        let id = ctx.store.resolve(name)?;
        image::details(&ctx.store, &id)?
            .created
            .with_context(|| format!("image {name} has no creation time"))
    };
    out.extend(
        filters
            .values("reference")
            .chain(positional)
            .map(|r| Filter::Reference(r.into())),
    );
    out.extend(filters.values("label").map(|l| Filter::Label(l.into())));
    for b in filters.values("before") {
        out.push(Filter::Before(created(b)?));
    }
    for s in filters.values("since") {
        out.push(Filter::Since(created(s)?));
    }
    Ok(Ok(out))
}

/// `*` matches any run of characters (as Docker's path.Match does within a
/// name).
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, tail)) => {
            text.starts_with(head)
                && (0..=text.len() - head.len()).any(|i| glob(tail, &text[head.len() + i..]))
        }
    }
}

fn keep(row: &Row, filters: &[Filter]) -> bool {
    filters.iter().all(|f| match f {
        Filter::Dangling(d) => (row.repository == "<none>") == *d,
        Filter::Reference(p) => {
            glob(p, &row.repository) || glob(p, &format!("{}:{}", row.repository, row.tag))
        }
        Filter::Label(l) => {
            let labels = row.details.config.config.labels.clone().unwrap_or_default();
            match l.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(l.as_str()),
            }
        }
        Filter::Before(t) => row.details.created.is_some_and(|c| c < *t),
        Filter::Since(t) => row.details.created.is_some_and(|c| c > *t),
    })
}

fn rows(ctx: &Context) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    let tags = ctx.store.tags()?;
    for id in ctx.store.images()? {
        let details = match image::details_with_tags(&ctx.store, &id, &tags) {
            Err(e) if mini_docker::damage::is_damage(&e) => {
                let record = ctx
                    .store
                    .root()
                    .join(format!("images/db/{}.json", id.hex()));
                mini_docker::damage::report(&record, &e);
                continue;
            }
            other => other?,
        };
        let digest_of = |name: &str| {
            details
                .record
                .repo_digests
                .iter()
                .find_map(|d| d.strip_prefix(&format!("{name}@")).map(str::to_string))
                .unwrap_or_else(|| "<none>".into())
        };
        if details.tags.is_empty() {
            rows.push(Row {
                repository: "<none>".into(),
                tag: "<none>".into(),
                digest: "<none>".into(),
                details: details.clone(),
            });
        }
        for tag in &details.tags {
            let name = tag.familiar_name();
            rows.push(Row {
                digest: digest_of(&name),
                repository: name,
                tag: tag.tag.clone().unwrap_or_else(|| "<none>".into()),
                details: details.clone(),
            });
        }
    }
    // Newest first, as Docker lists them.
    rows.sort_by(|a, b| {
        b.details
            .created
            .cmp(&a.details.created)
            .then(a.repository.cmp(&b.repository))
            .then(a.tag.cmp(&b.tag))
    });
    Ok(rows)
}

pub fn list(ctx: &Context, args: &ListArgs) -> Result<i32> {
    let filters = match parse_filters(ctx, &args.filter, args.reference.as_deref())? {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    // Without -a, untagged images that others were built on (a build's
    // intermediate images) are left out, as Docker does.
    let parents = if args.all {
        Default::default()
    } else {
        ctx.store.parents()?
    };
    let rows: Vec<Row> = rows(ctx)?
        .into_iter()
        .filter(|r| !(r.details.tags.is_empty() && parents.contains(&r.details.id)))
        .filter(|r| keep(r, &filters))
        .collect();
    let id = |r: &Row| {
        if args.no_trunc {
            r.details.id.to_string()
        } else {
            r.details.id.short().to_string()
        }
    };
    if format::quiet_applies(args.quiet, args.format.as_deref()) {
        let mut seen = Vec::new();
        for r in &rows {
            let id = id(r);
            if !seen.contains(&id) {
                println!("{id}");
                seen.push(id);
            }
        }
        return Ok(0);
    }
    let values: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let created = r.details.created.unwrap_or(SystemTime::UNIX_EPOCH);
            json!({
                "Containers": "N/A",
                "CreatedAt": human::docker_time(created),
                "CreatedSince": r.details.created.map_or("N/A".into(), human::since),
                "Digest": r.digest,
                "ID": id(r),
                "Repository": r.repository,
                "SharedSize": "N/A",
                "Size": human::size(r.details.size),
                "Tag": r.tag,
                "UniqueSize": "N/A",
                "VirtualSize": human::size(r.details.size),
            })
        })
        .collect();
    let format = match args.format.as_deref() {
        None | Some("table") if args.digests => Some(
            "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
        ),
        f => f,
    };
    Ok(format::print(Listing::Images, format, &values))
}

pub fn tag(ctx: &Context, source: &str, target: &str) -> Result<i32> {
    let target: Reference = target.parse()?;
    if target.digest.is_some() {
        bail!("refusing to create a tag with a digest reference");
    }
    let _lock = ctx.store.lock()?;
    let id = ctx.store.resolve(source)?;
    ctx.store.tag(&target, &id)?;
    image_event(ctx, Action::Tag, &id.to_string(), &target.familiar());
    Ok(0)
}

/// Records an image event (Docker's: the image ID as actor, `name`).
pub fn image_event(ctx: &Context, action: Action, id: &str, name: &str) {
    ctx.containers
        .events()
        .record(&Event::object(Kind::Image, action, id, &[("name", name)]));
}

#[derive(Args)]
pub struct RemoveArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn remove(ctx: &Context, args: &RemoveArgs) -> Result<i32> {
    let _lock = ctx.store.lock()?;
    let mut failed = false;
    for name in &args.images {
        match remove_one(ctx, name, args.force) {
            Ok(()) => {}
            // As Docker's CLI: reported, but `-f` of a missing image is no
            // failure (scripts clean up with it).
            Err(e) if is_not_found(&e) => {
                eprintln!("Error: No such image: {name}");
                failed |= !args.force;
            }
            Err(e) => {
                eprintln!("Error: {e:#}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

fn is_not_found(e: &anyhow::Error) -> bool {
    matches!(
        e.downcast_ref::<mini_docker::Error>(),
        Some(mini_docker::Error::NotFound(_))
    )
}

fn remove_one(ctx: &Context, name: &str, force: bool) -> Result<()> {
    let id = ctx.store.resolve(name)?;
    // One of several tags only goes: the image stays under the others,
    // whether or not a container uses it.
    let tags: Vec<Reference> = ctx
        .store
        .tags()?
        .into_iter()
        .filter(|(_, t)| *t == id)
        .map(|(r, _)| r)
        .collect();
    if let Some(r) = name.parse::<Reference>().ok().filter(|r| tags.contains(r)) {
        if tags.len() > 1 {
            ctx.store.untag(&r)?;
            println!("Untagged: {}", r.familiar());
            return Ok(());
        }
    }
    let users = ctx.store.containers_using(&id)?;
    if let Some(container) = users.first() {
        let short: String = container.chars().take(12).collect();
        match name.parse::<Reference>() {
            Ok(r) if !force && r.tag.is_some() && ctx.store.tags()?.iter().any(|(t, _)| *t == r) => bail!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {short} is using its referenced image {}",
                id.short()
            ),
            _ if !force => bail!(
                "conflict: unable to delete {} (must be forced) - image is being used by stopped container {short}",
                id.short()
            ),
            _ => {}
        }
    }
    let by_tag = name.parse::<Reference>().ok().filter(|r| tags.contains(r));
    let untag: Vec<Reference> = match by_tag {
        Some(r) => vec![r],
        None if tags.len() > 1 && !force => bail!(
            "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
            id.short()
        ),
        None => tags.clone(),
    };
    for r in &untag {
        ctx.store.untag(r)?;
        image_event(ctx, Action::Untag, &id.to_string(), &id.to_string());
        println!("Untagged: {}", r.familiar());
        if let Some(digest) = ctx
            .store
            .record(&id)?
            .repo_digests
            .iter()
            .find(|d| d.starts_with(&format!("{}@", r.familiar_name())))
        {
            println!("Untagged: {digest}");
        }
    }
    // An image a container still runs keeps its ID and layers, untagged.
    if untag.len() == tags.len() && users.is_empty() {
        for image in with_build_parents(ctx, &id)? {
            for layer in ctx.store.delete_image(&image)? {
                if layer != image {
                    println!("Deleted: {layer}");
                }
            }
            println!("Deleted: {image}");
            image_event(ctx, Action::Delete, &image.to_string(), &image.to_string());
        }
    }
    Ok(())
}

/// `id` and, as Docker deletes them with it, the untagged images it was
/// built on that nothing else needs (no tag, no container, no other child).
fn with_build_parents(ctx: &Context, id: &ImageId) -> Result<Vec<ImageId>> {
    let tagged: std::collections::BTreeSet<ImageId> =
        ctx.store.tags()?.into_iter().map(|(_, i)| i).collect();
    let mut children: std::collections::BTreeMap<ImageId, usize> = Default::default();
    for image in ctx.store.images()? {
        if let Some(parent) = ctx.store.record(&image)?.parent {
            *children.entry(parent).or_default() += 1;
        }
    }
    let mut chain = vec![id.clone()];
    let mut next = ctx.store.record(id)?.parent;
    while let Some(parent) = next.take() {
        let needed = tagged.contains(&parent)
            || children.get(&parent).copied().unwrap_or(0) > 1
            || ctx.store.record(&parent).is_err()
            || !ctx.store.containers_using(&parent)?.is_empty();
        if needed {
            break;
        }
        next = ctx.store.record(&parent)?.parent;
        chain.push(parent);
    }
    Ok(chain)
}

#[derive(Args)]
pub struct HistoryArgs {
    /// Don't truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Format output using a Go template, "table …", or "json".
    #[arg(long)]
    format: Option<String>,
    image: String,
}

pub fn history(ctx: &Context, args: &HistoryArgs) -> Result<i32> {
    let id = ctx.store.resolve(&args.image)?;
    let details = image::details(&ctx.store, &id)?;
    let sizes: Vec<u64> = chain_ids(&details.config.rootfs.diff_ids)
        .iter()
        .map(|c| ctx.store.layer(c).map(|l| l.size))
        .collect::<Result<_, _>>()?;
    let mut sizes = sizes.into_iter();
    let mut rows = Vec::new();
    for entry in &details.config.history {
        let size = if entry.empty_layer {
            0
        } else {
            sizes.next().unwrap_or(0)
        };
        rows.push((entry, size));
    }
    rows.reverse();
    // Each image of the parent chain (a build's steps) names the history
    // entry it added, as Docker shows them; the other rows are <missing>.
    let mut ids = vec![None; rows.len()];
    let mut next = Some(id.clone());
    while let Some(current) = next.take() {
        let Ok(config) = ctx.store.config(&current) else {
            break;
        };
        let Some(row) = rows.len().checked_sub(config.history.len()) else {
            break;
        };
        ids[row] = Some(current.clone());
        next = ctx.store.record(&current).ok().and_then(|r| r.parent);
    }
    let shown_id = |i: usize| match (&ids[i], args.no_trunc) {
        (Some(id), true) => id.to_string(),
        (Some(id), false) => id.short().to_string(),
        (None, _) => "<missing>".to_string(),
    };
    if args.quiet {
        for i in 0..rows.len() {
            println!("{}", shown_id(i));
        }
        return Ok(0);
    }
    let values: Vec<serde_json::Value> = rows
        .iter()
        .enumerate()
        .map(|(i, (entry, size))| {
            let created_by = entry.created_by.clone().unwrap_or_default();
            let created_by = if args.no_trunc || created_by.chars().count() <= 45 {
                created_by
            } else {
                format!("{}…", created_by.chars().take(44).collect::<String>())
            };
            let created = entry.created.as_deref().and_then(human::parse_rfc3339);
            json!({
                "Comment": entry.comment.clone().unwrap_or_default(),
                "CreatedAt": created.map_or("N/A".into(), |t| humantime::format_rfc3339_seconds(t).to_string()),
                "CreatedBy": created_by,
                "CreatedSince": created.map_or("N/A".into(), human::since),
                "ID": shown_id(i),
                "Size": human::size(*size),
            })
        })
        .collect();
    Ok(format::print(
        Listing::History,
        args.format.as_deref(),
        &values,
    ))
}

#[derive(Args)]
pub struct ImportArgs {
    /// Apply a Dockerfile instruction to the created image (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR).
    #[arg(short, long)]
    change: Vec<String>,
    /// Set a commit message for the imported image.
    #[arg(short, long)]
    message: Option<String>,
    /// A tarball (plain or gzip), or - for standard input.
    file: String,
    /// REPOSITORY[:TAG] to give the image.
    reference: Option<String>,
}

pub fn import(ctx: &Context, args: &ImportArgs) -> Result<i32> {
    let reference: Option<Reference> = args.reference.as_deref().map(str::parse).transpose()?;
    let input: Box<dyn std::io::Read> = if args.file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let path = PathBuf::from(&args.file);
        Box::new(std::fs::File::open(&path).with_context(|| format!("open {}", path.display()))?)
    };
    let id: Digest = image::import(
        &ctx.store,
        input,
        &args.file,
        &args.change,
        args.message.as_deref(),
        reference.as_ref(),
    )?;
    // Docker's pair: the tag, then the import (named by the ID).
    if let Some(r) = &reference {
        image_event(ctx, Action::Tag, &id.to_string(), &r.familiar());
    }
    image_event(ctx, Action::Import, &id.to_string(), &id.to_string());
    println!("{id}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches_like_docker_reference_filters() {
        assert!(glob("busy*", "busybox"));
        assert!(glob("*box:latest", "busybox:latest"));
        assert!(!glob("busy", "busybox"));
        assert!(glob("*", ""));
    }
}

#[derive(Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[arg(required = true)]
    images: Vec<String>,
}

pub fn save(ctx: &Context, args: &SaveArgs) -> Result<i32> {
    let mut images: Vec<(mini_docker::store::ImageId, Vec<Reference>)> = Vec::new();
    for name in &args.images {
        let id = ctx.store.resolve(name)?;
        // A tag names what to record; an ID saves the image with all its tags.
        let tags: Vec<Reference> = match name.parse::<Reference>() {
            Ok(r) if ctx.store.tags()?.iter().any(|(t, i)| *t == r && *i == id) => vec![r],
            _ => ctx
                .store
                .tags()?
                .into_iter()
                .filter(|(_, i)| *i == id)
                .map(|(r, _)| r)
                .collect(),
        };
        match images.iter_mut().find(|(i, _)| *i == id) {
            Some((_, existing)) => existing.extend(tags),
            None => images.push((id, tags)),
        }
    }
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed: never half an archive.
            let tmp = path.with_extension("tmp-mini-docker");
            let file =
                std::fs::File::create(&tmp).with_context(|| format!("create {}", tmp.display()))?;
            let written =
                mini_docker::archive::save(&ctx.store, &images, std::io::BufWriter::new(file));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path).with_context(|| format!("rename to {}", path.display()))?;
        }
        None => {
            use std::io::IsTerminal as _;
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            mini_docker::archive::save(&ctx.store, &images, std::io::stdout().lock())?;
        }
    }
    Ok(0)
}

#[derive(Args)]
pub struct LoadArgs {
    /// Read from a tar archive file, instead of STDIN.
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Suppress the load output.
    #[arg(short, long)]
    quiet: bool,
}

pub fn load(ctx: &Context, args: &LoadArgs) -> Result<i32> {
    let input: Box<dyn std::io::Read> = match &args.input {
        Some(path) => {
            Box::new(std::fs::File::open(path).with_context(|| format!("open {}", path.display()))?)
        }
        None => Box::new(std::io::stdin().lock()),
    };
    for (id, tags) in mini_docker::archive::load(&ctx.store, input)? {
        image_event(ctx, Action::Load, &id.to_string(), &id.to_string());
        if args.quiet {
            continue;
        }
        if tags.is_empty() {
            println!("Loaded image ID: {id}");
        }
        for tag in tags {
            println!("Loaded image: {}", tag.familiar());
        }
    }
    Ok(0)
}
