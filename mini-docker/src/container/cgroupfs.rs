//! The container's own cgroup filesystem at `/sys/fs/cgroup`, as Docker
//! (runc) builds it, so that a program inside can read its limits:
//!
//! - cgroup v2, private namespace: a new `cgroup2` mount, whose root is the
//!   namespace's — the container's own cgroup (`memory.max` is the `-m`
//!   limit);
//! - cgroup v2, host namespace: the host's hierarchy, bound rather than
//!   mounted anew: a new `cgroup2` mount in the host's cgroup namespace
//!   would reset the host's `nsdelegate` and `memory_recursiveprot`
//!   (runc#5258);
//! - cgroup v1: a tmpfs with one directory per hierarchy, each the
//!   container's own cgroup (`memory/memory.limit_in_bytes`): bound from
//!   the host in the host namespace, mounted anew (rooted at the
//!   namespace's cgroup) in a private one; co-mounted controllers get
//!   runc's symlinks (`cpu -> cpu,cpuacct`), and the tmpfs turns
//!   read-only once filled.
//!
//! Read-only except for `--privileged` containers (Docker's rule). The
//! container's first process builds it in its own mount namespace, after
//! the monitor has moved it into its cgroup: nothing reaches the host.

use std::path::{Path, PathBuf};

use cgroup_demo::{Layout, Version};
use nix::mount::MsFlags;

use super::record::CgroupnsMode;
use super::scope;
use super::setup::mnt;
use crate::{Error, Result};

/// Where a container sees its cgroups.
pub const TARGET: &str = "/sys/fs/cgroup";

/// Whether one of the container's own mounts goes at [`TARGET`].
pub fn replaced_by(mounts: &[super::record::MountPoint]) -> bool {
    mounts.iter().any(|m| {
        Path::new(&m.destination)
            .components()
            .eq(Path::new(TARGET).components())
    })
}

/// One step of building [`TARGET`]; `dir`s are relative to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A new cgroup2 mount at [`TARGET`], rooted at the cgroup namespace's
    /// root.
    Cgroup2,
    /// A host directory bound at `dir` (`""`: [`TARGET`] itself).
    Bind { source: PathBuf, dir: String },
    /// v1: the tmpfs at [`TARGET`] that holds the hierarchies.
    Tmpfs,
    /// v1: a new mount of the existing hierarchy made of `subsystems`
    /// (`cpu,cpuacct`, `name=systemd`) at `dir`.
    Cgroup1 { subsystems: String, dir: String },
    /// v1: `link -> target` for each controller of a co-mounted hierarchy.
    Symlink { link: String, target: String },
    /// v1: the tmpfs read-only, now that it is filled.
    SealTmpfs,
}

/// What the container's first process needs to build its view, prepared
/// by the monitor.
#[derive(Debug, Clone)]
pub struct View {
    pub layout: Layout,
    pub mode: CgroupnsMode,
    /// Everything but `--privileged`.
    pub read_only: bool,
    /// A volume or bind mount at [`TARGET`] replaces this view, as a user
    /// mount replaces Docker's default one at the same place.
    pub replaced: bool,
}

impl View {
    /// In the child, once it is in its cgroup and before `pivot_root`
    /// (`root` is the container's root as the host sees it, and the host's
    /// hierarchies are still reachable for the binds): a private cgroup
    /// namespace if asked for, then the mounts.
    pub fn enter(&self, root: &Path) -> Result<()> {
        if self.mode == CgroupnsMode::Private {
            ns_demo::spawn::unshare(&[ns_demo::Kind::Cgroup])?;
        }
        self.mount(root)
    }

    /// The mounts alone, in a cgroup namespace the caller already chose
    /// (mini-runc unshares it where the bundle asks, mounts where the
    /// bundle's `cgroup` mount says).
    pub fn mount(&self, root: &Path) -> Result<()> {
        if self.replaced {
            return Ok(());
        }
        // The host's paths of our own cgroups, for the v1 binds; read after
        // the move, so the monitor's writes to `cgroup.procs` are in it.
        let own = if self.mode == CgroupnsMode::Host && self.layout.version() == Version::V1 {
            let path = "/proc/self/cgroup";
            std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
        } else {
            String::new()
        };
        let steps = plan(&self.layout, &own, self.mode, self.read_only)?;
        let target = scope::resolve(root, Path::new(TARGET))?;
        for step in &steps {
            run(&target, step, self.read_only)?;
        }
        Ok(())
    }
}

