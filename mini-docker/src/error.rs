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
    #[error(transparent)]
    Lifecycle(#[from] crate::container::lifecycle::LifecycleError),
    #[error(transparent)]
    Create(#[from] crate::container::create::CreateError),
    #[error(transparent)]
    Name(#[from] crate::container::dir::NameError),
    #[error(transparent)]
    Spec(#[from] crate::container::spec::SpecError),
    #[error(transparent)]
    Files(#[from] crate::container::files::FilesError),
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error(transparent)]
    Image(#[from] crate::image::ImageError),
    #[error(transparent)]
    Pull(#[from] crate::distribution::PullError),
    #[error(transparent)]
    Reset(#[from] crate::reset::ResetError),
    #[error(transparent)]
    Setup(#[from] crate::container::setup::SetupError),
    #[error(transparent)]
    Dns(crate::container::dns::DnsError),
    /// A path inside a container whose symbolic links go round.
    #[error("{}: too many levels of symbolic links", .0.display())]
    SymlinkLoop(PathBuf),
    /// `--since` of `logs` (and the like) that is no time.
    #[error("invalid value for \"since\": {0}")]
    Since(String),
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// mini-docker's networks (`Network` is net-demo's mechanism).
    #[error(transparent)]
    Networks(#[from] crate::network::NetworkError),
    #[error(transparent)]
    Mount(#[from] crate::container::mounts::MountError),
    #[error(transparent)]
    Security(#[from] crate::container::security::SecurityError),
    /// A container's command did not start (the monitor's
    /// [`crate::container::monitor::Started::Failed`]): mini-docker's
    /// failure (125), or the command cannot be invoked (126) or found (127).
    #[error("{message}")]
    NotStarted { code: i32, message: String },
    /// A peer (monitor, container, client) broke the protocol between
    /// mini-docker's processes, or went away in the middle of it.
    #[error("{0}")]
    Protocol(String),
}

impl Error {
    /// A flag's value refused as Docker's CLI refuses it (pflag's `invalid
    /// argument "…" for "--x" flag`): `create` exits 125 for it, as `run`
    /// does, rather than with the daemon's code.
    pub fn is_flag_value(&self) -> bool {
        use crate::container::{health, options};
        matches!(
            self,
            Error::Option(options::Error::Invalid { .. })
                | Error::Health(health::Error::Duration(..))
        )
    }

    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::{health, options};

    #[test]
    fn flag_values_are_told_apart_by_type_not_by_text() {
        assert!(Error::from(options::invalid("--cpus", "x", "bad")).is_flag_value());
        assert!(
            Error::from(health::Error::Duration("x".into(), "health-interval")).is_flag_value()
        );
        let same_words = Error::Protocol("invalid argument \"x\" for \"--y\" flag: z".into());
        assert!(!same_words.is_flag_value());
        assert!(!Error::from(options::Error::Pull("x".into())).is_flag_value());
    }
}
