//! mini-runc's errors: each prints as the one line runc's callers
//! (containerd's shim, conmon, Docker) show their user.

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No state directory for this ID (runc's wording: shims match it).
    #[error("container does not exist")]
    NotExist,
    #[error("container with id exists: {0}")]
    Exists(String),
    /// The container is not in a state that allows the command.
    #[error("{0}")]
    State(String),
    /// The bundle's `config.json` asks for something invalid.
    #[error("invalid config.json: {0}")]
    Config(String),
    /// A known setting mini-runc cannot honour.
    #[error("{0} is not supported by mini-runc")]
    Unsupported(String),
    /// A bad command-line argument.
    #[error("{0}")]
    Usage(String),
    #[error("{}: {error}", .path.display())]
    Io {
        path: std::path::PathBuf,
        error: std::io::Error,
    },
    #[error("{0}: {1}")]
    Sys(String, nix::errno::Errno),
    #[error(transparent)]
    Core(#[from] mini_docker::Error),
    #[error(transparent)]
    Cgroup(#[from] cgroup_demo::Error),
    #[error(transparent)]
    System(#[from] chroot_demo::Error),
    #[error("seccomp: {0}")]
    Seccomp(#[from] libseccomp::error::SeccompError),
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The container's process failed before `execve`; its own message.
    #[error("{0}")]
    Child(String),
}

impl Error {
    pub fn io(path: impl Into<std::path::PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }

    pub fn sys(what: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> Self {
        let what = what.into();
        move |e| Error::Sys(what, e)
    }
}
