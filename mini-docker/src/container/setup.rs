//! Inside the new namespaces, before the command runs: the container's
//! filesystem (runc's order). Everything here happens in the container's
//! own mount namespace, so nothing is ever mounted on the host: when the
//! last process of the container exits, the kernel takes every mount with
//! it — even if the monitor was SIGKILLed.
//!
//! 1. `/` private, the overlay on `merged` (lesson 4);
//! 2. `/proc`, `/sys` (read-only), `/dev` as a tmpfs with only the standard
//!    nodes, `/dev/pts`, `/dev/shm`, `/dev/mqueue`;
//! 3. `/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` bound from the
//!    container's directory;
//! 4. `pivot_root` and detach the old root (lesson 1);
//! 5. mask `/proc/kcore` & co., make `/proc/sys` & co. read-only;
//! 6. the root read-only for `--read-only`.

use std::os::unix::fs::{symlink, OpenOptionsExt as _};
use std::path::Path;

use kernel::sys;
use nix::mount::MsFlags;
use nix::sys::stat::{makedev, Mode, SFlag};

use super::devices::{self, Node};
use super::record::{MountKind, MountPoint};
use super::rootfs::Rootfs;
use super::scope;
use crate::{Error, Result};

/// Files Docker hides behind `/dev/null` (or an empty read-only tmpfs when
/// they are directories).
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Paths Docker leaves visible but read-only.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The device nodes of `/dev`: name, major, minor.
pub const DEVICES: [(&str, u64, u64); 6] = [
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// Why the container's filesystem could not be made (beyond a failed
/// system call, which is [`chroot_demo::Error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    #[error("{0} is not a path for a device")]
    NotADevicePath(String),
    /// A volume with `--opt type=… device=…` that the kernel would not
    /// mount, worded as Docker's local driver words it.
    #[error(
        "error while mounting volume '{volume}': failed to mount local volume: {mount}: {why}"
    )]
    VolumeMount {
        volume: String,
        mount: String,
        why: String,
    },
}

/// What the container's filesystem needs.
#[derive(Debug)]
pub struct Filesystem<'a> {
    pub rootfs: &'a Rootfs,
    /// The container's directory: `hosts`, `hostname`, `resolv.conf`.
    pub dir: &'a Path,
    pub privileged: bool,
    pub readonly: bool,
    /// Volumes, bind mounts and tmpfs mounts.
    pub mounts: &'a [MountPoint],
    /// Host device nodes to copy in (`--device`, `--privileged`).
    pub devices: &'a [Node],
    /// `--shm-size`, in bytes.
    pub shm_size: i64,
    /// `--sysctl`: written while `/proc/sys` is still writable.
    pub sysctls: &'a std::collections::BTreeMap<String, String>,
}

/// One mount, announced as the shell command it amounts to.
pub fn mnt(
    source: &str,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
    shown: String,
) -> Result<()> {
    chroot_demo::error::step(shown, || {
        sys().mount(Some(Path::new(source)), target, fstype, flags, data)
    })?;
    Ok(())
}

