//! Reading a bundle's `config.json` and deciding, before anything is
//! created, whether mini-runc can honour it. Unknown properties were
//! already ignored by the parser, as the specification requires; a known
//! property with a value mini-runc cannot honour is an error here, except
//! the AppArmor and SELinux labels, which only warn (this runtime has no
//! LSM support, and refusing them would refuse every Docker container).

use std::path::{Path, PathBuf};

use ns_demo::Kind;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use crate::{log, Error, Result};

/// `rootfsPropagation` and the propagation words of mount options.
pub const PROPAGATIONS: [&str; 8] = [
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
];

/// Loads `config.json` from the bundle and checks it.
pub fn load(bundle: &Path) -> Result<Spec> {
    let path = bundle.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let spec: Spec = serde_json::from_str(&text).map_err(|e| Error::Config(e.to_string()))?;
    check(&spec)?;
    Ok(spec)
}

/// The root filesystem's path, made absolute against the bundle.
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Config("root is required".into()))?;
    let path = bundle.join(root.path());
    if !path.is_dir() {
        return Err(Error::Config(format!(
            "root.path {} is not a directory",
            path.display()
        )));
    }
    Ok(path)
}

/// Every check that can be made before the container exists.
pub fn check(spec: &Spec) -> Result<()> {
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::Config("process is required".into()))?;
    check_process(process)?;
    if let Some(mounts) = spec.mounts() {
        for m in mounts {
            if !m.destination().is_absolute() {
                return Err(Error::Config(format!(
                    "mount destination {} is not absolute",
                    m.destination().display()
                )));
            }
            if m.uid_mappings().is_some() || m.gid_mappings().is_some() {
                return Err(Error::Unsupported("an id-mapped mount".into()));
            }
        }
    }
    let Some(linux) = spec.linux() else {
        return Err(Error::Config("linux is required on Linux".into()));
    };
    let namespaces = linux.namespaces().clone().unwrap_or_default();
    for ns in &namespaces {
        if ns.typ() == LinuxNamespaceType::Time {
            return Err(Error::Unsupported("the time namespace".into()));
        }
        if namespaces.iter().filter(|n| n.typ() == ns.typ()).count() > 1 {
            return Err(Error::Config(format!(
                "namespace {:?} is listed twice",
                ns.typ()
            )));
        }
    }
    let has_userns = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User);
    let maps = linux.uid_mappings().is_some() || linux.gid_mappings().is_some();
    if maps && !has_userns {
        return Err(Error::Config(
            "uidMappings/gidMappings need a user namespace".into(),
        ));
    }
    if let Some(p) = linux.rootfs_propagation() {
        if !PROPAGATIONS.contains(&p.as_str()) {
            return Err(Error::Config(format!(
                "rootfsPropagation {p:?} is not valid"
            )));
        }
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !namespaces
            .iter()
            .any(|n| n.typ() == LinuxNamespaceType::Uts)
    {
        return Err(Error::Config("a hostname needs a new UTS namespace".into()));
    }
    if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty()) {
        return Err(Error::Unsupported("linux.netDevices".into()));
    }
    if linux.intel_rdt().is_some() {
        return Err(Error::Unsupported("linux.intelRdt".into()));
    }
    if linux.memory_policy().is_some() {
        return Err(Error::Unsupported("linux.memoryPolicy".into()));
    }
    if linux.time_offsets().is_some() {
        return Err(Error::Unsupported("linux.timeOffsets".into()));
    }
    if linux.personality().is_some() {
        return Err(Error::Unsupported("linux.personality".into()));
    }
    if let Some(seccomp) = linux.seccomp() {
        if seccomp.listener_path().is_some() {
            return Err(Error::Unsupported(
                "a seccomp listener (SCMP_ACT_NOTIFY)".into(),
            ));
        }
    }
    if linux.mount_label().as_ref().is_some_and(|l| !l.is_empty()) {
        log::warn("linux.mountLabel is ignored: mini-runc has no SELinux support");
    }
    Ok(())
}

