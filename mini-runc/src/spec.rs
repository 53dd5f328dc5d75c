//! `spec` (a default `config.json`, runc's) and `features` (what this
//! runtime supports, in the specification's features format).

use std::path::Path;

use oci_spec::runtime::Spec;

use crate::{Error, Result};

/// Writes `config.json` into the bundle: `sh` in a terminal, on `rootfs`,
/// read-only root, the usual namespaces, mounts, masked paths and Docker's
/// capability set — runc's default spec. Refuses to overwrite one.
pub fn write_default(bundle: &Path) -> Result<()> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(Error::Usage(
            "File config.json exists. Remove it first.".into(),
        ));
    }
    let mut spec = Spec::default();
    spec.set_version("1.2.0".into());
    spec.set_hostname(Some("mini-runc".into()));
    let text = serde_json::to_string_pretty(&spec)?;
    std::fs::write(&path, text + "\n").map_err(|e| Error::io(&path, e))
}

/// `features`: the specification's JSON.
pub fn features() -> Result<()> {
    let caps: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    let mount_options: Vec<&str> = [
        "async",
        "atime",
        "bind",
        "defaults",
        "dev",
        "diratime",
        "dirsync",
        "exec",
        "mand",
        "noatime",
        "nodev",
        "nodiratime",
        "noexec",
        "nomand",
        "norelatime",
        "nostrictatime",
        "nosuid",
        "private",
        "rbind",
        "relatime",
        "remount",
        "ro",
        "rprivate",
        "rshared",
        "rslave",
        "runbindable",
        "rw",
        "shared",
        "slave",
        "strictatime",
        "suid",
        "sync",
        "tmpcopyup",
        "unbindable",
    ]
    .to_vec();
    let features = serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": mount_options,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"],
            "capabilities": caps,
            "cgroup": {"v1": true, "v2": true, "systemd": false, "systemdUser": false, "rdma": false},
            "seccomp": {
                "enabled": true,
                "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE",
                              "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"],
                "knownFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"],
                "supportedFlags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_TSYNC"]
            },
            "apparmor": {"enabled": false},
            "selinux": {"enabled": false},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": false}}
        },
        "annotations": {"org.opencontainers.runc.checkpoint.enabled": "false",
                        "io.github.mini-docker.runtime": "mini-runc"}
    });
    println!("{}", serde_json::to_string_pretty(&features)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_spec_is_valid_and_not_overwritten() {
        let dir = std::env::temp_dir().join(format!("mini-runc-spec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        super::write_default(&dir).unwrap();
        let spec: oci_spec::runtime::Spec =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        crate::config::check(&spec).unwrap();
        assert!(super::write_default(&dir)
            .unwrap_err()
            .to_string()
            .contains("exists"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
