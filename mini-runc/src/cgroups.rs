//! The container's cgroup: where `cgroupsPath` puts it, and the bundle's
//! `linux.resources` written through cgroup-demo (the same driver and
//! files as `docker run`'s flags), plus the few files cgroup-demo has no
//! flag for, written here directly.

use std::path::{Path, PathBuf};

use cgroup_demo::devices::{Access, Kind as DeviceKind, Rule, Rules};
use cgroup_demo::limits::{CpuMax, Quota, Resolved};
use cgroup_demo::{Cgroup, Driver, Layout, Version};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, LinuxResources};

use crate::{log, Error, Result};

/// Where the container's cgroup goes. runc's rules without systemd: an
/// absolute or relative path as given (relative to the hierarchy roots
/// here), none given means `/<id>`; a systemd-style `slice:prefix:name`
/// is expanded the way runc's systemd driver names it
/// (`system.slice:docker:abc` → `/system.slice/docker-abc.scope`,
/// `a-b.slice` → `/a.slice/a-b.slice`) and used as a cgroupfs path.
pub fn path(cgroups_path: Option<&Path>, id: &str, systemd: bool) -> Result<PathBuf> {
    let Some(given) = cgroups_path.map(|p| p.to_string_lossy().into_owned()) else {
        return Ok(PathBuf::from(id));
    };
    let parts: Vec<&str> = given.split(':').collect();
    let path = if parts.len() == 3 && !given.starts_with('/') {
        let (slice, prefix, name) = (parts[0], parts[1], parts[2]);
        let slice = if slice.is_empty() {
            "system.slice"
        } else {
            slice
        };
        let unit = if name.ends_with(".slice") {
            name.to_string()
        } else if prefix.is_empty() {
            format!("{name}.scope")
        } else {
            format!("{prefix}-{name}.scope")
        };
        expand_slice(slice)?.join(unit)
    } else if systemd {
        return Err(Error::Config(format!(
            "cgroupsPath {given:?} is not of the form slice:prefix:name that --systemd-cgroup expects"
        )));
    } else {
        PathBuf::from(given)
    };
    let relative: PathBuf = path
        .components()
        .filter(|c| matches!(c, std::path::Component::Normal(_)))
        .collect();
    if relative.as_os_str().is_empty() || path.components().any(|c| c.as_os_str() == "..") {
        return Err(Error::Config(format!(
            "cgroupsPath {} is not a cgroup below the root",
            path.display()
        )));
    }
    Ok(relative)
}

/// systemd's slice naming: each dash is one level deeper.
fn expand_slice(slice: &str) -> Result<PathBuf> {
    let Some(stem) = slice.strip_suffix(".slice") else {
        return Err(Error::Config(format!("{slice:?} is not a slice")));
    };
    if stem == "-" {
        return Ok(PathBuf::from("/"));
    }
    if stem.is_empty() || stem.contains('/') || stem.starts_with('-') || stem.ends_with('-') {
        return Err(Error::Config(format!(
            "{slice:?} is not a valid slice name"
        )));
    }
    let mut path = PathBuf::from("/");
    let mut prefix = String::new();
    for part in stem.split('-') {
        if part.is_empty() {
            return Err(Error::Config(format!(
                "{slice:?} is not a valid slice name"
            )));
        }
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push(format!("{prefix}.slice"));
    }
    Ok(path)
}

/// Creates the cgroup and applies the resources.
pub fn create(
    relative: &Path,
    resources: Option<&LinuxResources>,
    nodes: &[LinuxDevice],
) -> Result<Cgroup> {
    let driver = Driver::for_host()?;
    let cgroup = driver.create(relative)?;
    if let Err(e) = apply(&cgroup, resources, nodes) {
        let _ = cgroup.remove();
        return Err(e);
    }
    Ok(cgroup)
}

