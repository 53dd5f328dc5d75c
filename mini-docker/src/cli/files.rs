//! `cp`, `diff`, `commit`, `export`.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use mini_docker::container::files::{self, CommitOptions, FilesError, Follow};
use mini_docker::container::lifecycle::{self, is_running};
use mini_docker::container::record::Container;
use mini_docker::reference::Reference;
use mini_docker::Error;
use overlay_demo::layer::{self, ApplyOptions, Whiteouts};

use super::Context;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// CONTAINER:SRC_PATH, a local path, or - (a tar stream on stdin)
    src: String,
    /// CONTAINER:DEST_PATH, a local path, or - (a tar stream on stdout)
    dest: String,
}

/// `NAME:PATH` → (container, path); a local path has no container part
/// (and a path that starts with `/` or `.` is always local).
fn split(ctx: &Context, arg: &str) -> Result<Option<(Container, String)>> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return Ok(None);
    }
    match arg.split_once(':') {
        // Docker names the whole argument when the container is missing.
        Some((name, path)) => match ctx.containers.find(name) {
            Ok(c) => Ok(Some((c, path.to_string()))),
            Err(Error::NotFound(_)) => bail!("No such container:path: {arg}"),
            Err(e) => Err(e.into()),
        },
        None => Ok(None),
    }
}

pub fn cp(ctx: &Context, args: &CpArgs) -> Result<i32> {
    let follow = |stream: bool| match (args.follow_link, stream) {
        (false, _) => Follow::No,
        (true, false) => Follow::KeepName,
        (true, true) => Follow::TargetName,
    };
    let from = split(ctx, &args.src)?;
    let to = split(ctx, &args.dest)?;
    match (from, to) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, path)), None) => {
            // Packed inside the container's root, unpacked here.
            let src = args.src.clone();
            let follow = follow(args.dest == "-");
            let (mut reader, writer) = std::io::pipe()?;
            let job = files::in_root(&ctx.store, &ctx.containers, &c, move || {
                files::pack_copy(&path, follow, writer).map_err(|e| match e {
                    Error::NotFound(_) => Error::NotFound(format!("No such container:path: {src}")),
                    e => e,
                })
            })?;
            let mut archive = Vec::new();
            reader.read_to_end(&mut archive)?;
            job.wait()?;
            if args.dest == "-" {
                std::io::stdout().write_all(&archive)?;
            } else {
                let contents = args.src.ends_with("/.");
                files::unpack_copy(&archive, &args.dest, contents, args.archive)?;
            }
        }
        (None, Some((c, path))) => {
            // Packed here, unpacked inside the container's root.
            let mut archive = Vec::new();
            let stream = args.src == "-";
            if stream {
                std::io::stdin().read_to_end(&mut archive)?;
            } else {
                files::pack_copy(&args.src, follow(false), &mut archive)?;
            }
            let contents = args.src.ends_with("/.");
            files::in_root(&ctx.store, &ctx.containers, &c, move || {
                if !stream {
                    return files::unpack_copy(&archive, &path, contents, true);
                }
                if !Path::new(&path).is_dir() {
                    return Err(FilesError::ExtractionPoint(path.clone()).into());
                }
                let options = ApplyOptions {
                    whiteouts: Whiteouts::Delete,
                    allow_devices: false,
                    same_owner: true,
                };
                layer::apply(&archive[..], Path::new(&path), options)?;
                Ok(())
            })?
            .wait()?;
        }
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    container: String,
}

pub fn diff(ctx: &Context, args: &DiffArgs) -> Result<i32> {
    let c = ctx.containers.find(&args.container)?;
    for change in files::diff(&ctx.store, &ctx.containers, &c)? {
        println!("{change}");
    }
    Ok(0)
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long)]
    change: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    message: Option<String>,
    /// Pause container during commit.
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set)]
    pause: bool,
    container: String,
    /// REPOSITORY[:TAG]
    repository: Option<String>,
}

pub fn commit(ctx: &Context, args: &CommitArgs) -> Result<i32> {
    let c = ctx.containers.find(&args.container)?;
    let options = CommitOptions {
        changes: args.change.clone(),
        message: args.message.clone(),
        author: args.author.clone(),
        tag: args
            .repository
            .as_deref()
            .map(str::parse::<Reference>)
            .transpose()?,
    };
    let runtime = ctx.containers.runtime(&c.id)?;
    let freeze = args.pause && is_running(&runtime) && !runtime.state.paused();
    let cgroup = lifecycle::cgroup(&c)?;
    if freeze {
        cgroup.freeze(true)?;
    }
    let result = files::commit(&ctx.store, &ctx.containers, &c, &options);
    if freeze {
        cgroup.freeze(false)?;
    }
    println!("{}", result?);
    Ok(0)
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    output: Option<PathBuf>,
    container: String,
}

pub fn export(ctx: &Context, args: &ExportArgs) -> Result<i32> {
    use std::io::IsTerminal as _;
    let c = ctx.containers.find(&args.container)?;
    let out = match &args.output {
        Some(path) => path.clone(),
        None if std::io::stdout().is_terminal() => {
            bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        }
        None => PathBuf::from("/dev/stdout"),
    };
    let out = std::fs::File::create(&out).with_context(|| format!("{}", out.display()))?;
    files::export(&ctx.store, &ctx.containers, &c, out)
        .with_context(|| format!("exporting {}", args.container))?;
    Ok(0)
}
