//! `linux.seccomp`, the specification's filter format, compiled by
//! libseccomp (as runc and crun do) into the BPF program the kernel runs
//! on every system call of the container.

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use crate::{Error, Result};

fn action(
    a: LinuxSeccompAction,
    errno: Option<u32>,
    default_errno: Option<u32>,
) -> Result<ScmpAction> {
    let errno = errno.or(default_errno).unwrap_or(libc::EPERM as u32) as i32;
    Ok(match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(errno),
        LinuxSeccompAction::ScmpActTrace => ScmpAction::Trace(errno as u16),
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(Error::Unsupported("SCMP_ACT_NOTIFY".into()))
        }
    })
}

fn arch(a: Arch) -> Result<ScmpArch> {
    let name = serde_json::to_value(a)?;
    let name = name.as_str().unwrap_or_default();
    name.parse::<ScmpArch>()
        .map_err(|_| Error::Config(format!("seccomp architecture {name}")))
}

fn compare(op: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // The mask is `value`, the datum compared with `valueTwo`.
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

/// Compiles the filter (not yet loaded). System call names this
/// libseccomp does not know are skipped, as runc skips them: a profile
/// lists calls of newer kernels and other architectures.
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let default = action(s.default_action(), None, s.default_errno_ret())?;
    let mut filter = ScmpFilterContext::new_filter(default)?;
    // no_new_privs is the process's own setting, applied separately.
    filter.set_ctl_nnp(false)?;
    for a in s.architectures().iter().flatten() {
        let a = arch(*a)?;
        if a != ScmpArch::native() {
            filter.add_arch(a)?;
        }
    }
    for flag in s.flags().iter().flatten() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => filter.set_ctl_log(true)?,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => filter.set_ctl_ssb(true)?,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => filter.set_ctl_tsync(true)?,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {}
        }
    }
    for rule in s.syscalls().iter().flatten() {
        let act = action(rule.action(), rule.errno_ret(), s.default_errno_ret())?;
        if act == default {
            continue;
        }
        let args: Vec<_> = rule.args().iter().flatten().collect();
        let distinct = args
            .iter()
            .map(|a| a.index())
            .collect::<std::collections::BTreeSet<_>>()
            .len()
            == args.len();
        let conditions: Vec<ScmpArgCompare> = args
            .iter()
            .map(|a| {
                let op = compare(a.op(), a.value());
                let datum = match a.op() {
                    LinuxSeccompOperator::ScmpCmpMaskedEq => a.value_two().unwrap_or(0),
                    _ => a.value(),
                };
                ScmpArgCompare::new(a.index() as u32, op, datum)
            })
            .collect();
        for name in rule.names() {
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if conditions.is_empty() {
                filter.add_rule(act, call)?;
            } else if distinct {
                filter.add_rule_conditional(act, call, &conditions)?;
            } else {
                // Several conditions on one argument: libseccomp wants one
                // rule per condition (runc does the same).
                for c in &conditions {
                    filter.add_rule_conditional(act, call, std::slice::from_ref(c))?;
                }
            }
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_docker_style_profile_compiles() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "write", "no_such_call_anywhere"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .unwrap();
        compile(&s).unwrap();
    }

    #[test]
    fn notify_is_refused() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_NOTIFY"
        }))
        .unwrap();
        assert!(compile(&s)
            .unwrap_err()
            .to_string()
            .contains("SCMP_ACT_NOTIFY"));
    }
}