/// Writes `resources`. The device rules are written at create, and at
/// `update` only when given.
pub fn apply(
    cgroup: &Cgroup,
    resources: Option<&LinuxResources>,
    nodes: &[LinuxDevice],
) -> Result<()> {
    let default = LinuxResources::default();
    let r = resources.unwrap_or(&default);
    if r.network().is_some() {
        return Err(Error::Unsupported("linux.resources.network".into()));
    }
    if r.rdma().as_ref().is_some_and(|m| !m.is_empty()) {
        return Err(Error::Unsupported("linux.resources.rdma".into()));
    }
    let mut limits = Resolved::default();
    let mut files: Vec<(&str, String, String)> = Vec::new();
    if let Some(cpu) = r.cpu() {
        limits.cpu_shares = cpu.shares().filter(|&s| s != 0);
        let quota = cpu.quota().filter(|&q| q != 0).map(|q| {
            if q < 0 {
                Quota::Unlimited
            } else {
                Quota::Micros(q as u64)
            }
        });
        let period = cpu.period().filter(|&p| p != 0);
        if quota.is_some() || period.is_some() {
            limits.cpu_max = Some(CpuMax { quota, period });
        }
        limits.cpuset_cpus = cpu.cpus().clone().filter(|c| !c.is_empty());
        if let Some(mems) = cpu.mems().as_ref().filter(|m| !m.is_empty()) {
            files.push(("cpuset", "cpuset.mems".into(), mems.clone()));
        }
        if cpu.realtime_runtime().is_some_and(|v| v != 0)
            || cpu.realtime_period().is_some_and(|v| v != 0)
        {
            return Err(Error::Unsupported(
                "realtime CPU scheduling (cpu.realtimeRuntime)".into(),
            ));
        }
        if cpu.idle().is_some_and(|v| v != 0) {
            return Err(Error::Unsupported("linux.resources.cpu.idle".into()));
        }
        if cpu.burst().is_some_and(|v| v != 0) {
            return Err(Error::Unsupported("linux.resources.cpu.burst".into()));
        }
    }
    if let Some(memory) = r.memory() {
        limits.memory = memory.limit().filter(|&m| m != 0);
        limits.memory_swap = memory.swap().filter(|&m| m != 0);
        limits.memory_reservation = memory.reservation().filter(|&m| m != 0);
        if memory.kernel().is_some_and(|k| k != 0) || memory.kernel_tcp().is_some_and(|k| k != 0) {
            log::warn("linux.resources.memory.kernel and kernelTCP are deprecated and ignored");
        }
        if let Some(swappiness) = memory.swappiness().filter(|&s| s <= 100) {
            if cgroup.version() == Version::V2 {
                return Err(Error::Unsupported("memory.swappiness on cgroup v2".into()));
            }
            files.push(("memory", "memory.swappiness".into(), swappiness.to_string()));
        }
        if memory.disable_oom_killer() == Some(true) {
            if cgroup.version() == Version::V2 {
                return Err(Error::Unsupported("disableOOMKiller on cgroup v2".into()));
            }
            files.push(("memory", "memory.oom_control".into(), "1".into()));
        }
    }
    if let Some(pids) = r.pids() {
        limits.pids_max = Some((pids.limit() > 0).then_some(pids.limit() as u64));
    }
    if let Some(io) = r.block_io() {
        limits.blkio_weight = io.weight().filter(|&w| w != 0);
        let v1 = cgroup.version() == Version::V1;
        let throttles = [
            (
                io.throttle_read_bps_device(),
                "blkio.throttle.read_bps_device",
                "rbps",
            ),
            (
                io.throttle_write_bps_device(),
                "blkio.throttle.write_bps_device",
                "wbps",
            ),
            (
                io.throttle_read_iops_device(),
                "blkio.throttle.read_iops_device",
                "riops",
            ),
            (
                io.throttle_write_iops_device(),
                "blkio.throttle.write_iops_device",
                "wiops",
            ),
        ];
        for (list, v1_file, v2_key) in throttles {
            for t in list.iter().flatten() {
                let rate = if !v1 && t.rate() == 0 {
                    "max".to_string()
                } else {
                    t.rate().to_string()
                };
                files.push(if v1 {
                    (
                        "blkio",
                        v1_file.into(),
                        format!("{}:{} {rate}", t.major(), t.minor()),
                    )
                } else {
                    (
                        "io",
                        "io.max".into(),
                        format!("{}:{} {v2_key}={rate}", t.major(), t.minor()),
                    )
                });
            }
        }
        for w in io.weight_device().iter().flatten() {
            if let Some(weight) = w.weight() {
                files.push(if v1 {
                    (
                        "blkio",
                        "blkio.weight_device".into(),
                        format!("{}:{} {weight}", w.major(), w.minor()),
                    )
                } else {
                    (
                        "io",
                        "io.weight".into(),
                        format!("{}:{} {weight}", w.major(), w.minor()),
                    )
                });
            }
        }
    }
    for limit in r.hugepage_limits().iter().flatten() {
        let name = match cgroup.version() {
            Version::V1 => format!("hugetlb.{}.limit_in_bytes", limit.page_size()),
            Version::V2 => format!("hugetlb.{}.max", limit.page_size()),
        };
        files.push(("hugetlb", name, limit.limit().to_string()));
    }
    if let Some(unified) = r.unified() {
        if !unified.is_empty() && cgroup.version() == Version::V1 {
            return Err(Error::Unsupported(
                "linux.resources.unified on cgroup v1".into(),
            ));
        }
        for (key, value) in unified {
            if key.contains('/') || key.starts_with('.') {
                return Err(Error::Config(format!(
                    "unified key {key:?} is not a file name"
                )));
            }
            let controller = key.split('.').next().unwrap_or_default().to_string();
            files.push((leak(controller), key.clone(), value.clone()));
        }
    }
    for warning in cgroup.set(&limits)? {
        log::warn(&warning);
    }
    for (controller, name, value) in files {
        write_file(cgroup, controller, &name, &value)?;
    }
    if r.devices().is_some() || !nodes.is_empty() {
        cgroup.set_devices(&device_rules(r, nodes)?)?;
    }
    Ok(())
}

