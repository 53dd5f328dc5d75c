//! The leak checker: what a test created on the host and did not remove.
//!
//! Tests run in parallel, so a plain before/after difference would blame one
//! test for another's resources. A resource counts as this test's when it is
//! new since the test began *and* carries the test's mark: a mount point or a
//! process root under its state directory, or its token in a name (link,
//! network namespace, cgroup, a firewall rule's interface or comment) or in
//! a process's environment.
//!
//! The host's own device nodes and a few of its files are another matter:
//! no test may change them, so any change there fails whichever test sees
//! it (see [`HostState`]).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash as _, Hasher as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::env::TOKEN_VAR;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
const NETNS_DIR: &str = "/run/netns";

/// The host's global resources at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub mounts: BTreeSet<String>,
    pub netns: BTreeSet<String>,
    pub links: BTreeSet<String>,
    pub cgroups: BTreeSet<PathBuf>,
    /// `iptables-save`'s rules, as `TABLE -A CHAIN …` (empty without
    /// iptables).
    pub rules: BTreeSet<String>,
    pub host: HostState,
}

/// The host files a container runtime could damage by mistake (a bind
/// mount the wrong way round, a `mknod` or a write through a path that
/// escaped): each device node in `/dev` and `HOST_FILES`, by path, as
/// "char 1:3" or "file <hash>". `/dev/pts`, `/dev/shm`, `/dev/mqueue` and
/// loop devices come and go with every test that uses them; a node whose
/// name bears the test's mark is the test's own.
pub type HostState = BTreeMap<PathBuf, String>;

const HOST_FILES: [&str; 3] = ["/etc/hosts", "/etc/resolv.conf", "/etc/passwd"];
const DEV_SKIPPED: [&str; 3] = ["/dev/pts", "/dev/shm", "/dev/mqueue"];

/// See [`HostState`].
pub fn host_state() -> HostState {
    let mut state = HostState::new();
    let mut stack = vec![PathBuf::from("/dev")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            let path = e.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let kind = meta.file_type();
            let name = e.file_name().to_string_lossy().into_owned();
            if kind.is_dir() {
                if !DEV_SKIPPED.iter().any(|s| path == Path::new(s)) {
                    stack.push(path);
                }
            } else if (kind.is_char_device() || kind.is_block_device()) && !name.starts_with("loop")
            {
                let rdev = meta.rdev();
                let what = if kind.is_char_device() {
                    "char"
                } else {
                    "block"
                };
                let (major, minor) = (libc::major(rdev), libc::minor(rdev));
                state.insert(path, format!("{what} {major}:{minor}"));
            }
        }
    }
    for file in HOST_FILES {
        state.insert(PathBuf::from(file), describe_file(Path::new(file)));
    }
    state
}

fn describe_file(path: &Path) -> String {
    match std::fs::symlink_metadata(path) {
        Err(e) => format!("unreadable ({})", e.kind()),
        Ok(m) if m.file_type().is_symlink() => {
            format!("symlink to {:?}", std::fs::read_link(path).ok())
        }
        Ok(m) if !m.is_file() => format!("not a regular file ({:?})", m.file_type()),
        Ok(_) => {
            let mut h = DefaultHasher::new();
            std::fs::read(path).unwrap_or_default().hash(&mut h);
            format!("file {:016x}", h.finish())
        }
    }
}

/// What changed in the host's device nodes and files: every one there
/// before must be there after, the same.
fn host_changes(
    before: &HostState,
    after: &HostState,
    marked: impl Fn(&str) -> bool,
) -> Vec<String> {
    before
        .iter()
        .filter(|(path, _)| !marked(&path.to_string_lossy()))
        .filter_map(|(path, was)| {
            let now = after.get(path).map_or("gone", String::as_str);
            (now != was).then(|| format!("host {} changed: was {was}, now {now}", path.display()))
        })
        .collect()
}

impl Snapshot {
    pub fn take() -> Self {
        Snapshot {
            mounts: mount_points(),
            netns: names_in(Path::new(NETNS_DIR)),
            links: names_in(Path::new("/sys/class/net")),
            cgroups: cgroup_dirs(),
            rules: firewall_rules(),
            host: host_state(),
        }
    }
}

