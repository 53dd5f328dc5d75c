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
//!
//! Given a cgroup v2 directory ([`spawn_in`]), the child is born in that
//! cgroup: `clone3(2)` with `CLONE_INTO_CGROUP` (Linux 5.7+) creates it
//! there, so it never runs a moment in its parent's cgroup and nobody has
//! to move it (a migration takes the kernel's cgroup-wide lock and, the
//! first time, waits for an RCU grace period). Kernels without `clone3`
//! (`ENOSYS`), without `CLONE_INTO_CGROUP` (`E2BIG`: a bigger argument
//! struct than they know) or refusing the flag (`EINVAL`) get a plain
//! `clone`, and the caller moves the child, as it must on cgroup v1.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsFd as _, AsRawFd as _, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sched::{clone, CloneFlags};
use nix::unistd::Pid;

use crate::stack::Stack;
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
        // (nix names no POLLRDHUP: the peer shut its end down.)
        let rdhup = PollFlags::from_bits_retain(libc::POLLRDHUP);
        let mut fds = [PollFd::new(self.0.as_fd(), rdhup)];
        poll(&mut fds, PollTimeout::ZERO).is_ok_and(|n| n > 0)
            && fds[0]
                .revents()
                .is_some_and(|r| r.intersects(rdhup | PollFlags::POLLHUP))
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
    /// Whether the child started in the cgroup given to [`spawn_in`].
    pub placement: Placement,
}

/// Which cgroup a new child started in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// The one given to [`spawn_in`]: `clone3` with `CLONE_INTO_CGROUP`.
    Born,
    /// Its parent's: no cgroup was given, or (`Some(errno)`) this kernel
    /// cannot create a process in another cgroup. The caller moves it.
    Parents(Option<Errno>),
}

