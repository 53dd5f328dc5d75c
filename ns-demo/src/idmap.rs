//! User-namespace id maps: which ids inside stand for which ids outside.
//!
//! A new user namespace starts with no mapping at all (every id shows as
//! `nobody`, 65534). A process in the parent namespace writes
//! `/proc/PID/uid_map` and `/proc/PID/gid_map`, once each, as lines of
//! `inside outside count`. An unprivileged writer may map only its own ids
//! and must first write `deny` to `/proc/PID/setgroups`, so that the child
//! cannot use `setgroups(2)` to drop a group that was denying it access.

use std::fmt;
use std::path::PathBuf;

use nix::unistd::Pid;

use crate::{Error, Result};

/// One line of a map: `count` ids from `inside` map to ids from `outside`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl IdMap {
    /// A single id: `inside` is `outside`.
    pub fn single(inside: u32, outside: u32) -> Self {
        IdMap {
            inside,
            outside,
            count: 1,
        }
    }

    /// A range of `count` ids.
    pub fn range(inside: u32, outside: u32, count: u32) -> Self {
        IdMap {
            inside,
            outside,
            count,
        }
    }
}

impl fmt::Display for IdMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

/// Whether the child may call `setgroups(2)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetGroups {
    Allow,
    /// Required before an unprivileged process writes a `gid_map`.
    Deny,
}

/// Writes the child's uid and gid maps (and `setgroups` first, when denied).
pub fn write(pid: Pid, uids: &[IdMap], gids: &[IdMap], setgroups: SetGroups) -> Result<()> {
    if setgroups == SetGroups::Deny {
        write_file(pid, "setgroups", "deny")?;
    }
    write_file(pid, "uid_map", &lines(uids))?;
    write_file(pid, "gid_map", &lines(gids))
}

fn lines(maps: &[IdMap]) -> String {
    maps.iter().map(|m| format!("{m}\n")).collect()
}

fn write_file(pid: Pid, name: &str, content: &str) -> Result<()> {
    let path = PathBuf::from(format!("/proc/{pid}/{name}"));
    tracing::info!(
        target: "explain",
        "echo '{}' > {}",
        content.trim_end().replace('\n', "\\n"),
        path.display()
    );
    // One write(2) per file: the kernel accepts a map only in a single write.
    std::fs::write(&path, content).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EPERM) {
            " (an unprivileged writer may map only its own id, once, after setgroups deny)"
        } else {
            ""
        };
        Error::Invalid(format!("writing {}: {e}{hint}", path.display()))
    })
}

/// The current process's uid map as the kernel shows it.
pub fn read_own(name: &str) -> Result<Vec<IdMap>> {
    let path = format!("/proc/self/{name}");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(parse(&text))
}

/// Parses `/proc/PID/uid_map` (or gid_map) text.
pub fn parse(text: &str) -> Vec<IdMap> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace().map(|n| n.parse::<u32>());
            match (f.next(), f.next(), f.next()) {
                (Some(Ok(inside)), Some(Ok(outside)), Some(Ok(count))) => Some(IdMap {
                    inside,
                    outside,
                    count,
                }),
                _ => None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_kernel_lines() {
        let maps = [IdMap::single(0, 100000), IdMap::range(1, 200000, 65535)];
        let text = lines(&maps);
        assert_eq!(text, "0 100000 1\n1 200000 65535\n");
        assert_eq!(parse("         0     100000          1\n"), [maps[0]]);
    }
}
