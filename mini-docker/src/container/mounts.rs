//! `-v`, `--mount`, `--tmpfs`, `--volumes-from` and the image's `VOLUME`s,
//! turned into the container's [`MountPoint`]s with Docker's rules and
//! messages. Named and anonymous volumes are created here, at create time,
//! as Docker does.

use std::collections::BTreeMap;
use std::path::Path;

use super::dir::Containers;
use super::record::{MountKind, MountPoint};
use crate::volume::Volumes;
use crate::{Error, Result};

/// The mount flags of `run`/`create`, as given.
#[derive(Debug, Clone, Default)]
pub struct MountFlags {
    pub volumes: Vec<String>,
    pub mounts: Vec<String>,
    pub tmpfs: Vec<String>,
    pub volumes_from: Vec<String>,
}

/// Why a `-v`, `--mount`, `--tmpfs` or `--volumes-from` was refused
/// (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MountError {
    #[error("invalid volume specification: '{0}'")]
    VolumeSpec(String),
    /// A destination that is not an absolute path other than `/` once
    /// cleaned, worded as Docker words it for the flag that gave it.
    #[error("{}", relative_why(*.flag, .spec, .kind, .dest))]
    Relative {
        flag: MountFlag,
        spec: String,
        kind: String,
        dest: String,
    },
    #[error("invalid mode: {0}")]
    Mode(String),
    #[error("invalid mount config for type \"bind\": field Source must not be empty")]
    NoBindSource,
    #[error("invalid mount config for type \"bind\": bind source path does not exist: {0}")]
    MissingBindSource(String),
    #[error("invalid mount type: {0:?}")]
    Type(String),
    #[error("Duplicate mount point: {0}")]
    Duplicate(String),
}

/// The flag a mount came from: Docker checks each in a different place,
/// so each words a bad destination its own way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountFlag {
    /// `-v`: the spec is quoted around the reason.
    Volume,
    /// `--mount`: the reason names the mount type.
    Mount,
    /// `--tmpfs`: the bare reason.
    Tmpfs,
}

fn relative_why(flag: MountFlag, spec: &str, kind: &str, dest: &str) -> String {
    let why = if dest.starts_with('/') {
        "invalid specification: destination can't be '/'".to_string()
    } else {
        format!("invalid mount path: '{dest}' mount path must be absolute")
    };
    match flag {
        MountFlag::Volume => format!(
            "invalid volume specification: '{spec}': invalid mount config for type \"{kind}\": {why}"
        ),
        MountFlag::Mount => format!("invalid mount config for type \"{kind}\": {why}"),
        MountFlag::Tmpfs => why,
    }
}

/// A volume mount, not created yet (see [`resolve`]); no name means an
/// anonymous volume.
fn volume(name: Option<&str>, dest: &str, rw: bool) -> MountPoint {
    MountPoint {
        kind: MountKind::Volume,
        name: name.unwrap_or_default().into(),
        destination: dest.into(),
        driver: "local".into(),
        mode: if rw { "z" } else { "ro" }.into(),
        rw,
        ..Default::default()
    }
}

fn bind(source: &str, dest: &str, rw: bool) -> MountPoint {
    MountPoint {
        kind: MountKind::Bind,
        source: source.into(),
        destination: dest.into(),
        mode: if rw { "" } else { "ro" }.into(),
        rw,
        propagation: "rprivate".into(),
        ..Default::default()
    }
}

fn tmpfs(dest: &str, options: &str) -> MountPoint {
    MountPoint {
        kind: MountKind::Tmpfs,
        destination: dest.into(),
        rw: true,
        options: options.into(),
        ..Default::default()
    }
}

/// A mount's target must be an absolute path other than `/`, also once
/// cleaned as Docker cleans it (`/..` is `/`; `/a/../b` is `/b`, which is
/// returned). The error is Docker's, for a `-v` (`volume_flag`) or a
/// `--mount`/`--tmpfs` of `kind`.
fn absolute(dest: &str, spec: &str, kind: &str, flag: MountFlag) -> Result<String> {
    let cleaned = crate::gopath::clean_absolute(dest);
    if dest.starts_with('/') && cleaned != "/" {
        return Ok(cleaned);
    }
    Err(MountError::Relative {
        flag,
        spec: spec.into(),
        kind: kind.into(),
        dest: dest.into(),
    }
    .into())
}

