//! The counters `docker stats` shows, parsed from either version's files:
//! the memory limit, the page cache Docker leaves out of "usage", and
//! block I/O bytes. Pure functions over file contents, so that both
//! dialects are tested without a kernel.

use crate::cgroup::Stats;
use crate::layout::Version;

/// v1 writes "no limit" as the largest page-aligned `i64`
/// (9223372036854771712); anything from 2^62 up is treated the same.
const V1_UNLIMITED: u64 = 1 << 62;

/// `memory.limit_in_bytes` (v1) or `memory.max` (v2): `None` if unlimited.
pub fn limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse().ok().filter(|&n: &u64| n < V1_UNLIMITED)
}

/// The inactive file cache from `memory.stat`: v1's hierarchical
/// `total_inactive_file` (falling back to `inactive_file`), v2's
/// `inactive_file`.
pub fn inactive_file(memory_stat: &str, version: Version) -> u64 {
    let key = |k: &str| {
        memory_stat.lines().find_map(|l| {
            let (name, value) = l.split_once(' ')?;
            (name == k).then(|| value.trim().parse().ok()).flatten()
        })
    };
    match version {
        Version::V1 => key("total_inactive_file").or_else(|| key("inactive_file")),
        Version::V2 => key("inactive_file"),
    }
    .unwrap_or(0)
}

/// v1 `blkio.*io_service_bytes_recursive`: `MAJ:MIN Read N` lines (and
/// `Write`, `Sync`, `Async`, `Total`); the Read and Write lines of every
/// device summed, as the Docker CLI does.
pub fn blkio_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let (Some(_device), Some(op), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match op.to_ascii_lowercase().as_str() {
            "read" => read += value,
            "write" => write += value,
            _ => {}
        }
    }
    (read, write)
}

/// v2 `io.stat`: `MAJ:MIN rbytes=N wbytes=N rios=N …` per device, summed.
pub fn io_stat_bytes(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for field in text.split_whitespace() {
        let Some((key, value)) = field.split_once('=') else {
            continue;
        };
        let value: u64 = value.parse().unwrap_or(0);
        match key {
            "rbytes" => read += value,
            "wbytes" => write += value,
            _ => {}
        }
    }
    (read, write)
}

