//! The I/O loop of one run: the container's output to the log and the
//! attach clients, the clients' input to the container, exits reaped and
//! health probes run, until the process has exited and its output is
//! drained.

use std::io::{Read, Write};
use std::os::fd::{AsFd as _, AsRawFd, BorrowedFd};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use super::{Client, Monitor, Run};
use crate::container::protocol::{self, Message};
use crate::container::record::Container;

/// What a descriptor in the I/O loop's poll set is.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// The signalfd: a child exited.
    Signals,
    /// The attach socket: a client is connecting.
    Listener,
    /// `run.outputs[i]` has output.
    Output(usize),
    /// The container's stdin can take more of what clients sent.
    Stdin,
    /// `clients[i]` sent something (or left).
    Client(usize),
    /// The health probe's output.
    Probe,
}

impl Monitor {
    /// The event loop of one run: output to the log and the clients, client
    /// input to the container, until the process has exited and its output
    /// is drained.
    pub(super) fn pump(&mut self, run: &mut Run) {
        let mut drain_deadline: Option<Instant> = None;
        let (mut closed, mut accept) = (Vec::new(), false);
        loop {
            if run.status.is_some() {
                let deadline =
                    *drain_deadline.get_or_insert_with(|| Instant::now() + Duration::from_secs(2));
                if run.outputs.is_empty() || Instant::now() > deadline {
                    return;
                }
            }
            for source in self.wait_for_io(run) {
                match source {
                    Source::Signals => self.reap(run),
                    Source::Output(i) => {
                        if !self.forward_output(run, i) {
                            closed.push(i);
                        }
                    }
                    Source::Stdin => write_stdin(run),
                    Source::Client(i) => {
                        if !self.client_input(run, i) {
                            self.clients[i].dead = true;
                        }
                    }
                    Source::Probe => {
                        if let Some(h) = &mut self.health {
                            h.read_output();
                        }
                    }
                    Source::Listener => accept = true,
                }
            }
            for i in closed.drain(..).rev() {
                run.outputs.remove(i);
            }
            self.check_health(run);
            self.clients.retain(|c| !c.dead);
            // New clients last: the indexes above are those polled.
            if std::mem::take(&mut accept) {
                self.accept();
            }
        }
    }