/// The steps for a host's `layout`, the container's `/proc/self/cgroup`
/// as the host's cgroup namespace shows it (`own`, read for v1 binds only)
/// and the namespace mode.
pub fn plan(layout: &Layout, own: &str, mode: CgroupnsMode, read_only: bool) -> Result<Vec<Step>> {
    if layout.version() == Version::V2 {
        return Ok(match mode {
            CgroupnsMode::Private => vec![Step::Cgroup2],
            CgroupnsMode::Host => vec![Step::Bind {
                source: layout
                    .unified
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(TARGET)),
                dir: String::new(),
            }],
        });
    }
    let mut steps = vec![Step::Tmpfs];
    let mut dirs = Vec::new();
    for h in &layout.hierarchies {
        let dir = h
            .mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| h.subsystems.join(","));
        steps.push(match mode {
            CgroupnsMode::Private => Step::Cgroup1 {
                subsystems: h.subsystems.join(","),
                dir: dir.clone(),
            },
            CgroupnsMode::Host => {
                let rel = own_cgroup(own, &h.subsystems, &h.root)?;
                Step::Bind {
                    source: if rel.as_os_str().is_empty() {
                        h.mount_point.clone()
                    } else {
                        h.mount_point.join(rel)
                    },
                    dir: dir.clone(),
                }
            }
        });
        dirs.push(dir);
    }
    for dir in dirs.iter().filter(|d| d.contains(',')) {
        for part in dir.split(',').filter(|p| !dirs.iter().any(|d| d == p)) {
            steps.push(Step::Symlink {
                link: part.to_string(),
                target: dir.clone(),
            });
        }
    }
    if read_only {
        steps.push(Step::SealTmpfs);
    }
    Ok(steps)
}

/// The hierarchy's line of `/proc/self/cgroup` (`4:cpu,cpuacct:/a/b`), as
/// a path relative to the hierarchy's mounted `root`.
fn own_cgroup(own: &str, subsystems: &[String], root: &Path) -> Result<PathBuf> {
    let mut wanted: Vec<&str> = subsystems.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    let path = own
        .lines()
        .find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, list, path) = (fields.next()?, fields.next()?, fields.next()?);
            let mut listed: Vec<&str> = list.split(',').collect();
            listed.sort_unstable();
            (listed == wanted).then_some(path)
        })
        .ok_or_else(|| {
            Error::NotFound(format!(
                "no {} line in /proc/self/cgroup",
                subsystems.join(",")
            ))
        })?;
    Path::new(path)
        .strip_prefix(root)
        .map(Path::to_path_buf)
        .map_err(|_| {
            Error::NotFound(format!(
                "cgroup {path} is outside the mounted {}",
                root.display()
            ))
        })
}

fn run(target: &Path, step: &Step, read_only: bool) -> Result<()> {
    let common = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let (flags, ro) = if read_only {
        (common | MsFlags::MS_RDONLY, "ro,")
    } else {
        (common, "")
    };
    let shown = |dir: &str| Path::new(TARGET).join(dir).display().to_string();
    match step {
        Step::Cgroup2 => mnt(
            "cgroup2",
            target,
            Some("cgroup2"),
            flags,
            None,
            format!("mount -t cgroup2 -o {ro}nosuid,nodev,noexec cgroup2 {TARGET}"),
        ),
        Step::Tmpfs => mnt(
            "tmpfs",
            target,
            Some("tmpfs"),
            common,
            Some("mode=755"),
            format!("mount -t tmpfs -o nosuid,nodev,noexec,mode=755 tmpfs {TARGET}"),
        ),
        Step::Cgroup1 { subsystems, dir } => {
            let at = mkdir(target, dir)?;
            mnt(
                "cgroup",
                &at,
                Some("cgroup"),
                flags,
                Some(subsystems),
                format!(
                    "mount -t cgroup -o {ro}nosuid,nodev,noexec,{subsystems} cgroup {}",
                    shown(dir)
                ),
            )
        }
        Step::Bind { source, dir } => {
            let at = if dir.is_empty() {
                target.to_path_buf()
            } else {
                mkdir(target, dir)?
            };
            let from = source.to_string_lossy();
            mnt(
                &from,
                &at,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
                format!("mount --rbind {from} {}", shown(dir)),
            )?;
            // A bind takes its flags from a remount.
            let flags = flags | MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
            let shown = format!(
                "mount -o remount,bind,{ro}nosuid,nodev,noexec {}",
                shown(dir)
            );
            mnt("none", &at, None, flags, None, shown)
        }
        Step::Symlink { link, target: to } => {
            let path = target.join(link);
            tracing::info!(target: "explain", "ln -s {to} {}", shown(link));
            std::os::unix::fs::symlink(to, &path).map_err(|e| Error::io(&path, e))
        }
        Step::SealTmpfs => mnt(
            "none",
            target,
            None,
            common | MsFlags::MS_RDONLY | MsFlags::MS_BIND | MsFlags::MS_REMOUNT,
            None,
            format!("mount -o remount,bind,ro {TARGET}"),
        ),
    }
}

