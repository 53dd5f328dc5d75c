//! Layers as tarballs: an upper dir out (`docker commit`, `docker build`),
//! a tarball in (`docker pull`), in the OCI/Docker layer format.
//!
//! Applying is the dangerous direction: a layer comes from the network. It
//! may name `../../etc/passwd` or `/etc/passwd`, plant a symlink and then
//! write through it, hard-link a file it never contained, or create device
//! nodes. [`apply`] refuses each of those with an error naming the entry,
//! never follows a symlink while writing, and touches nothing outside the
//! target directory.
//!
//! A symlink's *target* is stored as is, even one that climbs above `/`
//! (`etc/x -> ../../../../etc/passwd`), as Docker stores it: it is only
//! text until someone follows it, and whoever follows it on a container's
//! behalf resolves it inside the container's root, where `..` stops at `/`.

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{
    FileTypeExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _,
};
use std::path::{Component, Path, PathBuf};

use nix::sys::stat::{mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use tar::{EntryType, Header};

use crate::whiteout::{self, is_opaque, is_whiteout, OPAQUE_MARKER, OPAQUE_XATTR, PREFIX};
use crate::{Error, Result};

const XATTR_PAX: &str = "SCHILY.xattr.";

/// Writes the upper dir `upper` as a layer tarball: whiteouts become
/// `.wh.NAME`, opaque directories get a `.wh..wh..opq` entry, hard links
/// stay hard links, and ownership, modes, times, devices and xattrs are kept
/// (overlayfs's own `trusted.overlay.*` xattrs are not: they are spelled as
/// the markers instead).
pub fn export(upper: &Path, out: impl Write) -> Result<()> {
    tracing::info!(target: "explain", "tar -C {} --xattrs -cf - .   # whiteouts as .wh. files", upper.display());
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
    export_dir(&mut tar, upper, Path::new(""), &mut inodes)?;
    tar.into_inner()
        .map_err(|e| Error::io(upper, e))?
        .flush()
        .map_err(|e| Error::io(upper, e))?;
    Ok(())
}

fn export_dir<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    rel: &Path,
    inodes: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let name = rel.join(entry.file_name());
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let io_err = |e| Error::io(&path, e);
        if is_whiteout(&meta) {
            let marker = rel.join(format!("{PREFIX}{}", entry.file_name().to_string_lossy()));
            let mut header = header_for(&meta, EntryType::Regular, 0);
            header.set_mode(0o600);
            tar.append_data(&mut header, &marker, io::empty())
                .map_err(io_err)?;
            continue;
        }
        append_xattrs(tar, &path)?;
        let ft = meta.file_type();
        if ft.is_dir() {
            let mut header = header_for(&meta, EntryType::Directory, 0);
            tar.append_data(&mut header, &name, io::empty())
                .map_err(io_err)?;
            if is_opaque(&path) {
                let mut header = header_for(&meta, EntryType::Regular, 0);
                header.set_mode(0o600);
                tar.append_data(&mut header, name.join(OPAQUE_MARKER), io::empty())
                    .map_err(io_err)?;
            }
            export_dir(tar, root, &name, inodes)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(io_err)?;
            let mut header = header_for(&meta, EntryType::Symlink, 0);
            tar.append_link(&mut header, &name, &target)
                .map_err(io_err)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = inodes.get(&key) {
                    let mut header = header_for(&meta, EntryType::Link, 0);
                    tar.append_link(&mut header, &name, first).map_err(io_err)?;
                    continue;
                }
                inodes.insert(key, name.clone());
            }
            let mut header = header_for(&meta, EntryType::Regular, meta.len());
            let file = File::open(&path).map_err(io_err)?;
            tar.append_data(&mut header, &name, file).map_err(io_err)?;
        } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
            let kind = if ft.is_char_device() {
                EntryType::Char
            } else if ft.is_block_device() {
                EntryType::Block
            } else {
                EntryType::Fifo
            };
            let mut header = header_for(&meta, kind, 0);
            header
                .set_device_major(libc::major(meta.rdev()))
                .and_then(|()| header.set_device_minor(libc::minor(meta.rdev())))
                .map_err(io_err)?;
            tar.append_data(&mut header, &name, io::empty())
                .map_err(io_err)?;
        }
        // Sockets are not part of an image.
    }
    Ok(())
}

fn header_for(meta: &fs::Metadata, kind: EntryType, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(meta.permissions().mode() & 0o7777);
    header.set_uid(u64::from(meta.uid()));
    header.set_gid(u64::from(meta.gid()));
    header.set_mtime(meta.mtime().max(0) as u64);
    header
}