/// `-v SRC:DST[:OPTS]` or `-v DST`: a bind mount when SRC is a path, a
/// named volume otherwise, an anonymous volume without SRC.
fn parse_volume_flag(spec: &str) -> Result<MountPoint> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, dest, opts) = match parts.as_slice() {
        [dest] => (None, *dest, ""),
        [source, dest] => (Some(*source), *dest, ""),
        [source, dest, opts] => (Some(*source), *dest, *opts),
        _ => return Err(MountError::VolumeSpec(spec.into()).into()),
    };
    let kind = match source {
        Some(s) if s.starts_with('/') => "bind",
        _ => "volume",
    };
    let dest = &absolute(dest, spec, kind, MountFlag::Volume)?;
    let mut rw = true;
    for opt in opts.split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => rw = false,
            "rw" | "z" | "Z" | "nocopy" | "rprivate" | "private" => {}
            _ => return Err(MountError::Mode(opt.into()).into()),
        }
    }
    match source {
        None => Ok(volume(None, dest, rw)),
        Some(s) if s.starts_with('/') => {
            // `-v` creates a missing host directory, as Docker does; an
            // existing file (`/dev/null`, a config file) is bound as it is.
            if std::fs::symlink_metadata(s).is_err() {
                std::fs::create_dir_all(s).map_err(|e| Error::io(s, e))?;
            }
            Ok(bind(s, dest, rw))
        }
        Some(name) => Ok(volume(Some(name), dest, rw)),
    }
}

/// `--mount type=volume|bind|tmpfs,source=…,target=…[,readonly]`.
fn parse_mount_flag(spec: &str) -> Result<MountPoint> {
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, "true"));
        fields.insert(k, v);
    }
    let get = |keys: &[&str]| keys.iter().find_map(|k| fields.get(k).copied());
    let kind = get(&["type"]).unwrap_or("volume");
    let dest = get(&["target", "destination", "dst"]).ok_or_else(|| {
        Error::from(super::options::invalid(
            "--mount",
            spec,
            "target is required",
        ))
    })?;
    let dest = &absolute(
        dest,
        spec,
        get(&["type"]).unwrap_or("volume"),
        MountFlag::Mount,
    )?;
    let rw = !matches!(get(&["readonly", "ro"]), Some("true" | "1"));
    let source = get(&["source", "src"]);
    match kind {
        "volume" => Ok(volume(source, dest, rw)),
        "bind" => {
            let source = source.ok_or(MountError::NoBindSource)?;
            if !Path::new(source).exists() {
                return Err(MountError::MissingBindSource(source.into()).into());
            }
            Ok(bind(source, dest, rw))
        }
        "tmpfs" => {
            let mut options = Vec::new();
            if let Some(size) = get(&["tmpfs-size"]) {
                options.push(format!("size={size}"));
            }
            if let Some(mode) = get(&["tmpfs-mode"]) {
                options.push(format!("mode={mode}"));
            }
            Ok(tmpfs(dest, &options.join(",")))
        }
        other => Err(MountError::Type(other.into()).into()),
    }
}

/// All the container's mounts. `image_volumes` are the image's `VOLUME`s,
/// which get anonymous volumes unless something else is mounted there.
pub fn resolve(
    flags: &MountFlags,
    image_volumes: &[String],
    volumes: &Volumes,
    containers: &Containers,
) -> Result<Vec<MountPoint>> {
    let mut out: Vec<MountPoint> = Vec::new();
    let add = |m: MountPoint, out: &mut Vec<MountPoint>| -> Result<()> {
        if out.iter().any(|o| o.destination == m.destination) {
            return Err(MountError::Duplicate(m.destination).into());
        }
        out.push(m);
        Ok(())
    };
    for spec in &flags.volumes {
        add(parse_volume_flag(spec)?, &mut out)?;
    }
    for spec in &flags.mounts {
        add(parse_mount_flag(spec)?, &mut out)?;
    }
    for spec in &flags.tmpfs {
        let (dest, options) = spec.split_once(':').unwrap_or((spec, ""));
        let dest = absolute(dest, spec, "tmpfs", MountFlag::Tmpfs)?;
        add(tmpfs(&dest, options), &mut out)?;
    }
    for spec in &flags.volumes_from {
        let (name, mode) = spec.split_once(':').unwrap_or((spec, ""));
        let from = containers.find(name)?;
        for mut m in from
            .mounts
            .into_iter()
            .filter(|m| m.kind != MountKind::Tmpfs)
        {
            match mode {
                "ro" => {
                    m.rw = false;
                    m.mode = "ro".into();
                }
                "rw" | "" => {}
                other => return Err(MountError::Mode(other.into()).into()),
            }
            if !out.iter().any(|o| o.destination == m.destination) {
                out.push(m);
            }
        }
    }
    for dest in image_volumes {
        if !out.iter().any(|o| &o.destination == dest) {
            out.push(volume(None, dest, true));
        }
    }
    // Everything checked: now the volumes are created (a `-v /path` or
    // an image VOLUME gets a new anonymous one; `--volumes-from` reuses).
    for m in out
        .iter_mut()
        .filter(|m| m.kind == MountKind::Volume && m.source.is_empty())
    {
        let v = if m.name.is_empty() {
            volumes.create_anonymous()?
        } else {
            volumes.create(&m.name, BTreeMap::new())?
        };
        m.name = v.name;
        m.source = v.mountpoint.display().to_string();
    }
    // Parents before children: /data before /data/logs.
    out.sort_by_key(|m| Path::new(&m.destination).components().count());
    Ok(out)
}