    /// Polls everything the loop serves; returns what is ready, in the
    /// order the loop handles it (the listener last).
    fn wait_for_io(&self, run: &Run) -> Vec<Source> {
        let mut wanted: Vec<(Source, BorrowedFd<'_>, PollFlags)> =
            vec![(Source::Signals, self.signals.as_fd(), PollFlags::POLLIN)];
        for (i, (fd, _)) in run.outputs.iter().enumerate() {
            wanted.push((Source::Output(i), fd.as_fd(), PollFlags::POLLIN));
        }
        if let Some(stdin) = run.stdin.as_ref().filter(|_| !run.pending_stdin.is_empty()) {
            wanted.push((Source::Stdin, stdin.as_fd(), PollFlags::POLLOUT));
        }
        for (i, c) in self.clients.iter().enumerate() {
            wanted.push((Source::Client(i), c.stream.as_fd(), PollFlags::POLLIN));
        }
        if let Some(fd) = self.health.as_ref().and_then(|h| h.fd()) {
            wanted.push((Source::Probe, fd, PollFlags::POLLIN));
        }
        if let Some(listener) = &self.listener {
            wanted.push((Source::Listener, listener.as_fd(), PollFlags::POLLIN));
        }
        let mut fds: Vec<PollFd> = wanted
            .iter()
            .map(|(_, fd, events)| PollFd::new(*fd, *events))
            .collect();
        let timeout = match (&run.status, &self.health) {
            (Some(_), _) => PollTimeout::from(50u16),
            // Rounded up, so that a due probe is not polled for in a spin.
            (None, Some(h)) => PollTimeout::try_from(h.wait().as_millis().min(60_000) + 1)
                .unwrap_or(PollTimeout::MAX),
            (None, None) => PollTimeout::NONE,
        };
        if poll(&mut fds, timeout).is_err() {
            return Vec::new();
        }
        wanted
            .iter()
            .zip(&fds)
            .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
            .map(|((source, _, _), _)| *source)
            .collect()
    }

    fn reap(&mut self, run: &mut Run) {
        while let Ok(Some(_)) = self.signals.read_signal() {}
        loop {
            let (pid, code) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, code),
                Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, 128 + sig as i32),
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if pid == run.pid {
                run.status = Some(code);
            } else if let Some(h) = &mut self.health {
                h.reaped(pid.as_raw(), code);
            }
        }
    }

    /// Runs the health probe when due and records its result in the
    /// state (only while the container runs).
    fn check_health(&mut self, run: &Run) {
        if run.status.is_some() {
            return;
        }
        let Some(checker) = &mut self.health else {
            return;
        };
        if let Some(health) = checker.tick() {
            let _ = self
                .containers
                .update(&self.config.id, |r| r.state.health = Some(health));
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(false);
            self.clients.push(Client::new(stream));
        }
    }

    /// Reads one chunk of output; false at end-of-file.
    fn forward_output(&mut self, run: &mut Run, index: usize) -> bool {
        let (output, which) = (&run.outputs[index].0, run.outputs[index].1);
        let mut buffer = [0u8; 32 * 1024];
        let n = match (&*output).read(&mut buffer) {
            Ok(0) => return false,
            Ok(n) => n,
            Err(e) => return e.kind() == std::io::ErrorKind::Interrupted,
        };
        let bytes = &buffer[..n];
        self.log.write(which, bytes);
        let frame = if which == 0 {
            Message::Stdout(bytes.to_vec())
        } else {
            Message::Stderr(bytes.to_vec())
        }
        .encode();
        for c in self.clients.iter_mut().filter(|c| !c.dead) {
            c.dead = c.stream.write_all(&frame).is_err();
        }
        true
    }

    /// Handles what a client sent; false when it has gone.
    fn client_input(&mut self, run: &mut Run, index: usize) -> bool {
        let client = &mut self.clients[index];
        let mut buffer = [0u8; 16 * 1024];
        let n = match client.stream.read(&mut buffer) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        client.decoder.push(&buffer[..n]);
        loop {
            match client.decoder.next_message() {
                Ok(Some(message)) => handle_message(run, &self.config, message),
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Tells the clients the exit code. They stay connected until the
    /// monitor is done (end-of-file then means "state final, clean-up and
    /// `--rm` done"), except across a restart, where the session ends.
    pub(super) fn broadcast_exit(&mut self, code: i32) {
        for c in &mut self.clients {
            let _ = protocol::write(&mut c.stream, &Message::Exit(code));
        }
    }
}

/// What a client asked for; a message only the monitor sends is ignored.
fn handle_message(run: &mut Run, config: &Container, message: Message) {
    match message {
        Message::Stdin(bytes) if run.stdin.is_some() && !run.stdin_eof => {
            run.pending_stdin.extend_from_slice(&bytes);
            write_stdin(run);
        }
        Message::StdinEof if config.config.stdin_once => {
            run.stdin_eof = true;
            if run.pending_stdin.is_empty() {
                run.stdin = None;
            }
        }
        Message::Resize { rows, cols } => {
            if let Some(master) = &run.master {
                set_window_size(master, rows, cols);
            }
        }
        Message::Signal(number) => {
            if let Ok(signal) = Signal::try_from(number) {
                let _ = nix::sys::signal::kill(run.pid, signal);
            }
        }
        _ => {}
    }
}

/// Writes what it can of the pending stdin without blocking.
fn write_stdin(run: &mut Run) {
    let Some(stdin) = &run.stdin else {
        run.pending_stdin.clear();
        return;
    };
    while !run.pending_stdin.is_empty() {
        match (&*stdin).write(&run.pending_stdin) {
            Ok(n @ 1..) => {
                run.pending_stdin.drain(..n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            Ok(0) | Err(_) => {
                run.pending_stdin.clear();
                run.stdin = None;
                return;
            }
        }
    }
    if run.stdin_eof {
        run.stdin = None;
    }
}

pub(super) fn set_window_size(master: &impl AsRawFd, rows: u16, cols: u16) {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize we own.
    unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &size) };
}
