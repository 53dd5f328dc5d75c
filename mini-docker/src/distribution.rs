//! `pull` and `push`: moving images between the store and a registry.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::Mutex;

use overlay_demo::layer::{self, ApplyOptions, Whiteouts};

use crate::auth::AuthStore;
use crate::digest::{Digest, Hashing};
use crate::reference::Reference;
use crate::registry::Registry;
use crate::spec::{self, Descriptor, ImageConfig, Manifest};
use crate::store::{chain_ids, ImageId, LayerRecord, Store};
use crate::{Error, Result};

/// How a layer blob is compressed, from its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Zstd,
}

fn compression(media_type: &str) -> Result<Compression> {
    match media_type {
        t if t.ends_with("+gzip") || t.ends_with(".tar.gzip") => Ok(Compression::Gzip),
        t if t.ends_with("+zstd") => Ok(Compression::Zstd),
        t if t.ends_with(".tar") || t.ends_with("diff.tar") => Ok(Compression::None),
        other => Err(Error::Corrupt(format!(
            "unknown layer media type {other:?}"
        ))),
    }
}

fn decompressed(file: File, how: Compression) -> Result<Box<dyn Read>> {
    let reader = BufReader::new(file);
    Ok(match how {
        Compression::None => Box::new(reader),
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(reader)),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(reader)
                .map_err(|e| Error::Corrupt(format!("zstd layer: {e}")))?,
        ),
    })
}

/// Picks this platform's manifest out of a manifest list / OCI index.
fn pick_platform(index: &serde_json::Value) -> Result<Digest> {
    let arch = spec::host_architecture();
    index
        .get("manifests")
        .and_then(|m| m.as_array())
        .into_iter()
        .flatten()
        .find(|m| {
            let p = &m["platform"];
            p["os"] == "linux" && p["architecture"] == arch
        })
        .and_then(|m| m["digest"].as_str())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no matching manifest for linux/{arch} in the manifest list entries"
            ))
        })?
        .parse()
        .map_err(Error::Corrupt)
}

/// Where progress goes: events in Docker's wording (`<layer>: Pull
/// complete`), and download byte counts.
pub trait Progress: Sync {
    fn line(&self, text: &str);
    /// `layer` (12 hex digits) has `done` of `total` bytes.
    fn downloading(&self, _layer: &str, _done: u64, _total: u64) {}
}

/// Docker's terminal view: a line per layer that is rewritten in place, with
/// a bar and sizes while it downloads; other events print above them.
pub struct Bars {
    multi: indicatif::MultiProgress,
    layers: Mutex<std::collections::HashMap<String, indicatif::ProgressBar>>,
}

impl std::fmt::Debug for Bars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Bars")
    }
}

impl Default for Bars {
    fn default() -> Self {
        Bars {
            multi: indicatif::MultiProgress::new(),
            layers: Mutex::default(),
        }
    }
}

impl Bars {
    fn bar(&self, layer: &str) -> indicatif::ProgressBar {
        let mut layers = self.layers.lock().unwrap_or_else(|e| e.into_inner());
        layers
            .entry(layer.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(indicatif::ProgressBar::new(0));
                bar.set_style(text_only());
                bar.set_prefix(layer.to_string());
                bar
            })
            .clone()
    }
}

/// `a1b2c3d4e5f6: Pull complete`.
fn text_only() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{prefix}: {msg}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
}

/// `a1b2c3d4e5f6: Downloading [=====>      ] 1.2 MiB/2.1 MiB`.
fn with_bar() -> indicatif::ProgressStyle {
    indicatif::ProgressStyle::with_template("{prefix}: {msg} [{bar:40}] {bytes}/{total_bytes}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Progress for Bars {
    fn line(&self, text: &str) {
        match text.split_once(": ") {
            Some((layer, status))
                if layer.len() == 12 && layer.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                let bar = self.bar(layer);
                if matches!(
                    status,
                    "Pull complete" | "Already exists" | "Pushed" | "Layer already exists"
                ) || status.starts_with("Mounted from")
                {
                    bar.set_style(text_only());
                    bar.finish_with_message(status.to_string());
                } else {
                    bar.set_message(status.to_string());
                }
            }
            _ => {
                let _ = self.multi.println(text);
            }
        }
    }

    fn downloading(&self, layer: &str, done: u64, total: u64) {
        let bar = self.bar(layer);
        if bar.message() != "Downloading" {
            bar.set_style(with_bar());
            bar.set_message("Downloading");
        }
        bar.set_length(total.max(done));
        bar.set_position(done);
    }
}

