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
use super::protocol::{self, Message};
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

/// Why a copy into or out of a container failed (`docker cp`'s messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilesError {
    /// What the child working in the container's root reported.
    #[error("{0}")]
    InContainer(String),
    /// The child ended without a report.
    #[error("exited with {0}")]
    Exited(i32),
    #[error("cannot copy directory to file: {0}")]
    DirectoryToFile(String),
    #[error("{0}: no such directory")]
    NoSuchDirectory(String),
    #[error("{0}: no such file or directory")]
    NoParent(String),
    #[error("{0}: not a valid destination")]
    BadDestination(String),
    #[error("{0}: too many levels of symbolic links")]
    SymlinkLoop(String),
    /// `cp -` into a path that is not a directory.
    #[error("extraction point is not a directory: {0}")]
    ExtractionPoint(String),
    /// The thread that renames a copy's top entry on its way in died.
    #[error("cp: the renaming thread panicked")]
    RenamerPanicked,
}

/// A child process working inside a container's root filesystem (see
/// [`in_root`]); [`wait`](Self::wait) collects its verdict.
#[derive(Debug)]
pub struct InRoot {
    pid: nix::unistd::Pid,
    errors: std::io::PipeReader,
}

impl InRoot {
    /// The child's verdict: its report ([`Message::Failed`]) if it wrote
    /// one, else its exit code.
    pub fn wait(mut self) -> Result<()> {
        let code = chroot_demo::process::wait(self.pid)?.code();
        let report = protocol::read(&mut self.errors).map_err(|e| {
            Error::Protocol(format!("the copy's process sent a malformed report: {e}"))
        })?;
        match (code, report) {
            (0, _) => Ok(()),
            (_, Some(Message::Failed { message, .. })) => {
                Err(FilesError::InContainer(message).into())
            }
            (_, Some(other)) => Err(Error::Protocol(format!(
                "the copy's process sent {other:?}"
            ))),
            (code, None) => Err(FilesError::Exited(code).into()),
        }
    }
}

/// Runs `f` in a child process whose `/` is the container's root, so that
/// every path — symlinks included — resolves as it would inside the
/// container and nothing can lead out to the host's files. A running
/// container's mount namespace is joined (`setns`, then `chroot` to its
/// root); a stopped container's overlay is mounted in a private mount
/// namespace of the child's own. The caller talks to `f` through pipes
/// and then [`InRoot::wait`]s.
pub fn in_root(
    store: &Store,
    containers: &Containers,
    c: &Container,
    f: impl FnOnce() -> Result<()>,
) -> Result<InRoot> {
    let runtime = containers.runtime(&c.id)?;
    let running = is_running(&runtime).then(|| effective(&runtime).pid);
    let entry = match running {
        Some(pid) => {
            let root = format!("/proc/{pid}/root");
            let handles =
                ns_demo::join::open(nix::unistd::Pid::from_raw(pid), &[ns_demo::Kind::Mount])?;
            Entry::Join(handles, File::open(&root).map_err(|e| Error::io(&root, e))?)
        }
        None => Entry::Mount(rootfs(store, containers, c)?),
    };
    let (errors, mut writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let pid = chroot_demo::process::spawn(move || {
        let result = enter(entry).and_then(|()| f());
        match result {
            Ok(()) => 0,
            Err(e) => {
                let report = Message::Failed {
                    code: 1,
                    message: e.to_string(),
                };
                let _ = protocol::write(&mut writer, &report);
                1
            }
        }
    })?;
    Ok(InRoot { pid, errors })
}

/// How a child reaches a container's root.
enum Entry {
    Join(ns_demo::join::Handles, File),
    Mount(Rootfs),
}

fn enter(entry: Entry) -> Result<()> {
    use std::os::fd::AsRawFd as _;
    let root = match entry {
        Entry::Join(handles, root) => {
            handles.enter()?;
            root
        }
        Entry::Mount(fs) => {
            chroot_demo::root::new_mount_namespace()?;
            chroot_demo::root::make_root_private()?;
            fs.mount()?;
            File::open(&fs.merged).map_err(|e| Error::io(&fs.merged, e))?
        }
    };
    // SAFETY: fchdir on a directory descriptor we hold.
    if unsafe { libc::fchdir(root.as_raw_fd()) } != 0 {
        return Err(Error::io("fchdir", std::io::Error::last_os_error()));
    }
    chroot_demo::root::chroot(Path::new("."))?;
    Ok(())
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

/// `docker export`: the container's whole filesystem as a tarball,
/// written to `out`.
pub fn export(store: &Store, containers: &Containers, c: &Container, out: File) -> Result<()> {
    in_root(store, containers, c, move || {
        pack(Path::new("/"), Path::new(""), std::io::BufWriter::new(out))
    })?
    .wait()
}

/// Where a copied tree lands, by `docker cp`'s rules: into an existing
/// directory under the source's name (or its contents, for `SRC/.`),
/// otherwise under the destination's name in its parent directory. `dest`
/// is as the user typed it; `src_is_dir` comes from the archive.
pub fn landing(dest: &str, src_is_dir: bool) -> Result<(PathBuf, Option<PathBuf>)> {
    let path = Path::new(dest);
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok((path.to_path_buf(), None)),
        Ok(_) if src_is_dir => Err(FilesError::DirectoryToFile(dest.into()).into()),
        Err(_) if dest.ends_with('/') && !src_is_dir => {
            Err(FilesError::NoSuchDirectory(dest.into()).into())
        }
        _ => {
            let parent = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(FilesError::NoParent(parent.display().to_string()).into());
            }
            let name = path
                .file_name()
                .map(PathBuf::from)
                .ok_or_else(|| FilesError::BadDestination(dest.into()))?;
            Ok((parent.to_path_buf(), Some(name)))
        }
    }
}