/// `CLONE_INTO_CGROUP` (`linux/sched.h`; not in the libc crate).
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`, 88 bytes).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

impl CloneArgs {
    /// A fork-like clone (no new stack: the child returns from the call on
    /// its copy of ours) with `flags`, into the cgroup directory `cgroup`.
    fn into_cgroup(flags: CloneFlags, cgroup: RawFd) -> Self {
        CloneArgs {
            flags: flags.bits() as u32 as u64 | CLONE_INTO_CGROUP,
            exit_signal: libc::SIGCHLD as u64,
            cgroup: cgroup as u64,
            ..Default::default()
        }
    }
}

/// Whether a `clone3(CLONE_INTO_CGROUP)` failure means "this kernel cannot
/// do it" (use `clone` and move the child) rather than a real failure.
pub fn falls_back(errno: Errno) -> bool {
    matches!(errno, Errno::ENOSYS | Errno::E2BIG | Errno::EINVAL)
}

/// Clones a child into new namespaces of the given kinds. The child runs
/// `body` with its end of the channel and exits with the code it returns.
pub fn spawn(kinds: &[Kind], body: impl FnOnce(Channel) -> i32) -> Result<Child> {
    spawn_in(kinds, None, body)
}

/// [`spawn`], with the child born in the cgroup v2 directory `cgroup` (an
/// `O_PATH` descriptor will do) where the kernel can do that; see
/// [`Child::placement`] for whether it did.
pub fn spawn_in(
    kinds: &[Kind],
    cgroup: Option<BorrowedFd<'_>>,
    body: impl FnOnce(Channel) -> i32,
) -> Result<Child> {
    let cgroup: Option<RawFd> = cgroup.map(|fd| fd.as_raw_fd());
    let (parent_end, child_end) = UnixStream::pair().map_err(|e| Error::io("socketpair", e))?;
    let shown = if kinds.is_empty() {
        "clone()   # like fork".to_string()
    } else {
        format!(
            "clone({})   # like: unshare {} --fork",
            Kind::flag_names(kinds),
            Kind::options(kinds)
        )
    };
    match cgroup {
        Some(fd) => tracing::info!(
            target: "explain",
            "{}, born in {} (no move afterwards)",
            shown_clone3(kinds, &shown),
            fd_path(fd)
        ),
        None => tracing::info!(target: "explain", "{shown}"),
    }
    let flags = Kind::flags(kinds);
    let child = if single_threaded() {
        clone_directly(flags, cgroup, body, parent_end, child_end, shown)?
    } else {
        clone_via_intermediate(flags, cgroup, body, parent_end, child_end, shown)?
    };
    if let Placement::Parents(Some(errno)) = child.placement {
        tracing::info!(
            target: "explain",
            "# clone3(CLONE_INTO_CGROUP) is not available here ({errno}): plain clone(), the child is moved into its cgroup next"
        );
    }
    Ok(child)
}

/// The explain line for `clone3` into a cgroup.
fn shown_clone3(kinds: &[Kind], shown: &str) -> String {
    let flags = if kinds.is_empty() {
        "CLONE_INTO_CGROUP".to_string()
    } else {
        format!("{} | CLONE_INTO_CGROUP", Kind::flag_names(kinds))
    };
    let like = shown.split_once('#').map_or("", |(_, c)| c.trim());
    format!("clone3({flags})   # {like}")
}

/// What a descriptor points at, for the explain stream.
fn fd_path(fd: RawFd) -> String {
    std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| format!("fd {fd}"))
}

/// Clones the child, born in `cgroup` where the kernel can do that; `child`
/// runs in the new process and never returns. Called only by a
/// single-threaded process (see the module notes).
fn clone_child(
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    child: impl FnOnce() -> isize,
) -> std::result::Result<(Pid, Placement), Errno> {
    let mut child = Some(child);
    let mut reason = None;
    if let Some(fd) = cgroup {
        let args = CloneArgs::into_cgroup(flags, fd);
        // SAFETY: a fork-like clone3 (no CLONE_VM, no new stack) by a
        // single-threaded process: the child gets a copy of it and returns
        // here with 0, runs `child` and exits without coming back.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone3,
                &args as *const CloneArgs,
                std::mem::size_of::<CloneArgs>(),
            )
        };
        match pid {
            0 => {
                let code = child.take().map_or(1, |c| c());
                // SAFETY: the child's end; atexit handlers are the parent's.
                unsafe { libc::_exit(code as i32) }
            }
            pid if pid > 0 => return Ok((Pid::from_raw(pid as i32), Placement::Born)),
            _ => {
                let errno = Errno::last();
                if !falls_back(errno) {
                    return Err(errno);
                }
                reason = Some(errno);
            }
        }
    }
    let mut stack = Stack::new(STACK_SIZE)?;
    let callback = Box::new(move || -> isize { child.take().map_or(1, |c| c()) });
    // SAFETY: no CLONE_VM, so the child gets a copy of this single-threaded
    // process (like fork), guard page included, and the stack is only used
    // by that copy; SIGCHLD makes it reportable to waitpid.
    let pid = unsafe { clone(callback, stack.as_mut_slice(), flags, Some(libc::SIGCHLD)) }?;
    Ok((pid, Placement::Parents(reason)))
}

/// A multi-threaded caller's child, cloned by a forked intermediate.
fn clone_via_intermediate(
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    body: impl FnOnce(Channel) -> i32,
    parent_end: UnixStream,
    child_end: UnixStream,
    shown: String,
) -> Result<Child> {
    let parent_fd: RawFd = parent_end.as_raw_fd();
    become_subreaper()?;
    // The child's PID comes back on a pipe of its own: on the channel it
    // could interleave with the first byte the new child sends.
    let (mut pid_reader, pid_writer) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let intermediate = chroot_demo::process::spawn(move || {
        // SAFETY: the parent's end is a copy here; closing it lets the
        // child see end-of-file when the parent goes away.
        unsafe { libc::close(parent_fd) };
        let mut report = pid_writer;
        // The intermediate is single-threaded: it may clone.
        let result = clone_child(flags, cgroup, move || {
            chroot_demo::process::child_main(|| body(Channel(child_end)))
        });
        // The PID (or -errno), then the placement: 0 born in the cgroup,
        // -1 in ours, an errno why not.
        let (word, placed): (i32, i32) = match result {
            Ok((pid, Placement::Born)) => (pid.as_raw(), 0),
            Ok((pid, Placement::Parents(None))) => (pid.as_raw(), -1),
            Ok((pid, Placement::Parents(Some(errno)))) => (pid.as_raw(), errno as i32),
            Err(errno) => (-(errno as i32), -1),
        };
        let mut message = word.to_le_bytes().to_vec();
        message.extend_from_slice(&placed.to_le_bytes());
        match report.write_all(&message) {
            Ok(()) if word > 0 => 0,
            _ => 1,
        }
    })?;
    chroot_demo::process::wait(intermediate)?;
    let mut message = [0u8; 8];
    pid_reader
        .read_exact(&mut message)
        .map_err(|e| Error::io("reading the child's pid", e))?;
    let word = i32::from_le_bytes(message[..4].try_into().expect("4 bytes"));
    let placed = i32::from_le_bytes(message[4..].try_into().expect("4 bytes"));
    if word <= 0 {
        return Err(clone_error(shown, Errno::from_raw(-word)));
    }
    Ok(Child {
        pid: Pid::from_raw(word),
        channel: Channel(parent_end),
        placement: match placed {
            0 => Placement::Born,
            -1 => Placement::Parents(None),
            errno => Placement::Parents(Some(Errno::from_raw(errno))),
        },
    })
}

/// A single-threaded caller (mini-docker's monitor) needs no intermediate:
/// the child is its own, so it can be waited for directly and can use
/// `PR_SET_PDEATHSIG` to die with its parent — and the start is one fork
/// cheaper.
fn clone_directly(
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    body: impl FnOnce(Channel) -> i32,
    parent_end: UnixStream,
    child_end: UnixStream,
    shown: String,
) -> Result<Child> {
    let parent_fd: RawFd = parent_end.as_raw_fd();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    // The caller has no other thread whose state the child could inherit
    // half-way (see `clone_child`).
    let (pid, placement) = clone_child(flags, cgroup, move || {
        // SAFETY: the parent's end is a copy here (see `spawn`).
        unsafe { libc::close(parent_fd) };
        chroot_demo::process::child_main(|| body(Channel(child_end)))
    })
    .map_err(|errno| clone_error(shown, errno))?;
    Ok(Child {
        pid,
        channel: Channel(parent_end),
        placement,
    })
}

fn clone_error(shown: String, errno: Errno) -> Error {
    let e = Error::sys(shown, errno);
    match errno {
        Errno::EPERM => e.with_hint("creating namespaces needs root (or a user namespace first)"),
        Errno::ENOSPC => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_args_are_the_kernels_second_version() {
        // CLONE_ARGS_SIZE_VER2: the first size that has `cgroup`. Kernels
        // 5.3–5.6 know only 64 bytes and answer E2BIG.
        assert_eq!(std::mem::size_of::<CloneArgs>(), 88);
        let args = CloneArgs::into_cgroup(Kind::flags(&[Kind::Pid, Kind::Mount]), 7);
        assert_eq!(
            args.flags,
            (libc::CLONE_NEWPID | libc::CLONE_NEWNS) as u64 | CLONE_INTO_CGROUP
        );
        assert_eq!((args.cgroup, args.exit_signal), (7, libc::SIGCHLD as u64));
        assert_eq!((args.stack, args.stack_size), (0, 0), "fork-like");
    }

    #[test]
    fn only_an_unable_kernel_falls_back() {
        for errno in [Errno::ENOSYS, Errno::E2BIG, Errno::EINVAL] {
            assert!(falls_back(errno), "{errno}");
        }
        for errno in [Errno::EPERM, Errno::EBADF, Errno::EBUSY, Errno::ENOSPC] {
            assert!(!falls_back(errno), "{errno}");
        }
    }

    #[test]
    fn the_clone3_line_reads_like_the_clone_line() {
        let kinds = [Kind::Pid, Kind::Net];
        let shown = format!(
            "clone({})   # like: unshare {} --fork",
            Kind::flag_names(&kinds),
            Kind::options(&kinds)
        );
        assert_eq!(
            shown_clone3(&kinds, &shown),
            format!(
                "clone3({} | CLONE_INTO_CGROUP)   # like: unshare {} --fork",
                Kind::flag_names(&kinds),
                Kind::options(&kinds)
            )
        );
        assert_eq!(
            shown_clone3(&[], "clone()   # like fork"),
            "clone3(CLONE_INTO_CGROUP)   # like fork"
        );
    }
}
