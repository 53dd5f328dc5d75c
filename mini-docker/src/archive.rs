//! `save` and `load`: images as tar archives.
//!
//! `save` writes what Docker 25 writes — an OCI image layout (`oci-layout`,
//! `index.json`, `blobs/sha256/…` with uncompressed layers) that also
//! carries the classic `manifest.json`, so Docker, Podman and skopeo load it
//! as a docker-archive and as an OCI archive alike. `load` reads either
//! form (and compressed layers in them), checking every digest; the archive
//! is unpacked with the same hardened code as image layers.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use overlay_demo::layer::{self, ApplyOptions, Whiteouts};
use serde_json::{json, Value};

use crate::digest::{Digest, Hashing};
use crate::image::{self, commit_layer};
use crate::reference::Reference;
use crate::spec::{ImageConfig, Manifest};
use crate::store::{chain_ids, ImageId, Store};
use crate::{Error, Result};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// Writes `images` (IDs, with the tags to record) as one archive.
pub fn save(store: &Store, images: &[(ImageId, Vec<Reference>)], out: impl Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written: Vec<Digest> = Vec::new();
    let mut legacy = Vec::new();
    let mut index = Vec::new();
    let append =
        |tar: &mut tar::Builder<_>, path: &str, size: u64, data: &mut dyn Read| -> Result<()> {
            let mut header = tar::Header::new_ustar();
            header.set_size(size);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, path, data)
                .map_err(|e| Error::io(path, e))
        };
    for (id, tags) in images {
        let config_bytes = store.read_blob(id)?;
        let config: ImageConfig = serde_json::from_slice(&config_bytes)
            .map_err(|e| Error::Corrupt(format!("image config {id}: {e}")))?;
        let record = store.record(id)?;
        let stored: Manifest = store.manifest(
            record
                .manifest
                .as_ref()
                .ok_or_else(|| Error::Corrupt(format!("image {id} has no manifest")))?,
        )?;
        if !written.contains(id) {
            append(
                &mut tar,
                &format!("blobs/sha256/{}", id.hex()),
                config_bytes.len() as u64,
                &mut &config_bytes[..],
            )?;
            written.push(id.clone());
        }
        let mut layers = Vec::new();
        for ((blob, diff_id), chain) in stored
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .zip(chain_ids(&config.rootfs.diff_ids))
        {
            let size = store.layer(&chain)?.size;
            if !written.contains(diff_id) {
                let file = store.open_blob(&blob.digest)?;
                let mut plain = decompress(BufReader::new(file), &blob.media_type)?;
                append(
                    &mut tar,
                    &format!("blobs/sha256/{}", diff_id.hex()),
                    size,
                    &mut plain,
                )?;
                written.push(diff_id.clone());
            }
            layers
                .push(json!({"mediaType": OCI_LAYER, "digest": diff_id.to_string(), "size": size}));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": id.to_string(), "size": config_bytes.len()},
            "layers": layers,
        });
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|e| Error::Corrupt(e.to_string()))?;
        let manifest_digest = Digest::of(&manifest_bytes);
        if !written.contains(&manifest_digest) {
            append(
                &mut tar,
                &format!("blobs/sha256/{}", manifest_digest.hex()),
                manifest_bytes.len() as u64,
                &mut &manifest_bytes[..],
            )?;
            written.push(manifest_digest.clone());
        }
        let names: Vec<String> = tags.iter().map(Reference::familiar).collect();
        legacy.push(json!({
            "Config": format!("blobs/sha256/{}", id.hex()),
            "RepoTags": names,
            "Layers": config.rootfs.diff_ids.iter().map(|d| format!("blobs/sha256/{}", d.hex())).collect::<Vec<_>>(),
        }));
        let descriptor = |annotations: Value| json!({"mediaType": OCI_MANIFEST, "digest": manifest_digest.to_string(), "size": manifest_bytes.len(), "annotations": annotations});
        if tags.is_empty() {
            index.push(descriptor(json!({})));
        }
        for tag in tags {
            index.push(descriptor(json!({
                "io.containerd.image.name": format!("{}/{}:{}", tag.registry, tag.path, tag.tag.clone().unwrap_or_default()),
                "org.opencontainers.image.ref.name": tag.tag.clone().unwrap_or_default(),
            })));
        }
    }
    for (path, value) in [
        ("oci-layout", json!({"imageLayoutVersion": "1.0.0"})),
        (
            "index.json",
            json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index}),
        ),
        ("manifest.json", Value::Array(legacy)),
    ] {
        let bytes = serde_json::to_vec(&value).map_err(|e| Error::Corrupt(e.to_string()))?;
        append(&mut tar, path, bytes.len() as u64, &mut &bytes[..])?;
    }
    tar.into_inner()
        .map_err(|e| Error::io("archive", e))?
        .flush()
        .map_err(|e| Error::io("archive", e))
}

