//! The image store under `$ROOT`:
//!
//! ```text
//! blobs/sha256/<hex>          layers (gzip tar), configs, manifests — verified, atomic
//! images/repositories.json    tags: "busybox:latest" -> image ID
//! images/db/<id>.json         per image: its manifest digest and repo digests
//! layers/<chain-id>/diff      extracted layers, shared by every image that has them
//! layers/<chain-id>/layer.json
//! tmp/                        work in progress; anything here after a crash is garbage
//! ```
//!
//! State changes take an exclusive `flock` on `$ROOT/.lock`. Every file is
//! written to `tmp/` first and renamed into place, so a crash leaves either
//! the old or the new state. Layers are kept as long as any image needs
//! them: removal recomputes what is referenced instead of trusting stored
//! counters.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::digest::{Digest, Hashing};
use crate::reference::Reference;
use crate::spec::{ImageConfig, Manifest};
use crate::{Error, Result};

/// An image's identity: the digest of its configuration.
pub type ImageId = Digest;

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Held while changing the store; released on drop.
#[derive(Debug)]
pub struct Lock {
    _guard: Flock<File>,
}

/// What the store records about an image beyond its blobs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    pub manifest: Option<Digest>,
    /// `busybox@sha256:…` — manifests as a registry knows them.
    #[serde(default)]
    pub repo_digests: BTreeSet<String>,
    /// The image a build step was made on (Docker's `Parent`): `images`
    /// hides an untagged parent as an intermediate image, and `image
    /// prune` keeps it (it is build cache, see `build::cache`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ImageId>,
}

/// Docker's `repositories.json` shape: repository → reference → image ID.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories")]
    repositories: BTreeMap<String, BTreeMap<String, ImageId>>,
}

/// An extracted layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRecord {
    pub chain_id: Digest,
    pub diff_id: Digest,
    pub parent: Option<Digest>,
    /// Uncompressed size.
    pub size: u64,
}