/// Prints progress lines on stdout (nothing when quiet).
#[derive(Debug)]
pub struct Lines {
    pub quiet: bool,
}

impl Progress for Lines {
    fn line(&self, text: &str) {
        if !self.quiet {
            println!("{text}");
        }
    }
}

/// At most this many layers download at once.
const PARALLEL: usize = 3;

/// What a pull put into the store, to take back out if it fails.
#[derive(Debug, Default)]
struct Added {
    blobs: Mutex<Vec<Digest>>,
    layers: Mutex<Vec<Digest>>,
}

/// A pull that could not finish for reasons of its own (the registry's are
/// [`crate::registry::RegistryError`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullError {
    #[error("a download thread panicked")]
    ThreadPanicked,
    #[error("pull of {0} raced with a failing pull of the same content; run it again")]
    Raced(String),
}

/// `docker pull`: returns the image ID. A pull that fails removes the blobs
/// and layers it added (unless an image already uses them), so the store
/// holds nothing partial.
pub fn pull(
    store: &Store,
    auth: &AuthStore,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<ImageId> {
    let added = Added::default();
    let result = pull_into(store, auth, reference, progress, &added);
    if result.is_err() {
        let _lock = store.lock()?;
        let used = store.referenced()?;
        for blob in added.blobs.into_inner().unwrap_or_else(|e| e.into_inner()) {
            if !used.0.contains(&blob) {
                let _ = std::fs::remove_file(store.blob_path(&blob));
            }
        }
        for layer in added.layers.into_inner().unwrap_or_else(|e| e.into_inner()) {
            if !used.1.contains(&layer) {
                let _ = std::fs::remove_dir_all(store.layer_dir(&layer));
            }
        }
    }
    result
}

fn pull_into(
    store: &Store,
    auth: &AuthStore,
    reference: &Reference,
    progress: &dyn Progress,
    added: &Added,
) -> Result<ImageId> {
    let registry = Registry::new(&reference.registry, auth.get(&reference.registry)?)?;
    let repo = &reference.path;
    let wanted = reference
        .digest
        .as_ref()
        .map(ToString::to_string)
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    progress.line(&format!(
        "{wanted}: Pulling from {}",
        reference.familiar_name()
    ));
    let (mut bytes, media_type, mut manifest_digest) = registry.manifest(repo, &wanted)?;
    if let Some(expected) = &reference.digest {
        if expected != &manifest_digest {
            return Err(Error::Corrupt(format!(
                "manifest {expected}: content has digest {manifest_digest}"
            )));
        }
    }
    let json: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Corrupt(format!("manifest for {reference}: {e}")))?;
    if media_type.contains("list")
        || media_type.contains("index")
        || json.get("manifests").is_some()
    {
        let chosen = pick_platform(&json)?;
        (bytes, _, manifest_digest) = registry.manifest(repo, &chosen.to_string())?;
        if manifest_digest != chosen {
            return Err(Error::Corrupt(format!(
                "manifest {chosen}: content has digest {manifest_digest}"
            )));
        }
    }
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::Corrupt(format!("manifest {manifest_digest}: {e}")))?;
    for layer in &manifest.layers {
        compression(&layer.media_type)?;
    }

    // The config: small, fetched first, names the uncompressed layers.
    let id = manifest.config.digest.clone();
    if !store.has_blob(&id) {
        let tmp = store.temp_path("config");
        registry.fetch_blob(repo, &id, &tmp)?;
        store.adopt_blob(&tmp, Some(&id))?;
        added
            .blobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.clone());
    }
    let config = store.config(&id)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(Error::Corrupt(format!(
            "image {id}: {} layers in the manifest but {} in the config",
            manifest.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let chains = chain_ids(&config.rootfs.diff_ids);
    let jobs: Vec<(usize, &Descriptor)> = manifest.layers.iter().enumerate().collect();
    for batch in jobs.chunks(PARALLEL) {
        let results: Vec<Result<()>> = std::thread::scope(|s| {
            let handles: Vec<_> = batch
                .iter()
                .map(|(i, layer)| {
                    let (registry, config, chains) = (&registry, &config, &chains);
                    s.spawn(move || {
                        fetch_layer(
                            store, registry, repo, layer, config, chains, *i, progress, added,
                        )
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(PullError::ThreadPanicked.into()))
                })
                .collect()
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
    }

    // Record and tag, under the lock — after checking that everything is
    // still there (a failing concurrent pull may have removed what it added).
    let _lock = store.lock()?;
    let missing = chains.iter().any(|c| !store.has_layer(c))
        || manifest.layers.iter().any(|l| !store.has_blob(&l.digest))
        || !store.has_blob(&id);
    if missing {
        return Err(PullError::Raced(reference.to_string()).into());
    }
    store.put_blob(&bytes)?;
    let was_current = reference
        .tag
        .as_ref()
        .map(|_| {
            store
                .tags()
                .map(|t| t.iter().any(|(r, i)| r == reference && i == &id))
        })
        .transpose()?
        .unwrap_or(false);
    let mut record = if store.images()?.contains(&id) {
        store.record(&id)?
    } else {
        Default::default()
    };
    record.manifest = Some(manifest_digest.clone());
    record
        .repo_digests
        .insert(format!("{}@{manifest_digest}", reference.familiar_name()));
    store.put_record(&id, &record)?;
    if reference.tag.is_some() {
        store.tag(reference, &id)?;
    }
    progress.line(&format!("Digest: {manifest_digest}"));
    progress.line(&if was_current {
        format!("Status: Image is up to date for {}", reference.familiar())
    } else {
        format!(
            "Status: Downloaded newer image for {}",
            reference.familiar()
        )
    });
    Ok(id)
}

/// Makes layer `i` present: blob verified, tarball checked and extracted,
/// its uncompressed digest matching the config's diff_id.
#[allow(clippy::too_many_arguments)]
fn fetch_layer(
    store: &Store,
    registry: &Registry,
    repo: &str,
    layer: &Descriptor,
    config: &ImageConfig,
    chains: &[Digest],
    i: usize,
    progress: &dyn Progress,
    added: &Added,
) -> Result<()> {
    let short = &layer.digest.hex()[..12];
    let chain = &chains[i];
    if store.has_layer(chain) && store.has_blob(&layer.digest) {
        progress.line(&format!("{short}: Already exists"));
        return Ok(());
    }
    progress.line(&format!("{short}: Pulling fs layer"));
    let downloaded = if store.has_blob(&layer.digest) {
        None
    } else {
        let tmp = store.temp_path("blob");
        registry.fetch_blob_with_progress(repo, &layer.digest, &tmp, &|done, total| {
            progress.downloading(short, done, total)
        })?;
        progress.line(&format!("{short}: Download complete"));
        Some(tmp)
    };
    let blob_path = downloaded
        .clone()
        .unwrap_or_else(|| store.blob_path(&layer.digest));
    let extracted = if store.has_layer(chain) {
        Ok(())
    } else {
        extract(
            store,
            &blob_path,
            layer,
            &config.rootfs.diff_ids[i],
            chain,
            i.checked_sub(1).map(|p| &chains[p]),
        )
        .map(|()| {
            added
                .layers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(chain.clone())
        })
    };
    if let Err(e) = extracted {
        if let Some(tmp) = &downloaded {
            let _ = std::fs::remove_file(tmp);
        }
        return Err(e);
    }
    if let Some(tmp) = downloaded {
        store.adopt_blob(&tmp, Some(&layer.digest))?;
        added
            .blobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(layer.digest.clone());
    }
    progress.line(&format!("{short}: Pull complete"));
    Ok(())
}

fn extract(
    store: &Store,
    blob: &Path,
    layer: &Descriptor,
    diff_id: &Digest,
    chain: &Digest,
    parent: Option<&Digest>,
) -> Result<()> {
    let file = File::open(blob).map_err(|e| Error::io(blob, e))?;
    let mut tar = Hashing::new(decompressed(file, compression(&layer.media_type)?)?);
    let dir = store.temp_path("extract");
    std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let options = ApplyOptions {
        whiteouts: Whiteouts::Overlay,
        allow_devices: true,
        same_owner: true,
    };
    let applied = layer::apply(&mut tar, &dir, options)
        .map_err(Error::from)
        .and_then(|_| {
            // Hash what follows the tar's end marker too.
            std::io::copy(&mut tar, &mut std::io::sink())
                .map_err(|e| Error::Corrupt(format!("layer {}: {e}", layer.digest)))
        });
    let (_, actual, size) = tar.finish();
    let checked = applied.and_then(|_| {
        if &actual == diff_id {
            Ok(())
        } else {
            Err(Error::Corrupt(format!(
                "layer {}: uncompressed digest {actual}, the config says {diff_id}",
                layer.digest
            )))
        }
    });
    if let Err(e) = checked {
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    store.adopt_layer(
        &dir,
        &LayerRecord {
            chain_id: chain.clone(),
            diff_id: diff_id.clone(),
            parent: parent.cloned(),
            size,
        },
    )
}

/// `docker push`.
pub fn push(
    store: &Store,
    auth: &AuthStore,
    reference: &Reference,
    progress: &dyn Progress,
) -> Result<Digest> {
    let id = store.resolve(&reference.familiar())?;
    let registry = Registry::new(&reference.registry, auth.get(&reference.registry)?)?;
    let repo = &reference.path;
    progress.line(&format!(
        "The push refers to repository [{}/{}]",
        reference.registry, repo
    ));
    let mut record = store.record(&id)?;
    let manifest_digest = record
        .manifest
        .clone()
        .ok_or_else(|| Error::Corrupt(format!("image {id} has no manifest")))?;
    let bytes = store.read_blob(&manifest_digest)?;
    let manifest = store.manifest(&manifest_digest)?;
    // Another repository of the same registry that has this image: a mount source.
    let mount_from: Option<String> = record.repo_digests.iter().find_map(|d| {
        let name = d.split('@').next()?;
        let r: Reference = name.parse().ok()?;
        (r.registry == reference.registry && &r.path != repo).then_some(r.path)
    });
    for layer in manifest.layers.iter().rev() {
        let short = &layer.digest.hex()[..12];
        if registry.has_blob(repo, &layer.digest)? {
            progress.line(&format!("{short}: Layer already exists"));
            continue;
        }
        if let Some(from) = &mount_from {
            if registry.mount_blob(repo, &layer.digest, from)? {
                progress.line(&format!("{short}: Mounted from {from}"));
                continue;
            }
        }
        registry.upload_blob(repo, &layer.digest, &store.blob_path(&layer.digest))?;
        progress.line(&format!("{short}: Pushed"));
    }
    if !registry.has_blob(repo, &manifest.config.digest)? {
        registry.upload_blob(
            repo,
            &manifest.config.digest,
            &store.blob_path(&manifest.config.digest),
        )?;
    }
    let media_type = manifest
        .media_type
        .clone()
        .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into());
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let digest = registry.put_manifest(repo, &tag, &bytes, &media_type)?;
    progress.line(&format!("{tag}: digest: {digest} size: {}", bytes.len()));
    let _lock = store.lock()?;
    record
        .repo_digests
        .insert(format!("{}@{digest}", reference.familiar_name()));
    store.put_record(&id, &record)?;
    Ok(digest)
}
