//! State root safety.
//!
//! The state root holds every container's configuration (environment
//! variables, often secrets) and the run root their sockets: both are made
//! mode 0700 when mini-docker creates them (an existing directory keeps the
//! mode its owner chose; [`exposure`] lets `info` warn about it).
//!
//! A record that cannot be read — a half-edited `config.json`, a truncated
//! network file — breaks only itself: listings skip it and say once, on
//! stderr, which file is damaged, and `rm -f` can still remove a container
//! whose record is gone bad.

use std::collections::BTreeSet;
use std::fmt::Display;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// This module's errors.
#[derive(Debug, thiserror::Error)]
pub enum DamageError {
    #[error("{}: {error}", .path.display())]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl From<DamageError> for crate::Error {
    fn from(e: DamageError) -> Self {
        match e {
            DamageError::Create { path, error } => crate::Error::io(path, error),
        }
    }
}

/// Creates `path` (and its missing parents) with the last component mode
/// 0700; an existing directory is left as it is.
pub fn create_private(path: &Path) -> Result<(), DamageError> {
    if path.is_dir() {
        return Ok(());
    }
    let fail = |error| DamageError::Create {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(path) {
        Ok(()) => Ok(()),
        // Another command made it meanwhile.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && path.is_dir() => Ok(()),
        Err(e) => Err(fail(e)),
    }
}

/// A warning when other users can read or enter the root `path` (for
/// `info`), `None` when only its owner can.
pub fn exposure(path: &Path) -> Option<String> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "{} is accessible by other users (mode {mode:04o}); mini-docker creates its roots 0700",
            path.display()
        )
    })
}

/// Says on stderr, once per file and process, that a record is damaged
/// and left out.
pub fn report(record: &Path, error: &dyn Display) {
    static SEEN: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    let first = SEEN
        .lock()
        .map(|mut seen| seen.insert(record.to_path_buf()))
        .unwrap_or(true);
    if first {
        eprintln!(
            "WARNING: damaged record {} skipped: {error}",
            record.display()
        );
    }
}

/// Whether an error is a record that does not parse (rather than one that
/// is missing or unreadable).
pub fn is_damage(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Corrupt(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_roots_are_private_and_existing_ones_keep_their_mode() {
        let base = std::env::temp_dir().join(format!("md-damage-{}", std::process::id()));
        let root = base.join("a/root");
        create_private(&root).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(exposure(&root), None);
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_private(&root).unwrap();
        assert_eq!(mode(&root), 0o755);
        let warning = exposure(&root).unwrap();
        assert!(warning.contains("mode 0755"), "{warning}");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
