//! `cp`, `diff`, `commit`, `export`.

use std::io::Write;
use std::os::fd::AsRawFd as _;
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
            // Packed inside the container's root, unpacked here, streaming
            // through a pipe.
            let src = args.src.clone();
            let follow = follow(args.dest == "-");
            let (mut reader, writer) = std::io::pipe()?;
            let job = files::in_root(&ctx.store, &ctx.containers, &c, move || {
                files::pack_copy(&path, follow, writer).map_err(|e| match e {
                    Error::NotFound(_) => Error::NotFound(format!("No such container:path: {src}")),
                    e => e,
                })
            })?;
            let copied = if args.dest == "-" {
                std::io::copy(&mut reader, &mut std::io::stdout().lock())
                    .map(drop)
                    .map_err(anyhow::Error::from)
            } else {
                let contents = args.src.ends_with("/.");
                files::unpack_copy(&mut reader, &args.dest, contents, args.archive)
                    .map_err(anyhow::Error::from)
            };
            // Drained, so that the packer's failure (a missing path), if
            // any, is the one reported.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
            job.wait()?;
            copied?;
        }
        (None, Some((c, path))) => {
            // Packed here, unpacked inside the container's root: the
            // archive streams through a pipe (or, with `-`, the child reads
            // our stdin itself).
            let stream = args.src == "-";
            let contents = args.src.ends_with("/.");
            let (reader, writer) = std::io::pipe()?;
            let ours = writer.as_raw_fd();
            let job = files::in_root(&ctx.store, &ctx.containers, &c, move || {
                // SAFETY: the forked child's copy of the writing end, which
                // would keep it from ever seeing the end of the archive.
                unsafe { libc::close(ours) };
                if !stream {
                    return files::unpack_copy(reader, &path, contents, true);
                }
                if !Path::new(&path).is_dir() {
                    return Err(FilesError::ExtractionPoint(path.clone()).into());
                }
                let options = ApplyOptions {
                    whiteouts: Whiteouts::Delete,
                    allow_devices: false,
                    same_owner: true,
                };
                layer::apply(std::io::stdin().lock(), Path::new(&path), options)?;
                Ok(())
            })?;
            let mut writer = Watched {
                inner: writer,
                broken: false,
            };
            let packed = if stream {
                Ok(())
            } else {
                files::pack_copy(&args.src, follow(false), &mut writer)
            };
            let broken = writer.broken;
            drop(writer);
            let unpacked = job.wait();
            match packed {
                // The unpacker stopped reading: its reason is the one.
                Err(_) if broken => unpacked?,
                Err(e) => return Err(e.into()),
                Ok(()) => unpacked?,
            }
        }
    }
    Ok(0)
}

/// A writer that remembers whether its reader went away (a broken pipe).
struct Watched<W> {
    inner: W,
    broken: bool,
}

impl<W: Write> Write for Watched<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf);
        if matches!(&written, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe) {
            self.broken = true;
        }
        written
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
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
