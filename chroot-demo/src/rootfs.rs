//! The busybox root filesystem every lesson runs in: one statically linked
//! binary, a symlink per applet, and the few files programs expect in `/etc`.

use std::fs;
use std::io::Read as _;
use std::os::unix::fs::{symlink, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// Where Debian's `busybox-static` package installs the binary.
pub const DEFAULT_BUSYBOX: &str = "/bin/busybox";

const DIRS: &[&str] = &[
    "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home",
    "var/tmp",
];

const FILES: &[(&str, &str)] = &[
    (
        "etc/passwd",
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    ),
    ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
    (
        "etc/hosts",
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    ),
    ("etc/hostname", "busybox\n"),
];

/// The result of [`prepare_busybox`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Applet symlinks in the root filesystem.
    pub applets: usize,
    /// False when the directory already held a busybox rootfs.
    pub created: bool,
}

/// Builds a busybox root filesystem at `dir` from the static binary `busybox`.
///
/// Idempotent and safe to run concurrently: the tree is assembled in a
/// temporary sibling directory and renamed into place in one step, so `dir`
/// is either absent or complete; a loser of a race finds the winner's tree.
pub fn prepare_busybox(dir: &Path, busybox: &Path) -> Result<Prepared> {
    if let Some(applets) = existing(dir) {
        return Ok(Prepared {
            applets,
            created: false,
        });
    }
    if dir.exists() && !is_empty_dir(dir)? {
        return Err(Error::Invalid(format!(
            "{} exists and is not a busybox rootfs; choose an empty or new directory",
            dir.display()
        )));
    }
    ensure_static(busybox)?;
    let tmp = temp_sibling(dir)?;
    let renamed = build(&tmp, busybox).and_then(|()| {
        let applets = count_applets(&tmp);
        tracing::info!(target: "explain", "mv {} {}", tmp.display(), dir.display());
        fs::rename(&tmp, dir)
            .map(|()| applets)
            .map_err(|e| Error::io(dir, e))
    });
    match renamed {
        Ok(applets) => Ok(Prepared {
            applets,
            created: true,
        }),
        Err(err) => {
            let _ = fs::remove_dir_all(&tmp);
            // Lost a race with a concurrent preparer: its tree is as good.
            existing(dir)
                .map(|applets| Prepared {
                    applets,
                    created: false,
                })
                .ok_or(err)
        }
    }
}

fn existing(dir: &Path) -> Option<usize> {
    dir.join("bin/busybox")
        .is_file()
        .then(|| count_applets(dir))
}

fn count_applets(dir: &Path) -> usize {
    ["", "bin", "sbin", "usr/bin", "usr/sbin"]
        .iter()
        .filter_map(|d| fs::read_dir(dir.join(d)).ok())
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
        .count()
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    let mut entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    Ok(entries.next().is_none())
}

fn temp_sibling(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Invalid(format!("{} has no directory name", dir.display())))?;
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    // Unique per process and per call: threads of one process may race too.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    Ok(parent.join(format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        CALLS.fetch_add(1, Ordering::Relaxed)
    )))
}

fn build(tmp: &Path, busybox: &Path) -> Result<()> {
    let _ = fs::remove_dir_all(tmp);
    for d in DIRS {
        let path = tmp.join(d);
        fs::create_dir_all(&path).map_err(|e| Error::io(&path, e))?;
    }
    for d in ["tmp", "var/tmp"] {
        set_mode(&tmp.join(d), 0o1777)?;
    }
    set_mode(&tmp.join("root"), 0o700)?;
    let bin = tmp.join("bin/busybox");
    tracing::info!(target: "explain", "cp {} {}", busybox.display(), bin.display());
    fs::copy(busybox, &bin).map_err(|e| Error::io(&bin, e))?;
    set_mode(&bin, 0o755)?;
    tracing::info!(target: "explain", "busybox --install -s   # one symlink per applet");
    for applet in list_applets(busybox)? {
        let link = tmp.join(&applet);
        if link.exists() {
            continue;
        }
        symlink("/bin/busybox", &link).map_err(|e| Error::io(&link, e))?;
    }
    for (path, content) in FILES {
        let path = tmp.join(path);
        fs::write(&path, content).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io(path, e))
}

/// `busybox --list-full`: applet paths relative to `/`, e.g. `bin/ls`.
fn list_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(|e| Error::io(busybox, e))?;
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{} --list-full failed: {}",
            busybox.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && !l.contains(".."))
        .collect())
}

/// A dynamically linked busybox would fail inside the rootfs (no libc
/// there), with a confusing "not found". Refuse it up front.
fn ensure_static(busybox: &Path) -> Result<()> {
    let mut head = Vec::new();
    fs::File::open(busybox)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                " (install it: apt-get install busybox-static)"
            } else {
                ""
            };
            Error::Invalid(format!("{}: {e}{hint}", busybox.display()))
        })?;
    match elf_has_interpreter(&head) {
        Some(false) => Ok(()),
        Some(true) => Err(Error::Invalid(format!(
            "{} is dynamically linked and cannot run inside an empty rootfs; \
             install the static build (apt-get install busybox-static)",
            busybox.display()
        ))),
        None => Err(Error::Invalid(format!(
            "{} is not a 64-bit little-endian ELF executable",
            busybox.display()
        ))),
    }
}

/// Whether a 64-bit little-endian ELF image asks for a program interpreter
/// (a `PT_INTERP` program header), i.e. is dynamically linked.
fn elf_has_interpreter(image: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if image.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| Some(u16::from_le_bytes(image.get(o..o + 2)?.try_into().ok()?));
    let u32_at = |o: usize| Some(u32::from_le_bytes(image.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(image.get(o..o + 8)?.try_into().ok()?));
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let entsize = usize::from(u16_at(0x36)?);
    let count = usize::from(u16_at(0x38)?);
    for i in 0..count {
        if u32_at(phoff + i * entsize)? == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_static_and_dynamic_elf() {
        // /bin/sh on any Debian host is dynamically linked.
        let sh = fs::read("/bin/sh").expect("read /bin/sh");
        assert_eq!(elf_has_interpreter(&sh), Some(true));
        assert_eq!(elf_has_interpreter(b"#!/bin/sh\n"), None);
        assert_eq!(elf_has_interpreter(b"\x7fELF\x02\x01"), None);
    }

    #[test]
    fn refuses_a_dynamic_busybox() {
        let err = ensure_static(Path::new("/bin/sh")).unwrap_err();
        assert!(err.to_string().contains("busybox-static"), "{err}");
    }
}
