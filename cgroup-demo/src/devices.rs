//! Which device nodes a cgroup's processes may open or create.
//!
//! Having a node in `/dev` is not what grants access to a device: a process
//! with `CAP_MKNOD` (Docker keeps it) can create a node for any
//! major:minor, for example the host's disk. The kernel asks the cgroup
//! first, on every `open` and `mknod` of a device node:
//!
//! - **v1**: the `devices` controller keeps an allow-list written as text
//!   (`echo 'c 1:3 rwm' > devices.allow`).
//! - **v2** has no such files. Instead an eBPF program of type
//!   `BPF_PROG_TYPE_CGROUP_DEVICE` is attached to the cgroup; the kernel
//!   runs it with (type, major, minor, access) and it returns 1 to allow or
//!   0 to deny. [`program`] compiles the same rules into that program, as
//!   runc and youki do, so both versions enforce one list.
//!
//! Rules follow the v1 grammar (`TYPE MAJOR:MINOR ACCESS`, `*` for any).
//! Evaluation is "last matching rule wins", starting from a default; a
//! container's list is "deny everything" followed by allow rules.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// The device types a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `a`: every device, character and block.
    All,
    /// `c`: character devices (`/dev/null`, ttys).
    Char,
    /// `b`: block devices (disks).
    Block,
}

impl Kind {
    fn letter(self) -> char {
        match self {
            Kind::All => 'a',
            Kind::Char => 'c',
            Kind::Block => 'b',
        }
    }
}

/// What a rule lets a process do with a node: any of read, write and
/// mknod (`rwm`). The bits are the kernel's `BPF_DEVCG_ACC_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Access(u8);

impl Access {
    pub const MKNOD: Access = Access(1);
    pub const READ: Access = Access(2);
    pub const WRITE: Access = Access(4);
    pub const ALL: Access = Access(7);

    pub fn bits(self) -> u8 {
        self.0
    }

    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }

    /// `rwm`, `r`, `mw` …: each letter at most once, at least one.
    pub fn parse(text: &str) -> Option<Access> {
        let mut bits = 0u8;
        for ch in text.chars() {
            let bit = match ch {
                'r' => Access::READ.0,
                'w' => Access::WRITE.0,
                'm' => Access::MKNOD.0,
                _ => return None,
            };
            if bits & bit != 0 {
                return None;
            }
            bits |= bit;
        }
        (bits != 0).then_some(Access(bits))
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, letter) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{letter}")?;
            }
        }
        Ok(())
    }
}

/// One rule: `c 1:3 rwm` allows read, write and mknod of `/dev/null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    pub kind: Kind,
    /// `None`: any (`*`).
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: Access,
}

impl Rule {
    /// An allow rule for one node.
    pub fn allow(kind: Kind, major: u32, minor: u32, access: Access) -> Self {
        Rule {
            allow: true,
            kind,
            major: Some(major),
            minor: Some(minor),
            access,
        }
    }

    /// `a *:* rwm`: everything (`--privileged`).
    pub fn everything(allow: bool) -> Self {
        Rule {
            allow,
            kind: Kind::All,
            major: None,
            minor: None,
            access: Access::ALL,
        }
    }

    /// Does this rule say anything about `access` to this node?
    pub fn matches(&self, kind: Kind, major: u32, minor: u32, access: Access) -> bool {
        (self.kind == Kind::All || self.kind == kind)
            && self.major.is_none_or(|m| m == major)
            && self.minor.is_none_or(|m| m == minor)
            && self.access.contains(access)
    }
}

/// The v1 text form, `c 1:3 rwm` (what `devices.allow` takes).
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{} {}",
            self.kind.letter(),
            number(self.major),
            number(self.minor),
            self.access
        )
    }
}

