//! Docker's resource flags, Docker's checks, and the files each one writes
//! on cgroup v1 and on cgroup v2.

use crate::layout::Version;
use crate::{Error, Result};

/// Linux's bounds for `cpu.shares` (`MIN_SHARES`, `MAX_SHARES`).
pub const MIN_SHARES: u64 = 2;
pub const MAX_SHARES: u64 = 262_144;
/// Docker's smallest `--memory`.
pub const MIN_MEMORY: i64 = 6 << 20;
/// The CFS period Docker uses for `--cpus` (and the kernel's default).
pub const CPU_PERIOD: u64 = 100_000;
/// Docker's bounds for `--cpu-period` (1 ms to 1 s) and the smallest
/// `--cpu-quota` (1 ms), in microseconds.
pub const MIN_CPU_PERIOD: i64 = 1_000;
pub const MAX_CPU_PERIOD: i64 = 1_000_000;
pub const MIN_CPU_QUOTA: i64 = 1_000;
/// Docker's smallest `--memory-reservation` (the same as `--memory`'s).
pub const MIN_MEMORY_RESERVATION: i64 = MIN_MEMORY;
/// Docker's range for `--blkio-weight` (0 means "not set").
pub const MIN_BLKIO_WEIGHT: u16 = 10;
pub const MAX_BLKIO_WEIGHT: u16 = 1000;

/// Docker's warning when the host has no Block I/O weight to set.
pub const NO_BLKIO_WEIGHT: &str =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
/// Docker's warning when the host has no memory soft limit to set.
pub const NO_MEMORY_RESERVATION: &str = "Your kernel does not support memory soft limit capabilities or the cgroup is not mounted. Limitation discarded.";
/// Docker's warning when the host has no swap limit to set.
pub const NO_SWAP_LIMIT: &str = "Your kernel does not support swap limit capabilities or the cgroup is not mounted. Memory limited without swap.";

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
    /// `--cpu-period`: the CFS period in microseconds (0 = not set).
    pub cpu_period: Option<i64>,
    /// `--cpu-quota`: CPU time per period in microseconds; negative is
    /// unlimited (0 = not set).
    pub cpu_quota: Option<i64>,
    /// `--memory-reservation`: the memory soft limit, in bytes.
    pub memory_reservation: Option<i64>,
    /// `--blkio-weight`: a relative weight, 10..=1000 (0 = not set).
    pub blkio_weight: Option<u16>,
}

/// The CFS bandwidth quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// No limit (`-1` on v1, `max` on v2).
    Unlimited,
    /// Microseconds of CPU time per period.
    Micros(u64),
}

/// CFS bandwidth: what `--cpus`, `--cpu-quota` and `--cpu-period` set.
/// `None` parts are left as the kernel has them (on v2, whose single
/// `cpu.max` holds both, an absent quota is `max` and an absent period is
/// the default 100 ms — runc's reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    pub quota: Option<Quota>,
    pub period: Option<u64>,
}

