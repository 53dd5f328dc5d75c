//! `update`: changes the resources (and restart policy) of a container,
//! running or not. The new values are merged into the record as Docker's
//! daemon merges them (a zero or absent flag keeps the old value), checked
//! with Docker's messages, written to the live cgroup when the container
//! runs, and only then saved — all under the container's lock, so a
//! concurrent `start` or monitor never sees half an update.

use anyhow::Result;
use clap::Args;
use mini_docker::container::devices;
use mini_docker::container::lifecycle::{self, is_running};
use mini_docker::container::monitor::{limits_of, online_cpus};
use mini_docker::container::record::{Container, HostConfig};
use mini_docker::container::restart::{self, RestartPolicy};
use mini_docker::events::Action;

use super::Context;

#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// CPU shares (relative weight).
    #[arg(short = 'c', long)]
    cpu_shares: Option<u64>,
    /// Number of CPUs.
    #[arg(long)]
    cpus: Option<f64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, allow_hyphen_values = true)]
    cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long)]
    cpuset_cpus: Option<String>,
    /// Memory limit.
    #[arg(short, long)]
    memory: Option<String>,
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    memory_reservation: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable.
    #[arg(long)]
    blkio_weight: Option<u16>,
    /// Restart policy to apply when a container exits.
    #[arg(long)]
    restart: Option<String>,
    #[arg(required = true)]
    containers: Vec<String>,
}

/// Why one container was not updated. `Invalid` is a bad request (Docker
/// prints it bare); `Conflict` is about this container's current settings
/// (Docker prefixes `Cannot update container ID: `).
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error("{0}")]
    Invalid(String),
    #[error("Conflicting options: {0}")]
    Conflict(String),
    #[error("{0}")]
    Limits(String),
}

/// The request, with sizes parsed.
#[derive(Debug, Default, Clone, PartialEq)]
struct Request {
    cpu_shares: u64,
    nano_cpus: u64,
    cpu_period: i64,
    cpu_quota: i64,
    cpuset_cpus: Option<String>,
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    pids_limit: Option<i64>,
    blkio_weight: u16,
    restart: Option<RestartPolicy>,
}

impl UpdateArgs {
    fn any(&self) -> bool {
        self.cpu_shares.is_some()
            || self.cpus.is_some()
            || self.cpu_period.is_some()
            || self.cpu_quota.is_some()
            || self.cpuset_cpus.is_some()
            || self.memory.is_some()
            || self.memory_swap.is_some()
            || self.memory_reservation.is_some()
            || self.pids_limit.is_some()
            || self.blkio_weight.is_some()
            || self.restart.is_some()
    }

    fn request(&self) -> Result<Request, UpdateError> {
        let size = |flag: &str, text: &Option<String>, unlimited: bool| {
            text.as_deref()
                .map(|t| {
                    let parsed = if unlimited {
                        cgroup_demo::size::parse_bytes_or_unlimited(t)
                    } else {
                        cgroup_demo::size::parse_bytes(t)
                    };
                    parsed.map_err(|_| {
                        UpdateError::Invalid(format!(
                            "invalid argument \"{t}\" for \"{flag}\" flag: invalid size: '{t}'"
                        ))
                    })
                })
                .transpose()
                .map(Option::unwrap_or_default)
        };
        let restart = self
            .restart
            .as_deref()
            .map(|r| {
                r.parse::<RestartPolicy>()
                    .map_err(|_| UpdateError::Invalid(format!("invalid restart policy '{r}'")))
            })
            .transpose()?;
        Ok(Request {
            cpu_shares: self.cpu_shares.unwrap_or(0),
            nano_cpus: self.cpus.map_or(0, |c| (c * 1e9).round() as u64),
            cpu_period: self.cpu_period.unwrap_or(0),
            cpu_quota: self.cpu_quota.unwrap_or(0),
            cpuset_cpus: self.cpuset_cpus.clone().filter(|s| !s.is_empty()),
            memory: size("--memory", &self.memory, false)?,
            memory_swap: size("--memory-swap", &self.memory_swap, true)?,
            memory_reservation: size("--memory-reservation", &self.memory_reservation, false)?,
            // Docker takes 0 as "unlimited" too; -1 makes the record say so.
            pids_limit: self.pids_limit.map(|p| if p <= 0 { -1 } else { p }),
            blkio_weight: self.blkio_weight.unwrap_or(0),
            restart,
        })
    }
}

impl Request {
    /// Whether a warning is about a limit this request sets.
    fn concerns(&self, warning: &str) -> bool {
        use cgroup_demo::limits::{NO_BLKIO_WEIGHT, NO_MEMORY_RESERVATION, NO_SWAP_LIMIT};
        match warning {
            NO_BLKIO_WEIGHT => self.blkio_weight != 0,
            NO_MEMORY_RESERVATION => self.memory_reservation != 0,
            NO_SWAP_LIMIT => self.memory != 0 || self.memory_swap != 0,
            w if w.starts_with("Changing requested CPUShares") => self.cpu_shares != 0,
            _ => true,
        }
    }

