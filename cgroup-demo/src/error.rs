use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag value or combination Docker would refuse; the message is
    /// Docker's where Docker has one.
    #[error("{0}")]
    Invalid(String),
    /// A cgroup file could not be read or written.
    #[error("{}: {source}", .path.display())]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The host lacks what a limit needs.
    #[error("{0}")]
    Unsupported(String),
    /// Still has processes after the grace period.
    #[error("{} still has processes {pids:?}; kill them first", .path.display())]
    Busy { path: PathBuf, pids: Vec<i32> },
}

impl Error {
    pub(crate) fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File {
            path: path.into(),
            source,
        }
    }
}
