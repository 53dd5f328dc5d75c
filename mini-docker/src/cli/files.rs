//! `cp`, `diff`, `commit`, `export`.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use clap::Args;
use mini_docker::container::files::{self, CommitOptions};
use mini_docker::container::lifecycle::{self, is_running};
use mini_docker::container::record::Container;
use mini_docker::container::scope;
use mini_docker::reference::Reference;
use mini_docker::Error;
use overlay_demo::layer::{self, ApplyOptions, Whiteouts};

use super::Context;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    archive: bool,
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
        Some((name, path)) => Ok(Some((ctx.containers.find(name)?, path.to_string()))),
        None => Ok(None),
    }
}

/// Where a copy lands, by Docker's rules: into an existing directory
/// under the source's name (or its contents, for `SRC/.`), otherwise as
/// the destination's name in its parent directory.
struct Landing {
    dir: PathBuf,
    name: PathBuf,
}

fn landing(src: &Path, src_contents: bool, dest: &Path, dest_text: &str) -> Result<Landing> {
    let src_is_dir = std::fs::metadata(src).is_ok_and(|m| m.is_dir());
    match std::fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(Landing {
            dir: dest.to_path_buf(),
            name: if src_contents {
                PathBuf::new()
            } else {
                PathBuf::from(src.file_name().unwrap_or_default())
            },
        }),
        Ok(_) if src_is_dir => bail!("cannot copy directory to file: {dest_text}"),
        Ok(_) => Ok(Landing {
            dir: dest.parent().unwrap_or(Path::new("/")).to_path_buf(),
            name: PathBuf::from(dest.file_name().unwrap_or_default()),
        }),
        Err(_) if dest_text.ends_with('/') && !src_is_dir => {
            bail!("{dest_text}: no such directory")
        }
        Err(_) => {
            let parent = dest.parent().unwrap_or(Path::new("/"));
            if !parent.is_dir() {
                bail!("{}: no such file or directory", parent.display());
            }
            Ok(Landing {
                dir: parent.to_path_buf(),
                name: PathBuf::from(dest.file_name().unwrap_or_default()),
            })
        }
    }
}

/// Copies `src` to its landing place through a tar stream, with the
/// hardened extraction of lesson 4 (no path leaves `dir`).
fn copy(src: &Path, land: &Landing, same_owner: bool) -> mini_docker::Result<()> {
    let mut archive = Vec::new();
    files::pack(src, &land.name, &mut archive)?;
    let options = ApplyOptions {
        whiteouts: Whiteouts::Delete,
        allow_devices: false,
        same_owner,
    };
    layer::apply(&archive[..], &land.dir, options)?;
    Ok(())
}

/// The container path's parent resolved inside the container's root, and
/// its last component kept (a symlink is copied as a symlink).
fn in_container(root: &Path, path: &str) -> mini_docker::Result<(PathBuf, bool)> {
    let contents = path.ends_with("/.");
    let trimmed = path.trim_end_matches("/.").trim_end_matches('/');
    let p = Path::new(if trimmed.is_empty() { "/" } else { trimmed });
    let resolved = match (p.parent(), p.file_name()) {
        (Some(parent), Some(name)) => scope::resolve(root, parent)?.join(name),
        _ => root.to_path_buf(),
    };
    Ok((resolved, contents))
}

fn to_anyhow(e: Error) -> anyhow::Error {
    e.into()
}

pub fn cp(ctx: &Context, args: &CpArgs) -> Result<i32> {
    let from = split(ctx, &args.src)?;
    let to = split(ctx, &args.dest)?;
    let usage = |e: anyhow::Error| Error::Usage(format!("{e:#}"));
    match (from, to) {
        (Some(_), Some(_)) => bail!("copying between containers is not supported"),
        (None, None) => bail!("must specify at least one container source"),
        (Some((c, path)), None) => {
            let dest = args.dest.clone();
            files::with_root(&ctx.store, &ctx.containers, &c, |root| {
                let (src, contents) = in_container(root, &path)?;
                if std::fs::symlink_metadata(&src).is_err() {
                    return Err(Error::NotFound(format!(
                        "Could not find the file {path} in container {}",
                        c.name.trim_start_matches('/')
                    )));
                }
                if dest == "-" {
                    let name = if contents {
                        PathBuf::new()
                    } else {
                        PathBuf::from(src.file_name().unwrap_or_default())
                    };
                    return files::pack(&src, &name, std::io::stdout().lock());
                }
                let land = landing(&src, contents, Path::new(&dest), &dest).map_err(usage)?;
                copy(&src, &land, args.archive)
            })
            .map_err(to_anyhow)?;
        }
        (None, Some((c, path))) => {
            let src = args.src.clone();
            let stdin_tar = if src == "-" {
                let mut bytes = Vec::new();
                std::io::stdin().read_to_end(&mut bytes)?;
                Some(bytes)
            } else {
                None
            };
            let src_path =
                std::fs::canonicalize(Path::new(&src).parent().unwrap_or(Path::new(".")))
                    .map(|p| p.join(Path::new(&src).file_name().unwrap_or_default()));
            if stdin_tar.is_none() && std::fs::symlink_metadata(&args.src).is_err() {
                bail!("lstat {}: no such file or directory", args.src);
            }
            files::with_root(&ctx.store, &ctx.containers, &c, |root| {
                let dest = scope::resolve(root, Path::new(&path))?;
                if let Some(bytes) = &stdin_tar {
                    if !dest.is_dir() {
                        return Err(Error::Usage(format!(
                            "extraction point is not a directory: {path}"
                        )));
                    }
                    let options = ApplyOptions {
                        whiteouts: Whiteouts::Delete,
                        allow_devices: false,
                        same_owner: true,
                    };
                    layer::apply(&bytes[..], &dest, options)?;
                    return Ok(());
                }
                let src_path = src_path.map_err(|e| Error::io(&src, e))?;
                let contents = src.ends_with("/.");
                let land = landing(&src_path, contents, &dest, &path).map_err(usage)?;
                copy(&src_path, &land, args.archive)
            })
            .map_err(to_anyhow)?;
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
    let freeze = args.pause && is_running(&runtime) && !runtime.state.paused;
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
    files::export(&ctx.store, &ctx.containers, &c, &out)
        .with_context(|| format!("exporting {}", args.container))?;
    Ok(0)
}
