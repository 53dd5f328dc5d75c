//! `build`: Docker's classic builder. A Dockerfile (`dockerfile`) read
//! from a context (`context`, `ignore`) becomes an image one step at a
//! time (`engine`): `RUN` in a real container (`run`), `COPY`/`ADD`
//! straight into a layer (`transfer`, reading images through `rootfs`),
//! every step's image kept as build cache (`cache`), progress in the
//! classic form (`output`).

pub mod cache;
pub mod context;
pub mod dockerfile;
pub mod engine;
pub mod ignore;
pub mod output;
pub mod rootfs;
pub mod run;
pub mod transfer;

use std::ffi::OsString;

use crate::container::dir::Containers;
use crate::reference::Reference;
use crate::store::{ImageId, Store};

/// `build`'s flags, as the engine needs them.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub tags: Vec<Reference>,
    pub no_cache: bool,
    pub pull: bool,
    pub target: Option<String>,
    /// `--build-arg K=V` (`None`: `--build-arg K`, from the environment).
    pub build_args: Vec<(String, Option<String>)>,
    /// `--label`, added as a last `LABEL` step, as Docker does.
    pub labels: Vec<(String, String)>,
    /// `--rm` (the default): remove each step's container after success.
    pub remove: bool,
    /// `--force-rm`: also after a failure.
    pub force_remove: bool,
    /// `--network` for every `RUN`.
    pub network: Option<String>,
}

/// How a build fails; each prints as Docker's classic builder prints it
/// and exits with Docker's code.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A parse or context error (Docker's daemon refuses the build).
    #[error("{0}")]
    Parse(String),
    #[error(transparent)]
    Context(#[from] context::Error),
    /// A step that cannot be done.
    #[error("{0}")]
    Step(String),
    #[error("The command '{command}' returned a non-zero code: {code}")]
    Run { command: String, code: i32 },
    #[error(transparent)]
    Store(#[from] crate::Error),
}

impl Error {
    /// Docker's CLI exits with a failed `RUN`'s code, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Run { code, .. } => *code,
            _ => 1,
        }
    }

    /// Whether Docker shows it as the daemon's refusal
    /// (`Error response from daemon: …`) rather than a step's failure.
    pub fn refused(&self) -> bool {
        matches!(
            self,
            Error::Parse(_) | Error::Context(context::Error::Empty(_))
        )
    }
}

/// Builds `context`'s Dockerfile; tags the image; returns it.
pub fn build(
    store: &Store,
    containers: &Containers,
    global: &[OsString],
    context: &context::Context,
    options: &Options,
    out: &mut output::Output,
) -> Result<ImageId, Error> {
    let file = dockerfile::parse(&context.dockerfile)
        .map_err(|e| Error::Parse(e.render(&context.dockerfile_name)))?;
    if file.syntax.is_some() {
        eprintln!("# syntax= is accepted and ignored: mini-docker has one Dockerfile frontend");
    }
    let mut engine = engine::Engine::new(
        store,
        containers,
        global,
        options,
        out,
        context,
        file.escape,
    );
    let id = engine.build(&file)?;
    let _lock = store.lock()?;
    for tag in &options.tags {
        store.tag(tag, &id)?;
    }
    Ok(id)
}
