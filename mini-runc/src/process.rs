//! The last steps before `execve`, shared by the container's first process
//! and by `exec`: OOM score, rlimits, umask, working directory, then the
//! privileges of `process` in the order that works — bounding set while
//! privileged, no_new_privs, the seccomp filter (early when it needs
//! CAP_SYS_ADMIN to load, last when no_new_privs allows loading it
//! unprivileged, so it need not allow the setup's own calls), user and
//! groups with the capabilities kept across the switch, then the five
//! capability sets. The `execve` itself and its error wording are
//! mini-docker's ([`mini_docker::container::child::exec_process`]).

use std::str::FromStr as _;

use caps::{CapSet, CapsHashSet};
use libseccomp::ScmpFilterContext;
use mini_docker::container::record::ProcessSpec;
use mini_docker::container::security;
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capabilities, PosixRlimitType, Process};

use crate::{Error, Result};

/// Capability names as the specification spells them (`CAP_CHOWN`).
pub fn names(set: Option<&Capabilities>) -> Vec<String> {
    let mut names: Vec<String> = set
        .into_iter()
        .flatten()
        .filter_map(|c| serde_json::to_value(c).ok()?.as_str().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn set_of(names: &[String]) -> CapsHashSet {
    names
        .iter()
        .filter_map(|n| caps::Capability::from_str(n).ok())
        .collect()
}

fn rlimit_resource(t: PosixRlimitType) -> Result<libc::__rlimit_resource_t> {
    Ok(match t {
        PosixRlimitType::RlimitCpu => libc::RLIMIT_CPU,
        PosixRlimitType::RlimitFsize => libc::RLIMIT_FSIZE,
        PosixRlimitType::RlimitData => libc::RLIMIT_DATA,
        PosixRlimitType::RlimitStack => libc::RLIMIT_STACK,
        PosixRlimitType::RlimitCore => libc::RLIMIT_CORE,
        PosixRlimitType::RlimitRss => libc::RLIMIT_RSS,
        PosixRlimitType::RlimitNproc => libc::RLIMIT_NPROC,
        PosixRlimitType::RlimitNofile => libc::RLIMIT_NOFILE,
        PosixRlimitType::RlimitMemlock => libc::RLIMIT_MEMLOCK,
        PosixRlimitType::RlimitAs => libc::RLIMIT_AS,
        PosixRlimitType::RlimitLocks => libc::RLIMIT_LOCKS,
        PosixRlimitType::RlimitSigpending => libc::RLIMIT_SIGPENDING,
        PosixRlimitType::RlimitMsgqueue => libc::RLIMIT_MSGQUEUE,
        PosixRlimitType::RlimitNice => libc::RLIMIT_NICE,
        PosixRlimitType::RlimitRtprio => libc::RLIMIT_RTPRIO,
        PosixRlimitType::RlimitRttime => libc::RLIMIT_RTTIME,
    })
}

/// Writes `process.oomScoreAdj` and the rlimits (before any privilege is
/// dropped: raising a hard limit needs CAP_SYS_RESOURCE).
pub fn limits(p: &Process) -> Result<()> {
    if let Some(adj) = p.oom_score_adj() {
        tracing::info!(target: "explain", "echo {adj} > /proc/self/oom_score_adj");
        std::fs::write("/proc/self/oom_score_adj", adj.to_string())
            .map_err(|e| Error::io("/proc/self/oom_score_adj", e))?;
    }
    for r in p.rlimits().iter().flatten() {
        let limit = libc::rlimit {
            rlim_cur: r.soft(),
            rlim_max: r.hard(),
        };
        tracing::info!(target: "explain", "prlimit --{:?}={}:{}", r.typ(), r.soft(), r.hard());
        // SAFETY: a valid rlimit struct for a known resource.
        if unsafe { libc::setrlimit(rlimit_resource(r.typ())?, &limit) } != 0 {
            return Err(Error::Config(format!(
                "setting {:?} to {}:{}: {}",
                r.typ(),
                r.soft(),
                r.hard(),
                std::io::Error::last_os_error()
            )));
        }
    }
    if let Some(mask) = p.user().umask() {
        // SAFETY: umask cannot fail.
        unsafe { libc::umask(mask as libc::mode_t) };
    }
    Ok(())
}

/// Bounding set, no_new_privs, seccomp, user and groups, capabilities.
pub fn drop_privileges(p: &Process, filter: Option<&ScmpFilterContext>) -> Result<()> {
    let c = p.capabilities().as_ref();
    let bounding = names(c.and_then(|c| c.bounding().as_ref()));
    security::limit_bounding_set(&bounding)?;
    let nnp = p.no_new_privileges() == Some(true);
    if nnp {
        security::set_no_new_privileges()?;
    } else if let Some(filter) = filter {
        security::load(filter)?;
    }
    let user = p.user();
    let groups: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // SAFETY: integer arguments only; keeps the permitted set across the
    // switch to a non-root user so the sets below can still be chosen.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    chroot_demo::error::step(
        format!(
            "setgroups; setresgid {0}; setresuid {1}",
            user.gid(),
            user.uid()
        ),
        || {
            nix::unistd::setgroups(&groups)?;
            let gid = Gid::from_raw(user.gid());
            nix::unistd::setresgid(gid, gid, gid)?;
            let uid = Uid::from_raw(user.uid());
            nix::unistd::setresuid(uid, uid, uid)
        },
    )?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    set_capabilities(p)?;
    if nnp {
        if let Some(filter) = filter {
            security::load(filter)?;
        }
    }
    Ok(())
}

/// The effective, permitted, inheritable and ambient sets, never more
/// than this runtime holds itself (no CAP_SYS_RESOURCE here, say).
fn set_capabilities(p: &Process) -> Result<()> {
    let fail = |e: caps::errors::CapsError| Error::State(format!("setting capabilities: {e}"));
    let c = p.capabilities().as_ref();
    let held = caps::read(None, CapSet::Permitted).map_err(fail)?;
    let get = |set: Option<&Capabilities>| -> CapsHashSet {
        set_of(&names(set)).intersection(&held).copied().collect()
    };
    let permitted = get(c.and_then(|c| c.permitted().as_ref()));
    let effective = get(c.and_then(|c| c.effective().as_ref()));
    let inheritable = get(c.and_then(|c| c.inheritable().as_ref()));
    let ambient = get(c.and_then(|c| c.ambient().as_ref()));
    tracing::info!(target: "explain", "capset(effective {}, permitted {}, inheritable {}, ambient {})", effective.len(), permitted.len(), inheritable.len(), ambient.len());
    caps::clear(None, CapSet::Ambient).map_err(fail)?;
    caps::set(None, CapSet::Inheritable, &inheritable).map_err(fail)?;
    caps::set(None, CapSet::Effective, &effective).map_err(fail)?;
    caps::set(None, CapSet::Permitted, &permitted).map_err(fail)?;
    // The kernel raises an ambient capability only if it is permitted and
    // inheritable; runc skips the others (`runc spec` lists ambient ones
    // it leaves out of inheritable), and so does mini-runc.
    for cap in ambient
        .intersection(&inheritable)
        .filter(|c| permitted.contains(c))
    {
        caps::raise(None, CapSet::Ambient, *cap).map_err(fail)?;
    }
    Ok(())
}

/// Marks every descriptor past stdio and the `preserved` ones after it
/// close-on-exec: nothing the engine or mini-runc held leaks into the
/// container (runc's rule; `--preserve-fds N` keeps 3..3+N).
pub fn close_inherited(preserved: u32) -> Result<()> {
    let first = 3 + preserved;
    tracing::info!(target: "explain", "close_range({first}, ~0, CLOSE_RANGE_CLOEXEC)");
    // SAFETY: integer arguments only.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r != 0 {
        return Err(Error::io("close_range", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `execve` of `process.args` in `process.env`; returns only on failure,
/// with the exit code and message (`exec: "x": executable file not found
/// in $PATH`).
pub fn exec(p: &Process) -> (i32, String) {
    let spec = ProcessSpec {
        args: p.args().clone().unwrap_or_default(),
        env: p.env().clone().unwrap_or_default(),
        cwd: p.cwd().display().to_string(),
        uid: p.user().uid(),
        gid: p.user().gid(),
        ..ProcessSpec::default()
    };
    mini_docker::container::child::exec_process(&spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_are_the_specs() {
        let p: Process = serde_json::from_value(serde_json::json!({
            "cwd": "/", "user": {"uid": 0, "gid": 0},
            "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"]}
        }))
        .unwrap();
        let c = p.capabilities().as_ref().unwrap();
        assert_eq!(names(c.bounding().as_ref()), ["CAP_CHOWN", "CAP_KILL"]);
        assert_eq!(set_of(&names(c.bounding().as_ref())).len(), 2);
    }
}
