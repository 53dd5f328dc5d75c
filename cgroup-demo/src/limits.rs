//! Docker's resource flags, Docker's checks, and the files each one writes
//! on cgroup v1 and on cgroup v2.

use crate::layout::Version;
use crate::{Error, Result};

/// Linux's bounds for `cpu.shares` (`MIN_SHARES`, `MAX_SHARES`).
pub const MIN_SHARES: u64 = 2;
pub const MAX_SHARES: u64 = 262_144;
/// Docker's smallest `--memory`.
pub const MIN_MEMORY: i64 = 6 << 20;
/// The CFS period Docker uses for `--cpus`.
pub const CPU_PERIOD: u64 = 100_000;

/// The flags as a user gave them; `None` means not given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Limits {
    /// `-c, --cpu-shares`: a relative weight (default 1024).
    pub cpu_shares: Option<u64>,
    /// `--cpus`: how many CPUs' worth of time per period.
    pub cpus: Option<f64>,
    /// `--cpuset-cpus`: which CPUs, as `0-2,4`.
    pub cpuset_cpus: Option<String>,
    /// `-m, --memory`, in bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`: memory **plus** swap, in bytes; `-1` is unlimited.
    pub memory_swap: Option<i64>,
    /// `--pids-limit`: `0` or `-1` is unlimited.
    pub pids_limit: Option<i64>,
}

/// Limits after Docker's checks and defaults, ready to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub cpu_shares: Option<u64>,
    /// `(quota, period)` in microseconds.
    pub cpu_quota: Option<(u64, u64)>,
    pub cpuset_cpus: Option<String>,
    pub memory: Option<i64>,
    /// Memory + swap; `-1` unlimited.
    pub memory_swap: Option<i64>,
    /// `None`: unlimited (`max`).
    pub pids_max: Option<Option<u64>>,
    /// What Docker would print as warnings (values it adjusted).
    pub warnings: Vec<String>,
}

impl Limits {
    /// Applies Docker's validation (with Docker's messages) and defaults:
    /// `--memory` without `--memory-swap` allows as much swap as memory
    /// (a total of twice the memory); `--memory-swap` equal to `--memory`
    /// means no swap; `-1` means unlimited swap.
    pub fn resolve(&self, online_cpus: usize) -> Result<Resolved> {
        let mut r = Resolved::default();
        if let Some(shares) = self.cpu_shares.filter(|&s| s != 0) {
            let clamped = shares.clamp(MIN_SHARES, MAX_SHARES);
            if clamped != shares {
                let which = if shares < MIN_SHARES {
                    "minimum"
                } else {
                    "maximum"
                };
                r.warnings.push(format!(
                    "Changing requested CPUShares of {shares} to {which} allowed of {clamped}"
                ));
            }
            r.cpu_shares = Some(clamped);
        }
        if let Some(cpus) = self.cpus {
            if !(0.01..=online_cpus as f64).contains(&cpus) {
                return Err(Error::Invalid(format!(
                    "Range of CPUs is from 0.01 to {online_cpus}.00, as there are only {online_cpus} CPUs available"
                )));
            }
            let quota = (cpus * CPU_PERIOD as f64).round() as u64;
            r.cpu_quota = Some((quota, CPU_PERIOD));
        }
        if let Some(list) = &self.cpuset_cpus {
            let cpus = parse_cpu_list(list)?;
            if cpus.iter().any(|&c| c >= online_cpus) {
                return Err(Error::Invalid(format!(
                    "Requested CPUs are not available - requested {list}, available: 0-{}",
                    online_cpus.saturating_sub(1)
                )));
            }
            r.cpuset_cpus = Some(list.clone());
        }
        match (
            self.memory.filter(|&m| m != 0),
            self.memory_swap.filter(|&s| s != 0),
        ) {
            (None, Some(s)) if s > 0 => {
                return Err(Error::Invalid(
                    "You should always set the Memory limit when using Memoryswap limit, see usage"
                        .into(),
                ))
            }
            (None, _) => {}
            (Some(m), _) if m < MIN_MEMORY => {
                return Err(Error::Invalid("Minimum memory limit allowed is 6MB".into()))
            }
            (Some(m), Some(s)) if s > 0 && s < m => {
                return Err(Error::Invalid(
                    "Minimum memoryswap limit should be larger than memory limit, see usage".into(),
                ))
            }
            (Some(m), swap) => {
                r.memory = Some(m);
                r.memory_swap = Some(match swap {
                    None => 2 * m,
                    Some(s) if s < 0 => -1,
                    Some(s) => s,
                });
            }
        }
        if let Some(p) = self.pids_limit {
            r.pids_max = Some((p > 0).then_some(p as u64));
        }
        Ok(r)
    }
}