/// Parses `TYPE MAJOR:MINOR ACCESS` as an allow rule, or `a` alone for
/// `a *:* rwm`, with Docker's checks and messages (`--device-cgroup-rule`).
/// Docker refuses an `a` rule narrower than everything: the kernel's v1
/// controller would widen it anyway.
impl FromStr for Rule {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = || Error::Invalid(format!("invalid device cgroup rule format: '{text}'"));
        if text == "a" {
            return Ok(Rule::everything(true));
        }
        let parts: Vec<&str> = text.split(' ').collect();
        let [kind, numbers, access] = parts[..] else {
            return Err(invalid());
        };
        let kind = match kind {
            "a" => Kind::All,
            "c" => Kind::Char,
            "b" => Kind::Block,
            _ => return Err(invalid()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(invalid)?;
        let access = (access.len() <= 3)
            .then(|| Access::parse(access))
            .flatten()
            .ok_or_else(invalid)?;
        let number = |s: &str, bits: u32, which: &str| -> Result<Option<u32>> {
            if s == "*" {
                return Ok(None);
            }
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid());
            }
            // Docker parses majors as 12-bit and minors as 20-bit numbers.
            match s.parse::<u64>() {
                Ok(n) if n < 1 << (bits - 1) => Ok(Some(n as u32)),
                _ => Err(Error::Invalid(format!(
                    "invalid {which} value in device cgroup rule format: '{text}'"
                ))),
            }
        };
        let (major, minor) = (number(major, 12, "major")?, number(minor, 20, "minor")?);
        if kind == Kind::All {
            if major.is_some() || minor.is_some() || access != Access::ALL {
                return Err(Error::Invalid(format!(
                    "although this cgroup rule is technically correct, because 'a' maps to 'a *:* rwm' regardless of what comes next, this format is partially ineffective: '{text}'"
                )));
            }
            return Ok(Rule::everything(true));
        }
        Ok(Rule {
            allow: true,
            kind,
            major,
            minor,
            access,
        })
    }
}

/// A complete device policy: everything denied, then each rule in order
/// (the last rule that matches decides).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules(pub Vec<Rule>);

impl Rules {
    /// Docker's default for a container: nothing, then mknod of any node
    /// (images may carry device files), and read/write/mknod of the
    /// standard nodes only: `null`, `zero`, `full`, `random`, `urandom`,
    /// `tty`, `console`, the pty multiplexer and the pty slaves.
    pub fn container_default() -> Rules {
        let mut rules = vec![Rule::everything(false)];
        for kind in [Kind::Char, Kind::Block] {
            rules.push(Rule {
                allow: true,
                kind,
                major: None,
                minor: None,
                access: Access::MKNOD,
            });
        }
        rules.extend(Rules::standard_nodes());
        Rules(rules)
    }

    /// Read, write and mknod of the nodes every container gets, in Docker
    /// and in runc alike: `null`, `zero`, `full`, `random`, `urandom`,
    /// `tty`, `console`, the pty multiplexer and the pty slaves.
    pub fn standard_nodes() -> Vec<Rule> {
        let mut rules: Vec<Rule> = [
            (1, 3),
            (1, 5),
            (1, 7),
            (1, 8),
            (1, 9),
            (5, 0),
            (5, 1),
            (5, 2),
        ]
        .into_iter()
        .map(|(major, minor)| Rule::allow(Kind::Char, major, minor, Access::ALL))
        .collect();
        rules.push(Rule {
            minor: None,
            ..Rule::allow(Kind::Char, 136, 0, Access::ALL)
        });
        rules
    }

    /// What the kernel will answer for `access` to a node, by the same
    /// logic the compiled program and the v1 controller follow.
    pub fn allows(&self, kind: Kind, major: u32, minor: u32, access: Access) -> bool {
        self.0
            .iter()
            .rev()
            .find(|r| r.matches(kind, major, minor, access))
            .is_some_and(|r| r.allow)
    }