impl Stats {
    /// Memory usage as `docker stats` (20.10) shows it: the cgroup's usage
    /// minus the inactive file cache, which the kernel reclaims first and
    /// which would otherwise make every container that read a file look
    /// big.
    pub fn memory_usage_no_cache(&self) -> u64 {
        if self.memory_inactive_file < self.memory_bytes {
            self.memory_bytes - self.memory_inactive_file
        } else {
            self.memory_bytes
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::cgroup::Driver;

    #[test]
    fn limits_read_unlimited_as_none() {
        assert_eq!(limit("9223372036854771712\n"), None);
        assert_eq!(limit("max"), None);
        assert_eq!(limit("67108864"), Some(64 << 20));
    }

    #[test]
    fn inactive_file_per_version() {
        let v1 = "cache 100\ninactive_file 7\ntotal_inactive_file 40\n";
        assert_eq!(inactive_file(v1, Version::V1), 40);
        assert_eq!(inactive_file("inactive_file 7\n", Version::V1), 7);
        let v2 = "anon 10\nfile 20\ninactive_file 12\nactive_file 8\n";
        assert_eq!(inactive_file(v2, Version::V2), 12);
        assert_eq!(inactive_file("", Version::V2), 0);
    }

    #[test]
    fn block_io_sums_devices() {
        let v1 = "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\n\
                  8:16 Read 100\n8:16 Write 0\nTotal 4708\n";
        assert_eq!(blkio_bytes(v1), (4196, 512));
        let v2 = "8:0 rbytes=4096 wbytes=512 rios=1 wios=1 dbytes=0 dios=0\n\
                  8:16 rbytes=100 wbytes=8 rios=1 wios=1\n";
        assert_eq!(io_stat_bytes(v2), (4196, 520));
        assert_eq!(io_stat_bytes(""), (0, 0));
    }

    #[test]
    fn usage_leaves_out_the_inactive_cache() {
        let s = |usage, inactive| Stats {
            memory_bytes: usage,
            memory_inactive_file: inactive,
            ..Default::default()
        };
        assert_eq!(s(100, 30).memory_usage_no_cache(), 70);
        assert_eq!(s(100, 100).memory_usage_no_cache(), 100);
        assert_eq!(s(100, 0).memory_usage_no_cache(), 100);
    }

    fn write(dir: &Path, files: &[(&str, &str)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("usage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn stats_from_a_fake_v1_tree() {
        let root = scratch("v1");
        let mut roots = BTreeMap::new();
        for c in ["cpuacct", "memory", "pids", "blkio"] {
            roots.insert(c.to_string(), root.join(c));
        }
        let cg = Path::new("p/c");
        write(
            &root.join("cpuacct").join(cg),
            &[("cpuacct.usage", "123456789\n")],
        );
        write(
            &root.join("memory").join(cg),
            &[
                ("memory.usage_in_bytes", "1000\n"),
                ("memory.max_usage_in_bytes", "2000\n"),
                ("memory.oom_control", "oom_kill_disable 0\noom_kill 1\n"),
                ("memory.limit_in_bytes", "9223372036854771712\n"),
                ("memory.stat", "inactive_file 1\ntotal_inactive_file 300\n"),
            ],
        );
        write(&root.join("pids").join(cg), &[("pids.current", "3\n")]);
        write(
            &root.join("blkio").join(cg),
            &[
                ("blkio.io_service_bytes_recursive", "Total 0\n"),
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "8:0 Read 10\n8:0 Write 20\n",
                ),
            ],
        );
        let stats = Driver::V1 { roots }.open(cg).stats().unwrap();
        assert_eq!(
            stats,
            Stats {
                cpu_usage_ns: 123_456_789,
                memory_bytes: 1000,
                memory_peak_bytes: Some(2000),
                oom_kills: 1,
                pids: 3,
                memory_limit_bytes: None,
                memory_inactive_file: 300,
                io_read_bytes: 10,
                io_write_bytes: 20,
            }
        );
        assert_eq!(stats.memory_usage_no_cache(), 700);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn stats_from_a_fake_v2_tree() {
        let root = scratch("v2");
        let cg = Path::new("p/c");
        write(
            &root.join(cg),
            &[
                ("cpu.stat", "usage_usec 1500\nuser_usec 1000\n"),
                ("memory.current", "4096\n"),
                ("memory.events", "low 0\noom 0\noom_kill 0\n"),
                ("pids.current", "2\n"),
                ("memory.max", "67108864\n"),
                ("memory.stat", "anon 1024\ninactive_file 1024\n"),
                ("io.stat", "8:0 rbytes=7 wbytes=9 rios=1 wios=1\n"),
            ],
        );
        let stats = Driver::V2 { root: root.clone() }.open(cg).stats().unwrap();
        assert_eq!(stats.cpu_usage_ns, 1_500_000);
        assert_eq!(stats.memory_peak_bytes, None, "no memory.peak before 5.19");
        assert_eq!(stats.memory_limit_bytes, Some(64 << 20));
        assert_eq!(stats.memory_usage_no_cache(), 3072);
        assert_eq!((stats.io_read_bytes, stats.io_write_bytes), (7, 9));
        assert_eq!(stats.pids, 2);
        // Without the files only `docker stats` reads, the rest still works.
        for f in ["memory.max", "memory.stat", "io.stat"] {
            std::fs::remove_file(root.join(cg).join(f)).unwrap();
        }
        let bare = Driver::V2 { root: root.clone() }.open(cg).stats().unwrap();
        assert_eq!(bare.memory_limit_bytes, None);
        assert_eq!(bare.memory_usage_no_cache(), 4096);
        assert_eq!((bare.io_read_bytes, bare.oom_kills), (0, 0));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
