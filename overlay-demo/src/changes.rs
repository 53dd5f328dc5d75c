//! What a container changed, read from its upper dir, as `docker diff`
//! reports it: `A` added, `C` changed, `D` deleted.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::whiteout::{is_opaque, is_whiteout};
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Added,
    Changed,
    Deleted,
}

/// One line of `docker diff`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    /// Absolute inside the container: `/etc/hosts`.
    pub path: String,
    pub kind: Kind,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let letter = match self.kind {
            Kind::Added => 'A',
            Kind::Changed => 'C',
            Kind::Deleted => 'D',
        };
        write!(f, "{letter} {}", self.path)
    }
}

/// The changes recorded in `upper` relative to `lowers` (top first). A name
/// in the upper dir is `C` if a lower layer shows it (and no opaque
/// directory above hides the lowers), `A` otherwise; a whiteout is `D`.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>> {
    let mut out = Vec::new();
    walk(upper, Path::new(""), lowers, false, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(
    upper: &Path,
    rel: &Path,
    lowers: &[PathBuf],
    hidden: bool,
    out: &mut Vec<Change>,
) -> Result<()> {
    let dir = upper.join(rel);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let rel = rel.join(entry.file_name());
        let path = format!("/{}", rel.display());
        let meta =
            std::fs::symlink_metadata(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
        if is_whiteout(&meta) {
            out.push(Change {
                path,
                kind: Kind::Deleted,
            });
            continue;
        }
        let in_lower = !hidden && lower_has(lowers, &rel);
        out.push(Change {
            path,
            kind: if in_lower { Kind::Changed } else { Kind::Added },
        });
        if meta.is_dir() {
            // Below an opaque directory the lowers do not show through.
            let hides = hidden || is_opaque(&entry.path());
            walk(upper, &rel, lowers, hides, out)?;
        }
    }
    Ok(())
}

/// Whether the stack of lowers shows `rel`: the first layer that has the
/// name decides (a whiteout there means it was deleted below).
fn lower_has(lowers: &[PathBuf], rel: &Path) -> bool {
    for lower in lowers {
        if let Ok(meta) = std::fs::symlink_metadata(lower.join(rel)) {
            return !is_whiteout(&meta);
        }
    }
    false
}
