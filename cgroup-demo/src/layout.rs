//! Which cgroup setup the host has, and where each hierarchy is mounted.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The cgroup API version a driver speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        })
    }
}

/// How the host mounts cgroups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Only v1 hierarchies, one (or a few) controllers each.
    Legacy,
    /// v1 controller hierarchies plus a cgroup2 mount that tracks processes
    /// but has no controllers (systemd's "hybrid" mode).
    Hybrid,
    /// One cgroup2 hierarchy with every controller.
    Unified,
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Setup::Legacy => "legacy (cgroup v1 only)",
            Setup::Hybrid => {
                "hybrid (cgroup v1 controllers, plus a cgroup2 mount without controllers)"
            }
            Setup::Unified => "unified (cgroup v2)",
        })
    }
}

/// v1 controllers a runtime may use.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "net_cls",
    "net_prio",
    "perf_event",
    "hugetlb",
    "rdma",
    "misc",
];

/// One v1 hierarchy as the host mounts it: what a container's own
/// `/sys/fs/cgroup/<name>` mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (`/` unless the host itself is
    /// inside a cgroup namespace, or the mount is a bind of a sub-cgroup).
    pub root: PathBuf,
    /// Controllers and name, as mounted (`cpu`, `cpuacct`; `name=systemd`):
    /// a second mount of the hierarchy must ask for exactly these.
    pub subsystems: Vec<String>,
}

/// The host's cgroup mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub setup: Setup,
    /// Mount point of each v1 controller (`cpu` → `/sys/fs/cgroup/cpu`).
    pub v1: BTreeMap<String, PathBuf>,
    /// Every v1 hierarchy, named ones (`name=systemd`) included, in
    /// mountinfo order, each once (its first mount).
    pub hierarchies: Vec<Hierarchy>,
    /// The cgroup2 mount, if any.
    pub unified: Option<PathBuf>,
}

impl Layout {
    /// Reads `/proc/self/mountinfo`.
    pub fn detect() -> Result<Self> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| Error::file("/proc/self/mountinfo", e))?;
        Self::parse(&text)
    }

    /// Parses mountinfo text (exposed for tests of other layouts).
    pub fn parse(mountinfo: &str) -> Result<Self> {
        let mut v1 = BTreeMap::new();
        let mut hierarchies: Vec<Hierarchy> = Vec::new();
        let mut unified = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let mut left = left.split(' ');
            let (Some(root), Some(mount_point)) = (left.nth(3), left.next()) else {
                continue;
            };
            let mut fields = right.split(' ');
            let fstype = fields.next().unwrap_or_default();
            let options = fields.nth(1).unwrap_or_default();
            match fstype {
                "cgroup2" => unified = Some(PathBuf::from(mount_point)),
                "cgroup" => {
                    let subsystems: Vec<String> = options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect();
                    for option in subsystems.iter().filter(|o| !o.starts_with("name=")) {
                        v1.insert(option.clone(), PathBuf::from(mount_point));
                    }
                    if !subsystems.is_empty()
                        && !hierarchies.iter().any(|h| h.subsystems == subsystems)
                    {
                        hierarchies.push(Hierarchy {
                            mount_point: PathBuf::from(mount_point),
                            root: PathBuf::from(root),
                            subsystems,
                        });
                    }
                }
                _ => {}
            }
        }
        let setup = match (v1.is_empty(), &unified) {
            (true, Some(_)) => Setup::Unified,
            (false, Some(_)) => Setup::Hybrid,
            (false, None) => Setup::Legacy,
            (true, None) => {
                return Err(Error::Unsupported(
                    "no cgroup filesystem is mounted (mount -t cgroup2 none /sys/fs/cgroup)".into(),
                ))
            }
        };
        Ok(Layout {
            setup,
            v1,
            hierarchies,
            unified,
        })
    }

    /// The version whose controllers limit resources here: v1 on legacy and
    /// hybrid hosts (the cgroup2 mount of a hybrid host has no controllers),
    /// v2 on unified ones.
    pub fn version(&self) -> Version {
        match self.setup {
            Setup::Unified => Version::V2,
            Setup::Legacy | Setup::Hybrid => Version::V1,
        }
    }

    /// Where a v1 controller is mounted.
    pub fn v1_root(&self, controller: &str) -> Option<&Path> {
        self.v1.get(controller).map(PathBuf::as_path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn detects_the_three_setups() {
        let hybrid = Layout::parse(HYBRID).unwrap();
        assert_eq!(hybrid.setup, Setup::Hybrid);
        assert_eq!(hybrid.version(), Version::V1);
        assert_eq!(
            hybrid.v1_root("cpuacct"),
            Some(Path::new("/sys/fs/cgroup/cpu,cpuacct"))
        );
        assert!(!hybrid.v1.contains_key("name=systemd"));
        let mounted: Vec<(&Path, Vec<&str>)> = hybrid
            .hierarchies
            .iter()
            .map(|h| {
                assert_eq!(h.root, Path::new("/"));
                let subsystems = h.subsystems.iter().map(String::as_str).collect();
                (h.mount_point.as_path(), subsystems)
            })
            .collect();
        assert_eq!(
            mounted,
            [
                (
                    Path::new("/sys/fs/cgroup/cpu,cpuacct"),
                    vec!["cpu", "cpuacct"]
                ),
                (Path::new("/sys/fs/cgroup/memory"), vec!["memory"]),
                (Path::new("/sys/fs/cgroup/systemd"), vec!["name=systemd"]),
            ]
        );

        let legacy: String = HYBRID
            .lines()
            .filter(|l| !l.contains("cgroup2"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(Layout::parse(&legacy).unwrap().setup, Setup::Legacy);

        let unified =
            Layout::parse("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n")
                .unwrap();
        assert_eq!(unified.setup, Setup::Unified);
        assert_eq!(unified.version(), Version::V2);
        assert_eq!(
            unified.unified.as_deref(),
            Some(Path::new("/sys/fs/cgroup"))
        );

        assert!(Layout::parse("").is_err());
    }
}
