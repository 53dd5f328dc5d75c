use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// mini-docker's errors; each prints as the one line a user sees after
/// `Error: `.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Reference(#[from] crate::reference::InvalidReference),
    #[error("{0}")]
    NotFound(String),
    /// The command cannot do this as asked (conflicts, ambiguity, bad flags).
    #[error("{0}")]
    Usage(String),
    /// Content that is not what it claims to be (digest mismatch, bad JSON,
    /// missing blobs).
    #[error("{0}")]
    Corrupt(String),
    /// (The cause is a plain field, not a `source`: the message already
    /// carries it, and `{:#}` would print it twice.)
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Layer(#[from] overlay_demo::Error),
    /// A system call (mount, clone, setns…) failed; says which and why.
    #[error(transparent)]
    System(#[from] chroot_demo::Error),
    #[error(transparent)]
    Cgroup(#[from] cgroup_demo::Error),
    #[error(transparent)]
    Network(#[from] net_demo::Error),
    /// A `run`/`create` flag's value (issue 14's flags).
    #[error(transparent)]
    Option(#[from] crate::container::options::Error),
    #[error(transparent)]
    Health(#[from] crate::container::health::Error),
    #[error(transparent)]
    Restart(#[from] crate::container::restart::Error),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}