/// The process checks, shared with `exec --process`.
pub fn check_process(process: &Process) -> Result<()> {
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::Config("process.args must not be empty".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(Error::Config(format!(
            "process.cwd {} is not absolute",
            process.cwd().display()
        )));
    }
    if process
        .apparmor_profile()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        log::warn("process.apparmorProfile is ignored: mini-runc has no AppArmor support");
    }
    if process
        .selinux_label()
        .as_ref()
        .is_some_and(|p| !p.is_empty())
    {
        log::warn("process.selinuxLabel is ignored: mini-runc has no SELinux support");
    }
    if process.scheduler().is_some() {
        return Err(Error::Unsupported("process.scheduler".into()));
    }
    if process.io_priority().is_some() {
        return Err(Error::Unsupported("process.ioPriority".into()));
    }
    if process.exec_cpu_affinity().is_some() {
        return Err(Error::Unsupported("process.execCPUAffinity".into()));
    }
    Ok(())
}

/// The namespace kinds of the specification, as ns-demo names them.
pub fn kind(typ: LinuxNamespaceType) -> Result<Kind> {
    Ok(match typ {
        LinuxNamespaceType::Mount => Kind::Mount,
        LinuxNamespaceType::Cgroup => Kind::Cgroup,
        LinuxNamespaceType::Uts => Kind::Uts,
        LinuxNamespaceType::Ipc => Kind::Ipc,
        LinuxNamespaceType::User => Kind::User,
        LinuxNamespaceType::Pid => Kind::Pid,
        LinuxNamespaceType::Network => Kind::Net,
        LinuxNamespaceType::Time => return Err(Error::Unsupported("the time namespace".into())),
    })
}

/// Which namespaces the container gets new and which it joins (by path).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Namespaces {
    pub new: Vec<Kind>,
    pub join: Vec<(Kind, PathBuf)>,
}

impl Namespaces {
    pub fn of(spec: &Spec) -> Result<Namespaces> {
        let mut out = Namespaces::default();
        let list = spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().clone())
            .unwrap_or_default();
        for ns in list {
            let kind = kind(ns.typ())?;
            match ns.path() {
                Some(path) if !path.as_os_str().is_empty() => out.join.push((kind, path.clone())),
                _ => out.new.push(kind),
            }
        }
        out.join.sort();
        Ok(out)
    }

    pub fn has_new(&self, kind: Kind) -> bool {
        self.new.contains(&kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
            "someFutureProperty": {"ignored": true}
        })
    }

    #[test]
    fn unknown_properties_are_ignored() {
        check(&spec(base())).unwrap();
    }

    #[test]
    fn known_values_mini_runc_cannot_honour_are_errors() {
        let mut s = base();
        s["linux"]["namespaces"] = serde_json::json!([{"type": "time"}]);
        assert_eq!(
            check(&spec(s)).unwrap_err().to_string(),
            "the time namespace is not supported by mini-runc"
        );
        let mut s = base();
        s["process"]["args"] = serde_json::json!([]);
        assert!(check(&spec(s)).unwrap_err().to_string().contains("args"));
        let mut s = base();
        s["hostname"] = "x".into();
        assert!(check(&spec(s)).unwrap_err().to_string().contains("UTS"));
        let mut s = base();
        s["linux"]["uidMappings"] =
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        assert!(check(&spec(s))
            .unwrap_err()
            .to_string()
            .contains("user namespace"));
    }

    #[test]
    fn namespaces_split_into_new_and_joined() {
        let mut s = base();
        s["linux"]["namespaces"] =
            serde_json::json!([{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}]);
        let ns = Namespaces::of(&spec(s)).unwrap();
        assert_eq!(ns.new, [Kind::Pid]);
        assert_eq!(ns.join, [(Kind::Net, PathBuf::from("/proc/1/ns/net"))]);
    }
}
