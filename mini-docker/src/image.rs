//! Images in the store: committing layers, `import`, and the views behind
//! `images`, `history` and `inspect`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::Path;
use std::time::SystemTime;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use overlay_demo::layer::{self, ApplyOptions, Whiteouts};
use serde_json::{json, Value};

use crate::digest::{Digest, Hashing};
use crate::human;
use crate::reference::Reference;
use crate::spec::{self, Descriptor, History, ImageConfig, Manifest, RootFs, RunConfig};
use crate::store::{chain_ids, ImageId, ImageRecord, LayerRecord, Store};
use crate::{Error, Result};

/// A layer as stored: its compressed blob and its uncompressed identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub blob: Descriptor,
    pub diff_id: Digest,
    pub chain_id: Digest,
    pub size: u64,
}

/// Stores an uncompressed layer tarball: a gzip blob for registries and
/// archives, and the extracted directory (once per chain ID) for overlay
/// mounts. Hostile tarballs are refused before anything is kept.
pub fn commit_layer(store: &Store, tar: &Path, parent_chain: Option<&Digest>) -> Result<Committed> {
    let mut hashing = Hashing::new(File::open(tar).map_err(|e| Error::io(tar, e))?);
    let gz_tmp = store.temp_path("layer.tar.gz");
    {
        let out = File::create(&gz_tmp).map_err(|e| Error::io(&gz_tmp, e))?;
        let mut gz = GzEncoder::new(out, flate2::Compression::fast());
        std::io::copy(&mut hashing, &mut gz).map_err(|e| Error::io(&gz_tmp, e))?;
        gz.finish()
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&gz_tmp, e))?;
    }
    let (_, diff_id, size) = hashing.finish();
    let chain_id = match parent_chain {
        None => diff_id.clone(),
        Some(parent) => Digest::of(format!("{parent} {diff_id}").as_bytes()),
    };
    if !store.has_layer(&chain_id) {
        let extracted = store.temp_path("extract");
        std::fs::create_dir(&extracted).map_err(|e| Error::io(&extracted, e))?;
        let options = ApplyOptions {
            whiteouts: Whiteouts::Overlay,
            allow_devices: true,
            same_owner: true,
        };
        let input = BufReader::new(File::open(tar).map_err(|e| Error::io(tar, e))?);
        if let Err(e) = layer::apply(input, &extracted, options) {
            let _ = std::fs::remove_dir_all(&extracted);
            let _ = std::fs::remove_file(&gz_tmp);
            return Err(e.into());
        }
        let record = LayerRecord {
            chain_id: chain_id.clone(),
            diff_id: diff_id.clone(),
            parent: parent_chain.cloned(),
            size,
        };
        store.adopt_layer(&extracted, &record)?;
    }
    let (digest, blob_size) = store.adopt_blob(&gz_tmp, None)?;
    Ok(Committed {
        blob: Descriptor {
            media_type: spec::DOCKER_LAYER_GZIP.into(),
            size: blob_size,
            digest,
        },
        diff_id,
        chain_id,
        size,
    })
}

/// Copies `input` to a temporary uncompressed tarball (gunzipping it when
/// it starts with gzip's magic bytes).
fn spool(store: &Store, input: impl Read) -> Result<std::path::PathBuf> {
    let tmp = store.temp_path("import.tar");
    let mut reader = BufReader::new(input);
    let gzip = {
        let head = std::io::BufRead::fill_buf(&mut reader).map_err(|e| Error::io("input", e))?;
        head.starts_with(&[0x1f, 0x8b])
    };
    let mut out = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let copied = if gzip {
        std::io::copy(&mut GzDecoder::new(reader), &mut out)
    } else {
        std::io::copy(&mut reader, &mut out)
    };
    copied
        .and_then(|_| out.flush())
        .map_err(|e| Error::io(&tmp, e))?;
    Ok(tmp)
}

/// `docker import`: a root filesystem tarball becomes a one-layer image.
pub fn import(
    store: &Store,
    input: impl Read,
    source: &str,
    changes: &[String],
    message: Option<&str>,
    tag: Option<&Reference>,
) -> Result<ImageId> {
    let mut run = RunConfig::default();
    for change in changes {
        apply_change(&mut run, change)?;
    }
    let tar = spool(store, input)?;
    let _lock = store.lock()?;
    let committed = commit_layer(store, &tar, None);
    let _ = std::fs::remove_file(&tar);
    let committed = committed?;
    let now = human::rfc3339(SystemTime::now());
    let config = ImageConfig {
        created: Some(now.clone()),
        author: None,
        architecture: spec::host_architecture().into(),
        os: "linux".into(),
        config: run,
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids: vec![committed.diff_id.clone()],
        },
        history: vec![History {
            created: Some(now),
            created_by: None,
            author: None,
            comment: Some(
                message.map_or_else(|| format!("Imported from {source}"), str::to_string),
            ),
            empty_layer: false,
        }],
    };
    save_image(store, &config, vec![committed.blob], tag)
}

