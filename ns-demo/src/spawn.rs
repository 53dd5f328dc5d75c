//! Creating a child inside new namespaces, with a channel to hold it.
//!
//! The child is created by `clone(2)` with the `CLONE_NEW*` flags, not by
//! `fork` + `unshare`: a new PID namespace only applies to children created
//! after it, and a new user namespace cannot be unshared by a process with
//! threads. The parent often has work to do before the child may go on —
//! write its id maps, put it in a cgroup, move a veth into its network
//! namespace — so the two ends share a socket pair: [`Channel::send`] /
//! [`Channel::recv`] pass one byte at a time, and end-of-file tells either
//! side that the other one is gone.
//!
//! Why the detour through a short-lived intermediate: a raw `clone` from a
//! multi-threaded process (every narrating binary has a signal thread) gives
//! a child whose C library still believes those threads exist, so its first
//! `setuid` waits forever for them. `fork` repairs that state, so the parent
//! forks an intermediate, which is single-threaded and clones the real
//! child, reports its PID and exits. The parent is a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`), so the orphaned child becomes its child and
//! can be waited for as usual — runc's `nsexec` does the same dance. A
//! caller that is already single-threaded gets its child cloned directly.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, RawFd};
use std::os::unix::net::UnixStream;

use nix::sched::clone;
use nix::unistd::Pid;

use crate::{Error, Kind, Result};

const STACK_SIZE: usize = 1024 * 1024;

/// One end of the parent↔child synchronisation channel.
#[derive(Debug)]
pub struct Channel(UnixStream);

impl Channel {
    /// A channel over a socket of the caller's (one end of a socket pair).
    pub fn new(stream: UnixStream) -> Self {
        Channel(stream)
    }

    /// Tells the other side to go on (or that this side is ready).
    pub fn send(&mut self) -> std::io::Result<()> {
        self.send_value(1)
    }

    /// Waits for the other side's [`send`](Self::send). `Ok(false)` means the
    /// other side closed the channel (it exited or gave up).
    pub fn recv(&mut self) -> std::io::Result<bool> {
        Ok(self.recv_value()?.is_some())
    }

    /// Sends one byte of result along with the go-ahead.
    pub fn send_value(&mut self, value: u8) -> std::io::Result<()> {
        self.0.write_all(&[value])
    }

    /// Passes a file descriptor to the other side (`SCM_RIGHTS`): how a
    /// container hands its pty master, opened in its own `/dev/pts`, to
    /// its supervisor.
    pub fn send_fd(&mut self, fd: RawFd) -> std::io::Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
        let fds = [fd];
        let byte = [1u8];
        let iov = [std::io::IoSlice::new(&byte)];
        sendmsg::<()>(
            self.0.as_raw_fd(),
            &iov,
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::empty(),
            None,
        )
        .map(drop)
        .map_err(std::io::Error::from)
    }

    /// Receives a descriptor sent with [`send_fd`](Self::send_fd); `None`
    /// when the other side closed the channel instead.
    pub fn recv_fd(&mut self) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
        use std::os::fd::FromRawFd as _;
        let mut byte = [0u8; 1];
        let mut iov = [std::io::IoSliceMut::new(&mut byte)];
        let mut space = nix::cmsg_space!([RawFd; 1]);
        let msg = recvmsg::<()>(
            self.0.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        for cmsg in msg.cmsgs().map_err(std::io::Error::from)? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                if let Some(&fd) = fds.first() {
                    // SAFETY: the kernel just installed this descriptor for us.
                    return Ok(Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }));
                }
            }
        }
        Ok(None)
    }

    /// Whether the other side has closed its end (exited), without waiting.
    pub fn peer_gone(&self) -> bool {
        let mut fd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut fd, 1, 0) };
        n > 0 && fd.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
    }

    /// Receives one byte, or `None` when the other side closed the channel.
    pub fn recv_value(&mut self) -> std::io::Result<Option<u8>> {
        let mut byte = [0u8; 1];
        match self.0.read(&mut byte)? {
            0 => Ok(None),
            _ => Ok(Some(byte[0])),
        }
    }
}

/// A child created by [`spawn`]; its PID is the parent's view of it.
#[derive(Debug)]
pub struct Child {
    pub pid: Pid,
    pub channel: Channel,
}

