//! Step 4 (lesson 4): an overlay root — lesson 4's library. The exercise,
//! with its hints, is `src/learner/step4.rs`.

use std::path::Path;

use overlay_demo::mount::Overlay;

use crate::Result;

/// `mount -t overlay overlay -o lowerdir=…,upperdir=…,workdir=… MERGED`.
pub fn mount(lower: &Path, upper: &Path, work: &Path, merged: &Path) -> Result<()> {
    let overlay = Overlay::new(
        vec![lower.to_path_buf()],
        upper.to_path_buf(),
        work.to_path_buf(),
        merged.to_path_buf(),
    );
    Ok(overlay.mount()?)
}

/// `umount MERGED`.
pub fn unmount(merged: &Path) -> Result<()> {
    Ok(overlay_demo::mount::unmount(merged)?)
}