impl Resolved {
    /// The `(file, value)` pairs to write, in order, for a cgroup version.
    /// On v1 `memory.limit_in_bytes` comes before `memory.memsw.limit_in_bytes`
    /// because the kernel keeps memsw ≥ memory at all times (see
    /// [`crate::Cgroup::set`] for changing existing limits).
    pub fn files(&self, version: Version) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let v1 = version == Version::V1;
        if let Some(shares) = self.cpu_shares {
            out.push(if v1 {
                ("cpu.shares", shares.to_string())
            } else {
                ("cpu.weight", shares_to_weight(shares).to_string())
            });
        }
        if let Some((quota, period)) = self.cpu_quota {
            if v1 {
                out.push(("cpu.cfs_period_us", period.to_string()));
                out.push(("cpu.cfs_quota_us", quota.to_string()));
            } else {
                out.push(("cpu.max", format!("{quota} {period}")));
            }
        }
        if let Some(cpus) = &self.cpuset_cpus {
            out.push(("cpuset.cpus", cpus.clone()));
        }
        if let Some(memory) = self.memory {
            let swap = self.memory_swap.unwrap_or(-1);
            if v1 {
                out.push(("memory.limit_in_bytes", memory.to_string()));
                out.push(("memory.memsw.limit_in_bytes", swap.to_string()));
            } else {
                out.push(("memory.max", memory.to_string()));
                let swap_only = if swap < 0 {
                    "max".to_string()
                } else {
                    (swap - memory).to_string()
                };
                out.push(("memory.swap.max", swap_only));
            }
        }
        if let Some(pids) = self.pids_max {
            out.push(("pids.max", pids.map_or("max".into(), |p| p.to_string())));
        }
        out
    }
}

/// runc's (opencontainers/cgroups') conversion of v1 shares [2, 262144] to
/// v2 weight [1, 10000]: a quadratic in log2(shares) chosen so that the
/// minimum, the default (1024 → 100) and the maximum map onto each other.
/// Older runc used a straight line, which mapped the default 1024 to 39.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    if shares <= MIN_SHARES {
        return 1;
    }
    if shares >= MAX_SHARES {
        return 10_000;
    }
    let l = (shares as f64).log2();
    let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
    10f64.powf(exponent).ceil() as u64
}

