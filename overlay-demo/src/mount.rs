//! Mounting an overlay.
//!
//! `mount -t overlay overlay -o lowerdir=L1:L2,upperdir=U,workdir=W MERGED`:
//! the merged view shows `U` over `L1` over `L2` — the *first* lowerdir is
//! the *top* one. Reads go top-down to the first layer that has the name;
//! writes go to `U` (copying a lower file up first); `W` is overlayfs's
//! scratch space and must be on the same filesystem as `U`.
//!
//! The options travel to the kernel in one page (4096 bytes, NUL included).
//! An image with many layers stored under long paths does not fit. Docker's
//! overlay2 driver keeps a short symlink per layer (`l/ABC…`) and mounts
//! with paths relative to that directory; this module does the same on
//! demand: a temporary directory of symlinks named `0`, `1`, …, `u`, `w`,
//! a child process that `cd`s there (the working directory is per process)
//! and mounts, then the links are removed — the kernel resolved them at
//! mount time and holds the layers themselves.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use chroot_demo::error::step;
use nix::mount::{MntFlags, MsFlags};

use crate::{Error, Result};

/// The kernel copies at most one page of mount options.
pub const MAX_OPTIONS: usize = 4095;
/// The kernel's limit on stacked lower layers (`OVL_MAX_STACK`).
pub const MAX_LOWERS: usize = 500;

/// An overlay to mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    /// Read-only layers, **top first**.
    pub lowers: Vec<PathBuf>,
    /// The writable layer and overlayfs's work dir; `None` for a read-only
    /// overlay (which then needs at least two lowers on older kernels).
    pub upper: Option<(PathBuf, PathBuf)>,
    pub merged: PathBuf,
}

impl Overlay {
    /// A writable overlay: `lowers` (top first) under `upper`.
    pub fn new(lowers: Vec<PathBuf>, upper: PathBuf, work: PathBuf, merged: PathBuf) -> Self {
        Overlay {
            lowers,
            upper: Some((upper, work)),
            merged,
        }
    }

    /// The `-o` option string, with every path relative to `base` if given.
    pub fn options(&self, base: Option<&Path>) -> Result<String> {
        let show = |p: &Path| -> Result<String> {
            let p = match base {
                Some(b) => p.strip_prefix(b).map_err(|_| {
                    Error::Invalid(format!("{} is not below {}", p.display(), b.display()))
                })?,
                None => p,
            };
            let text = p
                .to_str()
                .ok_or_else(|| Error::Invalid(format!("{}: not UTF-8", p.display())))?;
            if text.contains(',') || text.contains(':') {
                return Err(Error::Invalid(format!(
                    "{text}: overlay layer paths cannot contain ',' or ':'"
                )));
            }
            Ok(text.to_string())
        };
        if self.lowers.is_empty() {
            return Err(Error::Invalid(
                "an overlay needs at least one lower layer".into(),
            ));
        }
        let lowers: Vec<String> = self.lowers.iter().map(|l| show(l)).collect::<Result<_>>()?;
        let mut options = format!("lowerdir={}", lowers.join(":"));
        if let Some((upper, work)) = &self.upper {
            options.push_str(&format!(
                ",upperdir={},workdir={}",
                show(upper)?,
                show(work)?
            ));
        }
        Ok(options)
    }

    /// Mounts the overlay; falls back to short symlinks when the options
    /// exceed a page.
    pub fn mount(&self) -> Result<()> {
        let options = self.options(None)?;
        if options.len() <= MAX_OPTIONS {
            return mount_overlay(&options, &self.merged);
        }
        if self.lowers.len() > MAX_LOWERS {
            return Err(Error::Invalid(format!(
                "{} lower layers: overlayfs stacks at most {MAX_LOWERS}",
                self.lowers.len()
            )));
        }
        static LINK_DIRS: AtomicUsize = AtomicUsize::new(0);
        let links = std::env::temp_dir().join(format!(
            ".overlay-links-{}-{}",
            std::process::id(),
            LINK_DIRS.fetch_add(1, Ordering::Relaxed)
        ));
        tracing::info!(
            target: "explain",
            "mkdir {0} && ln -s LAYER {0}/N ...   # {1} bytes of options do not fit in one page",
            links.display(),
            options.len()
        );
        let result = self.mount_via_links(&links);
        let _ = std::fs::remove_dir_all(&links);
        result
    }

