//! `system reset` (Podman's command): everything a store made goes, on the
//! host too — containers (running ones are killed), their cgroups and
//! veths, every network with its bridge (the default one included) and
//! its outbound NAT rule, volumes, images, and finally the state root and
//! the run directory themselves. What stays is shared with other stores:
//! the host-wide network lock and `net.ipv4.ip_forward`.

use std::fs;
use std::path::{Path, PathBuf};

use crate::container::dir::Containers;
use crate::container::lifecycle;
use crate::network::Networks;
use crate::store::Store;
use crate::volume::Volumes;
use crate::{Error, Result};

/// Why a reset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResetError {
    #[error("refusing to reset {}: it is not a mini-docker directory", .0.display())]
    NotAStore(PathBuf),
}

/// What a reset removed, for the report.
#[derive(Debug, Default)]
pub struct Removed {
    pub containers: Vec<String>,
    pub volumes: Vec<String>,
    pub networks: Vec<String>,
    /// `iptables` rules, as `SUBNET via BRIDGE`.
    pub nat_rules: Vec<String>,
    pub images: Vec<String>,
    /// Mounts found below the two directories (a crash's leftovers).
    pub mounts: Vec<String>,
    pub directories: Vec<PathBuf>,
}

/// Removes everything of the store at `store.root()` whose run directory
/// is `runroot`. The directories are refused when they are `/`.
pub fn reset(store: &Store, containers: &Containers, runroot: &Path) -> Result<Removed> {
    let root = store.root();
    for dir in [root, runroot] {
        if dir.parent().is_none() {
            return Err(ResetError::NotAStore(dir.to_path_buf()).into());
        }
    }
    let mut removed = Removed::default();
    for c in containers.list()? {
        lifecycle::remove(containers, &c, true)?;
        removed.containers.push(c.id);
    }
    // Those whose config.json is damaged (found by name only).
    for entry in fs::read_dir(containers.store_root().join("containers"))
        .map_err(|e| Error::io(root, e))?
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = containers.damaged(&name) {
            lifecycle::remove_damaged(containers, &id)?;
            removed.containers.push(id);
        }
    }
    let networks = Networks::open(root)?;
    let gone = networks.recorded()?;
    for n in &gone {
        networks.remove(n)?;
        removed.networks.push(n.name.clone());
    }
    removed.nat_rules = networks
        .remove_nat_rules(&gone)?
        .iter()
        .map(|r| format!("{} via {}", r.subnet, r.bridge))
        .collect();
    removed.volumes = Volumes::open(root)?
        .list()?
        .into_iter()
        .map(|v| v.name)
        .collect();
    removed.images = store.images()?.iter().map(ToString::to_string).collect();
    removed.mounts = detach_mounts_below(&[root, runroot]);
    for dir in [root, runroot] {
        match fs::remove_dir_all(dir) {
            Ok(()) => removed.directories.push(dir.to_path_buf()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(dir, e)),
        }
    }
    Ok(removed)
}

/// Lazily unmounts what is mounted below `dirs`, deepest first, so that
/// removing the directories cannot reach through a mount. Returns the
/// mount points.
fn detach_mounts_below(dirs: &[&Path]) -> Vec<String> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<String> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| p.replace("\\040", " "))
        .filter(|p| dirs.iter().any(|d| Path::new(p).starts_with(d)))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    points.dedup();
    for p in &points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    points
}
