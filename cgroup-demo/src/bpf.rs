//! The few `bpf(2)` commands a cgroup v2 device policy needs: load a
//! program, attach it to a cgroup (replacing the previous one atomically),
//! and find what is attached. Hand-written because they are five small
//! structs; the alternatives (`aya`, libbpf) need a nightly toolchain, a
//! BPF linker or a C library for what is a plain syscall.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::devices::Insn;
use crate::{Error, Result};

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;

const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
/// Programs of parent and child cgroups all run; each must allow.
const BPF_F_ALLOW_MULTI: u32 = 2;
/// Swap the program named by `replace_bpf_fd` for the new one in one step.
const BPF_F_REPLACE: u32 = 4;

/// `union bpf_attr` for BPF_PROG_LOAD (the fields up to
/// `expected_attach_type`; the kernel takes a shorter attr as zero-filled).
#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// `union bpf_attr` for BPF_PROG_ATTACH and BPF_PROG_DETACH.
#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// `union bpf_attr` for BPF_PROG_QUERY.
#[repr(C)]
#[derive(Default)]
struct ProgQuery {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised #[repr(C)] struct whose layout
    // is the kernel's for `cmd`; the kernel reads (and for QUERY writes)
    // at most size_of::<T>() bytes of it.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn failed(step: &str, e: std::io::Error) -> Error {
    Error::Unsupported(format!("bpf({step}): {e}"))
}

/// Loads a device program; the verifier's log is part of the error.
pub fn load_device_program(program: &[Insn]) -> Result<OwnedFd> {
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..10].copy_from_slice(b"mini_devcg");
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: program.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..Default::default()
    };
    match bpf(BPF_PROG_LOAD, &mut attr) {
        // SAFETY: the kernel returned a new descriptor that we now own.
        Ok(fd) => Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }),
        Err(e)
            if e.raw_os_error() == Some(libc::EINVAL) || e.raw_os_error() == Some(libc::EACCES) =>
        {
            // Load again with the verifier's log, to say why.
            let mut log = vec![0u8; 64 * 1024];
            attr.log_level = 1;
            attr.log_size = log.len() as u32;
            attr.log_buf = log.as_mut_ptr() as u64;
            let _ = bpf(BPF_PROG_LOAD, &mut attr);
            let text = String::from_utf8_lossy(&log);
            let text = text.trim_end_matches('\0').trim();
            Err(failed(
                "BPF_PROG_LOAD",
                std::io::Error::other(format!("{e}; verifier: {text}")),
            ))
        }
        Err(e) => Err(failed("BPF_PROG_LOAD", e)),
    }
}

/// The IDs of the device programs attached directly to a cgroup.
pub fn attached(cgroup: &impl AsRawFd) -> Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut attr = ProgQuery {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Default::default()
    };
    bpf(BPF_PROG_QUERY, &mut attr).map_err(|e| failed("BPF_PROG_QUERY", e))?;
    ids.truncate(attr.prog_cnt as usize);
    Ok(ids)
}

fn program_by_id(id: u32) -> Result<OwnedFd> {
    let mut attr = [id, 0, 0, 0];
    let fd =
        bpf(BPF_PROG_GET_FD_BY_ID, &mut attr).map_err(|e| failed("BPF_PROG_GET_FD_BY_ID", e))?;
    // SAFETY: the kernel returned a new descriptor that we now own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches `program` to the cgroup in place of whatever device programs
/// it had, so that at no moment is the cgroup without one: with one old
/// program the kernel swaps them atomically (`BPF_F_REPLACE`); otherwise
/// the new one goes on first and the old ones come off after (while both
/// are on, both must allow: never more than either grants).
pub fn attach_device_program(cgroup: &impl AsRawFd, program: &OwnedFd) -> Result<()> {
    let old: Vec<OwnedFd> = attached(cgroup)?
        .into_iter()
        .map(program_by_id)
        .collect::<Result<_>>()?;
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    if let [only] = old.as_slice() {
        let mut replace = ProgAttach {
            attach_flags: BPF_F_ALLOW_MULTI | BPF_F_REPLACE,
            replace_bpf_fd: only.as_raw_fd() as u32,
            ..attr
        };
        if bpf(BPF_PROG_ATTACH, &mut replace).is_ok() {
            return Ok(());
        }
        // Kernels before 5.6 lack BPF_F_REPLACE: attach, then detach.
    }
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|e| failed("BPF_PROG_ATTACH", e))?;
    for fd in &old {
        detach(cgroup, fd)?;
    }
    Ok(())
}

/// Takes one device program off a cgroup.
pub fn detach(cgroup: &impl AsRawFd, program: &OwnedFd) -> Result<()> {
    let mut attr = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    bpf(BPF_PROG_DETACH, &mut attr)
        .map(drop)
        .map_err(|e| failed("BPF_PROG_DETACH", e))
}

/// Takes every device program off a cgroup (`--privileged` after an
/// `update`, or a policy that allows everything).
pub fn detach_all(cgroup: &impl AsRawFd) -> Result<()> {
    for id in attached(cgroup)? {
        detach(cgroup, &program_by_id(id)?)?;
    }
    Ok(())
}