    /// Docker's checks of the request on its own (before any container
    /// is looked at): the same as `run`'s, except that swap without memory
    /// is fine here (the container may have a memory limit already).
    fn validate(&self) -> Result<(), UpdateError> {
        let limits = cgroup_demo::Limits {
            cpu_shares: (self.cpu_shares != 0).then_some(self.cpu_shares),
            cpus: (self.nano_cpus != 0).then_some(self.nano_cpus as f64 / 1e9),
            cpuset_cpus: self.cpuset_cpus.clone(),
            memory: (self.memory != 0).then_some(self.memory),
            memory_swap: (self.memory != 0 && self.memory_swap != 0).then_some(self.memory_swap),
            pids_limit: self.pids_limit,
            cpu_period: (self.cpu_period != 0).then_some(self.cpu_period),
            cpu_quota: (self.cpu_quota != 0).then_some(self.cpu_quota),
            memory_reservation: (self.memory_reservation != 0).then_some(self.memory_reservation),
            blkio_weight: (self.blkio_weight != 0).then_some(self.blkio_weight),
        };
        limits
            .resolve(online_cpus())
            .map(drop)
            .map_err(|e| UpdateError::Invalid(e.to_string()))
    }

    /// The container's new `HostConfig`: Docker's merge (only what the
    /// request sets changes) and its conflicts with what is already set.
    fn merge(&self, current: &HostConfig) -> Result<HostConfig, UpdateError> {
        let conflict = |m: &str| Err(UpdateError::Conflict(m.into()));
        if self.nano_cpus > 0 && current.cpu_period > 0 {
            return conflict("Nano CPUs cannot be updated as CPU Period has already been set");
        }
        if self.nano_cpus > 0 && current.cpu_quota > 0 {
            return conflict("Nano CPUs cannot be updated as CPU Quota has already been set");
        }
        if self.cpu_period > 0 && current.nano_cpus > 0 {
            return conflict("CPU Period cannot be updated as NanoCPUs has already been set");
        }
        if self.cpu_quota > 0 && current.nano_cpus > 0 {
            return conflict("CPU Quota cannot be updated as NanoCPUs has already been set");
        }
        let mut new = current.clone();
        if self.cpu_shares != 0 {
            new.cpu_shares = self.cpu_shares;
        }
        if self.nano_cpus != 0 {
            new.nano_cpus = self.nano_cpus;
        }
        if self.cpu_period != 0 {
            new.cpu_period = self.cpu_period;
        }
        if self.cpu_quota != 0 {
            new.cpu_quota = self.cpu_quota;
        }
        if let Some(set) = &self.cpuset_cpus {
            new.cpuset_cpus = set.clone();
        }
        // The record may leave swap at 0 for "twice the memory" (what
        // `run -m` without `--memory-swap` means): Docker's record holds the
        // number, and its check compares against it.
        let current_swap = match (current.memory_swap, current.memory) {
            (0, m) if m > 0 => 2 * m,
            (s, _) => s,
        };
        if self.memory != 0 {
            if self.memory_swap == 0 && self.memory > current_swap {
                return conflict(
                    "Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time",
                );
            }
            new.memory = self.memory;
            new.memory_swap = current_swap;
        }
        if self.memory_swap != 0 {
            new.memory_swap = self.memory_swap;
        }
        if self.memory_reservation != 0 {
            new.memory_reservation = self.memory_reservation;
        }
        if let Some(p) = self.pids_limit {
            new.pids_limit = p;
        }
        if self.blkio_weight != 0 {
            new.blkio_weight = self.blkio_weight;
        }
        if let Some(policy) = &self.restart {
            if current.auto_remove && policy.name != restart::Name::No {
                return Err(UpdateError::Limits(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                        .into(),
                ));
            }
            new.restart_policy = policy.clone();
        }
        Ok(new)
    }
}

/// `update [OPTIONS] CONTAINER...`: prints each container as named, then
/// any warnings; failures are reported per container (exit 1).
pub fn update(ctx: &Context, args: &UpdateArgs) -> Result<i32> {
    if !args.any() {
        anyhow::bail!("you must provide one or more flags when using this command");
    }
    let request = args.request().and_then(|r| r.validate().map(|()| r));
    let mut failed = false;
    let mut warnings: Vec<String> = Vec::new();
    for key in &args.containers {
        let result = request
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|r| update_one(ctx, key, r));
        match result {
            Ok(w) => {
                println!("{key}");
                for w in w {
                    if !warnings.contains(&w) {
                        warnings.push(w);
                    }
                }
            }
            Err(e) => {
                eprintln!("Error response from daemon: {e:#}");
                failed = true;
            }
        }
    }
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    Ok(i32::from(failed))
}

