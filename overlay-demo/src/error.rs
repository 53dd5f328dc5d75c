use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed (with the step that failed).
    #[error(transparent)]
    Sys(#[from] chroot_demo::Error),
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A layer tarball tried something it must not: the entry and why.
    #[error("refusing layer entry {entry:?}: {reason}")]
    Hostile { entry: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn hostile(entry: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Hostile {
            entry: entry.to_string(),
            reason: reason.into(),
        }
    }
}
