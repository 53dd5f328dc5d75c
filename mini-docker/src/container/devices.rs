//! Device nodes and the device policy of a container: Docker's default
//! (lesson 3's allow-list), `--device`, `--device-cgroup-rule` and
//! `--privileged`. A node in the container's `/dev` and the cgroup's
//! permission to use it always come together: the node without the
//! permission is useless, the permission without the node is what
//! `--device-cgroup-rule` is for (a node made later with `mknod`).

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Component, Path, PathBuf};

use cgroup_demo::devices::{Access, Kind, Rule, Rules};
use serde::{Deserialize, Serialize};

use super::create::CreateError;
use crate::{Error, Result};

/// `--device HOST[:CONTAINER][:PERMISSIONS]`, as `inspect` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

impl DeviceMapping {
    /// Docker's reading of the flag: a second field that is a valid mode
    /// (`rwm`, `r` …) is the mode, otherwise the container path; the
    /// container path must be absolute.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| Error::from(super::options::invalid("--device", text, why));
        if text.matches(':').count() > 2 || text.starts_with(':') || text.is_empty() {
            return Err(bad(format!("bad format for path: {text}")));
        }
        let parts: Vec<&str> = text.split(':').collect();
        let is_mode = |s: &str| Access::parse(s).is_some();
        let (host, container, mode) = match parts[..] {
            [host] => (host, host, "rwm"),
            [host, mode] if is_mode(mode) => (host, host, mode),
            [host, container] => (host, container, "rwm"),
            [host, container, mode] => {
                if !is_mode(mode) {
                    return Err(bad(format!("bad mode specified: {mode}")));
                }
                (host, container, mode)
            }
            _ => unreachable!("at most two colons"),
        };
        if !container.starts_with('/') {
            return Err(bad(format!("{container} is not an absolute path")));
        }
        Ok(DeviceMapping {
            path_on_host: host.to_string(),
            path_in_container: container.to_string(),
            cgroup_permissions: mode.to_string(),
        })
    }
}

/// A device node to make in the container, a copy of a host node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Absolute, inside the container.
    pub path: PathBuf,
    pub kind: Kind,
    pub major: u32,
    pub minor: u32,
    /// Permission bits, owner and group, as on the host.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// What a container gets: the nodes to create in its `/dev` (beyond the
/// standard ones) and the cgroup's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub nodes: Vec<Node>,
    pub rules: Rules,
}

/// Host directories whose contents are not devices to copy: the host's
/// own pty instance, shared memory, message queues, descriptors.
const NOT_COPIED: [&str; 5] = ["pts", "shm", "mqueue", "fd", ".lxc"];

/// The container's policy from its `HostConfig`: Docker's default list,
/// then each `--device` (resolved on the host now, as Docker does at
/// start), then each `--device-cgroup-rule`; `--privileged` gets every
/// host device and no restriction.
pub fn policy(
    privileged: bool,
    devices: &[DeviceMapping],
    cgroup_rules: &[String],
) -> Result<Policy> {
    if privileged {
        let mut nodes = Vec::new();
        host_nodes(Path::new("/dev"), Path::new("/dev"), &mut nodes, true)
            .map_err(|e| Error::io("/dev", e))?;
        return Ok(Policy {
            nodes,
            rules: Rules(vec![Rule::everything(true)]),
        });
    }
    let mut rules = Rules::container_default();
    let mut nodes = Vec::new();
    for mapping in devices {
        let access = Access::parse(&mapping.cgroup_permissions).unwrap_or(Access::ALL);
        let found = resolve(mapping).map_err(|e| CreateError::DeviceInfo {
            path: mapping.path_on_host.clone(),
            why: e.to_string(),
        })?;
        for node in found {
            rules
                .0
                .push(Rule::allow(node.kind, node.major, node.minor, access));
            nodes.push(node);
        }
    }
    for text in cgroup_rules {
        rules.0.push(text.parse()?);
    }
    Ok(Policy { nodes, rules })
}

/// One `--device`: a device node, or a directory of them (each found
/// below it, at the same place under the container path).
fn resolve(mapping: &DeviceMapping) -> std::io::Result<Vec<Node>> {
    let host = std::fs::canonicalize(&mapping.path_on_host)?;
    let target = Path::new(&mapping.path_in_container);
    if let Some(node) = node(&host, target)? {
        return Ok(vec![node]);
    }
    if !host.is_dir() {
        return Err(std::io::Error::other("not a device node"));
    }
    let mut nodes = Vec::new();
    host_nodes(&host, target, &mut nodes, false)?;
    Ok(nodes)
}

