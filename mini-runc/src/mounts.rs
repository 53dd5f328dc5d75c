//! The container's filesystem from the bundle: the root's propagation,
//! the root bound onto itself, each of `mounts` in order (bind or not,
//! with its flags and propagation), `/dev`'s standard nodes, links and
//! `linux.devices`, then `pivot_root` (or `chroot` with `--no-pivot`).
//! Everything happens in the container's own mount namespace. The mount
//! steps themselves (option words, device nodes, masked paths) are
//! mini-docker's ([`mini_docker::container::setup`]).

use std::path::{Path, PathBuf};

use cgroup_demo::devices::Kind as DeviceKind;
use mini_docker::container::cgroupfs::View;
use mini_docker::container::devices::Node;
use mini_docker::container::{scope, setup};
use nix::mount::{mount, MsFlags};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};

use crate::{Error, Result};

const NONE: Option<&str> = None;

/// A propagation word as the flag `mount(2)` takes.
pub fn propagation(word: &str) -> Option<MsFlags> {
    Some(match word {
        "private" => MsFlags::MS_PRIVATE,
        "rprivate" => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        "shared" => MsFlags::MS_SHARED,
        "rshared" => MsFlags::MS_SHARED | MsFlags::MS_REC,
        "slave" => MsFlags::MS_SLAVE,
        "rslave" => MsFlags::MS_SLAVE | MsFlags::MS_REC,
        "unbindable" => MsFlags::MS_UNBINDABLE,
        "runbindable" => MsFlags::MS_UNBINDABLE | MsFlags::MS_REC,
        _ => return None,
    })
}

/// One mount's options, split the way `mount(2)` needs them.
#[derive(Debug, PartialEq, Eq)]
pub struct Options {
    pub flags: MsFlags,
    pub data: String,
    pub propagation: Vec<MsFlags>,
    /// runc's `tmpcopyup`: a tmpfs that starts with the directory's files.
    pub copy_up: bool,
}

pub fn options(m: &Mount) -> Result<Options> {
    let mut out = Options {
        flags: MsFlags::empty(),
        data: String::new(),
        propagation: Vec::new(),
        copy_up: false,
    };
    let mut rest = Vec::new();
    for word in m.options().iter().flatten() {
        if let Some(flag) = propagation(word) {
            out.propagation.push(flag);
        } else if word == "tmpcopyup" {
            out.copy_up = true;
        } else if matches!(word.as_str(), "idmap" | "ridmap")
            || (word.starts_with('r')
                && matches!(
                    &word[1..],
                    "ro" | "rw"
                        | "nosuid"
                        | "suid"
                        | "nodev"
                        | "dev"
                        | "noexec"
                        | "exec"
                        | "noatime"
                        | "atime"
                        | "nodiratime"
                        | "diratime"
                        | "relatime"
                        | "norelatime"
                        | "strictatime"
                        | "nostrictatime"
                        | "nosymfollow"
                        | "symfollow"
                ))
        {
            return Err(Error::Unsupported(format!(
                "mount option {word:?} (recursive mount attributes, id-mapped mounts)"
            )));
        } else {
            rest.push(word.as_str());
        }
    }
    let (flags, data) = setup::mount_flags(&rest.join(","));
    out.flags = flags;
    out.data = data;
    Ok(out)
}

fn is_bind(m: &Mount, o: &Options) -> bool {
    o.flags.contains(MsFlags::MS_BIND) || m.typ().as_deref() == Some("bind")
}

/// Before the bundle's mounts: the propagation of `/` (default `rslave`,
/// as runc: host mounts still reach the container, none leak back), and
/// the root bound onto itself so it is a mount point `pivot_root` accepts.
pub fn prepare_root(spec: &Spec, rootfs: &Path) -> Result<()> {
    let wanted = spec
        .linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().clone());
    // A shared root cannot be pivoted from; it becomes shared after.
    let flags = match wanted.as_deref().and_then(propagation) {
        Some(f) if f.contains(MsFlags::MS_SHARED) => MsFlags::MS_PRIVATE | MsFlags::MS_REC,
        Some(f) => f | MsFlags::MS_REC,
        None => MsFlags::MS_SLAVE | MsFlags::MS_REC,
    };
    chroot_demo::error::step(format!("mount --make-r{} /", name(flags)), || {
        mount(NONE, "/", NONE, flags, NONE)
    })?;
    chroot_demo::error::step(format!("mount --rbind {0} {0}", rootfs.display()), || {
        mount(
            Some(rootfs),
            rootfs,
            NONE,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            NONE,
        )
    })?;
    Ok(())
}