/// xattrs as PAX `SCHILY.xattr.*` records ahead of the entry; overlayfs's
/// private `trusted.overlay.*` ones are left out.
fn append_xattrs<W: Write>(tar: &mut tar::Builder<W>, path: &Path) -> Result<()> {
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut records = Vec::new();
    for name in names {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("trusted.overlay.") {
            continue;
        }
        if let Some(value) = xattr::get(path, &name).map_err(|e| Error::io(path, e))? {
            records.push((format!("{XATTR_PAX}{name}"), value));
        }
    }
    if !records.is_empty() {
        tar.append_pax_extensions(records.iter().map(|(k, v)| (k.as_str(), v.as_slice())))
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// What to do with a layer's whiteouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiteouts {
    /// Keep them as overlayfs does (char device 0/0, opaque xattr): the
    /// directory becomes a lower layer to stack under others.
    Overlay,
    /// Delete what they name: squash the layer onto the layers below,
    /// already extracted in the same directory.
    Delete,
}

/// How [`apply`] treats a tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    pub whiteouts: Whiteouts,
    /// Device nodes are refused unless allowed (whiteouts are not devices
    /// in the tarball, so they are unaffected).
    pub allow_devices: bool,
    /// Keep the tarball's uid/gid (as root); otherwise files belong to the
    /// caller.
    pub same_owner: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            whiteouts: Whiteouts::Overlay,
            allow_devices: false,
            same_owner: true,
        }
    }
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    pub entries: usize,
    pub whiteouts: usize,
    pub bytes: u64,
}

/// Applies a layer tarball to `root` (which must exist). See the module
/// notes for what is refused.
pub fn apply(input: impl Read, root: &Path, options: ApplyOptions) -> Result<Applied> {
    tracing::info!(target: "explain", "tar -C {} --xattrs -xf -   # .wh. files become whiteouts", root.display());
    let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let mut archive = tar::Archive::new(input);
    let mut applied = Applied::default();
    let mut dirs: Vec<(PathBuf, Header)> = Vec::new();
    // What this layer itself wrote: an opaque marker must not delete it.
    let mut unpacked: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries().map_err(|e| Error::io(&root, e))? {
        let mut entry = entry.map_err(|e| Error::io(&root, e))?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let Some(rel) = checked_relative(&raw, &shown)? else {
            continue; // the root itself ("./")
        };
        let target = root.join(&rel);
        ensure_parents(&root, &rel, &shown)?;
        let name = rel.file_name().unwrap_or_default().as_bytes().to_vec();
        if name.starts_with(PREFIX.as_bytes()) {
            apply_whiteout(&root, &rel, &name, options.whiteouts, &unpacked)?;
            applied.whiteouts += 1;
            continue;
        }
        let header = entry.header().clone();
        let kind = header.entry_type();
        match kind {
            EntryType::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => remove_any(&target)?,
                    Err(_) => {}
                }
                if !target.exists() {
                    fs::create_dir(&target).map_err(|e| Error::io(&target, e))?;
                }
                dirs.push((target.clone(), header.clone()));
            }
            EntryType::Regular | EntryType::Continuous => {
                remove_any(&target)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .mode(0o600)
                    .open(&target)
                    .map_err(|e| Error::io(&target, e))?;
                applied.bytes +=
                    io::copy(&mut entry, &mut file).map_err(|e| Error::io(&target, e))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| Error::hostile(&shown, "symlink without a target"))?
                    .into_owned();
                remove_any(&target)?;
                std::os::unix::fs::symlink(OsStr::from_bytes(&link), &target)
                    .map_err(|e| Error::io(&target, e))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| Error::hostile(&shown, "hard link without a target"))?
                    .into_owned();
                let link_shown = String::from_utf8_lossy(&link).into_owned();
                let source_rel = checked_relative(&link, &shown)
                    .map_err(|e| match e {
                        Error::Hostile { entry, reason } => Error::Hostile {
                            entry,
                            reason: format!("hard link target {link_shown:?}: {reason}"),
                        },
                        other => other,
                    })?
                    .ok_or_else(|| Error::hostile(&shown, "hard link to the root directory"))?;
                ensure_parents(&root, &source_rel, &shown)?;
                let source = root.join(&source_rel);
                match fs::symlink_metadata(&source) {
                    Ok(m) if !m.is_dir() => {}
                    _ => {
                        return Err(Error::hostile(
                            &shown,
                            format!(
                                "hard link to {link_shown:?}, which this layer does not contain"
                            ),
                        ))
                    }
                }
                remove_any(&target)?;
                fs::hard_link(&source, &target).map_err(|e| Error::io(&target, e))?;
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (flag, what) = match kind {
                    EntryType::Char => (SFlag::S_IFCHR, "character device"),
                    EntryType::Block => (SFlag::S_IFBLK, "block device"),
                    _ => (SFlag::S_IFIFO, "fifo"),
                };
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                if flag != SFlag::S_IFIFO && !options.allow_devices {
                    return Err(Error::hostile(
                        &shown,
                        format!("{what} {major}:{minor} not allowed in this layer"),
                    ));
                }
                remove_any(&target)?;
                let dev = libc::makedev(major, minor);
                mknod(&target, flag, Mode::from_bits_truncate(0o600), dev)
                    .map_err(|e| Error::io(&target, e.into()))?;
            }
            EntryType::XGlobalHeader
            | EntryType::XHeader
            | EntryType::GNULongName
            | EntryType::GNULongLink => continue,
            other => {
                return Err(Error::hostile(
                    &shown,
                    format!("unsupported entry type {other:?}"),
                ));
            }
        }
        applied.entries += 1;
        unpacked.insert(rel.clone());
        if kind != EntryType::Directory {
            apply_owner_mode_time(&target, &header, options, kind == EntryType::Symlink)?;
        }
        set_xattrs(&mut entry, &target)?;
    }
    // Directory times last: creating their children changed them.
    for (dir, header) in dirs.iter().rev() {
        apply_owner_mode_time(dir, header, options, false)?;
    }
    Ok(applied)
}