/// `chain(0) = diff_id(0)`, `chain(n) = sha256(chain(n-1) + " " + diff_id(n))`:
/// a layer's identity including everything below it.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for diff in diff_ids {
        let next = match out.last() {
            None => diff.clone(),
            Some(parent) => Digest::of(format!("{parent} {diff}").as_bytes()),
        };
        out.push(next);
    }
    out
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        crate::damage::create_private(&root)?;
        for dir in ["blobs/sha256", "images/db", "layers", "tmp"] {
            let d = root.join(dir);
            fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let store = Store { root };
        store.remove_stale_temporaries();
        Ok(store)
    }

    /// Work a killed command left in `tmp/` (named `what-<pid>-<n>`) is
    /// garbage once that process is gone.
    fn remove_stale_temporaries(&self) {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let path = entry.path();
                let _ = if path.is_dir() {
                    fs::remove_dir_all(&path)
                } else {
                    fs::remove_file(&path)
                };
            }
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store's exclusive lock.
    pub fn lock(&self) -> Result<Lock> {
        let path = self.root.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Flock::lock(file, FlockArg::LockExclusive)
            .map(|guard| Lock { _guard: guard })
            .map_err(|(_, e)| Error::io(&path, e.into()))
    }

    /// A fresh path in `tmp/` (files or directories).
    pub fn temp_path(&self, what: &str) -> PathBuf {
        self.root.join("tmp").join(format!(
            "{what}-{}-{}",
            std::process::id(),
            TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ))
    }

    // ----- blobs -----

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Stores bytes as a blob; returns their digest.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        if !self.has_blob(&digest) {
            let tmp = self.temp_path("blob");
            write_synced(&tmp, bytes)?;
            self.rename(&tmp, &self.blob_path(&digest))?;
        }
        Ok(digest)
    }

    /// Moves a finished temporary file into the blob store after checking
    /// that its content has the `expected` digest (when given).
    pub fn adopt_blob(&self, tmp: &Path, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut hashing = Hashing::new(File::open(tmp).map_err(|e| Error::io(tmp, e))?);
        std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::io(tmp, e))?;
        let (_, digest, size) = hashing.finish();
        if let Some(expected) = expected {
            if &digest != expected {
                let _ = fs::remove_file(tmp);
                return Err(Error::Corrupt(format!(
                    "blob {expected}: content has digest {digest}"
                )));
            }
        }
        self.rename(tmp, &self.blob_path(&digest))?;
        Ok((digest, size))
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::Corrupt(format!("blob {digest} is missing from the store"))
            }
            _ => Error::io(&path, e),
        })
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| Error::io(&path, e))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        fs::rename(from, to).map_err(|e| Error::io(to, e))
    }

    // ----- layers -----

    pub fn layer_dir(&self, chain: &Digest) -> PathBuf {
        self.root.join("layers").join(chain.hex())
    }

    pub fn has_layer(&self, chain: &Digest) -> bool {
        self.layer_dir(chain).join("layer.json").is_file()
    }

    pub fn layer(&self, chain: &Digest) -> Result<LayerRecord> {
        let path = self.layer_dir(chain).join("layer.json");
        read_json(&path)
    }

    /// Puts an extracted directory into place as the layer `record`
    /// (`extracted` becomes `layers/<chain>/diff`). A layer that appeared
    /// meanwhile (a concurrent pull) wins; `extracted` is then discarded.
    pub fn adopt_layer(&self, extracted: &Path, record: &LayerRecord) -> Result<()> {
        if self.has_layer(&record.chain_id) {
            let _ = fs::remove_dir_all(extracted);
            return Ok(());
        }
        let staging = self.temp_path("layer");
        fs::create_dir(&staging).map_err(|e| Error::io(&staging, e))?;
        self.rename(extracted, &staging.join("diff"))?;
        write_json(&staging.join("layer.json"), record)?;
        let target = self.layer_dir(&record.chain_id);
        match fs::rename(&staging, &target) {
            Ok(()) => Ok(()),
            Err(_) if self.has_layer(&record.chain_id) => {
                let _ = fs::remove_dir_all(&staging);
                Ok(())
            }
            Err(e) => Err(Error::io(&target, e)),
        }
    }

    // ----- images -----

    fn repositories_path(&self) -> PathBuf {
        self.root.join("images/repositories.json")
    }

    fn repositories(&self) -> Result<Repositories> {
        let path = self.repositories_path();
        if !path.exists() {
            return Ok(Repositories::default());
        }
        read_json(&path)
    }

    /// Every tag (`busybox:latest`) with its image ID, sorted.
    /// A damaged tag file lists no tags (and says so); changing tags still
    /// fails on it, so that nothing overwrites what may be repaired.
    pub fn tags(&self) -> Result<Vec<(Reference, ImageId)>> {
        let repositories = match self.repositories() {
            Err(e) if crate::damage::is_damage(&e) => {
                crate::damage::report(&self.repositories_path(), &e);
                Repositories::default()
            }
            other => other?,
        };
        let mut out = Vec::new();
        for refs in repositories.repositories.into_values() {
            for (name, id) in refs {
                if let Ok(r) = name.parse::<Reference>() {
                    out.push((r, id));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Points `reference` at `id` (the caller holds the lock).
    pub fn tag(&self, reference: &Reference, id: &ImageId) -> Result<()> {
        let mut repos = self.repositories()?;
        repos
            .repositories
            .entry(reference.familiar_name())
            .or_default()
            .insert(reference.familiar(), id.clone());
        write_json_atomic(self, &self.repositories_path(), &repos)
    }

    /// Removes a tag; returns whether it existed (the caller holds the lock).
    pub fn untag(&self, reference: &Reference) -> Result<bool> {
        let mut repos = self.repositories()?;
        let name = reference.familiar_name();
        let removed = repos
            .repositories
            .get_mut(&name)
            .and_then(|refs| refs.remove(&reference.familiar()))
            .is_some();
        if repos
            .repositories
            .get(&name)
            .is_some_and(BTreeMap::is_empty)
        {
            repos.repositories.remove(&name);
        }
        if removed {
            write_json_atomic(self, &self.repositories_path(), &repos)?;
        }
        Ok(removed)
    }

    fn record_path(&self, id: &ImageId) -> PathBuf {
        self.root
            .join("images/db")
            .join(format!("{}.json", id.hex()))
    }

    /// Every image in the store (tagged or not).
    pub fn images(&self) -> Result<Vec<ImageId>> {
        let dir = self.root.join("images/db");
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir)
            .map_err(|e| Error::io(&dir, e))?
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(hex) = name.strip_suffix(".json") {
                if let Ok(id) = format!("sha256:{hex}").parse() {
                    ids.push(id);
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    pub fn record(&self, id: &ImageId) -> Result<ImageRecord> {
        read_json(&self.record_path(id))
    }

    pub fn put_record(&self, id: &ImageId, record: &ImageRecord) -> Result<()> {
        write_json_atomic(self, &self.record_path(id), record)
    }

    pub fn config(&self, id: &ImageId) -> Result<ImageConfig> {
        let bytes = self.read_blob(id)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Corrupt(format!("image config {id}: {e}")))
    }

    pub fn manifest(&self, digest: &Digest) -> Result<Manifest> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::Corrupt(format!("manifest {digest}: {e}")))
    }

    /// Finds an image by reference, full or short ID (`e3b0c442…`), or
    /// `sha256:` prefix, as `docker rmi`/`inspect` accept.
    pub fn resolve(&self, name: &str) -> Result<ImageId> {
        let hex_prefix = name.strip_prefix("sha256:").unwrap_or(name);
        let looks_like_id =
            hex_prefix.len() >= 3 && hex_prefix.bytes().all(|b| b.is_ascii_hexdigit());
        if let Ok(reference) = name.parse::<Reference>() {
            if let Some((_, id)) = self.tags()?.into_iter().find(|(r, _)| *r == reference) {
                return Ok(id);
            }
            if let Some(digest) = &reference.digest {
                for id in self.images()? {
                    let record = self.record(&id)?;
                    if record.manifest.as_ref() == Some(digest) {
                        return Ok(id);
                    }
                }
            }
        }
        if looks_like_id {
            let matches: Vec<ImageId> = self
                .images()?
                .into_iter()
                .filter(|id| id.hex().starts_with(hex_prefix))
                .collect();
            match matches.len() {
                1 => return Ok(matches.into_iter().next().expect("one match")),
                0 => {}
                _ => return Err(crate::image::ImageError::AmbiguousPrefix(name.into()).into()),
            }
        }
        let shown = name
            .parse::<Reference>()
            .map(|r| r.familiar())
            .unwrap_or_else(|_| name.to_string());
        Err(Error::NotFound(format!("No such image: {shown}")))
    }

    /// Deletes the image's record, then every blob and layer that no
    /// remaining image needs; returns the layers removed. The caller holds
    /// the lock.
    pub fn delete_image(&self, id: &ImageId) -> Result<Vec<Digest>> {
        let _ = fs::remove_file(self.record_path(id));
        self.collect_garbage()
    }

    /// Containers (`containers/<id>/config.json`, whose `Image` is the
    /// image ID they run) that use `id`.
    pub fn containers_using(&self, id: &ImageId) -> Result<Vec<String>> {
        let dir = self.root.join("containers");
        let mut users = Vec::new();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(users);
        };
        for entry in entries.flatten() {
            let config = entry.path().join("config.json");
            let Ok(text) = fs::read_to_string(&config) else {
                continue;
            };
            let value: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::Corrupt(format!("{}: {e}", config.display())))?;
            if value["Image"].as_str() == Some(id.to_string().as_str()) {
                users.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        users.sort();
        Ok(users)
    }

    /// Images that are another image's build parent.
    pub fn parents(&self) -> Result<BTreeSet<ImageId>> {
        let mut out = BTreeSet::new();
        for id in self.images()? {
            if let Some(p) = self.record(&id)?.parent {
                out.insert(p);
            }
        }
        Ok(out)
    }

    /// The blobs and the layers (chain IDs) some image refers to.
    pub fn referenced(&self) -> Result<(BTreeSet<Digest>, BTreeSet<Digest>)> {
        let mut blobs = BTreeSet::new();
        let mut layers = BTreeSet::new();
        for id in self.images()? {
            blobs.insert(id.clone());
            let record = self.record(&id)?;
            if let Some(m) = &record.manifest {
                blobs.insert(m.clone());
                if let Ok(manifest) = self.manifest(m) {
                    blobs.extend(manifest.layers.into_iter().map(|l| l.digest));
                }
            }
            if let Ok(config) = self.config(&id) {
                layers.extend(chain_ids(&config.rootfs.diff_ids));
            }
        }
        Ok((blobs, layers))
    }

    /// Removes blobs and layers no image refers to.
    pub fn collect_garbage(&self) -> Result<Vec<Digest>> {
        let (blobs, layers) = self.referenced()?;
        let mut removed = Vec::new();
        let layer_root = self.root.join("layers");
        for entry in fs::read_dir(&layer_root)
            .map_err(|e| Error::io(&layer_root, e))?
            .flatten()
        {
            let Ok(chain) =
                format!("sha256:{}", entry.file_name().to_string_lossy()).parse::<Digest>()
            else {
                continue;
            };
            if !layers.contains(&chain) {
                fs::remove_dir_all(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
                removed.push(chain);
            }
        }
        let blob_root = self.root.join("blobs/sha256");
        for entry in fs::read_dir(&blob_root)
            .map_err(|e| Error::io(&blob_root, e))?
            .flatten()
        {
            let Ok(digest) =
                format!("sha256:{}", entry.file_name().to_string_lossy()).parse::<Digest>()
            else {
                continue;
            };
            if !blobs.contains(&digest) {
                fs::remove_file(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
            }
        }
        Ok(removed)
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = File::create(path).map_err(|e| Error::io(path, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io(path, e))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("{}: {e}", path.display())))
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Corrupt(e.to_string()))?;
    write_synced(path, &bytes)
}

/// Temporary file in the store, then rename: never half a JSON file.
fn write_json_atomic(store: &Store, path: &Path, value: &impl Serialize) -> Result<()> {
    let tmp = store.temp_path("json");
    write_json(&tmp, value)?;
    store.rename(&tmp, path)
}