/// What is in `after` but not in `before` and bears this test's mark, plus
/// the marked processes still alive, one line each. `marks[0]` is the
/// test's token; the others are names it watches (see `TestEnv::watch`).
pub fn find(before: &Snapshot, after: &Snapshot, dir: &Path, marks: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let marked = |name: &str| marks.iter().any(|m| name.contains(m));
    let dir_str = dir.to_string_lossy();
    for m in after.mounts.difference(&before.mounts) {
        if m.starts_with(&*dir_str) || marked(m) {
            found.push(format!("mount {m}"));
        }
    }
    for n in after.netns.difference(&before.netns) {
        if marked(n) {
            found.push(format!("netns {n}"));
        }
    }
    for l in after.links.difference(&before.links) {
        if marked(l) {
            found.push(format!("link {l}"));
        }
    }
    for c in after.cgroups.difference(&before.cgroups) {
        if marked(&c.to_string_lossy()) {
            found.push(format!("cgroup {}", c.display()));
        }
    }
    for r in after.rules.difference(&before.rules) {
        if marked(r) {
            found.push(format!("rule {r}"));
        }
    }
    for (pid, why) in marked_processes(dir, marks[0]) {
        found.push(format!("process {pid} ({why})"));
    }
    found.extend(host_changes(&before.host, &after.host, marked));
    found
}

/// Removes whatever bears this test's mark: kills its processes, unmounts
/// below its directory (deepest first), deletes its links, netns and cgroups.
pub fn clean(dir: &Path, marks: &[&str]) {
    let marked = |name: &str| marks.iter().any(|m| name.contains(m));
    let token = marks[0];
    for (pid, _) in marked_processes(dir, token) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let dir_str = dir.to_string_lossy();
    let mut mounts: Vec<String> = mount_points()
        .into_iter()
        .filter(|m| m.starts_with(&*dir_str) || marked(m))
        .collect();
    mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in mounts {
        let _ = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
    for n in names_in(Path::new(NETNS_DIR)) {
        if marked(&n) {
            let _ = Command::new("ip").args(["netns", "delete", &n]).status();
        }
    }
    for l in names_in(Path::new("/sys/class/net")) {
        if marked(&l) {
            let _ = Command::new("ip").args(["link", "delete", &l]).status();
        }
    }
    for r in firewall_rules() {
        if marked(&r) {
            delete_rule(&r);
        }
    }
    let mut cgroups: Vec<PathBuf> = cgroup_dirs()
        .into_iter()
        .filter(|c| marked(&c.to_string_lossy()))
        .collect();
    cgroups.sort_by_key(|c| std::cmp::Reverse(c.components().count()));
    for c in cgroups {
        let _ = std::fs::remove_dir(c);
    }
}

/// The host's iptables rules (nftables' too when iptables is its
/// front end), one `TABLE -A CHAIN …` line each.
fn firewall_rules() -> BTreeSet<String> {
    let Ok(out) = Command::new("iptables-save").output() else {
        return BTreeSet::new();
    };
    let mut table = String::new();
    let mut rules = BTreeSet::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.strip_prefix('*') {
            table = name.to_string();
        } else if line.starts_with("-A ") {
            rules.insert(format!("{table} {line}"));
        }
    }
    rules
}

/// `iptables -t TABLE -D CHAIN …` for a line of [`firewall_rules`].
fn delete_rule(rule: &str) {
    let mut words = rule.split_whitespace();
    let (Some(table), Some("-A")) = (words.next(), words.next()) else {
        return;
    };
    let args: Vec<&str> = words.map(|w| w.trim_matches('"')).collect();
    let _ = Command::new("iptables")
        .args(["-w", "-t", table, "-D"])
        .args(args)
        .status();
}

/// Mount points from `/proc/self/mountinfo`, with `\040`-style escapes decoded.
pub fn mount_points() -> BTreeSet<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_octal)
        .collect()
}

