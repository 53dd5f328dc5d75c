//! Paths inside a container's root, resolved as the container would see
//! them: a symlink is followed *within* the root (an absolute target starts
//! again at the container's `/`, `..` stops at it). Anything the host does
//! on a container's behalf — bind mounts over `/etc/hosts`, `cp` — goes
//! through here, so an image's `ln -s /etc/shadow x` cannot point the host
//! at its own files.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Linux's limit on symlinks followed in one lookup.
const MAX_LINKS: usize = 40;

/// The host path of `path` inside `root`, with every symlink on the way
/// resolved inside `root`. Components that do not exist are kept as given.
pub fn resolve(root: &Path, path: &Path) -> Result<PathBuf> {
    let mut pending: VecDeque<OsString> = parts(path);
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = root.join(resolved.iter().collect::<PathBuf>()).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Error::SymlinkLoop(path.to_path_buf()));
                }
                let target =
                    std::fs::read_link(&candidate).map_err(|e| Error::io(&candidate, e))?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for p in parts(&target).into_iter().rev() {
                    pending.push_front(p);
                }
            }
            _ => resolved.push(part),
        }
    }
    Ok(root.join(resolved.iter().collect::<PathBuf>()))
}

/// The normal and `..` components of a path (`/` and `.` dropped).
fn parts(path: &Path) -> VecDeque<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_stay_inside_the_root() {
        let root = std::env::temp_dir().join(format!("scope-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        symlink("/etc/shadow", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("data/up")).unwrap();
        symlink("sub", root.join("data/rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        let r = |p: &str| resolve(&root, Path::new(p)).unwrap();
        assert_eq!(r("/abs"), root.join("etc/shadow"));
        assert_eq!(r("/data/up/etc/passwd"), root.join("etc/passwd"));
        assert_eq!(r("/data/rel/x"), root.join("data/sub/x"));
        assert_eq!(r("/../../etc"), root.join("etc"));
        assert_eq!(r("/new/file"), root.join("new/file"));
        assert!(resolve(&root, Path::new("/loop")).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