/// Clones a child into new namespaces of the given kinds. The child runs
/// `body` with its end of the channel and exits with the code it returns.
pub fn spawn(kinds: &[Kind], body: impl FnOnce(Channel) -> i32) -> Result<Child> {
    let (parent_end, child_end) = UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
    let parent_fd: RawFd = parent_end.as_raw_fd();
    let shown = if kinds.is_empty() {
        "clone()   # like fork".to_string()
    } else {
        format!(
            "clone({})   # like: unshare {} --fork",
            Kind::flag_names(kinds),
            Kind::options(kinds)
        )
    };
    tracing::info!(target: "explain", "{shown}");
    let flags = Kind::flags(kinds);
    if single_threaded() {
        return clone_directly(flags, body, parent_end, child_end, shown);
    }
    become_subreaper()?;
    // The child's PID comes back on a pipe of its own: on the channel it
    // could interleave with the first byte the new child sends.
    let (mut pid_reader, pid_writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let intermediate = chroot_demo::process::spawn(move || {
        // SAFETY: the parent's end is a copy here; closing it lets the
        // child see end-of-file when the parent goes away.
        unsafe { libc::close(parent_fd) };
        let mut report = pid_writer;
        let mut body = Some(body);
        let mut child_end = Some(child_end);
        let mut stack = vec![0u8; STACK_SIZE];
        let callback = Box::new(move || -> isize {
            let (Some(body), Some(end)) = (body.take(), child_end.take()) else {
                return 1;
            };
            chroot_demo::process::child_main(|| body(Channel(end)))
        });
        // SAFETY: no CLONE_VM, so the child gets a copy of this
        // single-threaded process (like fork) and the stack buffer is only
        // used by that copy; SIGCHLD makes it reportable to waitpid.
        let result = unsafe { clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) };
        let word: i32 = match result {
            Ok(pid) => pid.as_raw(),
            Err(errno) => -(errno as i32),
        };
        match report.write_all(&word.to_le_bytes()) {
            Ok(()) if word > 0 => 0,
            _ => 1,
        }
    })?;
    chroot_demo::process::wait(intermediate)?;
    let mut word = [0u8; 4];
    pid_reader
        .read_exact(&mut word)
        .map_err(|e| Error::io("reading the child's pid", e))?;
    let word = i32::from_le_bytes(word);
    if word <= 0 {
        return Err(clone_error(shown, nix::errno::Errno::from_raw(-word)));
    }
    Ok(Child {
        pid: Pid::from_raw(word),
        channel: Channel(parent_end),
    })
}

/// A single-threaded caller (mini-docker's monitor) needs no intermediate:
/// the child is its own, so it can be waited for directly and can use
/// `PR_SET_PDEATHSIG` to die with its parent — and the start is one fork
/// cheaper.
fn clone_directly(
    flags: nix::sched::CloneFlags,
    body: impl FnOnce(Channel) -> i32,
    parent_end: UnixStream,
    child_end: UnixStream,
    shown: String,
) -> Result<Child> {
    let parent_fd: RawFd = parent_end.as_raw_fd();
    let mut body = Some(body);
    let mut child_end = Some(child_end);
    let mut stack = vec![0u8; STACK_SIZE];
    let callback = Box::new(move || -> isize {
        // SAFETY: the parent's end is a copy here (see `spawn`).
        unsafe { libc::close(parent_fd) };
        let (Some(body), Some(end)) = (body.take(), child_end.take()) else {
            return 1;
        };
        chroot_demo::process::child_main(|| body(Channel(end)))
    });
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // SAFETY: as in `spawn`'s intermediate: no CLONE_VM, and the caller has
    // no other thread whose state the child could inherit half-way.
    let pid = unsafe { clone(callback, &mut stack, flags, Some(libc::SIGCHLD)) }
        .map_err(|errno| clone_error(shown, errno))?;
    Ok(Child {
        pid,
        channel: Channel(parent_end),
    })
}

fn clone_error(shown: String, errno: nix::errno::Errno) -> Error {
    let e = Error::sys(shown, errno);
    match errno {
        nix::errno::Errno::EPERM => {
            e.with_hint("creating namespaces needs root (or a user namespace first)")
        }
        nix::errno::Errno::ENOSPC => {
            e.with_hint("too many namespaces of this type: see /proc/sys/user/max_*_namespaces")
        }
        _ => e,
    }
}

/// Whether this process has only one thread (`/proc/self/task` has one entry).
fn single_threaded() -> bool {
    std::fs::read_dir("/proc/self/task").is_ok_and(|d| d.count() == 1)
}

/// Orphaned descendants (the cloned child, once its intermediate exits)
/// become our children instead of init's.
fn become_subreaper() -> Result<()> {
    // SAFETY: PR_SET_CHILD_SUBREAPER takes plain integers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } < 0 {
        return Err(Error::sys(
            "prctl(PR_SET_CHILD_SUBREAPER)",
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// `unshare(2)` for the calling process; only for single-threaded callers
/// such as a freshly forked child (see the module notes).
pub fn unshare(kinds: &[Kind]) -> Result<()> {
    chroot_demo::error::step(format!("unshare {}", Kind::options(kinds)), || {
        nix::sched::unshare(Kind::flags(kinds))
    })
}
