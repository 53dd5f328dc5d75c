//! What a process can see of the system: the facts the lessons compare
//! inside and outside an isolation mechanism.

use std::fmt;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use crate::error::{Error, Result};

/// A file's identity (device and inode): how the kernel, unlike a path,
/// tells two directories apart. Comparing the `/` of two processes this way
/// shows whether they share a root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    pub fn of(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        Ok(FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (major, minor) = (libc::major(self.dev), libc::minor(self.dev));
        write!(f, "dev {major}:{minor} inode {}", self.ino)
    }
}

/// A snapshot of what the calling process sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Identity of this process's `/`.
    pub root: FileId,
    /// This process's PID as it sees it.
    pub pid: u32,
    pub hostname: String,
    /// Processes listed in `/proc`, or `None` when no procfs is mounted there.
    pub processes: Option<usize>,
    /// Mounts in `/proc/self/mountinfo`, or `None` without procfs.
    pub mounts: Option<usize>,
}

/// Looks around from the calling process.
pub fn look() -> Result<View> {
    let hostname = nix::unistd::gethostname()
        .map_err(|e| Error::sys("hostname", e))?
        .to_string_lossy()
        .into_owned();
    let processes = std::fs::read_dir("/proc").ok().map(|dir| {
        dir.filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
            .count()
    });
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .ok()
        .map(|s| s.lines().count());
    Ok(View {
        root: FileId::of(Path::new("/"))?,
        pid: std::process::id(),
        hostname,
        processes: processes.filter(|&n| n > 0),
        mounts,
    })
}