/// A controller name outlives the resources it came from (a tiny,
/// bounded leak per `update`, in a short-lived process).
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

/// One file cgroup-demo has no limit for. A controller this host does not
/// mount (hugetlb is often missing) is an error naming it.
fn write_file(cgroup: &Cgroup, controller: &str, name: &str, value: &str) -> Result<()> {
    let dir = match cgroup.version() {
        Version::V2 => cgroup.dir(controller),
        Version::V1 => Layout::detect()?
            .v1_root(controller)
            .map(|root| root.join(cgroup.path())),
    }
    .ok_or_else(|| {
        Error::Unsupported(format!(
            "{name} (the {controller} cgroup controller is not mounted)"
        ))
    })?;
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(name);
    if !path.exists() {
        return Err(Error::Unsupported(format!(
            "{name} (this kernel has no such file)"
        )));
    }
    tracing::info!(target: "explain", "echo {value} > {}", path.display());
    std::fs::write(&path, value).map_err(|e| Error::io(&path, e))
}

/// `linux.resources.devices`, in order, after runc's implicit denial of
/// everything (a container only reaches the devices its config allows).
pub fn device_rules(r: &LinuxResources, nodes: &[LinuxDevice]) -> Result<Rules> {
    let mut rules = vec![Rule::everything(false)];
    for d in r.devices().iter().flatten() {
        let kind = match d.typ() {
            None | Some(LinuxDeviceType::A) => DeviceKind::All,
            Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => DeviceKind::Char,
            Some(LinuxDeviceType::B) => DeviceKind::Block,
            Some(LinuxDeviceType::P) => {
                return Err(Error::Config("a device cgroup rule of type p".into()))
            }
        };
        let access = match d.access().as_deref() {
            None | Some("") => Access::ALL,
            Some(text) => Access::parse(text)
                .ok_or_else(|| Error::Config(format!("device access {text:?}")))?,
        };
        let number = |n: Option<i64>| n.filter(|&n| n >= 0).map(|n| n as u32);
        rules.push(Rule {
            allow: d.allow(),
            kind,
            major: number(d.major()),
            minor: number(d.minor()),
            access,
        });
    }
    // Then, as runc: the nodes the bundle creates, and the standard ones
    // every container gets (null, zero, full, random, urandom, tty,
    // console, ptmx, the pty slaves).
    let rwm = Access::ALL;
    for node in nodes {
        let kind = match node.typ() {
            LinuxDeviceType::B => DeviceKind::Block,
            _ => DeviceKind::Char,
        };
        rules.push(Rule::allow(
            kind,
            node.major() as u32,
            node.minor() as u32,
            rwm,
        ));
    }
    rules.extend(Rules::standard_nodes());
    Ok(Rules(rules))
}

/// Removes the cgroup (and any hugetlb directory written here), killing
/// what is left in it.
pub fn remove(cgroup: &Cgroup) -> Result<()> {
    cgroup.destroy()?;
    if cgroup.version() == Version::V1 {
        if let Some(root) = Layout::detect()?.v1_root("hugetlb") {
            let _ = std::fs::remove_dir(root.join(cgroup.path()));
        }
    }
    cgroup.remove_parent_if_empty();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_as_runc_maps_them_without_systemd() {
        let p = |given: Option<&str>| path(given.map(Path::new), "abc", false).unwrap();
        assert_eq!(p(None), PathBuf::from("abc"));
        assert_eq!(p(Some("/docker/abc")), PathBuf::from("docker/abc"));
        assert_eq!(
            p(Some("system.slice:docker:abc")),
            PathBuf::from("system.slice/docker-abc.scope")
        );
        assert_eq!(
            p(Some("machine-libpod.slice:libpod:abc")),
            PathBuf::from("machine.slice/machine-libpod.slice/libpod-abc.scope")
        );
        assert_eq!(
            p(Some(":crio:abc")),
            PathBuf::from("system.slice/crio-abc.scope")
        );
        assert!(path(Some(Path::new("/")), "abc", false).is_err());
        assert!(path(Some(Path::new("/a/../../b")), "abc", false).is_err());
        assert!(path(Some(Path::new("/x")), "abc", true).is_err());
        assert!(path(Some(Path::new("a--b.slice:p:n")), "abc", false).is_err());
    }

    #[test]
    fn device_rules_start_from_deny_all() {
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
                        {"allow": false, "access": "rwm"}]
        }))
        .unwrap();
        let rules = device_rules(&r, &[]).unwrap();
        assert_eq!(rules.0.len(), 3 + 9);
        assert_eq!(
            rules.0[..3].iter().map(|r| r.allow).collect::<Vec<_>>(),
            [false, true, false]
        );
        assert!(rules.allows(DeviceKind::Char, 1, 3, Access::ALL));
        assert_eq!(rules.0[1].major, Some(1));
        assert_eq!(rules.0[2].kind, DeviceKind::All);
    }
}