/// A `cp` destination that is a symlink is written through (Docker's
/// client follows it): the path it leads to, relative to the link's
/// directory, as the process sees `/` (a container's root after
/// [`in_root`]). Anything else is returned as given.
fn through_links(dest: &str) -> Result<String> {
    let mut path = PathBuf::from(dest);
    if dest.ends_with('/') || dest.ends_with("/.") {
        return Ok(dest.to_string());
    }
    for _ in 0..40 {
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
                let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
                path = parent.join(target);
            }
            _ => return Ok(path.to_string_lossy().into_owned()),
        }
    }
    Err(FilesError::SymlinkLoop(dest.into()).into())
}

/// Unpacks a `cp` archive at `dest` by [`landing`]'s rules, with lesson
/// 4's hardened extraction. The archive's top entry is the copied file or
/// directory — or, with `contents` (`SRC/.`), its entries are a
/// directory's contents, which land in `dest` (created if missing).
///
/// The archive streams through: only the first entry's header is read
/// ahead (it decides where everything lands), so a copy of any size needs
/// no more memory than one tar block or so. Whatever the extraction leaves
/// unread is drained, so that the writer at the other end of a pipe never
/// fails on a reader that went away.
pub fn unpack_copy(
    archive: impl Read + Send,
    dest: &str,
    contents: bool,
    same_owner: bool,
) -> Result<()> {
    let mut archive = archive;
    let unpacked = unpack_stream(&mut archive, dest, contents, same_owner);
    let _ = std::io::copy(&mut archive, &mut std::io::sink());
    unpacked
}

