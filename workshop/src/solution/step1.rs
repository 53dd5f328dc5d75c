//! Step 1 (lesson 1): enter a root filesystem — lesson 1's library.
//! The exercise, with its hints, is `src/learner/step1.rs`.

use std::path::Path;

use crate::Result;

/// `chroot ROOTFS && cd /`.
pub fn enter(rootfs: &Path) -> Result<()> {
    Ok(chroot_demo::root::chroot(rootfs)?)
}
