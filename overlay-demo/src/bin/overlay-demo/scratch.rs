//! The demo's scratch directory and the overlays mounted in it, removed on
//! every exit path.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use narrate::Cleanup;
use overlay_demo::listing::ls_la;
use overlay_demo::mount::{self, Overlay};

/// `overlay-demo-<pid>` under the temporary directory. Paths are printed
/// relative to it so that the narration reads the same everywhere.
pub struct Scratch {
    pub root: PathBuf,
    _cleanup: Cleanup,
}

/// Unmounts whatever is mounted below `root`, deepest first, and removes it.
fn remove(root: &Path) {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut mounted: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(root))
        .collect();
    mounted.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounted {
        let _ = mount::unmount(Path::new(m));
    }
    let _ = std::fs::remove_dir_all(root);
}

/// `clean`: the scratch directories (and their overlay mounts) of demos
/// killed with SIGKILL.
pub fn clean() -> Result<i32> {
    let tmp = std::env::temp_dir();
    for entry in std::fs::read_dir(&tmp)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if narrate::left_by_dead_run(&name, "overlay-demo-") {
            remove(&entry.path());
            println!("removed {}", entry.path().display());
        }
    }
    Ok(0)
}

impl Scratch {
    pub fn new() -> Result<Self> {
        let root = std::env::temp_dir().join(format!("overlay-demo-{}", std::process::id()));
        std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
        let doomed = root.clone();
        let cleanup = Cleanup::new(move || remove(&doomed));
        Ok(Scratch {
            root,
            _cleanup: cleanup,
        })
    }

    /// Creates (empty) directories below the scratch root.
    pub fn dirs(&self, names: &[&str]) -> Result<Vec<PathBuf>> {
        names
            .iter()
            .map(|n| {
                let p = self.root.join(n);
                std::fs::create_dir_all(&p).with_context(|| format!("creating {n}"))?;
                Ok(p)
            })
            .collect()
    }

    pub fn write(&self, rel: &str, content: &str) -> Result<()> {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {rel}"))
    }

    pub fn mount(&self, overlay: &Overlay) -> Result<()> {
        let shown = overlay.options(Some(&self.root))?;
        println!(
            "   mount -t overlay overlay -o {shown} {}",
            self.rel(&overlay.merged)
        );
        Ok(overlay.mount()?)
    }

    pub fn unmount(&self, merged: &Path) -> Result<()> {
        println!("   umount {}", self.rel(merged));
        Ok(mount::unmount(merged)?)
    }

    /// A path as shown: relative to the scratch root.
    pub fn rel(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .display()
            .to_string()
    }

    /// Prints `ls -la` of a directory under a heading.
    pub fn show(&self, dir: &Path) -> Result<()> {
        let lines = ls_la(dir)?;
        println!("   {}/", self.rel(dir));
        if lines.is_empty() {
            println!("     (empty)");
        }
        for line in lines {
            println!("     {line}");
        }
        Ok(())
    }

    pub fn cat(&self, path: &Path) -> String {
        std::fs::read_to_string(path)
            .map(|s| s.trim_end().to_string())
            .unwrap_or_else(|e| format!("({e})"))
    }
}