fn unpack_stream(
    archive: impl Read + Send,
    dest: &str,
    contents: bool,
    same_owner: bool,
) -> Result<()> {
    let dest = &through_links(dest)?;
    let options = overlay_demo::layer::ApplyOptions {
        whiteouts: overlay_demo::layer::Whiteouts::Delete,
        allow_devices: false,
        same_owner,
    };
    if contents {
        let dir = Path::new(dest);
        if !dir.is_dir() {
            std::fs::create_dir(dir).map_err(|e| Error::io(dir, e))?;
        }
        overlay_demo::layer::apply(archive, dir, options)?;
        return Ok(());
    }
    // The first entry's header, read through a recorder and then replayed
    // in front of the rest of the stream.
    let mut recorder = Recorder {
        inner: archive,
        seen: Vec::new(),
    };
    let first = {
        let mut peek = tar::Archive::new(&mut recorder);
        let mut entries = peek.entries().map_err(|e| Error::io(dest, e))?;
        match entries.next().transpose().map_err(|e| Error::io(dest, e))? {
            Some(entry) => Some((
                entry.path().map_err(|e| Error::io(dest, e))?.into_owned(),
                entry.header().entry_type().is_dir(),
            )),
            None => None,
        }
    };
    let Some((top, src_is_dir)) = first else {
        return Ok(());
    };
    let replay = std::io::Cursor::new(std::mem::take(&mut recorder.seen)).chain(recorder.inner);
    let (dir, rename) = landing(dest, src_is_dir)?;
    match rename {
        // The top entry (and everything below it) lands under another
        // name: renamed on the way, by a thread writing the renamed
        // archive into a pipe that the extraction reads.
        Some(name) if top.components().count() == 1 => {
            let (mut reader, writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
            std::thread::scope(|scope| {
                let renaming = scope.spawn(move || rename_top(replay, &top, &name, writer, dest));
                let applied = overlay_demo::layer::apply(&mut reader, &dir, options);
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
                let renamed = renaming
                    .join()
                    .unwrap_or_else(|_| Err(FilesError::RenamerPanicked.into()));
                applied?;
                renamed
            })
        }
        _ => {
            overlay_demo::layer::apply(replay, &dir, options)?;
            Ok(())
        }
    }
}

/// A reader that keeps a copy of what it has read.
struct Recorder<R> {
    inner: R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Recorder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Writes `archive` to `out` with its top entry `top` renamed to `name`,
/// entry by entry (each entry's data streams through).
fn rename_top(
    archive: impl Read,
    top: &Path,
    name: &Path,
    out: impl Write,
    dest: &str,
) -> Result<()> {
    let mut out = tar::Builder::new(out);
    let mut archive = tar::Archive::new(archive);
    for entry in archive.entries().map_err(|e| Error::io(dest, e))? {
        let mut entry = entry.map_err(|e| Error::io(dest, e))?;
        let path = entry.path().map_err(|e| Error::io(dest, e))?.into_owned();
        let rest = path.strip_prefix(top).unwrap_or(&path);
        let new = if rest.as_os_str().is_empty() {
            name.to_path_buf()
        } else {
            name.join(rest)
        };
        let mut header = entry.header().clone();
        if header.entry_type().is_symlink() || header.entry_type().is_hard_link() {
            let target = header
                .link_name()
                .map_err(|e| Error::io(dest, e))?
                .map(|t| t.into_owned())
                .unwrap_or_default();
            out.append_link(&mut header, &new, target)
                .map_err(|e| Error::io(dest, e))?;
        } else {
            out.append_data(&mut header, &new, &mut entry)
                .map_err(|e| Error::io(dest, e))?;
        }
    }
    out.finish().map_err(|e| Error::io(dest, e))
}

/// How [`pack_copy`] treats a source that is a symlink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Follow {
    /// The link itself (`docker cp`'s default).
    No,
    /// What it points to, under the link's own name (`-L` into a
    /// directory or file).
    KeepName,
    /// What it points to, under the target's name (`-L` to a tar stream,
    /// as Docker's daemon sends it).
    TargetName,
}

/// `path` with its symlinks resolved as the process sees `/`: inside a
/// container's root after [`in_root`], where `..` stops at its `/`.
fn resolve_here(path: &Path) -> Result<PathBuf> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .map_err(|e| Error::io(".", e))?
            .join(path)
    };
    super::scope::resolve(Path::new("/"), &absolute)
}

/// A `cp` source as an archive: `SRC` as its top entry, or `SRC/.` as the
/// directory's contents. `SRC/.` and `SRC/` go through a symlink `SRC`
/// (Docker resolves all but a last component without a slash); `follow`
/// says what happens to a symlink `SRC` otherwise.
pub fn pack_copy(src: &str, follow: Follow, out: impl Write) -> Result<()> {
    let contents = src.ends_with("/.");
    let trimmed = src.trim_end_matches("/.");
    let through = contents || (trimmed.ends_with('/') && trimmed.len() > 1);
    let trimmed = if trimmed.len() > 1 {
        trimmed.trim_end_matches('/')
    } else {
        trimmed
    };
    let given = Path::new(if trimmed.is_empty() { "/" } else { trimmed });
    let missing = || Error::NotFound(format!("Could not find the file {src}"));
    let is_link = std::fs::symlink_metadata(given)
        .map_err(|_| missing())?
        .file_type()
        .is_symlink();
    let path = if is_link && (through || follow != Follow::No) {
        let resolved = resolve_here(given)?;
        if std::fs::symlink_metadata(&resolved).is_err() {
            return Err(missing());
        }
        resolved
    } else {
        given.to_path_buf()
    };
    let name = match (contents, follow, given.file_name(), path.file_name()) {
        (true, ..) => PathBuf::new(),
        (false, Follow::TargetName, _, Some(name)) => PathBuf::from(name),
        (false, _, Some(name), _) => PathBuf::from(name),
        _ => PathBuf::new(),
    };
    pack(&path, &name, out)
}

/// The commit's layer: the upper dir as a layer tarball, without the init
/// layer's paths.
pub fn upper_layer(store: &Store, upper: &Path) -> Result<PathBuf> {
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