fn name(flags: MsFlags) -> &'static str {
    if flags.contains(MsFlags::MS_PRIVATE) {
        "private"
    } else if flags.contains(MsFlags::MS_SHARED) {
        "shared"
    } else if flags.contains(MsFlags::MS_UNBINDABLE) {
        "unbindable"
    } else {
        "slave"
    }
}

/// The bundle's mounts, then `/dev`'s contents.
pub fn mount_all(spec: &Spec, rootfs: &Path, cgroups: Option<&View>, userns: bool) -> Result<()> {
    let mounts = spec.mounts().clone().unwrap_or_default();
    for m in &mounts {
        mount_one(rootfs, m, cgroups)?;
    }
    let dev_mount = mounts
        .iter()
        .rev()
        .find(|m| m.destination() == Path::new("/dev"));
    let dev_is_fresh = dev_mount.is_some_and(|m| options(m).is_ok_and(|o| !is_bind(m, &o)));
    let dev = scope::resolve(rootfs, Path::new("/dev"))?;
    if dev_is_fresh {
        if userns {
            bind_standard_nodes(&dev)?;
        } else {
            setup::standard_nodes(&dev)?;
        }
    }
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().clone())
        .unwrap_or_default()
    {
        let kind = match d.typ() {
            LinuxDeviceType::B => DeviceKind::Block,
            LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
            other => {
                return Err(Error::Unsupported(format!(
                    "device {} of type {other:?}",
                    d.path().display()
                )))
            }
        };
        setup::device_node(
            rootfs,
            &Node {
                path: d.path().clone(),
                kind,
                major: d.major() as u32,
                minor: d.minor() as u32,
                mode: d.file_mode().unwrap_or(0o666),
                uid: d.uid().unwrap_or(0),
                gid: d.gid().unwrap_or(0),
            },
        )?;
    }
    if dev_is_fresh {
        setup::standard_links(&dev)?;
    }
    Ok(())
}

/// In a user namespace `mknod` is refused: the host's nodes are bound in.
fn bind_standard_nodes(dev: &Path) -> Result<()> {
    for (name, _, _) in setup::DEVICES {
        let host = Path::new("/dev").join(name);
        let target = dev.join(name);
        std::fs::write(&target, b"").map_err(|e| Error::io(&target, e))?;
        chroot_demo::error::step(
            format!("mount --bind /dev/{name} {}", target.display()),
            || mount(Some(&host), &target, NONE, MsFlags::MS_BIND, NONE),
        )?;
    }
    Ok(())
}

fn mount_one(rootfs: &Path, m: &Mount, cgroups: Option<&View>) -> Result<()> {
    let o = options(m)?;
    let typ = m.typ().clone().unwrap_or_else(|| "none".into());
    let dest_shown = m.destination().display().to_string();
    if typ == "cgroup" || typ == "cgroup2" {
        if m.destination() != Path::new(mini_docker::container::cgroupfs::TARGET) {
            return Err(Error::Unsupported(format!(
                "a cgroup mount at {dest_shown} (only at /sys/fs/cgroup)"
            )));
        }
        let view = cgroups.ok_or_else(|| Error::Config("cgroup mount without a cgroup".into()))?;
        return Ok(view.mount(rootfs)?);
    }
    let target = scope::resolve(rootfs, m.destination())?;
    let bind = is_bind(m, &o);
    let source: PathBuf = m.source().clone().unwrap_or_else(|| PathBuf::from(&typ));
    if bind {
        let meta = std::fs::metadata(&source).map_err(|e| Error::io(&source, e))?;
        setup::bind_target(&target, meta.is_dir())?;
        let rec = o.flags & MsFlags::MS_REC;
        chroot_demo::error::step(
            format!(
                "mount --{}bind {} {dest_shown}",
                if rec.is_empty() { "" } else { "r" },
                source.display()
            ),
            || mount(Some(&source), &target, NONE, MsFlags::MS_BIND | rec, NONE),
        )?;
        let extra = o.flags - MsFlags::MS_BIND - MsFlags::MS_REC;
        if !extra.is_empty() {
            chroot_demo::error::step(
                format!("mount -o remount,bind,{extra:?} {dest_shown}"),
                || {
                    mount(
                        NONE,
                        &target,
                        NONE,
                        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | extra,
                        NONE,
                    )
                },
            )?;
        }
    } else {
        mkdir_p(&target)?;
        let data = (!o.data.is_empty()).then_some(o.data.as_str());
        if o.copy_up {
            copy_up(&source, &target, &typ, o.flags, data, &dest_shown)?;
        } else {
            let shown = format!(
                "mount -t {typ} -o {} {} {dest_shown}",
                m.options().clone().unwrap_or_default().join(","),
                source.display()
            );
            setup::mnt(
                &source.to_string_lossy(),
                &target,
                Some(&typ),
                o.flags,
                data,
                shown,
            )?;
        }
    }
    for flag in o.propagation {
        chroot_demo::error::step(format!("mount --make-{} {dest_shown}", name(flag)), || {
            mount(NONE, &target, NONE, flag, NONE)
        })?;
    }
    Ok(())
}

