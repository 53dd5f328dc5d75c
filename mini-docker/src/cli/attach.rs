//! The client end of attach (`run` in the foreground, `attach`, `start -a`):
//! the container's output to our stdout/stderr, our stdin to the
//! container, the terminal in raw mode for `-t`, signals passed on, and the
//! detach keys (Ctrl-P Ctrl-Q by default) that leave the container running.

use std::io::{IsTerminal as _, Read as _, Write as _};
use std::os::fd::AsFd as _;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Result};
use mini_docker::container::protocol::{self, Message, Stream};
use nix::sys::termios::{self, SetArg, Termios};

/// How an attachment ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Detached,
    /// The monitor went away without reporting an exit.
    Lost,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub stdin: bool,
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    /// Pass our SIGINT/SIGTERM/… to the container (`--sig-proxy`, not with
    /// a tty, where Ctrl-C is just a byte for the container's terminal).
    pub proxy_signals: bool,
    /// Which output streams are shown (`run -a`); both otherwise.
    pub stdout: bool,
    pub stderr: bool,
}

/// Docker's `--detach-keys` syntax: `ctrl-p,ctrl-q`, `ctrl-@`, `a`.
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>> {
    text.split(',')
        .map(|key| {
            let lower = key.to_ascii_lowercase();
            match lower.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let b = c.as_bytes()[0];
                    match b {
                        b'a'..=b'z' => Ok(b - b'a' + 1),
                        b'@' => Ok(0),
                        b'[' | b'\\' | b']' | b'^' | b'_' => Ok(b - b'@'),
                        _ => bail!("invalid detach keys: {text}"),
                    }
                }
                None if key.len() == 1 => Ok(key.as_bytes()[0]),
                _ => bail!("invalid detach keys: {text}"),
            }
        })
        .collect()
}

/// Restores the terminal when dropped.
struct RawMode(Termios);

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

fn raw_mode() -> Option<RawMode> {
    let stdin = std::io::stdin();
    let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
    let mut raw = saved.clone();
    termios::cfmakeraw(&mut raw);
    termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
    Some(RawMode(saved))
}

/// Our terminal's rows and columns, if stdin is one.
pub fn terminal_size() -> Option<(u16, u16)> {
    // SAFETY: winsize is plain data; all-zero is valid.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize we own.
    (unsafe { libc::ioctl(0, libc::TIOCGWINSZ, &mut size) } == 0)
        .then_some((size.ws_row, size.ws_col))
}

type Writer = Arc<Mutex<UnixStream>>;

fn send(writer: &Writer, message: Message) -> bool {
    writer
        .lock()
        .map(|mut w| protocol::write(&mut *w, &message).is_ok())
        .unwrap_or(false)
}

/// Attaches to the monitor on `socket` until the container exits or the
/// user detaches.
pub fn attach(socket: UnixStream, options: &Options) -> Result<Ended> {
    let writer: Writer = Arc::new(Mutex::new(socket.try_clone()?));
    let detached = Arc::new(AtomicBool::new(false));
    let terminal = options.tty && std::io::stdin().is_terminal();
    let _raw = if terminal { raw_mode() } else { None };
    if terminal {
        if let Some((rows, cols)) = terminal_size() {
            send(&writer, Message::Resize { rows, cols });
        }
        let w = writer.clone();
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([libc::SIGWINCH]) {
            std::thread::spawn(move || {
                for _ in signals.forever() {
                    if let Some((rows, cols)) = terminal_size() {
                        send(&w, Message::Resize { rows, cols });
                    }
                }
            });
        }
    }
    if options.proxy_signals && !options.tty {
        let w = writer.clone();
        let proxied = [
            libc::SIGINT,
            libc::SIGTERM,
            libc::SIGHUP,
            libc::SIGQUIT,
            libc::SIGUSR1,
            libc::SIGUSR2,
        ];
        if let Ok(mut signals) = signal_hook::iterator::Signals::new(proxied) {
            std::thread::spawn(move || {
                for sig in signals.forever() {
                    send(&w, Message::Signal(sig));
                }
            });
        }
    }
    if options.stdin {
        let w = writer.clone();
        let keys = options.detach_keys.clone();
        let flag = detached.clone();
        let control = socket.try_clone()?;
        std::thread::spawn(move || forward_stdin(&w, &keys, &flag, &control));
    }
    let mut reader = socket;
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let relayed = protocol::relay_output(&mut reader, |stream, data| match stream {
        Stream::Stdout if options.stdout => {
            let _ = stdout.write_all(data);
            let _ = stdout.flush();
        }
        Stream::Stderr if options.stderr => {
            let _ = stderr.write_all(data);
            let _ = stderr.flush();
        }
        _ => {}
    });
    match relayed {
        Ok(Some(code)) => Ok(Ended::Exited(code)),
        Ok(None) if detached.load(Ordering::SeqCst) => Ok(Ended::Detached),
        Ok(None) => Ok(Ended::Lost),
        Err(e) => Err(mini_docker::Error::Protocol(format!(
            "the container's monitor sent a malformed message: {e}"
        ))
        .into()),
    }
}

