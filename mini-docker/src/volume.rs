//! Volumes: directories under `$ROOT/volumes/NAME/_data` that outlive
//! containers, as Docker's `local` driver keeps them. A volume is a copy
//! of its own (filled from the image on first use), a bind mount is the
//! host's very directory — the seed's "volume vs bind mount".

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::container::dir::{read_json, write_json};
use crate::{Error, Result};

/// Docker's label for volumes created for `-v /path` and image `VOLUME`s.
pub const ANONYMOUS: &str = "com.docker.volume.anonymous";

/// `volume inspect`'s object (Docker's fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub created_at: String,
    pub driver: String,
    pub labels: BTreeMap<String, String>,
    pub mountpoint: PathBuf,
    pub name: String,
    pub options: BTreeMap<String, String>,
    pub scope: String,
}

impl Volume {
    pub fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS)
    }
}

/// Why `volume create` refused (Docker's local driver's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VolumeError {
    #[error("create {0}: \"{0}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path")]
    InvalidName(String),
    #[error("create {name}: {why}")]
    Options { name: String, why: String },
}

/// The local driver's options (Docker's `validOpts` and `mandatoryOpts`):
/// `type` and `device` go together, `o` is the mount's options; `size`
/// needs a quota-capable filesystem, which mini-docker does not manage.
pub fn check_options(name: &str, options: &BTreeMap<String, String>) -> Result<()> {
    let refuse = |why: String| {
        Err(VolumeError::Options {
            name: name.into(),
            why,
        }
        .into())
    };
    for key in options.keys() {
        if !["type", "device", "o", "size"].contains(&key.as_str()) {
            return refuse(format!("invalid option: {key:?}"));
        }
    }
    if options.contains_key("size") {
        return refuse("quota size requested but no quota support".into());
    }
    for (key, needs) in [("type", "device"), ("device", "type")] {
        if options.contains_key(key) && !options.contains_key(needs) {
            return refuse(format!("missing required option: {needs:?}"));
        }
    }
    Ok(())
}

/// How a volume made with `--opt type=… device=… [o=…]` is mounted:
/// `(type, device, o)`, read from the record beside its `_data`
/// (`source`). `None` for a plain directory volume.
pub fn mount_options(source: &Path) -> Option<(String, String, String)> {
    let volume: Volume = read_json(&source.parent()?.join("volume.json")).ok()?;
    let kind = volume.options.get("type")?.clone();
    let device = volume.options.get("device")?.clone();
    let o = volume.options.get("o").cloned().unwrap_or_default();
    Some((kind, device, o))
}

/// The volumes of one store.
#[derive(Debug, Clone)]
pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("volumes");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Volumes { dir })
    }

    fn record(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("volume.json")
    }

    /// `volume create`; an existing volume of that name is returned as is
    /// (Docker's behaviour, which makes `-v name:/x` idempotent).
    pub fn create(&self, name: &str, labels: BTreeMap<String, String>) -> Result<Volume> {
        self.create_with(name, labels, BTreeMap::new())
    }

    /// `volume create -o KEY=VALUE…`: the local driver's options, checked
    /// as Docker's local driver checks them ([`check_options`]).
    pub fn create_with(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume> {
        // Docker's local driver: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
            && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !valid {
            return Err(VolumeError::InvalidName(name.into()).into());
        }
        check_options(name, &options)?;
        if let Ok(existing) = self.get(name) {
            return Ok(existing);
        }
        let volume = Volume {
            created_at: crate::container::record::now(),
            driver: "local".into(),
            labels,
            mountpoint: self.dir.join(name).join("_data"),
            name: name.into(),
            options,
            scope: "local".into(),
        };
        // Built aside and renamed into place: a concurrent create of the
        // same name either wins or finds the winner's volume.
        let tmp = self.dir.join(format!(".new-{}-{name}", std::process::id()));
        fs::create_dir_all(tmp.join("_data")).map_err(|e| Error::io(&tmp, e))?;
        write_json(&tmp.join("volume.json"), &volume)?;
        match fs::rename(&tmp, self.dir.join(name)) {
            Ok(()) => Ok(volume),
            Err(_) => {
                let _ = fs::remove_dir_all(&tmp);
                self.get(name)
            }
        }
    }

    /// A new anonymous volume (a random 64-hex name).
    pub fn create_anonymous(&self) -> Result<Volume> {
        let labels = BTreeMap::from([(ANONYMOUS.to_string(), String::new())]);
        self.create(&crate::container::dir::random_id(), labels)
    }

    pub fn get(&self, name: &str) -> Result<Volume> {
        read_json(&self.record(name)).map_err(|e| match e {
            Error::Io { .. } => Error::NotFound(format!("No such volume: {name}")),
            e => e,
        })
    }

    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let name = entry.map_err(|e| Error::io(&self.dir, e))?.file_name();
            let name = name.to_string_lossy();
            if !name.starts_with('.') {
                match self.get(&name) {
                    Ok(v) => out.push(v),
                    Err(e) if crate::damage::is_damage(&e) => {
                        crate::damage::report(&self.record(&name), &e);
                    }
                    Err(_) => {}
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Deletes a volume and its data (the caller checks it is unused).
    pub fn remove(&self, name: &str) -> Result<()> {
        self.get(name)?;
        let doomed = self.dir.join(format!(".rm-{}-{name}", std::process::id()));
        fs::rename(self.dir.join(name), &doomed).map_err(|e| Error::io(&doomed, e))?;
        fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e))
    }
}

