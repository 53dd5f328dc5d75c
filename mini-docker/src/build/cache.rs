//! The build cache: step key → the image that step made. A key is the
//! parent image's ID and the step as Docker records it (`created_by`, with
//! the expanded arguments and, for `COPY`/`ADD`, the sources' content
//! hash), so a hit needs one small file read and no container. The images
//! themselves are ordinary (untagged) images whose record names their
//! parent, as Docker's classic builder leaves them.

use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use sha2::{Digest as _, Sha256};

use crate::store::{ImageId, Store};
use crate::{Error, Result};

/// `$ROOT/builder/cache/<key>`: one file per step, holding an image ID.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// One cache record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: String,
    pub image: ImageId,
    pub created: SystemTime,
    pub last_used: SystemTime,
}

/// What `builder prune` removed.
#[derive(Debug, Default)]
pub struct Pruned {
    pub entries: Vec<Entry>,
    pub images: Vec<ImageId>,
    pub bytes: u64,
}

impl Cache {
    pub fn open(store: &Store) -> Cache {
        Cache {
            dir: store.root().join("builder/cache"),
        }
    }

    /// The key of a step on `parent` (`None`: `FROM scratch`).
    pub fn key(parent: Option<&ImageId>, step: &str) -> String {
        let mut h = Sha256::new();
        h.update(parent.map_or("scratch".into(), |p| p.to_string()));
        h.update(b"\n");
        h.update(step.as_bytes());
        format!("{:x}", h.finalize())
    }

    /// The image a step made before, if it is still there; marks it used.
    pub fn get(&self, store: &Store, key: &str) -> Option<ImageId> {
        let path = self.dir.join(key);
        let id: ImageId = fs::read_to_string(&path).ok()?.trim().parse().ok()?;
        store.record(&id).ok()?;
        if let Ok(f) = fs::File::options().append(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
        Some(id)
    }

    /// Records a step's image (atomically: a temporary file renamed).
    pub fn put(&self, key: &str, id: &ImageId) -> Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let tmp = self.dir.join(format!(".{key}.{}", std::process::id()));
        fs::write(&tmp, id.to_string()).map_err(|e| Error::io(&tmp, e))?;
        let path = self.dir.join(key);
        fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Every record, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let key = e.file_name().to_string_lossy().into_owned();
                if key.starts_with('.') {
                    return None;
                }
                let meta = e.metadata().ok()?;
                let image = fs::read_to_string(e.path()).ok()?.trim().parse().ok()?;
                Some(Entry {
                    key,
                    image,
                    created: meta.created().or_else(|_| meta.modified()).ok()?,
                    last_used: meta.modified().ok()?,
                })
            })
            .collect();
        out.sort_by_key(|e| e.created);
        out
    }

    /// Images a tagged image is built on (its parent chain), and the
    /// tagged ones themselves: cache that live images still use.
    pub fn live(store: &Store) -> Result<BTreeSet<ImageId>> {
        let mut live = BTreeSet::new();
        for (_, id) in store.tags()? {
            let mut next = Some(id);
            while let Some(id) = next.take() {
                if !live.insert(id.clone()) {
                    break;
                }
                next = store.record(&id).ok().and_then(|r| r.parent);
            }
        }
        Ok(live)
    }

    /// The size of the layer a step's image added (0 for a metadata step).
    pub fn own_size(store: &Store, id: &ImageId) -> u64 {
        let Ok(config) = store.config(id) else {
            return 0;
        };
        if config.history.last().is_none_or(|h| h.empty_layer) {
            return 0;
        }
        crate::store::chain_ids(&config.rootfs.diff_ids)
            .last()
            .and_then(|c| store.layer(c).ok())
            .map_or(0, |l| l.size)
    }

    /// `builder prune`: records not used by a live image (all with `all`),
    /// older than `until` when given, and their untagged images that no
    /// container uses. The caller holds the store lock.
    pub fn prune(&self, store: &Store, all: bool, until: Option<SystemTime>) -> Result<Pruned> {
        let live = Cache::live(store)?;
        let tagged: BTreeSet<ImageId> = store.tags()?.into_iter().map(|(_, id)| id).collect();
        let mut pruned = Pruned::default();
        for entry in self.entries() {
            if !all && live.contains(&entry.image) {
                continue;
            }
            if until.is_some_and(|u| entry.created >= u) {
                continue;
            }
            let path = self.dir.join(&entry.key);
            fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            if !tagged.contains(&entry.image)
                && store.record(&entry.image).is_ok()
                && store.containers_using(&entry.image)?.is_empty()
            {
                pruned.bytes += Cache::own_size(store, &entry.image);
                pruned.images.push(entry.image.clone());
            }
            pruned.entries.push(entry);
        }
        for id in &pruned.images {
            store.delete_image(id)?;
        }
        Ok(pruned)
    }
}
