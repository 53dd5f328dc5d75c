//! `ls -la`-style lines for a directory, with what overlayfs hides from a
//! plain `ls` spelled out: whiteouts and opaque directories.

use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::path::Path;

use crate::whiteout::{is_opaque, is_whiteout};
use crate::{Error, Result};

/// One line per entry (`.` excluded), sorted by name:
/// `c--------- 0:0      0,0 gone.txt   <- whiteout`.
pub fn ls_la(dir: &Path) -> Result<Vec<String>> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| e.file_name());
    let mut lines = Vec::new();
    for entry in entries {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let ft = meta.file_type();
        let kind = if ft.is_dir() {
            'd'
        } else if ft.is_symlink() {
            'l'
        } else if ft.is_char_device() {
            'c'
        } else if ft.is_block_device() {
            'b'
        } else if ft.is_fifo() {
            'p'
        } else {
            '-'
        };
        let size = if ft.is_char_device() || ft.is_block_device() {
            format!("{},{}", libc::major(meta.rdev()), libc::minor(meta.rdev()))
        } else {
            meta.len().to_string()
        };
        let name = entry.file_name().to_string_lossy().into_owned();
        let note = if is_whiteout(&meta) {
            "   <- whiteout: deleted from the layers below".to_string()
        } else if ft.is_dir() && is_opaque(&path) {
            "   <- opaque (trusted.overlay.opaque=y): hides the layers below".to_string()
        } else if ft.is_symlink() {
            format!(
                " -> {}",
                std::fs::read_link(&path)
                    .map_err(|e| Error::io(&path, e))?
                    .display()
            )
        } else {
            String::new()
        };
        lines.push(format!(
            "{kind}{} {:>8} {name}{note}",
            mode_string(meta.permissions().mode()),
            size
        ));
    }
    Ok(lines)
}

fn mode_string(mode: u32) -> String {
    let bits = [
        (0o400, 'r'),
        (0o200, 'w'),
        (0o100, 'x'),
        (0o040, 'r'),
        (0o020, 'w'),
        (0o010, 'x'),
        (0o004, 'r'),
        (0o002, 'w'),
        (0o001, 'x'),
    ];
    bits.iter()
        .map(|&(bit, c)| if mode & bit != 0 { c } else { '-' })
        .collect()
}
