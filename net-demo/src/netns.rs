//! Network namespaces by name, and code that runs inside one.
//!
//! `ip netns add NAME` creates a namespace and keeps it alive with a bind
//! mount on `/run/netns/NAME`; [`NetNs::create`] does the same from a
//! short-lived thread (a thread, not the process, changes namespace, so the
//! caller stays where it is). [`NetNs::run`] executes a closure in a thread
//! that has entered the namespace: sockets it opens — netlink included —
//! belong to that namespace. That is how one process can play a host and
//! several containers at once.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::sched::{setns, unshare, CloneFlags};

use crate::{Error, Result};

/// Where `ip netns` keeps named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A network namespace, by the file that refers to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetNs {
    path: PathBuf,
}

impl NetNs {
    /// `ip netns add NAME`.
    pub fn create(name: &str) -> Result<Self> {
        let path = Path::new(NETNS_DIR).join(name);
        if path.exists() {
            return Err(Error::Invalid(format!(
                "network namespace {name} already exists"
            )));
        }
        tracing::info!(target: "explain", "ip netns add {name}");
        let target = path.clone();
        std::thread::scope(|s| {
            s.spawn(|| -> Result<()> {
                unshare(CloneFlags::CLONE_NEWNET)
                    .map_err(|e| chroot_demo::Error::sys("unshare --net", e))?;
                ns_demo::persist::persist_file(Path::new("/proc/thread-self/ns/net"), &target)?;
                Ok(())
            })
            .join()
            .map_err(|_| Error::Invalid("netns thread panicked".into()))?
        })?;
        Ok(NetNs { path })
    }

    /// A namespace kept at `path` (`/run/netns/NAME`).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        NetNs { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How `--explain` names it: `NAME` for `/run/netns/NAME`, else the path.
    pub fn shown(&self) -> String {
        match self.path.strip_prefix(NETNS_DIR) {
            Ok(name) => name.display().to_string(),
            Err(_) => self.path.display().to_string(),
        }
    }

    /// Runs `f` on a thread inside this namespace (`ip netns exec`).
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        let file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).map_err(|e| {
                    chroot_demo::Error::sys(format!("setns {}", self.path.display()), e)
                })?;
                Ok(f())
            })
            .join()
            .map_err(|_| Error::Invalid("thread in the network namespace panicked".into()))?
        })
    }

    /// Starts `f` on a thread of its own inside this namespace (a server
    /// that keeps running while the caller goes on).
    pub fn spawn<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<std::thread::JoinHandle<Result<T>>> {
        let file = self.open()?;
        let path = self.path.clone();
        Ok(std::thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET)
                .map_err(|e| chroot_demo::Error::sys(format!("setns {}", path.display()), e))?;
            Ok(f())
        }))
    }

    /// An open handle, e.g. to move a link into the namespace.
    pub fn open(&self) -> Result<File> {
        File::open(&self.path).map_err(|e| Error::io(&self.path, e))
    }

    /// `ip netns delete NAME`: the namespace goes once nothing else holds it.
    pub fn delete(&self) -> Result<()> {
        tracing::info!(target: "explain", "ip netns delete {}", self.shown());
        Ok(ns_demo::persist::release(&self.path)?)
    }

    /// The inode that identifies the namespace (as in `net:[4026532177]`).
    pub fn id(&self) -> Result<u64> {
        use std::os::unix::fs::MetadataExt as _;
        let file = self.open()?;
        Ok(file.metadata().map_err(|e| Error::io(&self.path, e))?.ino())
    }
}

/// Names of the namespaces in `/run/netns` that start with `prefix`.
pub fn named_with_prefix(prefix: &str) -> Vec<String> {
    std::fs::read_dir(NETNS_DIR)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix))
                .collect()
        })
        .unwrap_or_default()
}