/// `0-2,4` → `[0, 1, 2, 4]`.
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>> {
    let invalid = || Error::Invalid(format!("Invalid value {list} for cpuset cpus"));
    let mut cpus = Vec::new();
    for part in list.split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: usize = lo.trim().parse().map_err(|_| invalid())?;
        let hi: usize = hi.trim().parse().map_err(|_| invalid())?;
        if lo > hi {
            return Err(invalid());
        }
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(memory: Option<i64>, swap: Option<i64>) -> Result<Resolved> {
        Limits {
            memory,
            memory_swap: swap,
            ..Default::default()
        }
        .resolve(2)
    }

    const M: i64 = 1 << 20;

    #[test]
    fn memory_swap_follows_dockers_semantics() {
        // --memory alone: swap as large as memory, i.e. a total of 2×.
        assert_eq!(
            limits(Some(64 * M), None).unwrap().memory_swap,
            Some(128 * M)
        );
        // The total is what --memory-swap says.
        assert_eq!(
            limits(Some(64 * M), Some(128 * M)).unwrap().memory_swap,
            Some(128 * M)
        );
        // Equal: no swap. -1: unlimited.
        assert_eq!(
            limits(Some(64 * M), Some(64 * M)).unwrap().memory_swap,
            Some(64 * M)
        );
        assert_eq!(
            limits(Some(64 * M), Some(-1)).unwrap().memory_swap,
            Some(-1)
        );
    }

    #[test]
    fn bad_memory_combinations_get_dockers_errors() {
        let err = |m, s| limits(m, s).unwrap_err().to_string();
        assert_eq!(
            err(None, Some(128 * M)),
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        );
        assert_eq!(
            err(Some(128 * M), Some(64 * M)),
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        );
        assert_eq!(err(Some(M), None), "Minimum memory limit allowed is 6MB");
        // -1 without --memory is accepted (nothing to limit).
        assert_eq!(limits(None, Some(-1)).unwrap().memory, None);
    }

    #[test]
    fn files_for_each_version() {
        let r = Limits {
            cpu_shares: Some(512),
            cpus: Some(1.5),
            cpuset_cpus: Some("0".into()),
            memory: Some(64 * M),
            memory_swap: Some(128 * M),
            pids_limit: Some(20),
        }
        .resolve(2)
        .unwrap();
        let v1: Vec<(&str, String)> = r.files(Version::V1);
        assert_eq!(
            v1,
            [
                ("cpu.shares", "512".to_string()),
                ("cpu.cfs_period_us", "100000".into()),
                ("cpu.cfs_quota_us", "150000".into()),
                ("cpuset.cpus", "0".into()),
                ("memory.limit_in_bytes", (64 * M).to_string()),
                ("memory.memsw.limit_in_bytes", (128 * M).to_string()),
                ("pids.max", "20".into()),
            ]
        );
        let v2 = r.files(Version::V2);
        assert_eq!(
            v2,
            [
                ("cpu.weight", shares_to_weight(512).to_string()),
                ("cpu.max", "150000 100000".into()),
                ("cpuset.cpus", "0".into()),
                ("memory.max", (64 * M).to_string()),
                ("memory.swap.max", (64 * M).to_string()),
                ("pids.max", "20".into()),
            ]
        );
        let unlimited = limits(Some(64 * M), Some(-1)).unwrap().files(Version::V2);
        assert_eq!(unlimited[1], ("memory.swap.max", "max".into()));
    }

    #[test]
    fn shares_map_to_weights_like_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 100);
        assert_eq!(shares_to_weight(262_144), 10_000);
        assert!(shares_to_weight(512) < 100 && shares_to_weight(2048) > 100);
    }

    #[test]
    fn cpu_flags_are_checked() {
        let cpus = |c| {
            Limits {
                cpus: Some(c),
                ..Default::default()
            }
            .resolve(2)
        };
        assert_eq!(cpus(0.5).unwrap().cpu_quota, Some((50_000, 100_000)));
        assert_eq!(
            cpus(3.0).unwrap_err().to_string(),
            "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available"
        );
        let shares = Limits {
            cpu_shares: Some(1),
            ..Default::default()
        }
        .resolve(2)
        .unwrap();
        assert_eq!(shares.cpu_shares, Some(2));
        assert_eq!(shares.warnings.len(), 1);
        let set = |s: &str| {
            Limits {
                cpuset_cpus: Some(s.into()),
                ..Default::default()
            }
            .resolve(2)
        };
        assert!(set("0-1").is_ok());
        assert!(set("0-3")
            .unwrap_err()
            .to_string()
            .starts_with("Requested CPUs are not available"));
        assert!(set("1-0").is_err());
        assert_eq!(parse_cpu_list("0-2,4").unwrap(), [0, 1, 2, 4]);
    }

    #[test]
    fn pids_limit_zero_or_negative_is_unlimited() {
        let p = |n| {
            Limits {
                pids_limit: Some(n),
                ..Default::default()
            }
            .resolve(2)
            .unwrap()
            .pids_max
        };
        assert_eq!(p(20), Some(Some(20)));
        assert_eq!(p(0), Some(None));
        assert_eq!(p(-1), Some(None));
    }
}