fn unescape_octal(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn names_in(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Cgroup directories down to four levels below each hierarchy (deeper
/// trees are named after a test's top directory anyway).
fn cgroup_dirs() -> BTreeSet<PathBuf> {
    let mut out = BTreeSet::new();
    let mut stack: Vec<(PathBuf, usize)> = vec![(PathBuf::from(CGROUP_ROOT), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.filter_map(|e| e.ok()) {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let path = e.path();
                if depth < 5 {
                    stack.push((path.clone(), depth + 1));
                }
                if depth >= 1 {
                    out.insert(path);
                }
            }
        }
    }
    out
}

/// Live processes (other than this one) whose root or working directory is
/// under `dir`, or whose environment carries this test's token.
fn marked_processes(dir: &Path, token: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let marker = format!("{TOKEN_VAR}={token}");
    let mut found = Vec::new();
    for pid in names_in(Path::new("/proc"))
        .iter()
        .filter_map(|n| n.parse::<i32>().ok())
    {
        if pid == me {
            continue;
        }
        let proc = PathBuf::from(format!("/proc/{pid}"));
        // A zombie has no root to read; it is its parent's to reap.
        if std::fs::read_to_string(proc.join("stat")).is_ok_and(|s| s.contains(") Z ")) {
            continue;
        }
        for link in ["root", "cwd"] {
            if std::fs::read_link(proc.join(link)).is_ok_and(|p| p.starts_with(dir)) {
                found.push((pid, format!("{link} under {}", dir.display())));
            }
        }
        if std::fs::read(proc.join("environ"))
            .is_ok_and(|env| env.split(|&b| b == 0).any(|var| var == marker.as_bytes()))
        {
            found.push((pid, format!("started by the test ({marker})")));
        }
    }
    found.dedup_by_key(|(pid, _)| *pid);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_mountinfo_escapes() {
        assert_eq!(unescape_octal("/a\\040b"), "/a b");
        assert_eq!(unescape_octal("/plain"), "/plain");
        assert_eq!(unescape_octal("/trail\\"), "/trail\\");
    }

    #[test]
    fn attributes_only_marked_new_resources() {
        let dir = Path::new("/tmp/testkit/x-abc123");
        let before = Snapshot {
            mounts: ["/tmp/testkit/x-abc123/old".to_string()].into(),
            ..Default::default()
        };
        let after = Snapshot {
            mounts: [
                "/tmp/testkit/x-abc123/old".to_string(),
                "/tmp/testkit/x-abc123/new".to_string(),
                "/somewhere/else".to_string(),
            ]
            .into(),
            links: ["tkabc123veth".to_string(), "tkffffffveth".to_string()].into(),
            rules: [
                "nat -A POSTROUTING -s 10.0.0.0/24 ! -o abc123b1 -j MASQUERADE".to_string(),
                "nat -A POSTROUTING -s 10.0.1.0/24 ! -o ffffffb1 -j MASQUERADE".to_string(),
            ]
            .into(),
            ..Default::default()
        };
        let found: Vec<String> = find(&before, &after, dir, &["abc123"])
            .into_iter()
            .filter(|l| !l.starts_with("process"))
            .collect();
        assert_eq!(
            found,
            [
                "mount /tmp/testkit/x-abc123/new",
                "link tkabc123veth",
                "rule nat -A POSTROUTING -s 10.0.0.0/24 ! -o abc123b1 -j MASQUERADE"
            ]
        );
    }

    #[test]
    fn a_changed_host_node_or_file_is_reported_and_a_marked_one_is_not() {
        let before: HostState = [
            ("/dev/null", "char 1:3"),
            ("/dev/sda", "block 8:0"),
            ("/dev/tkabc123", "char 1:3"),
            ("/etc/hosts", "file 1"),
        ]
        .into_iter()
        .map(|(p, d)| (PathBuf::from(p), d.to_string()))
        .collect();
        let mut after = before.clone();
        after.insert("/dev/null".into(), "not a regular file".into());
        after.remove(Path::new("/dev/sda"));
        after.remove(Path::new("/dev/tkabc123"));
        after.insert("/dev/new".into(), "char 9:9".into());
        let found = host_changes(&before, &after, |n| n.contains("abc123"));
        assert_eq!(
            found,
            [
                "host /dev/null changed: was char 1:3, now not a regular file",
                "host /dev/sda changed: was block 8:0, now gone",
            ]
        );
    }

    #[test]
    fn the_host_state_has_dev_null_and_the_host_files() {
        let state = host_state();
        assert_eq!(state[Path::new("/dev/null")], "char 1:3");
        assert!(state.contains_key(Path::new("/etc/passwd")));
        assert!(!state.keys().any(|p| p.starts_with("/dev/pts")));
    }
}