/// Stores a config and its manifest, records the image, tags it.
pub fn save_image(
    store: &Store,
    config: &ImageConfig,
    layers: Vec<Descriptor>,
    tag: Option<&Reference>,
) -> Result<ImageId> {
    let config_bytes = serde_json::to_vec(config).map_err(|e| Error::Corrupt(e.to_string()))?;
    save_image_bytes(store, &config_bytes, layers, tag)
}

/// [`save_image`] for a config that must keep its exact bytes (its digest
/// is the image ID), as `load` needs.
pub fn save_image_bytes(
    store: &Store,
    config_bytes: &[u8],
    layers: Vec<Descriptor>,
    tag: Option<&Reference>,
) -> Result<ImageId> {
    let id = store.put_blob(config_bytes)?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(spec::DOCKER_MANIFEST.into()),
        config: Descriptor {
            media_type: spec::DOCKER_CONFIG.into(),
            size: config_bytes.len() as u64,
            digest: id.clone(),
        },
        layers,
    };
    let manifest_bytes =
        serde_json::to_vec(&manifest).map_err(|e| Error::Corrupt(e.to_string()))?;
    let manifest_digest = store.put_blob(&manifest_bytes)?;
    store.put_record(
        &id,
        &ImageRecord {
            manifest: Some(manifest_digest),
            repo_digests: Default::default(),
            parent: None,
        },
    )?;
    if let Some(tag) = tag {
        store.tag(tag, &id)?;
    }
    Ok(id)
}

/// Why an image operation refused (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("invalid change: {0:?} (expected an instruction and its arguments)")]
    Change(String),
    #[error("{0} is not a valid change command (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)")]
    ChangeCommand(String),
    #[error("ambiguous image ID prefix: {0}")]
    AmbiguousPrefix(String),
}

/// One `-c/--change` instruction (the Dockerfile subset `import` and
/// `commit` accept).
pub fn apply_change(run: &mut RunConfig, change: &str) -> Result<()> {
    let (instruction, args) = change
        .trim()
        .split_once(char::is_whitespace)
        .map(|(i, a)| (i, a.trim()))
        .ok_or_else(|| ImageError::Change(change.into()))?;
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => run.cmd = Some(command_form(args)),
        "ENTRYPOINT" => run.entrypoint = Some(command_form(args)),
        "WORKDIR" => run.working_dir = Some(args.to_string()),
        "USER" => run.user = Some(args.to_string()),
        "STOPSIGNAL" => run.stop_signal = Some(args.to_string()),
        "ENV" => {
            let env = run.env.get_or_insert_with(Vec::new);
            for (key, value) in key_values(args) {
                env.retain(|e| e.split('=').next() != Some(key.as_str()));
                env.push(format!("{key}={value}"));
            }
        }
        "LABEL" => {
            let labels = run.labels.get_or_insert_with(BTreeMap::new);
            labels.extend(key_values(args));
        }
        "EXPOSE" => {
            let ports = run.exposed_ports.get_or_insert_with(BTreeMap::new);
            for port in args.split_whitespace() {
                let port = if port.contains('/') {
                    port.to_string()
                } else {
                    format!("{port}/tcp")
                };
                ports.insert(port, json!({}));
            }
        }
        "VOLUME" => {
            let volumes = run.volumes.get_or_insert_with(BTreeMap::new);
            let paths: Vec<String> = serde_json::from_str(args)
                .unwrap_or_else(|_| args.split_whitespace().map(String::from).collect());
            for path in paths {
                volumes.insert(path, json!({}));
            }
        }
        other => return Err(ImageError::ChangeCommand(other.into()).into()),
    }
    Ok(())
}

/// Exec form `["a", "b"]` as is; shell form through `/bin/sh -c`.
fn command_form(args: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(args)
        .unwrap_or_else(|_| vec!["/bin/sh".into(), "-c".into(), args.to_string()])
}

/// `A=1 B="two words"` or the old `KEY value` form.
fn key_values(args: &str) -> Vec<(String, String)> {
    if !args.contains('=') {
        return match args.split_once(char::is_whitespace) {
            Some((k, v)) => vec![(k.to_string(), v.trim().to_string())],
            None => vec![(args.to_string(), String::new())],
        };
    }
    let mut out = Vec::new();
    let mut rest = args.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.split_once('"') {
                Some((v, n)) => (v.to_string(), n),
                None => (quoted.to_string(), ""),
            }
        } else {
            match after.split_once(char::is_whitespace) {
                Some((v, n)) => (v.to_string(), n),
                None => (after.to_string(), ""),
            }
        };
        out.push((key.trim().to_string(), value));
        rest = next.trim_start();
    }
    out
}

