//! `build` (and `image build`): Docker's classic builder's flags, output
//! and exit codes; and `builder prune`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{ArgAction, Args, Subcommand};
use mini_docker::build::{self, cache::Cache, context, output::Output};
use mini_docker::human;
use mini_docker::reference::Reference;

use super::Context;

#[derive(Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the 'name:tag' format.
    #[arg(short, long = "tag")]
    tags: Vec<String>,
    /// Name of the Dockerfile (default is 'PATH/Dockerfile'; '-' reads it from stdin).
    #[arg(short, long)]
    file: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    no_cache: bool,
    /// Always attempt to pull a newer version of the image.
    #[arg(long)]
    pull: bool,
    /// Set the target build stage to build.
    #[arg(long)]
    target: Option<String>,
    /// Suppress the build output and print image ID on success.
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to the file.
    #[arg(long)]
    iidfile: Option<PathBuf>,
    /// Set metadata for an image.
    #[arg(long = "label")]
    labels: Vec<String>,
    /// Set build-time variables.
    #[arg(long = "build-arg")]
    build_args: Vec<String>,
    /// Remove intermediate containers after a successful build.
    #[arg(long, default_value_t = true, action = ArgAction::Set, num_args = 0..=1, default_missing_value = "true", require_equals = true)]
    rm: bool,
    /// Always remove intermediate containers.
    #[arg(long)]
    force_rm: bool,
    /// Set the networking mode for the RUN instructions during build.
    #[arg(long)]
    network: Option<String>,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    platform: Option<String>,
    /// The build context: a directory, or '-' for a tar archive on stdin.
    path: String,
}

#[derive(Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile.
    Build(BuildArgs),
    /// Remove build cache.
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct PruneArgs {
    /// Remove all unused build cache, not just dangling ones.
    #[arg(short, long)]
    all: bool,
    /// Provide filter values (e.g. 'until=24h').
    #[arg(long)]
    filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

fn options(args: &BuildArgs) -> Result<build::Options> {
    let tags = args
        .tags
        .iter()
        .map(|t| {
            t.parse::<Reference>().map_err(|e| {
                anyhow::anyhow!("invalid argument \"{t}\" for \"-t, --tag\" flag: {e}")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if let Some(platform) = &args.platform {
        mini_docker::container::options::check_platform(platform)?;
    }
    let pair = |s: &String| match s.split_once('=') {
        Some((k, v)) => (k.to_string(), Some(v.to_string())),
        None => (s.clone(), None),
    };
    Ok(build::Options {
        tags,
        no_cache: args.no_cache,
        pull: args.pull,
        target: args.target.clone(),
        build_args: args.build_args.iter().map(pair).collect(),
        labels: args
            .labels
            .iter()
            .map(|l| {
                let (k, v) = pair(l);
                (k, v.unwrap_or_default())
            })
            .collect(),
        remove: args.rm || args.force_rm,
        force_remove: args.force_rm,
        network: args.network.clone(),
    })
}

pub fn build(ctx: &Context, args: &BuildArgs) -> Result<i32> {
    let options = options(args)?;
    let source = if args.path == "-" {
        context::Source::Stdin
    } else {
        context::Source::Dir(PathBuf::from(&args.path))
    };
    let scratch = ctx.store.temp_path("context");
    let context = match context::Context::open(&source, args.file.as_deref(), &scratch) {
        Ok(c) => c,
        Err(e @ context::Error::Empty(_)) => {
            eprintln!("Error response from daemon: {e}");
            return Ok(1);
        }
        // Docker's CLI prints its own context errors bare.
        Err(e @ (context::Error::NoContext(_) | context::Error::NoDockerfile(_))) => {
            eprintln!("{e}");
            return Ok(1);
        }
        Err(e) => bail!(e),
    };
    let mut out = Output::new(args.quiet);
    match build::build(
        &ctx.store,
        &ctx.containers,
        &ctx.global,
        &context,
        &options,
        &mut out,
    ) {
        Ok(id) => {
            if args.quiet {
                println!("{id}");
            } else {
                out.line(&format!("Successfully built {}", id.short()));
                for t in &options.tags {
                    out.line(&format!("Successfully tagged {}", t.familiar()));
                }
            }
            if let Some(path) = &args.iidfile {
                write_iidfile(path, &id.to_string())?;
            }
            Ok(0)
        }
        Err(e) => {
            out.release_on_failure();
            if e.refused() {
                eprintln!("Error response from daemon: {e}");
            } else {
                eprintln!("{e}");
            }
            Ok(e.exit_code())
        }
    }
}

/// `--iidfile`: written under a temporary name, then renamed.
fn write_iidfile(path: &std::path::Path, id: &str) -> Result<()> {
    let tmp = path.with_extension("iid.tmp");
    std::fs::write(&tmp, id)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `builder prune`: Docker's warning and listing.
pub fn prune(ctx: &Context, args: &PruneArgs) -> Result<i32> {
    let until = super::prune::until(&args.filter)?;
    let warning = if args.all {
        "WARNING! This will remove all build cache."
    } else {
        "WARNING! This will remove all dangling build cache."
    };
    if !args.force && !super::prune::confirm(warning) {
        return Ok(0);
    }
    let bytes = prune_cache(ctx, args.all, until)?;
    println!("Total:\t{}", human::size(bytes));
    Ok(0)
}

/// Removes build cache, prints what went; returns the bytes freed.
pub fn prune_cache(ctx: &Context, all: bool, until: Option<std::time::SystemTime>) -> Result<u64> {
    let _lock = ctx.store.lock()?;
    let pruned = Cache::open(&ctx.store).prune(&ctx.store, all, until)?;
    if !pruned.entries.is_empty() {
        println!("Deleted build cache objects:");
        for e in &pruned.entries {
            println!("{}", &e.key[..25]);
        }
    }
    Ok(pruned.bytes)
}