    /// Whether the rules let everything through (`--privileged`): then no
    /// program is needed on v2 and `a` is allowed on v1.
    pub fn allows_everything(&self) -> bool {
        self.0.last() == Some(&Rule::everything(true))
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// Destination register in the low nibble, source in the high one.
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

// The opcodes the program uses (from linux/bpf_common.h and linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K: dst &= imm
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K: dst >>= imm
const MOV64_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K: dst = imm
const MOV64_X: u8 = 0xbf; // BPF_ALU64 | BPF_MOV | BPF_X: dst = src
const JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K: if dst != imm goto +off
const JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X: if dst != src goto +off
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT: return r0

// Registers: r1 holds the context on entry (`struct bpf_cgroup_dev_ctx`:
// u32 access_type = access << 16 | type, u32 major, u32 minor).
const R0: u8 = 0;
const R1: u8 = 1;
const TYPE: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

// BPF_DEVCG_DEV_BLOCK, BPF_DEVCG_DEV_CHAR.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// Compiles rules into a `BPF_PROG_TYPE_CGROUP_DEVICE` program.
///
/// The prologue unpacks the context into r2–r5; then each rule, last first
/// (the last match wins), is a block of tests that jump to the next block
/// on a mismatch and otherwise return the rule's verdict; the end returns
/// 0: what no rule allows is denied. A rule that matches everything (`a
/// *:* rwm`) ends the program.
pub fn program(rules: &Rules) -> Vec<Insn> {
    let mut out = vec![
        insn(LDX_MEM_W, TYPE, R1, 0, 0),
        insn(ALU32_AND_K, TYPE, 0, 0, 0xffff),
        insn(LDX_MEM_W, ACCESS, R1, 0, 0),
        insn(ALU32_RSH_K, ACCESS, 0, 0, 16),
        insn(LDX_MEM_W, MAJOR, R1, 4, 0),
        insn(LDX_MEM_W, MINOR, R1, 8, 0),
    ];
    for rule in rules.0.iter().rev() {
        // Each test is emitted as (code, dst, src, imm) and given its jump
        // offset once the block's length is known.
        let mut tests: Vec<(u8, u8, u8, i32)> = Vec::new();
        match rule.kind {
            Kind::All => {}
            Kind::Char => tests.push((JNE_K, TYPE, 0, DEV_CHAR)),
            Kind::Block => tests.push((JNE_K, TYPE, 0, DEV_BLOCK)),
        }
        let mut access_check = false;
        if rule.access != Access::ALL {
            // The requested access must be a subset of the rule's:
            // (access & rule) == access.
            access_check = true;
            tests.push((JNE_X, R1, ACCESS, 0));
        }
        if let Some(major) = rule.major {
            tests.push((JNE_K, MAJOR, 0, major as i32));
        }
        if let Some(minor) = rule.minor {
            tests.push((JNE_K, MINOR, 0, minor as i32));
        }
        // Instructions in the block: tests (+2 for the access masking),
        // then `r0 = verdict; exit`.
        let len = tests.len() + if access_check { 2 } else { 0 } + 2;
        let mut emitted = 0;
        for (code, dst, src, imm) in tests {
            if code == JNE_X {
                out.push(insn(MOV64_X, R1, ACCESS, 0, 0));
                out.push(insn(ALU32_AND_K, R1, 0, 0, i32::from(rule.access.bits())));
                emitted += 2;
            }
            emitted += 1;
            let skip = (len - emitted) as i16;
            out.push(insn(code, dst, src, skip, imm));
        }
        out.push(insn(MOV64_K, R0, 0, 0, i32::from(rule.allow)));
        out.push(insn(EXIT, 0, 0, 0, 0));
        if emitted == 0 {
            // A rule matching everything decides everything: the rules
            // before it, and the default, could never be reached (and the
            // verifier refuses unreachable code).
            return out;
        }
    }
    out.push(insn(MOV64_K, R0, 0, 0, 0));
    out.push(insn(EXIT, 0, 0, 0, 0));
    out
}

/// Runs a compiled program the way the kernel would, for the tests: only
/// the instructions [`program`] emits are understood.
pub fn interpret(program: &[Insn], kind: Kind, major: u32, minor: u32, access: Access) -> u64 {
    let kind_bits: u64 = match kind {
        Kind::Block => DEV_BLOCK as u64,
        Kind::Char => DEV_CHAR as u64,
        Kind::All => 0,
    };
    let ctx = [
        (u64::from(access.bits()) << 16) | kind_bits,
        u64::from(major),
        u64::from(minor),
    ];
    let mut regs = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = program[pc];
        let (dst, src) = ((i.regs & 0xf) as usize, (i.regs >> 4) as usize);
        let imm = i.imm as i64 as u64;
        pc += 1;
        match i.code {
            LDX_MEM_W => regs[dst] = ctx[(i.off / 4) as usize] & 0xffff_ffff,
            ALU32_AND_K => regs[dst] = (regs[dst] & imm) & 0xffff_ffff,
            ALU32_RSH_K => regs[dst] = (regs[dst] & 0xffff_ffff) >> imm,
            MOV64_K => regs[dst] = imm,
            MOV64_X => regs[dst] = regs[src],
            JNE_K if regs[dst] != imm => pc += i.off as usize,
            JNE_X if regs[dst] != regs[src] => pc += i.off as usize,
            JNE_K | JNE_X => {}
            EXIT => return regs[0],
            other => panic!("opcode {other:#x} not emitted by program()"),
        }
    }
}

/// The program as readable pseudo-assembly, for `--explain` and lesson 3.
pub fn listing(program: &[Insn]) -> Vec<String> {
    let reg = |r: u8| match r {
        TYPE => "type".to_string(),
        ACCESS => "access".to_string(),
        MAJOR => "major".to_string(),
        MINOR => "minor".to_string(),
        R1 => "tmp".to_string(),
        r => format!("r{r}"),
    };
    program
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let (dst, src) = (i.regs & 0xf, i.regs >> 4);
            let text = match i.code {
                LDX_MEM_W => {
                    let field = ["access_type", "major", "minor"][(i.off / 4) as usize];
                    format!("{} = ctx->{field}", reg(dst))
                }
                ALU32_AND_K => format!("{} &= {:#x}", reg(dst), i.imm),
                ALU32_RSH_K => format!("{} >>= {}", reg(dst), i.imm),
                MOV64_K if dst == R0 => format!("return {}", i.imm),
                MOV64_K => format!("{} = {}", reg(dst), i.imm),
                MOV64_X => format!("{} = {}", reg(dst), reg(src)),
                JNE_K => format!(
                    "if {} != {} goto {}",
                    reg(dst),
                    i.imm,
                    n + 1 + i.off as usize
                ),
                JNE_X => format!(
                    "if {} != {} goto {}",
                    reg(dst),
                    reg(src),
                    n + 1 + i.off as usize
                ),
                EXIT => "exit".to_string(),
                other => format!("op {other:#x}"),
            };
            format!("{n:3}: {text}")
        })
        .filter(|line| !line.ends_with("exit"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_like() -> Rules {
        let mut rules = Rules::container_default();
        rules.0.push("c 5:2 rw".parse().unwrap());
        rules
    }

    #[test]
    fn the_container_default_is_dockers_list() {
        let text: Vec<String> = Rules::container_default()
            .0
            .iter()
            .map(|r| r.to_string())
            .collect();
        assert_eq!(
            text,
            [
                "a *:* rwm",
                "c *:* m",
                "b *:* m",
                "c 1:3 rwm",
                "c 1:5 rwm",
                "c 1:7 rwm",
                "c 1:8 rwm",
                "c 1:9 rwm",
                "c 5:0 rwm",
                "c 5:1 rwm",
                "c 5:2 rwm",
                "c 136:* rwm"
            ]
        );
        assert!(!Rules::container_default().0[0].allow);
    }

    #[test]
    fn rules_parse_and_print_in_the_v1_grammar() {
        for text in ["c 1:3 rwm", "b 8:* r", "c *:* m", "b 7:0 mw"] {
            let rule: Rule = text.parse().unwrap();
            assert!(rule.allow);
            assert_eq!(
                rule.to_string().chars().filter(|c| *c == ' ').count(),
                2,
                "{rule}"
            );
        }
        // Access prints in rwm order whatever the input order.
        assert_eq!("b 7:0 mw".parse::<Rule>().unwrap().to_string(), "b 7:0 wm");
        assert_eq!("a".parse::<Rule>().unwrap(), Rule::everything(true));
        assert_eq!("a *:* rwm".parse::<Rule>().unwrap(), Rule::everything(true));
    }

    #[test]
    fn bad_rules_get_dockers_messages() {
        let err = |t: &str| t.parse::<Rule>().unwrap_err().to_string();
        for bad in [
            "",
            "c",
            "x 1:3 rwm",
            "c 1:3",
            "c 1-3 rwm",
            "c 1:3 rwmx",
            "c 1:3 rr",
            "c a:3 r",
        ] {
            assert_eq!(
                err(bad),
                format!("invalid device cgroup rule format: '{bad}'")
            );
        }
        assert_eq!(
            err("c 4096:1 r"),
            "invalid major value in device cgroup rule format: 'c 4096:1 r'"
        );
        assert!(err("a 1:3 m").starts_with("although this cgroup rule is technically correct"));
    }

    #[test]
    fn last_matching_rule_wins() {
        let rules = docker_like();
        assert!(rules.allows(Kind::Char, 1, 3, Access::READ));
        assert!(rules.allows(Kind::Block, 8, 0, Access::MKNOD));
        assert!(!rules.allows(Kind::Block, 8, 0, Access::READ));
        assert!(rules.allows(Kind::Char, 5, 2, Access::MKNOD));
        assert!(!rules.allows(Kind::Char, 10, 229, Access::READ));
        let mut denied = rules.clone();
        denied.0.push(Rule {
            allow: false,
            ..Rule::allow(Kind::Char, 1, 3, Access::WRITE)
        });
        assert!(!denied.allows(Kind::Char, 1, 3, Access::WRITE));
        assert!(denied.allows(Kind::Char, 1, 3, Access::READ));
    }

    #[test]
    fn the_program_answers_as_the_rules_do() {
        let rules = docker_like();
        let program = program(&rules);
        let kinds = [Kind::Char, Kind::Block];
        let accesses = [
            Access::READ,
            Access::WRITE,
            Access::MKNOD,
            Access(Access::READ.0 | Access::WRITE.0),
        ];
        for kind in kinds {
            for (major, minor) in [(1, 3), (1, 4), (136, 7), (5, 2), (7, 0), (8, 1)] {
                for access in accesses {
                    assert_eq!(
                        interpret(&program, kind, major, minor, access) == 1,
                        rules.allows(kind, major, minor, access),
                        "{kind:?} {major}:{minor} {access}"
                    );
                }
            }
        }
        let everything = self::program(&Rules(vec![Rule::everything(true)]));
        assert_eq!(interpret(&everything, Kind::Block, 8, 0, Access::WRITE), 1);
        assert_eq!(
            interpret(
                &self::program(&Rules::default()),
                Kind::Char,
                1,
                3,
                Access::READ
            ),
            0
        );
    }

    #[test]
    fn the_listing_reads_like_the_rules() {
        let rules = Rules(vec![Rule::everything(false), "c 1:3 rw".parse().unwrap()]);
        let text = listing(&program(&rules)).join("\n");
        assert!(text.contains("if type != 2 goto"), "{text}");
        assert!(text.contains("if major != 1 goto"), "{text}");
        assert!(text.contains("return 1"), "{text}");
        assert!(text.ends_with("return 0"), "{text}");
    }
}
