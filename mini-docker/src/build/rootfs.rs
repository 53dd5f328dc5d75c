//! An image's filesystem read straight from its extracted layers (top
//! layer first; overlay whiteouts and opaque directories honoured), with
//! no mount: what `COPY` needs to know about its destination, `WORKDIR`
//! about its directory, and `COPY --from` to read a stage's files.

use std::collections::BTreeMap;
use std::fs::{self, Metadata};
use std::path::PathBuf;

use crate::spec::ImageConfig;
use crate::store::{chain_ids, Store};

/// The layers of one image, topmost first.
#[derive(Debug, Clone, Default)]
pub struct RootView {
    layers: Vec<PathBuf>,
}

impl RootView {
    pub fn new(store: &Store, config: &ImageConfig) -> RootView {
        let layers = chain_ids(&config.rootfs.diff_ids)
            .iter()
            .rev()
            .map(|c| store.layer_dir(c).join("diff"))
            .collect();
        RootView { layers }
    }

    /// A path (relative, cleaned) as the merged root has it: the host
    /// path in the layer that provides it, and its metadata.
    pub fn lookup(&self, rel: &str) -> Option<(PathBuf, Metadata)> {
        if rel.is_empty() {
            let top = self.layers.first()?;
            return fs::symlink_metadata(top).ok().map(|m| (top.clone(), m));
        }
        for layer in &self.layers {
            let path = layer.join(rel);
            match fs::symlink_metadata(&path) {
                Ok(m) if overlay_demo::whiteout::is_whiteout(&m) => return None,
                Ok(m) => return Some((path, m)),
                Err(_) => {}
            }
            // An opaque or whited-out ancestor in this layer hides the
            // layers below.
            let mut ancestor = std::path::Path::new(rel).parent();
            while let Some(a) = ancestor.filter(|a| !a.as_os_str().is_empty()) {
                let p = layer.join(a);
                if let Ok(m) = fs::symlink_metadata(&p) {
                    if overlay_demo::whiteout::is_whiteout(&m)
                        || (m.is_dir() && overlay_demo::whiteout::is_opaque(&p))
                    {
                        return None;
                    }
                }
                ancestor = a.parent();
            }
        }
        None
    }

    /// A directory's merged entries: name → host path and metadata.
    pub fn list(&self, rel: &str) -> BTreeMap<String, (PathBuf, Metadata)> {
        let mut out = BTreeMap::new();
        let mut hidden = std::collections::BTreeSet::new();
        for layer in &self.layers {
            let dir = layer.join(rel);
            let Ok(m) = fs::symlink_metadata(&dir) else {
                continue;
            };
            if overlay_demo::whiteout::is_whiteout(&m) || !m.is_dir() {
                break;
            }
            for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if out.contains_key(&name) || hidden.contains(&name) {
                    continue;
                }
                let Ok(meta) = entry.metadata() else { continue };
                if overlay_demo::whiteout::is_whiteout(&meta) {
                    hidden.insert(name);
                } else {
                    out.insert(name, (entry.path(), meta));
                }
            }
            if overlay_demo::whiteout::is_opaque(&dir) {
                break;
            }
        }
        out
    }
}
