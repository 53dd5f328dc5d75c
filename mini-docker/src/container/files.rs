//! A container's files from the host's side: `diff`, `commit`, `export`
//! and `cp`.
//!
//! A running container's root is reached through `/proc/PID/root`; a
//! stopped one has no mount at all (its overlay lived in its own mount
//! namespace), so a child process mounts it in a private mount namespace
//! of its own for the duration — nothing ever appears on the host.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use overlay_demo::changes::{self, Change, Kind};

use super::dir::Containers;
use super::lifecycle::{effective, is_running};
use super::record::Container;
use super::rootfs::Rootfs;
use crate::image::{self, apply_change};
use crate::reference::Reference;
use crate::spec::{History, RootFs};
use crate::store::{chain_ids, ImageId, Store};
use crate::{human, Error, Result};

/// What mini-docker itself puts in every container's upper dir — mount
/// points and the bound `/etc` files, Docker's "init layer" — and which
/// therefore is not the container's change.
pub const INIT_PATHS: [&str; 6] = [
    "/proc",
    "/sys",
    "/dev",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
];

fn rootfs(store: &Store, containers: &Containers, c: &Container) -> Result<Rootfs> {
    let image: ImageId = c
        .image
        .parse()
        .map_err(|_| Error::Corrupt(format!("bad image ID {}", c.image)))?;
    Rootfs::new(store, &image, &containers.dir(&c.id))
}

/// `docker diff`: the container's changes, without the init layer's.
pub fn diff(store: &Store, containers: &Containers, c: &Container) -> Result<Vec<Change>> {
    let fs = rootfs(store, containers, c)?;
    let all = changes::changes(&fs.upper, fs.lowers())?;
    let is_init = |ch: &Change| {
        INIT_PATHS
            .iter()
            .any(|p| ch.path == *p || ch.path.starts_with(&format!("{p}/")))
    };
    let kept: Vec<Change> = all.into_iter().filter(|ch| !is_init(ch)).collect();
    // `/etc` itself only counts if something else in it changed.
    let etc_changed = kept.iter().any(|o| o.path.starts_with("/etc/"));
    Ok(kept
        .into_iter()
        .filter(|ch| ch.path != "/etc" || ch.kind == Kind::Deleted || etc_changed)
        .collect())
}

/// Runs `f` with the container's root filesystem as a host path: through
/// `/proc/PID/root` while it runs, else mounted in a private mount
/// namespace of a child process (`f` then runs in that child; its error
/// comes back as text).
pub fn with_root(
    store: &Store,
    containers: &Containers,
    c: &Container,
    f: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let runtime = containers.runtime(&c.id)?;
    if is_running(&runtime) {
        return f(Path::new(&format!(
            "/proc/{}/root",
            effective(&runtime).pid
        )));
    }
    let fs = rootfs(store, containers, c)?;
    let (mut reader, writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let child = chroot_demo::process::spawn(move || {
        let mut writer = writer;
        let result = chroot_demo::root::new_mount_namespace()
            .and_then(|()| chroot_demo::root::make_root_private())
            .map_err(Error::from)
            .and_then(|()| fs.mount())
            .and_then(|()| f(&fs.merged));
        match result {
            Ok(()) => 0,
            Err(e) => {
                let _ = write!(writer, "{e}");
                1
            }
        }
    })?;
    let code = chroot_demo::process::wait(child)?.code();
    let mut message = String::new();
    let _ = reader.read_to_string(&mut message);
    match code {
        0 => Ok(()),
        _ if message.is_empty() => Err(Error::Usage(format!("exited with {code}"))),
        _ => Err(Error::Usage(message)),
    }
}

/// Writes `dir` as a tar stream, staying on its filesystem (so `/proc`,
/// `/sys`, `/dev` and bound files of a running container stay out, as
/// with Docker's `export`). `name` is the archive path of `dir` itself
/// (`""` for its contents at the top).
pub fn pack(path: &Path, name: &Path, out: impl Write) -> Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let device = std::fs::symlink_metadata(path)
        .map_err(|e| Error::io(path, e))?
        .dev();
    let mut pending = vec![(path.to_path_buf(), name.to_path_buf())];
    while let Some((host, archived)) = pending.pop() {
        let meta = std::fs::symlink_metadata(&host).map_err(|e| Error::io(&host, e))?;
        if meta.dev() != device {
            continue;
        }
        if !archived.as_os_str().is_empty() {
            builder
                .append_path_with_name(&host, &archived)
                .map_err(|e| Error::io(&host, e))?;
        }
        if meta.is_dir() {
            let mut children: Vec<_> = std::fs::read_dir(&host)
                .map_err(|e| Error::io(&host, e))?
                .flatten()
                .map(|e| e.file_name())
                .collect();
            children.sort();
            for child in children.into_iter().rev() {
                pending.push((host.join(&child), archived.join(&child)));
            }
        }
    }
    builder.finish().map_err(|e| Error::io(path, e))
}

