//! The seven namespace types.

use std::fmt;
use std::str::FromStr;

use nix::sched::CloneFlags;

/// A namespace type. The order of the variants is the order in which
/// [`crate::join`] enters them: user first (it grants the capabilities the
/// others need), mount last (it changes the root that `/proc/PID/ns` paths
/// are resolved against).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    User,
    Ipc,
    Uts,
    Net,
    Pid,
    Cgroup,
    Mount,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::User,
        Kind::Ipc,
        Kind::Uts,
        Kind::Net,
        Kind::Pid,
        Kind::Cgroup,
        Kind::Mount,
    ];

    /// The `clone(2)`/`unshare(2)`/`setns(2)` flag.
    pub fn flag(self) -> CloneFlags {
        match self {
            Kind::User => CloneFlags::CLONE_NEWUSER,
            Kind::Ipc => CloneFlags::CLONE_NEWIPC,
            Kind::Uts => CloneFlags::CLONE_NEWUTS,
            Kind::Net => CloneFlags::CLONE_NEWNET,
            Kind::Pid => CloneFlags::CLONE_NEWPID,
            Kind::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Kind::Mount => CloneFlags::CLONE_NEWNS,
        }
    }

    /// The file name under `/proc/PID/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Kind::User => "user",
            Kind::Ipc => "ipc",
            Kind::Uts => "uts",
            Kind::Net => "net",
            Kind::Pid => "pid",
            Kind::Cgroup => "cgroup",
            Kind::Mount => "mnt",
        }
    }

    /// The flag's name, for `--explain` lines.
    pub fn flag_name(self) -> &'static str {
        match self {
            Kind::User => "CLONE_NEWUSER",
            Kind::Ipc => "CLONE_NEWIPC",
            Kind::Uts => "CLONE_NEWUTS",
            Kind::Net => "CLONE_NEWNET",
            Kind::Pid => "CLONE_NEWPID",
            Kind::Cgroup => "CLONE_NEWCGROUP",
            Kind::Mount => "CLONE_NEWNS",
        }
    }

    /// The util-linux `unshare`/`nsenter` option.
    pub fn option(self) -> &'static str {
        match self {
            Kind::User => "--user",
            Kind::Ipc => "--ipc",
            Kind::Uts => "--uts",
            Kind::Net => "--net",
            Kind::Pid => "--pid",
            Kind::Cgroup => "--cgroup",
            Kind::Mount => "--mount",
        }
    }

    /// A sorted, de-duplicated list from a comma-separated one (`net,uts`).
    pub fn parse_list(list: &str) -> Result<Vec<Kind>, String> {
        let mut kinds = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Kind>, String>>()?;
        if kinds.is_empty() {
            return Err("no namespace named".into());
        }
        kinds.sort();
        kinds.dedup();
        Ok(kinds)
    }

    pub fn flags(kinds: &[Kind]) -> CloneFlags {
        kinds
            .iter()
            .fold(CloneFlags::empty(), |acc, k| acc | k.flag())
    }

    /// `CLONE_NEWUTS | CLONE_NEWPID`.
    pub fn flag_names(kinds: &[Kind]) -> String {
        kinds
            .iter()
            .map(|k| k.flag_name())
            .collect::<Vec<_>>()
            .join(" | ")
    }

    /// `--uts --pid`.
    pub fn options(kinds: &[Kind]) -> String {
        kinds
            .iter()
            .map(|k| k.option())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl FromStr for Kind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "user" => Kind::User,
            "ipc" => Kind::Ipc,
            "uts" => Kind::Uts,
            "net" | "network" => Kind::Net,
            "pid" => Kind::Pid,
            "cgroup" => Kind::Cgroup,
            "mnt" | "mount" => Kind::Mount,
            other => {
                return Err(format!(
                    "unknown namespace {other:?} (expected user, ipc, uts, net, pid, cgroup or mnt)"
                ))
            }
        })
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.proc_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_in_join_order() {
        assert_eq!(
            Kind::parse_list("mnt,net,user,uts,net").unwrap(),
            [Kind::User, Kind::Uts, Kind::Net, Kind::Mount]
        );
        assert!(Kind::parse_list("net,bogus").unwrap_err().contains("bogus"));
        assert!(Kind::parse_list("").is_err());
        assert_eq!(
            Kind::flag_names(&[Kind::Uts, Kind::Pid]),
            "CLONE_NEWUTS | CLONE_NEWPID"
        );
    }
}