/// Limits after Docker's checks and defaults, ready to write.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resolved {
    pub cpu_shares: Option<u64>,
    /// CFS quota and period.
    pub cpu_max: Option<CpuMax>,
    pub cpuset_cpus: Option<String>,
    pub memory: Option<i64>,
    /// Memory + swap; `-1` unlimited.
    pub memory_swap: Option<i64>,
    /// `None`: unlimited (`max`).
    pub pids_max: Option<Option<u64>>,
    /// The memory soft limit (v1) or protection (v2), in bytes.
    pub memory_reservation: Option<i64>,
    /// 10..=1000.
    pub blkio_weight: Option<u16>,
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
        let period = self.cpu_period.filter(|&p| p != 0);
        let quota = self.cpu_quota.filter(|&q| q != 0);
        if self.cpus.is_some() && period.is_some_and(|p| p > 0) {
            return Err(Error::Invalid(
                "Conflicting options: Nano CPUs and CPU Period cannot both be set".into(),
            ));
        }
        if self.cpus.is_some() && quota.is_some_and(|q| q > 0) {
            return Err(Error::Invalid(
                "Conflicting options: Nano CPUs and CPU Quota cannot both be set".into(),
            ));
        }
        if let Some(cpus) = self.cpus {
            if !(0.01..=online_cpus as f64).contains(&cpus) {
                return Err(Error::Invalid(format!(
                    "Range of CPUs is from 0.01 to {online_cpus}.00, as there are only {online_cpus} CPUs available"
                )));
            }
            let quota = (cpus * CPU_PERIOD as f64).round() as u64;
            r.cpu_max = Some(CpuMax {
                quota: Some(Quota::Micros(quota)),
                period: Some(CPU_PERIOD),
            });
        }
        if period.is_some_and(|p| !(MIN_CPU_PERIOD..=MAX_CPU_PERIOD).contains(&p)) {
            return Err(Error::Invalid(
                "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
                    .into(),
            ));
        }
        if quota.is_some_and(|q| q > 0 && q < MIN_CPU_QUOTA) {
            return Err(Error::Invalid(
                "CPU cfs quota can not be less than 1ms (i.e. 1000)".into(),
            ));
        }
        if period.is_some() || quota.is_some() {
            // As Docker: an explicit period or quota overrides what
            // `--cpus` implied (only a negative quota can meet `--cpus`).
            let mut max = r.cpu_max.unwrap_or(CpuMax {
                quota: None,
                period: None,
            });
            if let Some(p) = period {
                max.period = Some(p as u64);
            }
            if let Some(q) = quota {
                max.quota = Some(if q < 0 {
                    Quota::Unlimited
                } else {
                    Quota::Micros(q as u64)
                });
            }
            r.cpu_max = Some(max);
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
        if let Some(reservation) = self.memory_reservation.filter(|&m| m > 0) {
            if reservation < MIN_MEMORY_RESERVATION {
                return Err(Error::Invalid(
                    "Minimum memory reservation allowed is 6MB".into(),
                ));
            }
            if r.memory.is_some_and(|m| m < reservation) {
                return Err(Error::Invalid(
                    "Minimum memory limit can not be less than memory reservation limit, see usage"
                        .into(),
                ));
            }
            r.memory_reservation = Some(reservation);
        }
        if let Some(weight) = self.blkio_weight.filter(|&w| w != 0) {
            if !(MIN_BLKIO_WEIGHT..=MAX_BLKIO_WEIGHT).contains(&weight) {
                return Err(Error::Invalid(
                    "Range of blkio weight is from 10 to 1000".into(),
                ));
            }
            r.blkio_weight = Some(weight);
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
        if let Some(CpuMax { quota, period }) = self.cpu_max {
            if v1 {
                if let Some(period) = period {
                    out.push(("cpu.cfs_period_us", period.to_string()));
                }
                match quota {
                    Some(Quota::Micros(q)) => out.push(("cpu.cfs_quota_us", q.to_string())),
                    Some(Quota::Unlimited) => out.push(("cpu.cfs_quota_us", "-1".into())),
                    None => {}
                }
            } else {
                let quota = match quota {
                    Some(Quota::Micros(q)) => q.to_string(),
                    Some(Quota::Unlimited) | None => "max".into(),
                };
                let period = period.unwrap_or(CPU_PERIOD);
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
        if let Some(reservation) = self.memory_reservation {
            out.push(if v1 {
                ("memory.soft_limit_in_bytes", reservation.to_string())
            } else {
                ("memory.low", reservation.to_string())
            });
        }
        if let Some(weight) = self.blkio_weight {
            out.push(if v1 {
                ("blkio.weight", weight.to_string())
            } else {
                ("io.bfq.weight", weight.to_string())
            });
        }
        if let Some(pids) = self.pids_max {
            out.push(("pids.max", pids.map_or("max".into(), |p| p.to_string())));
        }
        out
    }
}

/// Where a limit's preferred file is missing, the file that holds the same
/// setting on other kernels, with the value converted for it:
///
/// - v1 `blkio.weight` (CFQ, gone since Linux 5.0) → `blkio.bfq.weight`
///   (BFQ; same 10..1000 scale);
/// - v2 `io.bfq.weight` (BFQ) → `io.weight` (the generic weight, 1..10000,
///   used by `io.cost`): the range 10..1000 mapped linearly onto it.
///
/// `None` when there is no alternative: the caller then warns and skips.
pub fn fallback(file: &str, value: &str) -> Option<(&'static str, String)> {
    match file {
        "blkio.weight" => Some(("blkio.bfq.weight", value.to_string())),
        "io.bfq.weight" => {
            let weight: u16 = value.parse().ok()?;
            Some(("io.weight", blkio_to_io_weight(weight).to_string()))
        }
        _ => None,
    }
}

/// The blkio weight range [10, 1000] onto v2's `io.weight` [1, 10000],
/// linearly (runc's conversion): 10 → 1, 500 → 4950, 1000 → 10000.
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    let w = u64::from(weight.clamp(MIN_BLKIO_WEIGHT, MAX_BLKIO_WEIGHT));
    1 + (w - u64::from(MIN_BLKIO_WEIGHT)) * 9_999 / 990
}

/// The warning Docker gives when a limit's file is missing on this host,
/// for the limits it discards rather than refuses.
pub fn missing_file_warning(file: &str) -> Option<&'static str> {
    match file {
        "memory.memsw.limit_in_bytes" | "memory.swap.max" => Some(NO_SWAP_LIMIT),
        "memory.soft_limit_in_bytes" | "memory.low" => Some(NO_MEMORY_RESERVATION),
        "blkio.weight" | "blkio.bfq.weight" | "io.bfq.weight" | "io.weight" => {
            Some(NO_BLKIO_WEIGHT)
        }
        _ => None,
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
            ..Default::default()
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
        assert_eq!(
            cpus(0.5).unwrap().cpu_max,
            Some(CpuMax {
                quota: Some(Quota::Micros(50_000)),
                period: Some(100_000)
            })
        );
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

    fn resolve(limits: Limits) -> Result<Resolved> {
        limits.resolve(2)
    }

    #[test]
    fn cpu_period_and_quota_follow_docker() {
        let cfs = |period, quota| {
            resolve(Limits {
                cpu_period: period,
                cpu_quota: quota,
                ..Default::default()
            })
        };
        let both = cfs(Some(50_000), Some(25_000)).unwrap();
        assert_eq!(
            both.files(Version::V1),
            [
                ("cpu.cfs_period_us", "50000".to_string()),
                ("cpu.cfs_quota_us", "25000".into())
            ]
        );
        assert_eq!(both.files(Version::V2), [("cpu.max", "25000 50000".into())]);
        // One without the other: v1 leaves the other file alone; v2's one
        // file takes the default period, or no quota (runc's reading).
        let quota_only = cfs(None, Some(30_000)).unwrap();
        assert_eq!(
            quota_only.files(Version::V1),
            [("cpu.cfs_quota_us", "30000".into())]
        );
        assert_eq!(
            quota_only.files(Version::V2),
            [("cpu.max", "30000 100000".into())]
        );
        let period_only = cfs(Some(20_000), None).unwrap();
        assert_eq!(
            period_only.files(Version::V1),
            [("cpu.cfs_period_us", "20000".into())]
        );
        assert_eq!(
            period_only.files(Version::V2),
            [("cpu.max", "max 20000".into())]
        );
        // A negative quota is unlimited; 0 means not set.
        let unlimited = cfs(None, Some(-1)).unwrap();
        assert_eq!(
            unlimited.files(Version::V1),
            [("cpu.cfs_quota_us", "-1".into())]
        );
        assert_eq!(
            unlimited.files(Version::V2),
            [("cpu.max", "max 100000".into())]
        );
        assert_eq!(cfs(Some(0), Some(0)).unwrap().cpu_max, None);
        // Docker's bounds and messages.
        let err = |p, q| cfs(p, q).unwrap_err().to_string();
        let period_message =
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)";
        assert_eq!(err(Some(999), None), period_message);
        assert_eq!(err(Some(1_000_001), None), period_message);
        assert_eq!(err(Some(-5), None), period_message);
        assert_eq!(
            err(None, Some(999)),
            "CPU cfs quota can not be less than 1ms (i.e. 1000)"
        );
        assert!(cfs(Some(1_000), Some(1_000)).is_ok());
        assert!(cfs(Some(1_000_000), None).is_ok());
    }

    #[test]
    fn cpus_conflicts_with_period_and_quota() {
        let with_cpus = |period, quota| {
            resolve(Limits {
                cpus: Some(1.0),
                cpu_period: period,
                cpu_quota: quota,
                ..Default::default()
            })
        };
        assert_eq!(
            with_cpus(Some(50_000), None).unwrap_err().to_string(),
            "Conflicting options: Nano CPUs and CPU Period cannot both be set"
        );
        assert_eq!(
            with_cpus(None, Some(50_000)).unwrap_err().to_string(),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
        // Docker only refuses positive values; -1 lifts the quota again.
        let lifted = with_cpus(None, Some(-1)).unwrap();
        assert_eq!(
            lifted.files(Version::V1),
            [
                ("cpu.cfs_period_us", "100000".into()),
                ("cpu.cfs_quota_us", "-1".into())
            ]
        );
    }

    #[test]
    fn memory_reservation_follows_docker() {
        let reserve = |memory, reservation| {
            resolve(Limits {
                memory,
                memory_reservation: reservation,
                ..Default::default()
            })
        };
        let r = reserve(None, Some(32 * M)).unwrap();
        assert_eq!(
            r.files(Version::V1),
            [("memory.soft_limit_in_bytes", (32 * M).to_string())]
        );
        assert_eq!(r.files(Version::V2), [("memory.low", (32 * M).to_string())]);
        let with_limit = reserve(Some(64 * M), Some(32 * M)).unwrap();
        assert_eq!(
            with_limit.files(Version::V2).last(),
            Some(&("memory.low", (32 * M).to_string()))
        );
        assert_eq!(
            reserve(None, Some(M)).unwrap_err().to_string(),
            "Minimum memory reservation allowed is 6MB"
        );
        assert_eq!(
            reserve(Some(64 * M), Some(128 * M))
                .unwrap_err()
                .to_string(),
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        );
        assert_eq!(reserve(None, Some(0)).unwrap().memory_reservation, None);
    }

    #[test]
    fn blkio_weight_follows_docker() {
        let weight = |w| {
            resolve(Limits {
                blkio_weight: Some(w),
                ..Default::default()
            })
        };
        let r = weight(300).unwrap();
        assert_eq!(r.files(Version::V1), [("blkio.weight", "300".into())]);
        assert_eq!(r.files(Version::V2), [("io.bfq.weight", "300".into())]);
        assert_eq!(weight(0).unwrap().blkio_weight, None, "0 is unset");
        for bad in [1, 9, 1001, 65_535] {
            assert_eq!(
                weight(bad).unwrap_err().to_string(),
                "Range of blkio weight is from 10 to 1000"
            );
        }
        assert!(weight(10).is_ok() && weight(1000).is_ok());
    }

    #[test]
    fn blkio_weight_falls_back_per_kernel() {
        // v1 without CFQ: BFQ's file, same scale.
        assert_eq!(
            fallback("blkio.weight", "300"),
            Some(("blkio.bfq.weight", "300".into()))
        );
        // v2 without BFQ: io.weight, converted.
        assert_eq!(
            fallback("io.bfq.weight", "10"),
            Some(("io.weight", "1".into()))
        );
        assert_eq!(
            fallback("io.bfq.weight", "1000"),
            Some(("io.weight", "10000".into()))
        );
        assert_eq!(blkio_to_io_weight(500), 4950);
        assert_eq!(blkio_to_io_weight(0), 0);
        assert_eq!(fallback("blkio.bfq.weight", "300"), None);
        assert_eq!(fallback("memory.low", "1"), None);
        assert_eq!(missing_file_warning("io.weight"), Some(NO_BLKIO_WEIGHT));
        assert_eq!(
            missing_file_warning("memory.low"),
            Some(NO_MEMORY_RESERVATION)
        );
        assert_eq!(missing_file_warning("pids.max"), None);
    }
}