/// A reader of `media_type`'s content, uncompressed; or, with an empty or
/// unknown-but-tar media type, sniffed from the magic bytes.
fn decompress<'a>(
    mut input: BufReader<impl Read + 'a>,
    media_type: &str,
) -> Result<Box<dyn Read + 'a>> {
    let head = std::io::BufRead::fill_buf(&mut input).map_err(|e| Error::io("layer", e))?;
    let gzip = media_type.ends_with("gzip") || head.starts_with(&[0x1f, 0x8b]);
    let zstd = media_type.ends_with("+zstd") || head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]);
    Ok(if gzip {
        Box::new(flate2::read::GzDecoder::new(input))
    } else if zstd {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| Error::Corrupt(format!("zstd layer: {e}")))?,
        )
    } else {
        Box::new(input)
    })
}

/// One image found in an archive.
struct Found {
    config: PathBuf,
    layers: Vec<(PathBuf, String)>,
    tags: Vec<String>,
}

/// Reads an archive; returns each image with the tags it was loaded under.
pub fn load(store: &Store, input: impl Read) -> Result<Vec<(ImageId, Vec<Reference>)>> {
    let dir = store.temp_path("load");
    std::fs::create_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    let result = load_from(store, input, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn load_from(
    store: &Store,
    input: impl Read,
    dir: &Path,
) -> Result<Vec<(ImageId, Vec<Reference>)>> {
    let options = ApplyOptions {
        whiteouts: Whiteouts::Overlay,
        allow_devices: false,
        same_owner: false,
    };
    layer::apply(BufReader::new(input), dir, options)
        .map_err(|e| Error::Corrupt(format!("archive: {e}")))?;
    let found = if dir.join("manifest.json").exists() {
        docker_entries(dir)?
    } else {
        oci_entries(dir)?
    };
    if found.is_empty() {
        return Err(Error::Corrupt(
            "archive holds no image (neither manifest.json nor index.json)".into(),
        ));
    }
    let mut loaded = Vec::new();
    for image in found {
        loaded.push(load_one(store, image)?);
    }
    Ok(loaded)
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Corrupt(format!("archive: {}: {e}", path.display())))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Error::Corrupt(format!("archive: {}: {e}", path.display())))
}

/// A path named by the archive, kept inside it.
fn inside(dir: &Path, name: &str) -> Result<PathBuf> {
    if name.split('/').any(|c| c == "..") || name.starts_with('/') {
        return Err(Error::Corrupt(format!(
            "archive: path {name:?} leaves the archive"
        )));
    }
    Ok(dir.join(name))
}