/// The entry's path as a relative path below the root, refusing absolute
/// paths and `..`. `None` for the root itself.
fn checked_relative(raw: &[u8], shown: &str) -> Result<Option<PathBuf>> {
    let path = Path::new(OsStr::from_bytes(raw));
    let mut rel = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => rel.push(part),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err(Error::hostile(shown, "absolute path"));
            }
            Component::ParentDir => {
                return Err(Error::hostile(shown, "path climbs out with '..'"));
            }
        }
    }
    Ok((!rel.as_os_str().is_empty()).then_some(rel))
}

/// Creates missing parent directories of `rel` and refuses to go through
/// anything that is not a real directory (a symlink planted by an earlier
/// entry could point anywhere on the host).
fn ensure_parents(root: &Path, rel: &Path, shown: &str) -> Result<()> {
    let mut dir = root.to_path_buf();
    let parents: Vec<Component> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for part in parents {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::hostile(
                    shown,
                    format!(
                        "its parent {} is a symlink; writing through it could leave the root",
                        dir.strip_prefix(root).unwrap_or(&dir).display()
                    ),
                ));
            }
            Ok(_) => {
                return Err(Error::hostile(
                    shown,
                    format!(
                        "its parent {} is not a directory",
                        dir.strip_prefix(root).unwrap_or(&dir).display()
                    ),
                ));
            }
            Err(_) => fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?,
        }
    }
    Ok(())
}

fn apply_whiteout(
    root: &Path,
    rel: &Path,
    name: &[u8],
    mode: Whiteouts,
    unpacked: &HashSet<PathBuf>,
) -> Result<()> {
    let parent_rel = rel.parent().unwrap_or(Path::new(""));
    let parent = root.join(parent_rel);
    if name == OPAQUE_MARKER.as_bytes() {
        if !parent.exists() {
            fs::create_dir(&parent).map_err(|e| Error::io(&parent, e))?;
        }
        return match mode {
            Whiteouts::Overlay => whiteout::make_opaque(&parent),
            // Squashing: what the layers below put there goes; what this
            // layer itself wrote stays.
            Whiteouts::Delete => {
                for entry in fs::read_dir(&parent)
                    .map_err(|e| Error::io(&parent, e))?
                    .flatten()
                {
                    if !unpacked.contains(&parent_rel.join(entry.file_name())) {
                        remove_any(&entry.path())?;
                    }
                }
                Ok(())
            }
        };
    }
    let hidden = &name[PREFIX.len()..];
    if hidden.is_empty() || hidden == b"." || hidden == b".." || hidden.contains(&b'/') {
        return Err(Error::hostile(
            String::from_utf8_lossy(name),
            "malformed whiteout",
        ));
    }
    let target = parent.join(OsStr::from_bytes(hidden));
    remove_any(&target)?;
    match mode {
        Whiteouts::Overlay => whiteout::make_whiteout(&target),
        Whiteouts::Delete => Ok(()),
    }
}

