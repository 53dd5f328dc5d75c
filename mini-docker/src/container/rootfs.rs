//! A container's root filesystem: the image's extracted layers, shared with
//! every other container of that image, as overlay lower dirs (top first),
//! under a writable upper dir of the container's own (lesson 4).

use std::path::{Path, PathBuf};

use overlay_demo::mount::{self, Overlay};

use crate::store::{chain_ids, ImageId, Store};
use crate::{Error, Result};

/// The directories of one container's root filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub merged: PathBuf,
    lowers: Vec<PathBuf>,
    overlay: Overlay,
}

impl Rootfs {
    /// Prepares `dir/{upper,work,merged}` for `image` (nothing mounted yet).
    pub fn new(store: &Store, image: &ImageId, dir: &Path) -> Result<Self> {
        let config = store.config(image)?;
        let mut lowers: Vec<PathBuf> = chain_ids(&config.rootfs.diff_ids)
            .iter()
            .rev()
            .map(|chain| {
                if store.has_layer(chain) {
                    Ok(store.layer_dir(chain).join("diff"))
                } else {
                    Err(Error::Corrupt(format!(
                        "image {image}: layer {chain} is missing from the store"
                    )))
                }
            })
            .collect::<Result<_>>()?;
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&upper, &work, &merged] {
            std::fs::create_dir_all(d).map_err(|e| Error::io(d, e))?;
        }
        if lowers.is_empty() {
            // An image without layers: overlayfs still wants a lower dir.
            let empty = dir.join("empty");
            std::fs::create_dir_all(&empty).map_err(|e| Error::io(&empty, e))?;
            lowers.push(empty);
        }
        let overlay = Overlay::new(lowers.clone(), upper.clone(), work.clone(), merged.clone());
        Ok(Rootfs {
            upper,
            work,
            merged,
            lowers,
            overlay,
        })
    }

    /// The image's layer directories, top first.
    pub fn lowers(&self) -> &[PathBuf] {
        &self.lowers
    }

    /// `mount -t overlay … merged`.
    pub fn mount(&self) -> Result<()> {
        Ok(self.overlay.mount()?)
    }

    /// Unmounts `merged`; not mounted is fine.
    pub fn unmount(&self) -> Result<()> {
        Ok(mount::unmount(&self.merged)?)
    }
}

#[cfg(test)]
impl Rootfs {
    /// The directories of a root filesystem of one empty layer under
    /// `dir`, for tests that record its mounts rather than make them.
    pub(crate) fn scratch(dir: &Path) -> Rootfs {
        let lowers = vec![dir.join("empty")];
        let (upper, work, merged) = (dir.join("upper"), dir.join("work"), dir.join("merged"));
        for d in [&lowers[0], &upper, &work, &merged] {
            std::fs::create_dir_all(d).unwrap();
        }
        let overlay = Overlay::new(lowers.clone(), upper.clone(), work.clone(), merged.clone());
        Rootfs {
            upper,
            work,
            merged,
            lowers,
            overlay,
        }
    }
}