fn mkdir_p(path: &Path) -> Result<()> {
    std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

/// Makes the mount point a bind needs at `target`: a directory for a
/// directory, an empty file (and its parents) for anything else, as runc
/// and Docker do for `-v FILE:FILE`; an existing target is kept.
pub fn bind_target(target: &Path, for_dir: bool) -> Result<()> {
    if for_dir {
        return mkdir_p(target);
    }
    if let Some(parent) = target.parent() {
        mkdir_p(parent)?;
    }
    if !target.exists() {
        std::fs::write(target, b"").map_err(|e| Error::io(target, e))?;
    }
    Ok(())
}

/// Steps 1–6; on return the process's root is the container's.
/// `before_pivot` runs between steps 3 and 4, given the container's root
/// as the host sees it: the child waits there for its cgroup and builds
/// `/sys/fs/cgroup` from the host's hierarchies ([`super::cgroupfs`]).
pub fn enter(fs: &Filesystem, before_pivot: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    chroot_demo::root::make_root_private()?;
    fs.rootfs.mount()?;
    let root = &fs.rootfs.merged;
    let common = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;

    let proc = scope::resolve(root, Path::new("/proc"))?;
    mkdir_p(&proc)?;
    mnt(
        "proc",
        &proc,
        Some("proc"),
        common,
        None,
        "mount -t proc proc /proc".into(),
    )?;

    let sys = scope::resolve(root, Path::new("/sys"))?;
    mkdir_p(&sys)?;
    let sys_flags = if fs.privileged {
        common
    } else {
        common | MsFlags::MS_RDONLY
    };
    mnt(
        "sysfs",
        &sys,
        Some("sysfs"),
        sys_flags,
        None,
        "mount -t sysfs -o ro sysfs /sys".into(),
    )?;

    dev(root, fs.shm_size)?;
    for node in fs.devices {
        device_node(root, node)?;
    }
    // Volumes first, so that a volume over /etc still gets the
    // container's own hosts, hostname and resolv.conf on top (Docker sorts
    // them the same way).
    for m in fs.mounts {
        mount_point(root, m)?;
    }
    etc_files(root, fs.dir)?;
    before_pivot(root)?;

    chroot_demo::root::pivot_root(root)?;
    write_sysctls(fs.sysctls)?;
    if !fs.privileged {
        mask_and_protect(&MASKED_PATHS, &READONLY_PATHS)?;
    }
    if fs.readonly {
        remount_readonly(Path::new("/"), MsFlags::empty())?;
    }
    Ok(())
}

/// `/dev`: a tmpfs holding only what a container needs.
fn dev(root: &Path, shm_size: i64) -> Result<()> {
    let dev = scope::resolve(root, Path::new("/dev"))?;
    mkdir_p(&dev)?;
    mnt(
        "tmpfs",
        &dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
        "mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs /dev".into(),
    )?;
    standard_nodes(&dev)?;
    let pts = dev.join("pts");
    mkdir_p(&pts)?;
    mnt(
        "devpts",
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620,gid=5"),
        "mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /dev/pts".into(),
    )?;
    let shm = dev.join("shm");
    mkdir_p(&shm)?;
    // Docker's size is in bytes; the kernel rounds it up to whole pages.
    let shm_options = format!("mode=1777,size={shm_size}");
    mnt(
        "shm",
        &shm,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(&shm_options),
        format!("mount -t tmpfs -o {shm_options} shm /dev/shm"),
    )?;
    let mqueue = dev.join("mqueue");
    mkdir_p(&mqueue)?;
    mnt(
        "mqueue",
        &mqueue,
        Some("mqueue"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
        "mount -t mqueue mqueue /dev/mqueue".into(),
    )?;
    standard_links(&dev)
}

/// The standard device nodes ([`DEVICES`]) in the tmpfs at `dev`; shared
/// with mini-runc, which builds `/dev` from an OCI bundle's mounts.
pub fn standard_nodes(dev: &Path) -> Result<()> {
    for (name, major, minor) in DEVICES {
        let node = dev.join(name);
        chroot_demo::error::step(
            format!("mknod -m 666 /dev/{name} c {major} {minor}"),
            || {
                sys().mknod(
                    &node,
                    SFlag::S_IFCHR,
                    Mode::from_bits_truncate(0o666),
                    makedev(major, minor),
                )
            },
        )?;
        // mknod's mode is filtered by the umask.
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .map_err(|e| Error::io(&node, e))?;
    }
    Ok(())
}

/// The symlinks every `/dev` has (`/dev/fd`, `/dev/stdin`, …, `ptmx`).
pub fn standard_links(dev: &Path) -> Result<()> {
    for (link, target) in [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("core", "/proc/kcore"),
    ] {
        let path = dev.join(link);
        symlink(target, &path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// A copy of a host device node, at its place in the container (where the
/// container's root already has a node of that name, it stays).
pub fn device_node(root: &Path, node: &Node) -> Result<()> {
    let inside = devices::relative(&node.path)
        .ok_or_else(|| SetupError::NotADevicePath(node.path.display().to_string()))?;
    let path = scope::resolve(root, &Path::new("/").join(&inside))?;
    if path.symlink_metadata().is_ok() {
        return Ok(());
    }
    if let Some(parent) = path.parent() {
        mkdir_p(parent)?;
    }
    let kind = match node.kind {
        cgroup_demo::devices::Kind::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFCHR,
    };
    let letter = if kind == SFlag::S_IFBLK { 'b' } else { 'c' };
    chroot_demo::error::step(
        format!(
            "mknod -m {:o} {} {letter} {} {}",
            node.mode,
            node.path.display(),
            node.major,
            node.minor
        ),
        || {
            sys().mknod(
                &path,
                kind,
                Mode::from_bits_truncate(node.mode),
                makedev(u64::from(node.major), u64::from(node.minor)),
            )
        },
    )?;
    // As on the host: mknod's mode went through the umask.
    std::fs::set_permissions(
        &path,
        std::os::unix::fs::PermissionsExt::from_mode(node.mode),
    )
    .map_err(|e| Error::io(&path, e))?;
    std::os::unix::fs::lchown(&path, Some(node.uid), Some(node.gid))
        .map_err(|e| Error::io(&path, e))
}

/// A new pty from the current root's `/dev/ptmx` (inside a container: its
/// own `/dev/pts`, so `tty` names a path that exists there). Returns
/// (master, slave, the slave's path).
pub fn open_pty() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd, String)> {
    use nix::fcntl::OFlag;
    use std::os::fd::{FromRawFd as _, IntoRawFd as _};
    let sys = |step: &str, e| Error::System(chroot_demo::Error::sys(step, e));
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(|e| sys("open /dev/ptmx", e))?;
    nix::pty::grantpt(&master).map_err(|e| sys("grantpt", e))?;
    nix::pty::unlockpt(&master).map_err(|e| sys("unlockpt", e))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| sys("ptsname", e))?;
    let slave: std::os::fd::OwnedFd = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(&name)
        .map_err(|e| Error::io(&name, e))?
        .into();
    // SAFETY: into_raw_fd gives up ownership of the master; we take it.
    let master = unsafe { std::os::fd::OwnedFd::from_raw_fd(master.into_raw_fd()) };
    Ok((master, slave, name))
}

/// `-t`: a pty whose slave is also bound to `/dev/console`. Returns
/// (master, slave); the master goes to the monitor.
pub fn console() -> Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    tracing::info!(target: "explain", "open /dev/ptmx; mount --bind /dev/pts/N /dev/console");
    let (master, slave, name) = open_pty()?;
    let target = Path::new("/dev/console");
    std::fs::write(target, b"").map_err(|e| Error::io(target, e))?;
    bind(
        Path::new(&name),
        target,
        &format!("mount --bind {name} /dev/console"),
    )?;
    Ok((master, slave))
}

fn bind(source: &Path, target: &Path, shown: &str) -> Result<()> {
    chroot_demo::error::step(shown, || {
        sys().mount(Some(source), target, None, MsFlags::MS_BIND, None)
    })?;
    Ok(())
}

/// The container's own `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf`
/// (written into its directory at create), bound over the image's.
fn etc_files(root: &Path, dir: &Path) -> Result<()> {
    for name in ["hosts", "hostname", "resolv.conf"] {
        let source = dir.join(name);
        let target = scope::resolve(root, &Path::new("/etc").join(name))?;
        if let Some(parent) = target.parent() {
            mkdir_p(parent)?;
        }
        if !target.is_file() {
            std::fs::write(&target, b"").map_err(|e| Error::io(&target, e))?;
        }
        bind(
            &source,
            &target,
            &format!("mount --bind {} /etc/{name}", source.display()),
        )?;
    }
    Ok(())
}

/// One volume, bind mount or tmpfs at its destination (resolved inside the
/// container's root). An empty volume over an image directory is first
/// given its files, mode and owner — Docker's copy on first use.
fn mount_point(root: &Path, m: &MountPoint) -> Result<()> {
    let target = scope::resolve(root, Path::new(&m.destination))?;
    if m.kind == MountKind::Tmpfs {
        mkdir_p(&target)?;
        let options = if m.options.is_empty() {
            "mode=1777"
        } else {
            &m.options
        };
        return mnt(
            "tmpfs",
            &target,
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some(options),
            format!("mount -t tmpfs -o {options} tmpfs {}", m.destination),
        );
    }
    let source = Path::new(&m.source);
    if m.kind == MountKind::Volume {
        if let Some((kind, device, o)) = crate::volume::mount_options(source) {
            return mount_volume_options(&target, m, &kind, &device, &o);
        }
    }
    let is_dir = source.is_dir();
    if is_dir {
        // Docker's rule: a volume still empty takes the image directory's
        // contents, mode and owner (an empty directory's mode and owner
        // too: `-v v:/tmp` is 1777); one with files keeps its own.
        let empty = std::fs::read_dir(source).is_ok_and(|mut d| d.next().is_none());
        if m.kind == MountKind::Volume && empty && target.is_dir() {
            tracing::info!(target: "explain", "cp -a {}/. {}   # the volume is empty: the image's files, mode and owner", m.destination, m.source);
            crate::volume::copy_tree(&target, source)?;
        }
    }
    bind_target(&target, is_dir)?;
    chroot_demo::error::step(
        format!("mount --rbind {} {}", m.source, m.destination),
        || {
            sys().mount(
                Some(source),
                &target,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC,
                None,
            )
        },
    )?;
    if !m.rw {
        remount_readonly(&target, MsFlags::empty())?;
    }
    Ok(())
}

/// A volume created with `--opt type=… device=… o=…`: mounted as the local
/// driver mounts it (`mount -t TYPE -o O DEVICE`), straight at the
/// destination in the container's mount namespace, never on the host — so
/// each container gets its own mount (a tmpfs volume is empty in each).
fn mount_volume_options(
    target: &Path,
    m: &MountPoint,
    kind: &str,
    device: &str,
    o: &str,
) -> Result<()> {
    mkdir_p(target)?;
    let (mut flags, data) = mount_flags(o);
    let shown_flags = flags;
    if !m.rw {
        flags |= MsFlags::MS_RDONLY;
    }
    tracing::info!(target: "explain", "mount -t {kind} -o {o} {device} {}   # volume {}", m.destination, m.name);
    let data_opt = (!data.is_empty()).then_some(data.as_str());
    let device_path = Path::new(device);
    let mounted = sys().mount(Some(device_path), target, Some(kind), flags, data_opt);
    mounted.map_err(|errno| {
        // Docker's message, naming the volume's directory as its mount does.
        let mut text = format!("mount {device}:{}", m.source);
        if !shown_flags.is_empty() {
            text.push_str(&format!(", flags: 0x{:x}", shown_flags.bits()));
        }
        if !data.is_empty() {
            text.push_str(&format!(", data: {data}"));
        }
        let why = errno.desc();
        let why = why[..1].to_lowercase() + &why[1..];
        SetupError::VolumeMount {
            volume: m.source.clone(),
            mount: text,
            why,
        }
        .into()
    })
}

/// moby's `mount.ParseOptions`: the flags among `o`'s words, the rest as
/// the filesystem's data.
pub fn mount_flags(o: &str) -> (MsFlags, String) {
    let mut flags = MsFlags::empty();
    let mut data = Vec::new();
    for word in o.split(',').filter(|w| !w.is_empty()) {
        let (set, clear) = match word {
            "defaults" => (MsFlags::empty(), MsFlags::empty()),
            "ro" => (MsFlags::MS_RDONLY, MsFlags::empty()),
            "rw" => (MsFlags::empty(), MsFlags::MS_RDONLY),
            "bind" => (MsFlags::MS_BIND, MsFlags::empty()),
            "rbind" => (MsFlags::MS_BIND | MsFlags::MS_REC, MsFlags::empty()),
            "nosuid" => (MsFlags::MS_NOSUID, MsFlags::empty()),
            "suid" => (MsFlags::empty(), MsFlags::MS_NOSUID),
            "nodev" => (MsFlags::MS_NODEV, MsFlags::empty()),
            "dev" => (MsFlags::empty(), MsFlags::MS_NODEV),
            "noexec" => (MsFlags::MS_NOEXEC, MsFlags::empty()),
            "exec" => (MsFlags::empty(), MsFlags::MS_NOEXEC),
            "sync" => (MsFlags::MS_SYNCHRONOUS, MsFlags::empty()),
            "async" => (MsFlags::empty(), MsFlags::MS_SYNCHRONOUS),
            "dirsync" => (MsFlags::MS_DIRSYNC, MsFlags::empty()),
            "noatime" => (MsFlags::MS_NOATIME, MsFlags::empty()),
            "atime" => (MsFlags::empty(), MsFlags::MS_NOATIME),
            "nodiratime" => (MsFlags::MS_NODIRATIME, MsFlags::empty()),
            "diratime" => (MsFlags::empty(), MsFlags::MS_NODIRATIME),
            "relatime" => (MsFlags::MS_RELATIME, MsFlags::empty()),
            "norelatime" => (MsFlags::empty(), MsFlags::MS_RELATIME),
            "strictatime" => (MsFlags::MS_STRICTATIME, MsFlags::empty()),
            "mand" => (MsFlags::MS_MANDLOCK, MsFlags::empty()),
            "nomand" => (MsFlags::empty(), MsFlags::MS_MANDLOCK),
            other => {
                data.push(other);
                continue;
            }
        };
        flags = (flags | set) - clear;
    }
    (flags, data.join(","))
}

/// `--sysctl`: each value written to its `/proc/sys` file, in the
/// container's own namespaces (checked at create), before
/// [`mask_and_protect`] makes `/proc/sys` read-only.
fn write_sysctls(sysctls: &std::collections::BTreeMap<String, String>) -> Result<()> {
    for (key, value) in sysctls {
        let path = Path::new("/proc/sys").join(key.replace('.', "/"));
        tracing::info!(target: "explain", "echo {value} > {}   # --sysctl", path.display());
        sys()
            .write(&path, value.as_bytes())
            .map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// Masked paths and read-only paths (Docker's are [`MASKED_PATHS`] and
/// [`READONLY_PATHS`]; an OCI bundle lists its own), after `pivot_root`.
pub fn mask_and_protect(masked: &[&str], readonly: &[&str]) -> Result<()> {
    for path in masked.iter().map(Path::new) {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => mnt(
                "tmpfs",
                path,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None,
                format!("mount -t tmpfs -o ro tmpfs {}   # masked", path.display()),
            )?,
            Ok(_) => bind(
                Path::new("/dev/null"),
                path,
                &format!("mount --bind /dev/null {}   # masked", path.display()),
            )?,
            Err(_) => {}
        }
    }
    for path in readonly.iter().map(Path::new) {
        if path.exists() {
            bind(path, path, &format!("mount --bind {0} {0}", path.display()))?;
            remount_readonly(
                path,
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            )?;
        }
    }
    Ok(())
}

pub fn remount_readonly(path: &Path, extra: MsFlags) -> Result<()> {
    chroot_demo::error::step(
        format!("mount -o remount,bind,ro {}", path.display()),
        || {
            sys().mount(
                None,
                path,
                None,
                MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | extra,
                None,
            )
        },
    )?;
    Ok(())
}

/// The files [`etc_files`] binds, written at create time.
pub fn write_etc_files(dir: &Path, hostname: &str, resolv: &str) -> Result<()> {
    let hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
                 fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
                 ff02::2\tip6-allrouters\n"
        .to_string();
    for (name, text) in [
        ("hosts", hosts),
        ("hostname", format!("{hostname}\n")),
        ("resolv.conf", resolv.to_string()),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kernel::syscall::Call;

    use super::*;

    /// Where each call aims, as the container will see it: mounts by
    /// target (`merged/proc` → `/proc`), the rest named by kind.
    fn targets(calls: &[Call], merged: &Path) -> Vec<String> {
        let inside = |p: &Path| match p.strip_prefix(merged) {
            Ok(rest) => format!("/{}", rest.display()),
            Err(_) => p.display().to_string(),
        };
        calls
            .iter()
            .map(|c| match c {
                Call::Mount { target, fstype, .. } => {
                    format!(
                        "mount {} {}",
                        fstype.as_deref().unwrap_or("-"),
                        inside(target)
                    )
                }
                Call::Mknod(path) => format!("mknod {}", inside(path)),
                Call::PivotRoot(_) => "pivot_root".into(),
                Call::Umount(_) => "umount".into(),
                Call::Chdir(dir) => format!("cd {}", inside(dir)),
                Call::Write { path, .. } => format!("write {}", path.display()),
                other => format!("{other:?}"),
            })
            .collect()
    }

    fn position(calls: &[String], wanted: &str) -> usize {
        calls
            .iter()
            .position(|c| c == wanted)
            .unwrap_or_else(|| panic!("no {wanted:?} in {calls:#?}"))
    }

    /// runc's order, checked without root: the real kernel is replaced by
    /// a recorder, so nothing is mounted and the temporary tree is all
    /// that is touched.
    #[test]
    fn the_container_filesystem_is_entered_in_runcs_order() {
        let dir = std::env::temp_dir().join(format!("setup-order-{}", std::process::id()));
        let rootfs = Rootfs::scratch(&dir);
        for name in ["hosts", "hostname", "resolv.conf"] {
            std::fs::write(dir.join(name), "").unwrap();
        }
        let volume = MountPoint {
            kind: MountKind::Tmpfs,
            destination: "/scratch".into(),
            rw: true,
            ..Default::default()
        };
        let sysctls = BTreeMap::from([("kernel.shmmax".to_string(), "1".to_string())]);
        let fs = Filesystem {
            rootfs: &rootfs,
            dir: &dir,
            privileged: false,
            readonly: true,
            mounts: std::slice::from_ref(&volume),
            devices: &[],
            shm_size: 1 << 20,
            sysctls: &sysctls,
        };
        let mut pivot_seen_by_cgroupfs = false;
        let (entered, calls) = kernel::recording(|| {
            enter(&fs, |_| {
                pivot_seen_by_cgroupfs = true;
                Ok(())
            })
        });
        entered.unwrap();
        assert!(pivot_seen_by_cgroupfs);
        let calls = targets(&calls, &rootfs.merged);
        let at = |wanted: &str| position(&calls, wanted);
        // The host's mounts never see the container's: private first.
        assert_eq!(calls[0], "mount - /");
        assert_eq!(calls[1], "mount overlay /");
        // /dev is a tmpfs before its nodes are made, /dev/pts and /dev/shm
        // are mounted in it.
        assert!(at("mount proc /proc") < at("mount sysfs /sys"));
        assert!(at("mount tmpfs /dev") < at("mknod /dev/null"));
        assert!(at("mknod /dev/tty") < at("mount devpts /dev/pts"));
        assert!(at("mount devpts /dev/pts") < at("mount tmpfs /dev/shm"));
        // Volumes, then the container's own /etc files on top of them.
        assert!(at("mount tmpfs /scratch") < at("mount - /etc/hosts"));
        // Everything is in place before the root changes; the old root is
        // detached right after.
        let pivot = at("pivot_root");
        assert!(at("mount - /etc/resolv.conf") < pivot);
        assert_eq!(calls[pivot - 2], format!("mount - {}", "/"));
        assert_eq!(calls[pivot + 1], "umount");
        // --sysctl is written while /proc/sys is still writable; masking
        // and the read-only root come last.
        let sysctl = at("write /proc/sys/kernel/shmmax");
        assert!(pivot < sysctl && sysctl < at("mount - /proc/sys"));
        // (Which masked paths exist depends on the host's kernel.)
        let masks = &calls[sysctl + 1..calls.len() - 1];
        assert!(masks
            .iter()
            .all(|c| c.starts_with("mount ") && (c.contains(" /proc/") || c.contains(" /sys/"))));
        assert_eq!(calls.last().unwrap(), "mount - /");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
