use std::path::PathBuf;

use nix::errno::Errno;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, named by the step that failed. Shared by every lesson
/// library that makes system calls (this is the lowest crate).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed; `step` is its shell or syscall equivalent.
    #[error("{step} failed: {errno}{}", .hint.map(|h| format!(" ({h})")).unwrap_or_default())]
    Sys {
        step: String,
        errno: Errno,
        hint: Option<&'static str>,
    },
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Error {
    pub fn sys(step: impl Into<String>, errno: Errno) -> Self {
        Error::Sys {
            step: step.into(),
            errno,
            hint: None,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn with_hint(self, hint: &'static str) -> Self {
        match self {
            Error::Sys { step, errno, .. } => Error::Sys {
                step,
                errno,
                hint: Some(hint),
            },
            other => other,
        }
    }

    /// The errno of a failed system call, if that is what failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error().map(Errno::from_raw),
            Error::Invalid(_) => None,
        }
    }
}

/// Runs a system call after announcing its shell equivalent on the `explain`
/// stream, turning failure into an [`Error::Sys`] naming that step.
pub fn step<T>(shell: impl Into<String>, call: impl FnOnce() -> nix::Result<T>) -> Result<T> {
    let shell = shell.into();
    tracing::info!(target: "explain", "{shell}");
    call().map_err(|errno| Error::sys(shell, errno))
}

/// [`step`] for standard-library calls that fail with `std::io::Error`.
pub fn step_io<T>(
    shell: impl Into<String>,
    call: impl FnOnce() -> std::io::Result<T>,
) -> Result<T> {
    step(shell, || {
        call().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    })
}