/// `docker export`: the container's whole filesystem as a tarball.
pub fn export(store: &Store, containers: &Containers, c: &Container, out: &Path) -> Result<()> {
    let out = out.to_path_buf();
    with_root(store, containers, c, move |root| {
        let file = File::create(&out).map_err(|e| Error::io(&out, e))?;
        pack(root, Path::new(""), std::io::BufWriter::new(file))
    })
}

/// The commit's layer: the upper dir as a layer tarball, without the init
/// layer's paths.
fn upper_layer(store: &Store, upper: &Path) -> Result<PathBuf> {
    let raw = store.temp_path("commit-raw.tar");
    let filtered = store.temp_path("commit.tar");
    let result = (|| {
        let file = File::create(&raw).map_err(|e| Error::io(&raw, e))?;
        overlay_demo::layer::export(upper, std::io::BufWriter::new(file))?;
        let mut archive = tar::Archive::new(File::open(&raw).map_err(|e| Error::io(&raw, e))?);
        let out = File::create(&filtered).map_err(|e| Error::io(&filtered, e))?;
        let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
        for entry in archive.entries().map_err(|e| Error::io(&raw, e))? {
            let mut entry = entry.map_err(|e| Error::io(&raw, e))?;
            let path = format!(
                "/{}",
                entry.path().map_err(|e| Error::io(&raw, e))?.display()
            );
            let path = path.trim_end_matches('/');
            if INIT_PATHS
                .iter()
                .any(|p| path == *p || path.starts_with(&format!("{p}/")))
            {
                continue;
            }
            let mut header = entry.header().clone();
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| Error::io(&raw, e))?;
            builder
                .append_data(&mut header, path.trim_start_matches('/'), &data[..])
                .map_err(|e| Error::io(&filtered, e))?;
        }
        builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| Error::io(&filtered, e))
    })();
    let _ = std::fs::remove_file(&raw);
    match result {
        Ok(()) => Ok(filtered),
        Err(e) => {
            let _ = std::fs::remove_file(&filtered);
            Err(e)
        }
    }
}

/// What `commit` records beyond the layer.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub author: Option<String>,
    pub tag: Option<Reference>,
}

/// `docker commit`: the container's changes become a new layer on top of
/// its image, with its configuration and a history entry.
pub fn commit(
    store: &Store,
    containers: &Containers,
    c: &Container,
    options: &CommitOptions,
) -> Result<ImageId> {
    let parent: ImageId = c
        .image
        .parse()
        .map_err(|_| Error::Corrupt(format!("bad image ID {}", c.image)))?;
    let mut config = store.config(&parent)?;
    let manifest = store.manifest(
        &store
            .record(&parent)?
            .manifest
            .ok_or_else(|| Error::Corrupt(format!("image {parent} has no manifest")))?,
    )?;
    let run = &mut config.config;
    run.env = Some(c.config.env.clone());
    run.cmd = c.config.cmd.clone();
    run.entrypoint = c.config.entrypoint.clone();
    run.working_dir = Some(c.config.working_dir.clone()).filter(|w| w != "/");
    run.user = Some(c.config.user.clone()).filter(|u| !u.is_empty());
    for change in &options.changes {
        apply_change(run, change)?;
    }
    let upper = containers.dir(&c.id).join("upper");
    let tar = upper_layer(store, &upper)?;
    let _lock = store.lock()?;
    let parent_chain = chain_ids(&config.rootfs.diff_ids).last().cloned();
    let committed = image::commit_layer(store, &tar, parent_chain.as_ref());
    let _ = std::fs::remove_file(&tar);
    let committed = committed?;
    let now = human::rfc3339(SystemTime::now());
    let RootFs { diff_ids, .. } = &mut config.rootfs;
    diff_ids.push(committed.diff_id.clone());
    config.history.push(History {
        created: Some(now.clone()),
        created_by: Some(c.process.args.join(" ")),
        author: options.author.clone(),
        comment: options.message.clone(),
        empty_layer: false,
    });
    config.created = Some(now);
    config.author = options.author.clone();
    let mut layers = manifest.layers;
    layers.push(committed.blob);
    image::save_image(store, &config, layers, options.tag.as_ref())
}
