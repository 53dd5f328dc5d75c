//! `RUN`: a real container made from the step's parent image with the
//! build's environment, user and working directory, on the default bridge
//! unless `--network`, started through the monitor like `docker run`, its
//! output streamed, its upper directory committed as the step's layer.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::output::Output;
use super::rootfs::RootView;
use crate::container::create::{self, Request};
use crate::container::dir::Containers;
use crate::container::monitor::{self, Started};
use crate::container::protocol;
use crate::container::record::Container;
use crate::container::spec::Overrides;
use crate::container::{files, lifecycle};
use crate::store::{ImageId, Store};
use crate::volume::Volumes;
use crate::{Error, Result};

/// What the step runs, and how.
#[derive(Debug, Clone)]
pub struct Spec {
    pub argv: Vec<String>,
    /// Build arguments, on top of the image's `Env` for this step only.
    pub env: Vec<String>,
    pub network: Option<String>,
}

/// A build step's container, removed on drop unless kept (`--rm=false`).
#[derive(Debug)]
pub struct StepContainer<'a> {
    pub container: Container,
    containers: &'a Containers,
    store: &'a Store,
    keep: bool,
}

impl StepContainer<'_> {
    pub fn short_id(&self) -> &str {
        &self.container.id[..12]
    }

    /// The container's changes as a layer tarball: the runtime's own
    /// files filtered out as `commit` does, and so the directories that
    /// only held them (`/etc` for `/etc/hosts`), unchanged in `parent`.
    pub fn layer(&self, parent: &RootView) -> Result<std::path::PathBuf> {
        let raw = files::upper_layer(
            self.store,
            &self.containers.dir(&self.container.id).join("upper"),
        )?;
        let result = drop_untouched_dirs(self.store, &raw, parent);
        let _ = std::fs::remove_file(&raw);
        result
    }

    pub fn keep(&mut self, keep: bool) {
        self.keep = keep;
    }
}

impl Drop for StepContainer<'_> {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let _ = lifecycle::remove(self.containers, &self.container, true);
        if let Ok(volumes) = Volumes::open(self.store.root()) {
            lifecycle::remove_anonymous_volumes(&volumes, self.containers, &self.container);
        }
    }
}

/// Rewrites a layer without the directory entries that have nothing
/// below them and are directories of the same mode in `parent` already.
fn drop_untouched_dirs(store: &Store, raw: &Path, parent: &RootView) -> Result<PathBuf> {
    let io = |e| Error::io(raw, e);
    let mut paths = Vec::new();
    for entry in tar::Archive::new(File::open(raw).map_err(io)?)
        .entries()
        .map_err(io)?
    {
        let entry = entry.map_err(io)?;
        let path = entry
            .path()
            .map_err(io)?
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        paths.push((
            path,
            entry.header().entry_type().is_dir(),
            entry.header().mode().unwrap_or(0),
        ));
    }
    let drop: BTreeSet<String> = paths
        .iter()
        .filter(|(p, is_dir, mode)| {
            *is_dir
                && !paths.iter().any(|(q, ..)| {
                    q.len() > p.len() && q.starts_with(p.as_str()) && q.as_bytes()[p.len()] == b'/'
                })
                && parent
                    .lookup(p)
                    .is_some_and(|(_, m)| m.is_dir() && m.mode() & 0o7777 == mode & 0o7777)
        })
        .map(|(p, ..)| p.clone())
        .collect();
    let out_path = store.temp_path("run.tar");
    let out = File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    for entry in tar::Archive::new(File::open(raw).map_err(io)?)
        .entries()
        .map_err(io)?
    {
        let mut entry = entry.map_err(io)?;
        let path = entry.path().map_err(io)?.to_string_lossy().into_owned();
        if drop.contains(path.trim_end_matches('/')) {
            continue;
        }
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).map_err(io)?;
        builder
            .append_data(&mut header, &path, &data[..])
            .map_err(|e| Error::io(&out_path, e))?;
    }
    builder
        .into_inner()
        .and_then(|mut w| std::io::Write::flush(&mut w))
        .map_err(|e| Error::io(&out_path, e))?;
    Ok(out_path)
}

/// Creates the step's container, never started: Docker's classic builder
/// makes one for every step that changes only the config (its command is
/// the step's `#(nop)` comment), and `RUN` starts its own.
pub fn create<'a>(
    store: &'a Store,
    containers: &'a Containers,
    image: &ImageId,
    spec: &Spec,
    out: &mut Output,
) -> Result<StepContainer<'a>> {
    let request = Request {
        image: image.to_string(),
        overrides: Overrides {
            entrypoint: Some(String::new()),
            cmd: spec.argv.clone(),
            env: spec.env.clone(),
            ..Overrides::default()
        },
        network: spec.network.clone(),
        health: crate::container::health::Flags {
            none: true,
            ..Default::default()
        },
        ..Request::default()
    };
    let (container, _warnings) = create::create(store, containers, image, &request)?;
    let step = StepContainer {
        container,
        containers,
        store,
        keep: false,
    };
    out.arrow(&format!("Running in {}", step.short_id()));
    Ok(step)
}

/// Creates and runs the container; returns it with the exit code, or
/// with why its command did not start (the container stays, as Docker's).
pub fn run<'a>(
    store: &'a Store,
    containers: &'a Containers,
    global: &[OsString],
    image: &ImageId,
    spec: &Spec,
    out: &mut Output,
) -> Result<(StepContainer<'a>, Result<i32>)> {
    let step = create(store, containers, image, spec, out)?;
    let (client, monitor_end) = UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
    let mut narration = std::io::sink();
    match monitor::launch(
        global,
        &step.container.id,
        Some(monitor_end),
        None,
        &mut narration,
    )? {
        Started::Running { .. } => {}
        Started::Failed { code, message } => {
            return Ok((step, Err(Error::NotStarted { code, message })))
        }
    }
    let mut reader = client;
    let code = protocol::relay_output(&mut reader, |_, data| out.raw(data))
        .map_err(|e| {
            Error::Protocol(format!(
                "the container's monitor sent a malformed message: {e}"
            ))
        })?
        .unwrap_or(125);
    Ok((step, Ok(code)))
}