    fn mount_via_links(&self, links: &Path) -> Result<()> {
        std::fs::create_dir(links).map_err(|e| Error::io(links, e))?;
        let link = |name: String, target: &Path| -> Result<PathBuf> {
            let target = std::path::absolute(target).map_err(|e| Error::io(target, e))?;
            std::os::unix::fs::symlink(&target, links.join(&name))
                .map_err(|e| Error::io(links, e))?;
            Ok(PathBuf::from(name))
        };
        let short = Overlay {
            lowers: self
                .lowers
                .iter()
                .enumerate()
                .map(|(i, l)| link(format!("{i:x}"), l))
                .collect::<Result<_>>()?,
            upper: match &self.upper {
                Some((u, w)) => Some((link("u".into(), u)?, link("w".into(), w)?)),
                None => None,
            },
            merged: std::path::absolute(&self.merged).map_err(|e| Error::io(&self.merged, e))?,
        };
        let options = short.options(None)?;
        let (dir, merged) = (links.to_path_buf(), short.merged.clone());
        tracing::info!(target: "explain", "cd {}", dir.display());
        let child = chroot_demo::process::spawn(move || {
            let mounted = std::env::set_current_dir(&dir)
                .map_err(|e| Error::io(&dir, e))
                .and_then(|()| mount_overlay(&options, &merged));
            match mounted {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("{e}");
                    1
                }
            }
        })?;
        match chroot_demo::process::wait(child)?.code() {
            0 => Ok(()),
            _ => Err(Error::Invalid(format!(
                "mounting the overlay at {} through short links failed (see above)",
                self.merged.display()
            ))),
        }
    }
}

fn mount_overlay(options: &str, merged: &Path) -> Result<()> {
    step(
        format!("mount -t overlay overlay -o {options} {}", merged.display()),
        || {
            kernel::sys().mount(
                Some(Path::new("overlay")),
                merged,
                Some("overlay"),
                MsFlags::empty(),
                Some(options),
            )
        },
    )
    .map_err(|e| {
        Error::Sys(e.with_hint(
            "check that every layer exists, that upperdir and workdir are on the same filesystem, \
             and that the upper dir is not itself on overlayfs",
        ))
    })
}

/// `umount MERGED`; not mounted counts as done.
pub fn unmount(merged: &Path) -> Result<()> {
    match step(format!("umount {}", merged.display()), || {
        kernel::sys().umount(merged, MntFlags::MNT_DETACH)
    }) {
        Err(e) if e.errno() == Some(nix::errno::Errno::EINVAL) => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_lower_is_the_top_and_paths_are_checked() {
        let o = Overlay::new(
            vec!["/l/top".into(), "/l/bottom".into()],
            "/c/upper".into(),
            "/c/work".into(),
            "/c/merged".into(),
        );
        assert_eq!(
            o.options(None).unwrap(),
            "lowerdir=/l/top:/l/bottom,upperdir=/c/upper,workdir=/c/work"
        );
        let bad = Overlay::new(vec!["/a:b".into()], "/u".into(), "/w".into(), "/m".into());
        assert!(bad.options(None).is_err());
    }

    #[test]
    fn options_can_be_relative_to_a_base() {
        let o = Overlay::new(
            vec![
                "/var/lib/x/layers/1/diff".into(),
                "/var/lib/x/layers/2/diff".into(),
            ],
            "/var/lib/x/c/upper".into(),
            "/var/lib/x/c/work".into(),
            "/m".into(),
        );
        assert_eq!(
            o.options(Some(Path::new("/var/lib/x"))).unwrap(),
            "lowerdir=layers/1/diff:layers/2/diff,upperdir=c/upper,workdir=c/work"
        );
        assert!(o.options(Some(Path::new("/elsewhere"))).is_err());
    }
}