/// The node at `host` as one to create at `target`, if it is a device.
fn node(host: &Path, target: &Path) -> std::io::Result<Option<Node>> {
    let meta = std::fs::symlink_metadata(host)?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => Kind::Char,
        t if t.is_block_device() => Kind::Block,
        _ => return Ok(None),
    };
    let rdev = meta.rdev();
    Ok(Some(Node {
        path: target.to_path_buf(),
        kind,
        major: libc::major(rdev),
        minor: libc::minor(rdev),
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
    }))
}

/// Every device node below `dir`, mapped under `target`; `skip_special`
/// leaves out the host's `/dev/pts` & co. (for `--privileged`).
fn host_nodes(
    dir: &Path,
    target: &Path,
    out: &mut Vec<Node>,
    skip_special: bool,
) -> std::io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if skip_special && NOT_COPIED.iter().any(|n| name == *n) {
            continue;
        }
        let (host, inside) = (entry.path(), target.join(&name));
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            host_nodes(&host, &inside, out, false)?;
        } else if let Some(node) = node(&host, &inside)? {
            out.push(node);
        }
    }
    Ok(())
}

/// A container path made relative, with `..` refused (the node is made
/// inside the container's root).
pub fn relative(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(host: &str, container: &str, mode: &str) -> DeviceMapping {
        DeviceMapping {
            path_on_host: host.into(),
            path_in_container: container.into(),
            cgroup_permissions: mode.into(),
        }
    }

    #[test]
    fn device_flags_read_as_docker_reads_them() {
        let parse = |t| DeviceMapping::parse(t).unwrap();
        assert_eq!(parse("/dev/sda"), mapping("/dev/sda", "/dev/sda", "rwm"));
        assert_eq!(parse("/dev/sda:r"), mapping("/dev/sda", "/dev/sda", "r"));
        assert_eq!(
            parse("/dev/sda:/dev/xvda"),
            mapping("/dev/sda", "/dev/xvda", "rwm")
        );
        assert_eq!(
            parse("/dev/sda:/dev/xvda:rw"),
            mapping("/dev/sda", "/dev/xvda", "rw")
        );
        let err = |t| DeviceMapping::parse(t).unwrap_err().to_string();
        assert_eq!(
            err("/dev/sda:xvda"),
            "invalid argument \"/dev/sda:xvda\" for \"--device\" flag: xvda is not an absolute path"
        );
        assert!(err("/dev/sda:/x:rwx").ends_with("bad mode specified: rwx"));
        assert!(err("/dev/sda:/x:rr").ends_with("bad mode specified: rr"));
        assert!(err("a:b:c:d").ends_with("bad format for path: a:b:c:d"));
        assert!(err(":/x").ends_with("bad format for path: :/x"));
    }

    #[test]
    fn a_device_adds_its_node_and_its_rule() {
        let policy = policy(false, &[mapping("/dev/null", "/dev/nothing", "r")], &[]).unwrap();
        assert_eq!(policy.nodes.len(), 1);
        assert_eq!(policy.nodes[0].path, Path::new("/dev/nothing"));
        assert_eq!((policy.nodes[0].major, policy.nodes[0].minor), (1, 3));
        assert_eq!(policy.rules.0.last().unwrap().to_string(), "c 1:3 r");
    }

    #[test]
    fn missing_or_plain_files_are_refused_with_dockers_message() {
        let err = |host: &str| {
            policy(false, &[mapping(host, "/dev/x", "rwm")], &[])
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("/nonexistent-device"),
            "error gathering device information while adding custom device \"/nonexistent-device\": No such file or directory (os error 2)"
        );
        assert!(err("/etc/hostname").ends_with("not a device node"));
    }

    #[test]
    fn cgroup_rules_follow_the_defaults_and_privileged_allows_all() {
        let p = policy(false, &[], &["b 7:* rw".into()]).unwrap();
        assert_eq!(p.rules.0.last().unwrap().to_string(), "b 7:* rw");
        assert!(p.rules.0.len() > 1 && !p.rules.0[0].allow);
        assert!(policy(false, &[], &["x".into()]).is_err());
        assert!(policy(true, &[], &[]).unwrap().rules.allows_everything());
    }

    #[test]
    fn container_paths_stay_inside() {
        assert_eq!(
            relative(Path::new("/dev/xvda")),
            Some(PathBuf::from("dev/xvda"))
        );
        assert_eq!(relative(Path::new("/dev/../etc/x")), None);
        assert_eq!(relative(Path::new("/")), None);
    }
}