/// One container, under its lock: merge, check, apply live, record.
fn update_one(ctx: &Context, key: &str, request: &Request) -> Result<Vec<String>> {
    let found = ctx.containers.find(key)?;
    let _lock = ctx.containers.lock(&found.id)?;
    // Re-read under the lock: a rename or another update may have won.
    let mut c: Container = ctx.containers.find(&found.id)?;
    let cannot =
        |e: &dyn std::fmt::Display| anyhow::anyhow!("Cannot update container {}: {e}", c.id);
    let host_config = request.merge(&c.host_config).map_err(|e| cannot(&e))?;
    let mut updated = c.clone();
    updated.host_config = host_config;
    let resolved = limits_of(&updated)
        .resolve(online_cpus())
        .map_err(|e| cannot(&e))?;
    let mut warnings = resolved.warnings.clone();
    if is_running(&ctx.containers.runtime(&c.id)?) {
        let cgroup = lifecycle::cgroup(&updated)?;
        warnings = cgroup.set(&resolved).map_err(|e| cannot(&e))?;
        // As runc's update: the device policy is written again with the
        // other resources (on v2 a fresh program swapped in atomically),
        // so the cgroup always holds exactly the policy on record.
        let h = &updated.host_config;
        let policy = devices::policy(h.privileged, &h.devices, &h.device_cgroup_rules)?;
        cgroup.set_devices(&policy.rules).map_err(|e| cannot(&e))?;
    }
    c.host_config = updated.host_config;
    ctx.containers.save_config(&c)?;
    ctx.containers.record(Action::Update, &c, &[]);
    // Every limit is rewritten, but only the request's own are warned
    // about (as Docker warns): a weight discarded at create is not news.
    Ok(warnings
        .into_iter()
        .filter(|w| request.concerns(w))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 1 << 20;

    fn args(f: impl FnOnce(&mut UpdateArgs)) -> Request {
        let mut a = UpdateArgs::default();
        f(&mut a);
        a.request().unwrap()
    }

    #[test]
    fn memory_merges_against_the_effective_swap() {
        // run -m 64m: swap is twice that; -m 100m fits under it and keeps it.
        let current = HostConfig {
            memory: 64 * M,
            ..Default::default()
        };
        let r = args(|a| a.memory = Some("100m".into()));
        let new = r.merge(&current).unwrap();
        assert_eq!((new.memory, new.memory_swap), (100 * M, 128 * M));
        // Beyond it: Docker's conflict.
        let r = args(|a| a.memory = Some("200m".into()));
        assert_eq!(
            r.merge(&current).unwrap_err().to_string(),
            "Conflicting options: Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"
        );
        // No limit before (swap 0): the same conflict, as Docker says it.
        assert!(r.merge(&HostConfig::default()).is_err());
        let both = args(|a| {
            a.memory = Some("200m".into());
            a.memory_swap = Some("-1".into());
        });
        let new = both.merge(&current).unwrap();
        assert_eq!((new.memory, new.memory_swap), (200 * M, -1));
    }

    #[test]
    fn cpu_conflicts_and_merges() {
        let nano = HostConfig {
            nano_cpus: 1_500_000_000,
            ..Default::default()
        };
        let period = args(|a| a.cpu_period = Some(50_000));
        assert_eq!(
            period.merge(&nano).unwrap_err().to_string(),
            "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
        );
        let quota = HostConfig {
            cpu_quota: 20_000,
            ..Default::default()
        };
        let cpus = args(|a| a.cpus = Some(1.0));
        assert_eq!(
            cpus.merge(&quota).unwrap_err().to_string(),
            "Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set"
        );
        let shares = args(|a| a.cpu_shares = Some(512));
        let new = shares.merge(&nano).unwrap();
        assert_eq!((new.cpu_shares, new.nano_cpus), (512, 1_500_000_000));
        // Both in one request: the request's own check, bare.
        let both = args(|a| {
            a.cpus = Some(1.0);
            a.cpu_quota = Some(20_000);
        });
        assert_eq!(
            both.validate().unwrap_err().to_string(),
            "Conflicting options: Nano CPUs and CPU Quota cannot both be set"
        );
    }

    #[test]
    fn request_checks_follow_docker() {
        let small = args(|a| a.memory = Some("1m".into()));
        assert_eq!(
            small.validate().unwrap_err().to_string(),
            "Minimum memory limit allowed is 6MB"
        );
        let swap_only = args(|a| a.memory_swap = Some("32m".into()));
        assert!(swap_only.validate().is_ok(), "the container may have -m");
        let mut a = UpdateArgs {
            restart: Some("bogus".into()),
            ..Default::default()
        };
        assert_eq!(
            a.request().unwrap_err().to_string(),
            "invalid restart policy 'bogus'"
        );
        a.restart = Some("always".into());
        let auto = HostConfig {
            auto_remove: true,
            ..Default::default()
        };
        assert_eq!(
            a.request().unwrap().merge(&auto).unwrap_err().to_string(),
            "Restart policy cannot be updated because AutoRemove is enabled for the container"
        );
        assert_eq!(args(|a| a.pids_limit = Some(0)).pids_limit, Some(-1));
        let shares = args(|a| a.cpu_shares = Some(512));
        assert!(!shares.concerns(cgroup_demo::limits::NO_BLKIO_WEIGHT));
        assert!(args(|a| a.blkio_weight = Some(300)).concerns(cgroup_demo::limits::NO_BLKIO_WEIGHT));
        assert!(!UpdateArgs::default().any());
    }
}