/// The names of the volumes some container uses (any state).
pub fn volumes_in_use(containers: &Containers) -> Result<BTreeMap<String, Vec<String>>> {
    let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in containers.list()? {
        for m in c.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            used.entry(m.name.clone()).or_default().push(c.id.clone());
        }
    }
    Ok(used)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_cleaned_and_never_the_root() {
        // Found by tests/properties.rs: `-v /..` mounted a volume over the
        // container's root (the start then failed on a confusing error).
        let err = parse_volume_flag("/..").unwrap_err().to_string();
        assert!(err.contains("destination can't be '/'"), "{err}");
        assert!(parse_mount_flag("type=tmpfs,target=/a/..").is_err());
        assert_eq!(
            parse_volume_flag("/a/../b/./c/").unwrap().destination,
            "/b/c"
        );
    }

    #[test]
    fn docker_volume_syntax() {
        let root = std::env::temp_dir().join(format!("mounts-{}", std::process::id()));
        let volumes = Volumes::open(&root).unwrap();
        let containers = Containers::open(&root, &root.join("run")).unwrap();
        let host = root.join("host");
        let flags = MountFlags {
            volumes: vec![
                "data:/data".into(),
                "/anon".into(),
                format!("{}:/etc/conf:ro", host.display()),
            ],
            mounts: vec!["type=tmpfs,target=/scratch,tmpfs-size=1m".into()],
            tmpfs: vec!["/run:size=2m".into()],
            volumes_from: vec![],
        };
        let m = resolve(
            &flags,
            &["/data".into(), "/var/lib/x".into()],
            &volumes,
            &containers,
        )
        .unwrap();
        let kinds: Vec<(MountKind, &str, bool)> = m
            .iter()
            .map(|m| (m.kind, m.destination.as_str(), m.rw))
            .collect();
        use MountKind::{Bind, Tmpfs, Volume};
        assert_eq!(
            kinds,
            [
                (Volume, "/data", true),
                (Volume, "/anon", true),
                (Tmpfs, "/scratch", true),
                (Tmpfs, "/run", true),
                (Bind, "/etc/conf", false),
                (Volume, "/var/lib/x", true),
            ]
        );
        assert!(host.is_dir(), "-v creates a missing bind source");
        assert_eq!(m[0].name, "data");
        assert!(volumes.get(&m[1].name).unwrap().anonymous());
        let dup = MountFlags {
            volumes: vec!["a:/x".into(), "b:/x".into()],
            ..Default::default()
        };
        assert!(resolve(&dup, &[], &volumes, &containers)
            .unwrap_err()
            .to_string()
            .contains("Duplicate mount point: /x"));
        let relative = MountFlags {
            volumes: vec!["a:x".into()],
            ..Default::default()
        };
        assert!(resolve(&relative, &[], &volumes, &containers).is_err());
        let missing = MountFlags {
            mounts: vec!["type=bind,source=/nonexistent/x,target=/x".into()],
            ..Default::default()
        };
        assert!(resolve(&missing, &[], &volumes, &containers)
            .unwrap_err()
            .to_string()
            .contains("bind source path does not exist"));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