fn docker_entries(dir: &Path) -> Result<Vec<Found>> {
    let manifest = read_json(&dir.join("manifest.json"))?;
    let entries = manifest
        .as_array()
        .ok_or_else(|| Error::Corrupt("archive: manifest.json is not a list".into()))?;
    entries
        .iter()
        .map(|e| {
            let config = e["Config"]
                .as_str()
                .ok_or_else(|| Error::Corrupt("archive: an entry without Config".into()))?;
            let layers = e["Layers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| Ok((inside(dir, l.as_str().unwrap_or_default())?, String::new())))
                .collect::<Result<_>>()?;
            let tags = e["RepoTags"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t.as_str().map(String::from))
                .collect();
            Ok(Found {
                config: inside(dir, config)?,
                layers,
                tags,
            })
        })
        .collect()
}

fn blob(dir: &Path, digest: &str) -> Result<PathBuf> {
    let d: Digest = digest.parse().map_err(Error::Corrupt)?;
    Ok(dir.join("blobs/sha256").join(d.hex()))
}

fn oci_entries(dir: &Path) -> Result<Vec<Found>> {
    let index = read_json(&dir.join("index.json"))?;
    let mut found = Vec::new();
    for m in index["manifests"].as_array().into_iter().flatten() {
        let manifest = read_json(&blob(dir, m["digest"].as_str().unwrap_or_default())?)?;
        let layers = manifest["layers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                Ok((
                    blob(dir, l["digest"].as_str().unwrap_or_default())?,
                    l["mediaType"].as_str().unwrap_or_default().to_string(),
                ))
            })
            .collect::<Result<_>>()?;
        let annotations = &m["annotations"];
        let tags = annotations["io.containerd.image.name"]
            .as_str()
            .or_else(|| {
                annotations["org.opencontainers.image.ref.name"]
                    .as_str()
                    .filter(|n| n.contains(':') || n.contains('/'))
            })
            .map(String::from)
            .into_iter()
            .collect();
        found.push(Found {
            config: blob(
                dir,
                manifest["config"]["digest"].as_str().unwrap_or_default(),
            )?,
            layers,
            tags,
        });
    }
    Ok(found)
}

fn load_one(store: &Store, image: Found) -> Result<(ImageId, Vec<Reference>)> {
    let config_bytes = std::fs::read(&image.config)
        .map_err(|e| Error::Corrupt(format!("archive: {}: {e}", image.config.display())))?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| Error::Corrupt(format!("archive: image config: {e}")))?;
    if config.rootfs.diff_ids.len() != image.layers.len() {
        return Err(Error::Corrupt(format!(
            "archive: {} layers listed but the config has {}",
            image.layers.len(),
            config.rootfs.diff_ids.len()
        )));
    }
    let tags: Vec<Reference> = image
        .tags
        .iter()
        .map(|t| t.parse())
        .collect::<Result<_, _>>()?;
    let _lock = store.lock()?;
    let mut added: Vec<(Digest, Digest)> = Vec::new();
    let result = store_layers(store, &image, &config, &mut added).and_then(|descriptors| {
        let id = image::save_image_bytes(store, &config_bytes, descriptors, None)?;
        for tag in &tags {
            store.tag(tag, &id)?;
        }
        Ok((id, tags))
    });
    if result.is_err() {
        // Nothing partial: drop what this load added that no image uses.
        let (blobs, layers) = store.referenced()?;
        for (blob, chain) in added {
            if !blobs.contains(&blob) {
                let _ = std::fs::remove_file(store.blob_path(&blob));
            }
            if !layers.contains(&chain) {
                let _ = std::fs::remove_dir_all(store.layer_dir(&chain));
            }
        }
    }
    result
}

/// Verifies and stores each layer of `image`; `added` collects (blob,
/// chain ID) of what was stored, for clean-up on failure.
fn store_layers(
    store: &Store,
    image: &Found,
    config: &ImageConfig,
    added: &mut Vec<(Digest, Digest)>,
) -> Result<Vec<crate::spec::Descriptor>> {
    let mut descriptors = Vec::new();
    let mut parent: Option<Digest> = None;
    for ((path, media_type), diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
        let file = File::open(path)
            .map_err(|e| Error::Corrupt(format!("archive: layer {}: {e}", path.display())))?;
        let plain = store.temp_path("load-layer.tar");
        {
            let mut reader = Hashing::new(decompress(BufReader::new(file), media_type)?);
            let mut out = File::create(&plain).map_err(|e| Error::io(&plain, e))?;
            std::io::copy(&mut reader, &mut out)
                .map_err(|e| Error::Corrupt(format!("archive: layer {}: {e}", path.display())))?;
            let (_, actual, _) = reader.finish();
            if &actual != diff_id {
                let _ = std::fs::remove_file(&plain);
                return Err(Error::Corrupt(format!(
                    "archive: layer {}: digest {actual}, the config says {diff_id}",
                    path.display()
                )));
            }
        }
        let committed = commit_layer(store, &plain, parent.as_ref());
        let _ = std::fs::remove_file(&plain);
        let committed = committed?;
        added.push((committed.blob.digest.clone(), committed.chain_id.clone()));
        parent = Some(committed.chain_id.clone());
        descriptors.push(committed.blob);
    }
    Ok(descriptors)
}