/// Removes whatever is at `path` (not following symlinks); absent is fine.
fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| Error::io(path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| Error::io(path, e)),
        Err(_) => Ok(()),
    }
}

fn apply_owner_mode_time(
    target: &Path,
    header: &Header,
    options: ApplyOptions,
    symlink: bool,
) -> Result<()> {
    if options.same_owner {
        let uid = header
            .uid()
            .ok()
            .map(|u| nix::unistd::Uid::from_raw(u as u32));
        let gid = header
            .gid()
            .ok()
            .map(|g| nix::unistd::Gid::from_raw(g as u32));
        std::os::unix::fs::lchown(target, uid.map(|u| u.as_raw()), gid.map(|g| g.as_raw()))
            .map_err(|e| Error::io(target, e))?;
    }
    if !symlink {
        let mode = header.mode().map_err(|e| Error::io(target, e))? & 0o7777;
        fs::set_permissions(target, fs::Permissions::from_mode(mode))
            .map_err(|e| Error::io(target, e))?;
    }
    let mtime = header.mtime().unwrap_or(0) as i64;
    let time = TimeSpec::new(mtime, 0);
    utimensat(None, target, &time, &time, UtimensatFlags::NoFollowSymlink)
        .map_err(|e| Error::io(target, e.into()))?;
    Ok(())
}

/// PAX `SCHILY.xattr.*` records, except overlayfs's own (a layer must not
/// forge whiteouts or redirects through them).
fn set_xattrs<R: Read>(entry: &mut tar::Entry<'_, R>, target: &Path) -> Result<()> {
    let Some(extensions) = entry.pax_extensions().map_err(|e| Error::io(target, e))? else {
        return Ok(());
    };
    for ext in extensions {
        let ext = ext.map_err(|e| Error::io(target, e))?;
        let Ok(key) = ext.key() else { continue };
        let Some(name) = key.strip_prefix(XATTR_PAX) else {
            continue;
        };
        if name.starts_with("trusted.overlay.") || name == OPAQUE_XATTR {
            continue;
        }
        xattr::set(target, name, ext.value_bytes()).map_err(|e| Error::io(target, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tar: &mut tar::Builder<Vec<u8>>, name: &str, kind: EntryType, link: Option<&str>) {
        let mut header = Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(0);
        header.set_mode(0o644);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            header.set_link_name(link).unwrap();
        }
        header.set_cksum();
        tar.append(&header, io::empty()).unwrap();
    }

    fn apply_one(root: &Path, build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Result<Applied> {
        let mut tar = tar::Builder::new(Vec::new());
        build(&mut tar);
        let bytes = tar.into_inner().unwrap();
        let options = ApplyOptions {
            same_owner: false,
            ..ApplyOptions::default()
        };
        apply(&bytes[..], root, options)
    }

    /// Docker stores a relative symlink that climbs above `/` as it is;
    /// writing through it, `..` in paths and hard links out stay refused.
    #[test]
    fn climbing_symlinks_are_stored_as_is_but_not_written_through() {
        let root = std::env::temp_dir().join(format!("layer-climb-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        apply_one(&root, |t| {
            entry(t, "etc/", EntryType::Directory, None);
            entry(
                t,
                "etc/x",
                EntryType::Symlink,
                Some("../../../../etc/passwd"),
            );
            entry(t, "up", EntryType::Symlink, Some(".."));
        })
        .unwrap();
        assert_eq!(
            fs::read_link(root.join("etc/x")).unwrap(),
            Path::new("../../../../etc/passwd")
        );
        assert_eq!(fs::read_link(root.join("up")).unwrap(), Path::new(".."));
        let refused = |build: &dyn Fn(&mut tar::Builder<Vec<u8>>), why: &str| {
            let err = apply_one(&root, build).unwrap_err().to_string();
            assert!(err.contains(why), "{why}: {err}");
        };
        refused(
            &|t| entry(t, "up/escaped", EntryType::Regular, None),
            "is a symlink",
        );
        refused(
            &|t| entry(t, "../escaped", EntryType::Regular, None),
            "path climbs out with '..'",
        );
        refused(
            &|t| entry(t, "hard", EntryType::Link, Some("up/etc/passwd")),
            "is a symlink",
        );
        refused(
            &|t| entry(t, "hard", EntryType::Link, Some("../../etc/passwd")),
            "path climbs out with '..'",
        );
        assert!(!root.join("hard").exists() && !root.parent().unwrap().join("escaped").exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
