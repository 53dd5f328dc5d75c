//! How overlayfs and image layers record deletions.
//!
//! In an upper dir, overlayfs marks a deleted lower file with a *whiteout*:
//! a character device with device number 0/0 under the same name. A
//! directory that replaces a lower one entirely carries the xattr
//! `trusted.overlay.opaque=y`. Layer tarballs cannot rely on devices or
//! trusted xattrs, so the OCI and Docker formats spell them as files:
//! `.wh.NAME` for a whiteout and `.wh..wh..opq` inside an opaque directory.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::Path;

use nix::sys::stat::{mknod, Mode, SFlag};

use crate::{Error, Result};

pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// The prefix of a whiteout entry in a layer tarball.
pub const PREFIX: &str = ".wh.";
/// The entry marking its directory opaque in a layer tarball.
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// Whether this upper-dir entry is an overlay whiteout (char device 0/0).
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// Whether this directory is marked opaque.
pub fn is_opaque(dir: &Path) -> bool {
    matches!(xattr::get(dir, OPAQUE_XATTR), Ok(Some(v)) if v == b"y")
}

/// `mknod PATH c 0 0`: what overlayfs itself creates on `rm`.
pub fn make_whiteout(path: &Path) -> Result<()> {
    chroot_demo::error::step(format!("mknod {} c 0 0", path.display()), || {
        mknod(path, SFlag::S_IFCHR, Mode::empty(), 0)
    })?;
    Ok(())
}

/// `setfattr -n trusted.overlay.opaque -v y DIR`.
pub fn make_opaque(dir: &Path) -> Result<()> {
    tracing::info!(target: "explain", "setfattr -n {OPAQUE_XATTR} -v y {}", dir.display());
    xattr::set(dir, OPAQUE_XATTR, b"y").map_err(|e| Error::io(dir, e))
}