fn mkdir(target: &Path, dir: &str) -> Result<PathBuf> {
    let path = target.join(dir);
    std::fs::create_dir(&path).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hybrid host whose cpu and cpuacct share a hierarchy, as most do.
    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/net_cls,net_prio rw,relatime - cgroup cgroup rw,net_cls,net_prio
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const OWN: &str = "\
12:name=systemd:/user.slice/session-1.scope
5:net_prio,net_cls:/
4:memory:/mini-docker/abc
2:cpuacct,cpu:/mini-docker/abc
0::/user.slice/session-1.scope
";

    fn bind(source: &str, dir: &str) -> Step {
        Step::Bind {
            source: source.into(),
            dir: dir.into(),
        }
    }

    fn link(link: &str, target: &str) -> Step {
        Step::Symlink {
            link: link.into(),
            target: target.into(),
        }
    }

    #[test]
    fn v1_host_binds_each_hierarchys_own_cgroup() {
        let layout = Layout::parse(HYBRID).unwrap();
        let steps = plan(&layout, OWN, CgroupnsMode::Host, true).unwrap();
        assert_eq!(
            steps,
            [
                Step::Tmpfs,
                bind("/sys/fs/cgroup/cpu,cpuacct/mini-docker/abc", "cpu,cpuacct"),
                bind("/sys/fs/cgroup/memory/mini-docker/abc", "memory"),
                bind("/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio"),
                bind(
                    "/sys/fs/cgroup/systemd/user.slice/session-1.scope",
                    "systemd"
                ),
                link("cpu", "cpu,cpuacct"),
                link("cpuacct", "cpu,cpuacct"),
                link("net_cls", "net_cls,net_prio"),
                link("net_prio", "net_cls,net_prio"),
                Step::SealTmpfs,
            ]
        );
    }

    #[test]
    fn v1_private_mounts_each_hierarchy_anew() {
        let layout = Layout::parse(HYBRID).unwrap();
        // Privileged: read-write, the tmpfs too.
        let steps = plan(&layout, "", CgroupnsMode::Private, false).unwrap();
        let mounted: Vec<(&str, &str)> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Cgroup1 { subsystems, dir } => Some((subsystems.as_str(), dir.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(
            mounted,
            [
                ("cpu,cpuacct", "cpu,cpuacct"),
                ("memory", "memory"),
                ("net_cls,net_prio", "net_cls,net_prio"),
                ("name=systemd", "systemd"),
            ]
        );
        assert_eq!(steps.first(), Some(&Step::Tmpfs));
        assert!(!steps.contains(&Step::SealTmpfs));
        assert!(steps.contains(&link("cpuacct", "cpu,cpuacct")));
    }

    #[test]
    fn v1_host_follows_the_hierarchys_mounted_root() {
        // The host itself inside a cgroup namespace or a bind of a subtree.
        let layout =
            Layout::parse("35 31 0:32 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")
                .unwrap();
        let own = "4:memory:/outer/mini-docker/abc\n";
        let steps = plan(&layout, own, CgroupnsMode::Host, true).unwrap();
        assert_eq!(
            steps[1],
            bind("/sys/fs/cgroup/memory/mini-docker/abc", "memory")
        );
        let elsewhere = "4:memory:/other\n";
        assert!(plan(&layout, elsewhere, CgroupnsMode::Host, true).is_err());
        assert!(plan(&layout, "", CgroupnsMode::Host, true).is_err());
    }

    #[test]
    fn a_users_mount_at_sys_fs_cgroup_replaces_the_view() {
        let at = |destination: &str| super::super::record::MountPoint {
            destination: destination.into(),
            ..Default::default()
        };
        assert!(replaced_by(&[at("/data"), at("/sys/fs/cgroup/")]));
        assert!(!replaced_by(&[at("/sys/fs/cgroup/memory"), at("/sys")]));
    }

    #[test]
    fn v2_mounts_the_namespace_or_binds_the_host_hierarchy() {
        let layout = Layout::parse(
            "30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n",
        )
        .unwrap();
        assert_eq!(
            plan(&layout, "", CgroupnsMode::Private, true).unwrap(),
            [Step::Cgroup2]
        );
        assert_eq!(
            plan(&layout, "", CgroupnsMode::Host, true).unwrap(),
            [bind("/sys/fs/cgroup", "")]
        );
    }
}