/// Everything `images`, `history` and `inspect` show about one image.
#[derive(Debug, Clone)]
pub struct Details {
    pub id: ImageId,
    pub config: ImageConfig,
    pub record: ImageRecord,
    pub tags: Vec<Reference>,
    /// Uncompressed size of all layers.
    pub size: u64,
    pub created: Option<SystemTime>,
}

pub fn details(store: &Store, id: &ImageId) -> Result<Details> {
    details_with_tags(store, id, &store.tags()?)
}

/// [`details`] given the store's tags, read once for many images.
pub fn details_with_tags(
    store: &Store,
    id: &ImageId,
    all_tags: &[(Reference, ImageId)],
) -> Result<Details> {
    let config = store.config(id)?;
    let record = store.record(id)?;
    let tags = all_tags
        .iter()
        .filter(|(_, t)| t == id)
        .map(|(r, _)| r.clone())
        .collect();
    let size = chain_ids(&config.rootfs.diff_ids)
        .iter()
        .map(|c| store.layer(c).map(|l| l.size))
        .sum::<Result<u64>>()?;
    let created = config.created.as_deref().and_then(human::parse_rfc3339);
    Ok(Details {
        id: id.clone(),
        config,
        record,
        tags,
        size,
        created,
    })
}

/// `docker image inspect`'s JSON for one image.
pub fn inspect(store: &Store, d: &Details) -> Value {
    let layers = chain_ids(&d.config.rootfs.diff_ids);
    let dirs: Vec<String> = layers
        .iter()
        .rev()
        .map(|c| store.layer_dir(c).join("diff").display().to_string())
        .collect();
    let c = &d.config.config;
    let mut value = json!({
        "Id": d.id.to_string(),
        "RepoTags": d.tags.iter().map(Reference::familiar).collect::<Vec<_>>(),
        "RepoDigests": d.record.repo_digests,
        "Parent": d.record.parent.as_ref().map(ToString::to_string).unwrap_or_default(),
        "Comment": d.config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": d.config.created.clone().unwrap_or_default(),
        "Author": d.config.author.clone().unwrap_or_default(),
        "Config": {
            "User": c.user.clone().unwrap_or_default(),
            "ExposedPorts": c.exposed_ports,
            "Env": c.env,
            "Cmd": c.cmd,
            "Entrypoint": c.entrypoint,
            "Volumes": c.volumes,
            "WorkingDir": c.working_dir.clone().unwrap_or_default(),
            "Labels": c.labels,
            "StopSignal": c.stop_signal,
        },
        "Architecture": d.config.architecture,
        "Os": d.config.os,
        "Size": d.size,
        "GraphDriver": {
            "Name": "overlay2",
            "Data": { "LowerDir": dirs.join(":") },
        },
        "RootFS": {
            "Type": d.config.rootfs.kind,
            "Layers": d.config.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        },
    });
    // What a build records: `OnBuild` always (null when none), the others
    // only when set, as Docker shows them.
    let config = &mut value["Config"];
    if let Some(h) = &c.healthcheck {
        config["Healthcheck"] = json!(h);
    }
    config["OnBuild"] = json!(c.on_build);
    if let Some(s) = &c.shell {
        config["Shell"] = json!(s);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_follow_dockerfile_syntax() {
        let mut run = RunConfig::default();
        for c in [
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT top -b",
            "ENV A=1 B=\"two words\"",
            "ENV OLD style value",
            "EXPOSE 80 53/udp",
            "VOLUME /data",
            "WORKDIR /srv",
            "USER nobody",
            "LABEL maintainer=me",
        ] {
            apply_change(&mut run, c).unwrap();
        }
        assert_eq!(run.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(run.entrypoint.unwrap(), ["/bin/sh", "-c", "top -b"]);
        assert_eq!(run.env.unwrap(), ["A=1", "B=two words", "OLD=style value"]);
        let ports: Vec<String> = run.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp"]);
        assert!(run.volumes.unwrap().contains_key("/data"));
        assert_eq!(run.working_dir.as_deref(), Some("/srv"));
        assert_eq!(run.labels.unwrap()["maintainer"], "me");
        let err = apply_change(&mut RunConfig::default(), "RUN rm -rf /")
            .unwrap_err()
            .to_string();
        assert!(err.contains("RUN is not a valid change command"), "{err}");
    }
}
