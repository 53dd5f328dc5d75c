//! Changing a process's root directory: the weak way (`chroot`) and the way
//! container runtimes do it (`pivot_root` inside a new mount namespace).

use std::path::Path;

use kernel::sys;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::unistd::{chdir, chroot as chroot2};

use crate::error::{step, Result};

/// `chroot ROOT && cd /`: changes only where path lookups start. The process
/// keeps the host's mounts, PIDs, hostname and network, and a root process can
/// walk back out (see [`crate::escape`]).
pub fn chroot(root: &Path) -> Result<()> {
    step(format!("chroot {}", root.display()), || chroot2(root))
        .map_err(|e| e.with_hint("chroot needs CAP_SYS_CHROOT: run as root"))?;
    step("cd /", || chdir("/"))
}

/// `unshare --mount`: from now on this process's mount table is a private
/// copy, so mounts made here are invisible to the host and vanish with the
/// last process of the namespace.
pub fn new_mount_namespace() -> Result<()> {
    step("unshare --mount", || unshare(CloneFlags::CLONE_NEWNS))
        .map_err(|e| e.with_hint("unshare(CLONE_NEWNS) needs CAP_SYS_ADMIN: run as root"))
}

/// `mount --make-rprivate /`: stop mount events propagating between this
/// namespace and the host. Without it pivot_root fails with EINVAL on hosts
/// whose `/` is shared (every systemd host), and a mount made here could
/// appear on the host.
pub fn make_root_private() -> Result<()> {
    step("mount --make-rprivate /", || {
        sys().mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None,
        )
    })
}

/// Makes `root` the root of the current mount namespace and detaches the old
/// root, so that no path leads back to the host's filesystem. The caller must
/// already be in a mount namespace of its own whose `/` is not shared
/// ([`new_mount_namespace`], [`make_root_private`]).
///
/// Uses `pivot_root(".", ".")`, as runc does: the old root ends up stacked on
/// the new one and is detached at once, so the rootfs needs no `put_old`
/// directory and may be read-only.
pub fn pivot_root(root: &Path) -> Result<()> {
    let shown = root.display();
    let k = sys();
    step(format!("mount --rbind {shown} {shown}"), || {
        k.mount(
            Some(root),
            root,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
    })?;
    step(format!("cd {shown}"), || k.chdir(root))?;
    let here = Path::new(".");
    step("pivot_root . .", || k.pivot_root(here, here)).map_err(|e| {
        e.with_hint(
            "pivot_root refuses when the new root or the current root is a shared mount \
             (run `mount --make-rprivate /` in a new mount namespace first) or when the new \
             root is not a mount point (bind-mount it onto itself)",
        )
    })?;
    step(
        "umount --lazy .   # detach the old root stacked on top",
        || k.umount(here, MntFlags::MNT_DETACH),
    )?;
    step("cd /", || k.chdir(Path::new("/")))
}

/// Everything a runtime does to enter `root` safely: a new mount namespace,
/// private propagation, then [`pivot_root`].
pub fn enter_with_pivot_root(root: &Path) -> Result<()> {
    new_mount_namespace()?;
    make_root_private()?;
    pivot_root(root)
}

/// `mount --make-rshared /` inside the current mount namespace. The lesson uses
/// it to reproduce pivot_root's EINVAL on a shared root; never call it in the
/// host's namespace.
pub fn make_root_shared() -> Result<()> {
    step("mount --make-rshared /", || {
        sys().mount(
            None,
            Path::new("/"),
            None,
            MsFlags::MS_REC | MsFlags::MS_SHARED,
            None,
        )
    })
}

/// `mount -t proc proc DIR`.
pub fn mount_proc(target: &Path) -> Result<()> {
    step(format!("mount -t proc proc {}", target.display()), || {
        sys().mount(
            Some(Path::new("proc")),
            target,
            Some("proc"),
            MsFlags::empty(),
            None,
        )
    })
}

/// `umount --lazy DIR`; a target that is not mounted (EINVAL) or is gone
/// (ENOENT) counts as done, so clean-up can call this unconditionally.
pub fn unmount(target: &Path) -> Result<()> {
    match step(format!("umount --lazy {}", target.display()), || {
        sys().umount(target, MntFlags::MNT_DETACH)
    }) {
        Err(e)
            if matches!(
                e.errno(),
                Some(nix::errno::Errno::EINVAL | nix::errno::Errno::ENOENT)
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}