/// runc's `tmpcopyup`: the new filesystem is filled with the directory's
/// files somewhere private, then moved over it.
fn copy_up(
    source: &Path,
    target: &Path,
    typ: &str,
    flags: MsFlags,
    data: Option<&str>,
    shown: &str,
) -> Result<()> {
    let staging = std::env::temp_dir().join(format!("mini-runc-copyup.{}", std::process::id()));
    mkdir_p(&staging)?;
    setup::mnt(
        &source.to_string_lossy(),
        &staging,
        Some(typ),
        flags,
        data,
        format!(
            "mount -t {typ} {} {}   # tmpcopyup",
            source.display(),
            staging.display()
        ),
    )?;
    mini_docker::volume::copy_tree(target, &staging)?;
    chroot_demo::error::step(
        format!("mount --move {} {shown}", staging.display()),
        || mount(Some(&staging), target, NONE, MsFlags::MS_MOVE, NONE),
    )?;
    let _ = std::fs::remove_dir(&staging);
    Ok(())
}

fn mkdir_p(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Makes `rootfs` the root: `pivot_root` and the old root detached, or
/// with `--no-pivot` (a root on a ramfs, where `pivot_root` is refused)
/// moved over `/` and `chroot`ed into.
pub fn enter_root(rootfs: &Path, no_pivot: bool) -> Result<()> {
    use nix::unistd::chdir;
    chroot_demo::error::step(format!("cd {}", rootfs.display()), || chdir(rootfs))?;
    if no_pivot {
        chroot_demo::error::step("mount --move . /", || {
            mount(Some("."), "/", NONE, MsFlags::MS_MOVE, NONE)
        })?;
        chroot_demo::error::step("chroot .", || nix::unistd::chroot("."))?;
    } else {
        chroot_demo::error::step("pivot_root . .", || nix::unistd::pivot_root(".", "."))?;
        chroot_demo::error::step("umount --lazy .   # the old root", || {
            nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        })?;
    }
    chroot_demo::error::step("cd /", || chdir("/"))?;
    Ok(())
}

/// After `pivot_root`: `rootfsPropagation` once more (a shared root could
/// only be made shared now), sysctls, masked and read-only paths, and the
/// root read-only.
pub fn finish(spec: &Spec) -> Result<()> {
    let linux = spec.linux().clone().unwrap_or_default();
    if let Some(flags) = linux.rootfs_propagation().as_deref().and_then(propagation) {
        chroot_demo::error::step(format!("mount --make-r{} /", name(flags)), || {
            mount(NONE, "/", NONE, flags | MsFlags::MS_REC, NONE)
        })?;
    }
    for (key, value) in linux.sysctl().clone().unwrap_or_default() {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        tracing::info!(target: "explain", "echo {value} > {}", path.display());
        std::fs::write(&path, &value).map_err(|e| Error::io(&path, e))?;
    }
    let masked = linux.masked_paths().clone().unwrap_or_default();
    let readonly = linux.readonly_paths().clone().unwrap_or_default();
    let masked: Vec<&str> = masked.iter().map(String::as_str).collect();
    let readonly: Vec<&str> = readonly.iter().map(String::as_str).collect();
    setup::mask_and_protect(&masked, &readonly)?;
    if spec.root().as_ref().and_then(|r| r.readonly()) == Some(true) {
        setup::remount_readonly(Path::new("/"), MsFlags::empty())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount_of(json: serde_json::Value) -> Mount {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn options_split_into_flags_data_and_propagation() {
        let m = mount_of(serde_json::json!({
            "destination": "/data", "type": "bind", "source": "/tmp",
            "options": ["rbind", "ro", "nosuid", "rprivate", "size=10m"]
        }));
        let o = options(&m).unwrap();
        assert!(o.flags.contains(
            MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_RDONLY | MsFlags::MS_NOSUID
        ));
        assert_eq!(o.data, "size=10m");
        assert_eq!(o.propagation, [MsFlags::MS_PRIVATE | MsFlags::MS_REC]);
        assert!(is_bind(&m, &o));
        let tmpfs = mount_of(
            serde_json::json!({"destination": "/run", "type": "tmpfs", "options": ["tmpcopyup", "mode=755"]}),
        );
        let o = options(&tmpfs).unwrap();
        assert!(o.copy_up && !is_bind(&tmpfs, &o));
        let rro = mount_of(
            serde_json::json!({"destination": "/x", "type": "bind", "source": "/x", "options": ["rbind", "rro"]}),
        );
        assert!(options(&rro).unwrap_err().to_string().contains("rro"));
    }
}