/// Copies `src`'s contents into the empty directory `dst`, keeping modes,
/// owners, times' absence aside, symlinks as symlinks: Docker's first-use
/// copy of an image directory into a new volume. `dst` takes `src`'s mode
/// and owner too.
pub fn copy_tree(src: &Path, dst: &Path) -> Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let meta = fs::symlink_metadata(src).map_err(|e| Error::io(src, e))?;
    let own = |path: &Path, meta: &fs::Metadata| {
        std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()))
            .map_err(|e| Error::io(path, e))
    };
    fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(|e| Error::io(dst, e))?;
    own(dst, &meta)?;
    for entry in fs::read_dir(src).map_err(|e| Error::io(src, e))? {
        let entry = entry.map_err(|e| Error::io(src, e))?;
        let (from, to) = (entry.path(), dst.join(entry.file_name()));
        let meta = fs::symlink_metadata(&from).map_err(|e| Error::io(&from, e))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            fs::create_dir(&to).map_err(|e| Error::io(&to, e))?;
            copy_tree(&from, &to)?;
            continue;
        }
        if kind.is_symlink() {
            let target = fs::read_link(&from).map_err(|e| Error::io(&from, e))?;
            std::os::unix::fs::symlink(target, &to).map_err(|e| Error::io(&to, e))?;
        } else if kind.is_file() {
            fs::copy(&from, &to).map_err(|e| Error::io(&to, e))?;
        } else {
            // Devices, fifos and sockets are not copied into volumes.
            continue;
        }
        own(&to, &meta)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let root = std::env::temp_dir().join(format!("volumes-{}", std::process::id()));
        let volumes = Volumes::open(&root).unwrap();
        let v = volumes.create("data", BTreeMap::new()).unwrap();
        assert!(v.mountpoint.ends_with("volumes/data/_data") && v.mountpoint.is_dir());
        assert_eq!(
            volumes.create("data", BTreeMap::new()).unwrap(),
            v,
            "idempotent"
        );
        let anon = volumes.create_anonymous().unwrap();
        assert!(anon.anonymous() && !v.anonymous());
        assert_eq!(volumes.list().unwrap().len(), 2);
        assert!(volumes.create("bad/name", BTreeMap::new()).is_err());
        volumes.remove("data").unwrap();
        assert!(matches!(volumes.get("data"), Err(Error::NotFound(_))));
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn copy_tree_keeps_modes_and_links() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = std::env::temp_dir().join(format!("copytree-{}", std::process::id()));
        let (src, dst) = (root.join("src"), root.join("dst"));
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::create_dir_all(&dst).unwrap();
        fs::write(src.join("sub/f"), "x").unwrap();
        fs::set_permissions(src.join("sub/f"), fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("sub/f", src.join("link")).unwrap();
        copy_tree(&src, &dst).unwrap();
        assert_eq!(fs::read_to_string(dst.join("link")).unwrap(), "x");
        assert!(fs::symlink_metadata(dst.join("link")).unwrap().is_symlink());
        let mode = fs::metadata(dst.join("sub/f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
        fs::remove_dir_all(&root).unwrap();
    }
}
