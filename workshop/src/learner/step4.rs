//! Step 4 (lesson 4, `lessons/04-overlay.md`): an overlay root — the
//! image's files read-only below, the container's changes in a directory
//! of their own above.
//!
//! overlayfs merges a read-only `lowerdir` (the image) and a writable
//! `upperdir` (the container's layer) into one view at the mount point.
//! Reading finds the upper file if there is one, else the lower; creating
//! writes to upper; changing a lower file first copies it up; deleting one
//! leaves a *whiteout* in upper (a character device 0:0) that hides it.
//! `workdir` is the kernel's scratch directory: empty, on the same
//! filesystem as `upperdir`. The tests mount with your [`mount`], check
//! each of those rules, run a shell chrooted into the merged directory,
//! and unmount with your [`unmount`].
//!
//! Check your work: `cargo test -p workshop --features learner --test step4`.

use std::path::Path;

use crate::Result;

/// `mount -t overlay overlay -o lowerdir=LOWER,upperdir=UPPER,workdir=WORK
/// MERGED`: with `nix::mount::mount(Some("overlay"), merged,
/// Some("overlay"), MsFlags::empty(), Some(options.as_str()))`, where
/// `options` is that `lowerdir=…,upperdir=…,workdir=…` string (the paths
/// as they are: the tests' contain no commas or colons).
///
/// An `EINVAL` usually means a wrong option string, or an upper and work
/// directory on different filesystems.
pub fn mount(lower: &Path, upper: &Path, work: &Path, merged: &Path) -> Result<()> {
    todo!("step4: mount an overlay of `lower` (read-only) and `upper` (changes) at `merged`")
}

/// `umount MERGED` (`nix::mount::umount(merged)`): the merged view goes,
/// `upper` keeps the changes.
pub fn unmount(merged: &Path) -> Result<()> {
    todo!("step4: unmount the overlay at `merged`")
}
