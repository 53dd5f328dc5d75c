//! The kernel seam: the system calls whose order matters, as a trait with
//! two implementations — [`Real`], the kernel, and [`Recorder`], a double
//! that writes down each call instead of making it.
//!
//! Code calls [`sys()`], which is [`Real`] unless the calling thread is
//! inside [`recording`]. (A thread-local rather than a parameter: the calls
//! sit deep in lesson code that would otherwise pass a handle through every
//! function; a forked or cloned child inherits the caller's choice.)

use std::cell::RefCell;
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use caps::errors::CapsError;
use caps::{CapSet, Capability, CapsHashSet};
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};
use nix::unistd::{Gid, Uid};

/// The system calls that go through the seam.
pub trait Syscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn chdir(&self, dir: &Path) -> nix::Result<()>;
    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: libc::dev_t) -> nix::Result<()>;
    /// `setgroups`, `setresgid`, `setresuid`, in that order (after
    /// `setresuid` the others are no longer allowed).
    fn set_ids(&self, uid: Uid, gid: Gid, groups: &[Gid]) -> nix::Result<()>;
    /// Removes one capability from the bounding set.
    fn drop_bounding(&self, cap: Capability) -> Result<(), CapsError>;
    /// Sets one capability set of this thread to exactly `caps`.
    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), CapsError>;
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`.
    fn no_new_privs(&self) -> nix::Result<()>;
    /// Loads a seccomp filter: `load` does it (the filter's library owns
    /// the call); the double records that it would have happened.
    fn seccomp(&self, load: &mut dyn FnMut() -> io::Result<()>) -> io::Result<()>;
    /// Writes a control file (a cgroup's `memory.max`, a `/proc/sys` knob).
    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()>;
}

/// The kernel itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct Real;

impl Syscall for Real {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chdir(&self, dir: &Path) -> nix::Result<()> {
        nix::unistd::chdir(dir)
    }

    fn mknod(&self, path: &Path, kind: SFlag, mode: Mode, dev: libc::dev_t) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, mode, dev)
    }

    fn set_ids(&self, uid: Uid, gid: Gid, groups: &[Gid]) -> nix::Result<()> {
        nix::unistd::setgroups(groups)?;
        nix::unistd::setresgid(gid, gid, gid)?;
        nix::unistd::setresuid(uid, uid, uid)
    }

    fn drop_bounding(&self, cap: Capability) -> Result<(), CapsError> {
        caps::drop(None, CapSet::Bounding, cap)
    }

    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), CapsError> {
        caps::set(None, set, caps)
    }

    fn no_new_privs(&self) -> nix::Result<()> {
        // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers.
        nix::errno::Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) })
            .map(drop)
    }

    fn seccomp(&self, load: &mut dyn FnMut() -> io::Result<()>) -> io::Result<()> {
        load()
    }

    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        std::fs::write(path, contents)
    }
}

/// One call the [`Recorder`] saw, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    Umount(PathBuf),
    PivotRoot(PathBuf),
    Chdir(PathBuf),
    Mknod(PathBuf),
    SetIds {
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
    },
    DropBounding(Capability),
    /// The set (`effective`, `permitted`, `inheritable`, `ambient`,
    /// `bounding`) and what it was set to.
    SetCapabilities(&'static str, Vec<Capability>),
    NoNewPrivs,
    Seccomp,
    Write {
        path: PathBuf,
        contents: String,
    },
}

/// The double: records every call and succeeds, touching nothing — except
/// that `mknod` leaves an empty file where the node would be, so that what
/// the caller does next to the node (its mode, its owner) still works.
#[derive(Debug, Default)]
pub struct Recorder {
    calls: RefCell<Vec<Call>>,
}

impl Recorder {
    fn record(&self, call: Call) {
        self.calls.borrow_mut().push(call);
    }
}

impl Syscall for Recorder {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.record(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        });
        Ok(())
    }

    fn umount(&self, target: &Path, _: MntFlags) -> nix::Result<()> {
        self.record(Call::Umount(target.to_path_buf()));
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, _: &Path) -> nix::Result<()> {
        self.record(Call::PivotRoot(new_root.to_path_buf()));
        Ok(())
    }

    fn chdir(&self, dir: &Path) -> nix::Result<()> {
        self.record(Call::Chdir(dir.to_path_buf()));
        Ok(())
    }

    fn mknod(&self, path: &Path, _: SFlag, _: Mode, _: libc::dev_t) -> nix::Result<()> {
        self.record(Call::Mknod(path.to_path_buf()));
        std::fs::File::create(path)
            .map(drop)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    fn set_ids(&self, uid: Uid, gid: Gid, groups: &[Gid]) -> nix::Result<()> {
        self.record(Call::SetIds {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            groups: groups.iter().map(|g| g.as_raw()).collect(),
        });
        Ok(())
    }

    fn drop_bounding(&self, cap: Capability) -> Result<(), CapsError> {
        self.record(Call::DropBounding(cap));
        Ok(())
    }

    fn set_capabilities(&self, set: CapSet, caps: &CapsHashSet) -> Result<(), CapsError> {
        let mut caps: Vec<Capability> = caps.iter().copied().collect();
        caps.sort_by_key(|c| c.index());
        let name = match set {
            CapSet::Ambient => "ambient",
            CapSet::Bounding => "bounding",
            CapSet::Effective => "effective",
            CapSet::Inheritable => "inheritable",
            CapSet::Permitted => "permitted",
        };
        self.record(Call::SetCapabilities(name, caps));
        Ok(())
    }

    fn no_new_privs(&self) -> nix::Result<()> {
        self.record(Call::NoNewPrivs);
        Ok(())
    }

    fn seccomp(&self, _: &mut dyn FnMut() -> io::Result<()>) -> io::Result<()> {
        self.record(Call::Seccomp);
        Ok(())
    }

    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        self.record(Call::Write {
            path: path.to_path_buf(),
            contents: String::from_utf8_lossy(contents).into_owned(),
        });
        Ok(())
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<Recorder>>> = const { RefCell::new(None) };
}

/// The kernel this thread talks to: [`Real`], or the [`Recorder`] of the
/// [`recording`] it is in.
pub fn sys() -> Rc<dyn Syscall> {
    CURRENT.with(|c| match &*c.borrow() {
        Some(recorder) => recorder.clone() as Rc<dyn Syscall>,
        None => Rc::new(Real),
    })
}

/// Runs `body` with a [`Recorder`] in the kernel's place on this thread;
/// returns what it returned and the calls it made, in order.
pub fn recording<R>(body: impl FnOnce() -> R) -> (R, Vec<Call>) {
    struct Restore(Option<Rc<Recorder>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            CURRENT.with(|c| *c.borrow_mut() = self.0.take());
        }
    }
    let recorder = Rc::new(Recorder::default());
    let previous = CURRENT.with(|c| c.borrow_mut().replace(recorder.clone()));
    let restore = Restore(previous);
    let result = body();
    drop(restore);
    let calls = recorder.calls.take();
    (result, calls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_sees_the_calls_in_order_and_ends_with_the_real_kernel_back() {
        let dir = std::env::temp_dir().join(format!("kernel-seam-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let node = dir.join("null");
        let ((), calls) = recording(|| {
            let k = sys();
            k.mount(None, Path::new("/"), None, MsFlags::MS_PRIVATE, None)
                .unwrap();
            k.mknod(&node, SFlag::S_IFCHR, Mode::empty(), 0).unwrap();
            k.set_ids(Uid::from_raw(1), Gid::from_raw(2), &[Gid::from_raw(3)])
                .unwrap();
            k.write(Path::new("/sys/fs/cgroup/x/pids.max"), b"10")
                .unwrap();
        });
        assert!(matches!(&calls[0], Call::Mount { target, .. } if target == Path::new("/")));
        assert_eq!(calls[1], Call::Mknod(node.clone()));
        assert!(node.is_file(), "the node's stand-in");
        assert_eq!(
            calls[2],
            Call::SetIds {
                uid: 1,
                gid: 2,
                groups: vec![3]
            }
        );
        assert_eq!(
            calls[3],
            Call::Write {
                path: "/sys/fs/cgroup/x/pids.max".into(),
                contents: "10".into()
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
        // Outside the recording, the real kernel answers (and refuses a
        // mount of nothing on a path that does not exist).
        assert!(sys()
            .mount(
                None,
                Path::new("/nonexistent-seam"),
                None,
                MsFlags::empty(),
                None
            )
            .is_err());
    }

    #[test]
    fn a_panicking_recording_still_gives_the_real_kernel_back() {
        let caught = std::panic::catch_unwind(|| recording(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(CURRENT.with(|c| c.borrow().is_none()));
    }
}
