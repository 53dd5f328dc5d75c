//! The launching command's side (`run`, `start`): the monitor started in a
//! session of its own, and its start-up pipe read until the container runs
//! or has failed to start.

use std::ffi::OsString;
use std::io::{BufReader, Write};
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};

use crate::container::protocol::{self, Message};
use crate::{Error, Result};

/// How a start ended, as the launching command learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    Running {
        pid: i32,
    },
    /// The command never ran: mini-docker's or the exec's error and its
    /// exit code (125, 126, 127).
    Failed {
        code: i32,
        message: String,
    },
}

/// Launches the monitor for container `id` and waits until the container
/// is running or has failed to start. `global` are the command's global
/// flags (root, run root, explain) for the monitor's command line;
/// `attach` becomes the monitor's first attach client, so not a byte of
/// output is missed. Explain lines are copied to `narration`.
pub fn launch(
    global: &[OsString],
    id: &str,
    attach: Option<UnixStream>,
    tty_size: Option<(u16, u16)>,
    narration: &mut dyn Write,
) -> Result<Started> {
    let (reader, writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let writer_err = writer.try_clone().map_err(|e| Error::io("pipe", e))?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("/proc/self/exe", e))?
        .with_file_name("mini-docker-monitor");
    let mut command = Command::new(&exe);
    command
        .args(global)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer_err);
    if let Some((rows, cols)) = tty_size {
        command.arg("--tty-size").arg(format!("{rows}x{cols}"));
    }
    let attach_fd = attach.map(|s| s.into_raw_fd());
    if let Some(fd) = attach_fd {
        command.arg("--attach-fd").arg("3");
        // SAFETY: between fork and exec: async-signal-safe calls only.
        unsafe {
            command.pre_exec(move || {
                if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    // SAFETY: setsid is async-signal-safe; the monitor leaves our session
    // so the terminal's Ctrl-C reaches the client, not the monitor.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let spawned = command.spawn();
    if let Some(fd) = attach_fd {
        // SAFETY: our copy, now owned by the monitor.
        unsafe { libc::close(fd) };
    }
    drop(command);
    spawned.map_err(|e| Error::io(&exe, e))?;
    let mut reader = BufReader::new(reader);
    loop {
        let message = protocol::read_startup(&mut reader, narration)
            .map_err(|e| Error::io("the monitor's start-up pipe", e))?;
        return Ok(match message {
            // What the host could not apply (Docker prints these at create).
            Some(Message::Warning(warning)) => {
                eprintln!("WARNING: {warning}");
                continue;
            }
            Some(Message::Running { pid }) => Started::Running { pid },
            Some(Message::Failed { code, message }) => Started::Failed { code, message },
            Some(other) => {
                return Err(Error::Protocol(format!(
                    "the monitor sent {other:?} during start"
                )))
            }
            None => {
                return Err(Error::Protocol(
                    "the container's monitor exited during start".into(),
                ))
            }
        });
    }
}