/// `exec -t`: relays between our terminal (raw) and a pty `master` whose
/// slave the exec'd process holds, keeping the window size in step, until
/// the process and its children have closed the slave. Our stdin goes in
/// only with `-i`.
pub fn relay_pty(master: std::os::fd::OwnedFd, stdin: bool) -> Result<()> {
    use std::os::fd::AsRawFd as _;
    let terminal = std::io::stdin().is_terminal();
    let _raw = if terminal { raw_mode() } else { None };
    let resize = {
        let fd = master.as_raw_fd();
        move || {
            if let Some((rows, cols)) = terminal_size() {
                let size = libc::winsize {
                    ws_row: rows,
                    ws_col: cols,
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                // SAFETY: TIOCSWINSZ reads a winsize we own.
                unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) };
            }
        }
    };
    resize();
    if terminal {
        if let Ok(mut signals) = signal_hook::iterator::Signals::new([libc::SIGWINCH]) {
            std::thread::spawn(move || signals.forever().for_each(|_| resize()));
        }
    }
    if stdin {
        let mut to_pty = std::fs::File::from(master.try_clone()?);
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut to_pty);
        });
    }
    let mut from_pty = std::fs::File::from(master);
    let mut stdout = std::io::stdout();
    let mut buffer = [0u8; 8192];
    // EIO once the last holder of the slave has exited.
    while let Ok(n @ 1..) = from_pty.read(&mut buffer) {
        let _ = stdout.write_all(&buffer[..n]);
        let _ = stdout.flush();
    }
    Ok(())
}

/// Our stdin to the container, watching for the detach sequence: bytes
/// that start it are held back until it completes (detach) or breaks
/// (they are sent after all).
fn forward_stdin(writer: &Writer, keys: &[u8], detached: &AtomicBool, control: &UnixStream) {
    let mut stdin = std::io::stdin();
    let mut buffer = [0u8; 8192];
    let mut matched = 0usize;
    loop {
        let n = match stdin.read(&mut buffer) {
            Ok(0) | Err(_) => {
                send(writer, Message::StdinEof);
                return;
            }
            Ok(n) => n,
        };
        let mut out = Vec::with_capacity(n);
        for &b in &buffer[..n] {
            if !keys.is_empty() && b == keys[matched] {
                matched += 1;
                if matched == keys.len() {
                    if !out.is_empty() {
                        send(writer, Message::Stdin(out));
                    }
                    detached.store(true, Ordering::SeqCst);
                    let _ = control.shutdown(std::net::Shutdown::Both);
                    return;
                }
                continue;
            }
            out.extend_from_slice(&keys[..matched]);
            matched = 0;
            out.push(b);
        }
        if !out.is_empty() && !send(writer, Message::Stdin(out)) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_parse_like_dockers() {
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [16, 17]);
        assert_eq!(parse_detach_keys("ctrl-@,a").unwrap(), [0, b'a']);
        assert_eq!(parse_detach_keys("ctrl-\\").unwrap(), [28]);
        assert!(parse_detach_keys("ctrl-pp").is_err());
    }
}
