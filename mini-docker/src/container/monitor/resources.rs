//! What a run holds on the host: its cgroup with the limits and device
//! policy, its interfaces, addresses, published ports and embedded DNS;
//! given back after each run (and for good in `tear_down`).

use std::path::Path;

use cgroup_demo::{Cgroup, Driver, Limits, Resolved};
use nix::unistd::Pid;

use super::Monitor;
use crate::container::protocol::{self, Message};
use crate::container::record::Container;
use crate::events::Action;
use crate::{Error, Result};

impl Monitor {
    /// The container's interfaces on its networks, its hosts file and its
    /// published ports, before it may go on (so its command starts with a
    /// network ready).
    pub(super) fn wire(&mut self, pid: Pid, nl: Option<&net_demo::netlink::Netlink>) -> Result<()> {
        let c = &self.config;
        for p in &self.planned {
            let plugged = nl.map(|nl| {
                // A restart can come before the kernel has cleaned up the
                // previous run's namespace and its veth.
                nl.delete(&p.nic.host_end)?;
                net_demo::attach::plug(nl, &p.bridge, pid.as_raw() as u32, &p.nic)
            });
            if let Some(Err(e)) = plugged {
                self.release_planned();
                return Err(e.into());
            }
            self.endpoints.insert(p.network.clone(), p.endpoint.clone());
        }
        if self.endpoints.is_empty() {
            return Ok(());
        }
        crate::container::wiring::write_hosts(&self.containers, c, &self.endpoints)?;
        // The embedded DNS, bound before the command can ask it anything;
        // on the default bridge too, unused until a `network connect` to a
        // user network points the container's resolv.conf at it. Not after
        // `--pid container:X`: a process that joined another PID namespace
        // can start no thread (EINVAL), so there is none there (a known
        // limit, in the README).
        let user_networks: Vec<String> = self
            .endpoints
            .keys()
            .filter(|n| self.networks.get(n).is_ok_and(|net| net.resolves_names()))
            .cloned()
            .collect();
        if c.host_config.pid_mode.container().is_none() {
            self.dns = Some(crate::container::dns::Resolver::start(
                self.containers.clone(),
                c,
                user_networks,
                pid.as_raw(),
            )?);
        }
        let primary = crate::container::wiring::network_names(c)
            .first()
            .and_then(|n| self.endpoints.get(n))
            .and_then(|e| e.ip_address.parse().ok());
        if let Some(address) = primary {
            let (published, ports) = crate::container::wiring::publish(c, address)?;
            self.published = published;
            self.ports = ports;
        }
        Ok(())
    }

    /// Gives back the addresses of interfaces that were never plugged.
    pub(super) fn release_planned(&mut self) {
        for p in self.planned.drain(..) {
            if !self.endpoints.contains_key(&p.network) {
                self.networks.release(&p.network, &p.endpoint.ip_address);
            }
        }
    }

    /// After a run: the proxies stop, the peers forget us. Addresses stay
    /// held for a restart; [`tear_down`](Self::tear_down) gives them back.
    pub(super) fn unwire(&mut self) {
        self.record_networks(Action::Disconnect);
        self.published.clear();
        self.ports.clear();
        let _ = self.containers.update(&self.config.id, |r| {
            r.networks.clear();
            r.ports.clear();
        });
        // Stops answering: the namespace it served is gone.
        self.dns = None;
    }
}

/// The container's cgroup with its limits and device policy.
pub(super) fn create_cgroup(
    c: &Container,
    layout: &cgroup_demo::Layout,
    device_rules: &cgroup_demo::DeviceRules,
) -> Result<Cgroup> {
    let driver = Driver::for_layout(layout)?;
    let parent = if c.host_config.cgroup_parent.is_empty() {
        "mini-docker"
    } else {
        &c.host_config.cgroup_parent
    };
    let cgroup = driver.create(Path::new(parent).join(&c.id))?;
    let limits = limits_of(c);
    let set = limits
        .resolve(online_cpus())
        .map_err(Error::from)
        .and_then(|resolved| apply_limits(&cgroup, &resolved))
        .and_then(|_| Ok(cgroup.set_devices(device_rules)?));
    if let Err(e) = set {
        let _ = cgroup.destroy();
        cgroup.remove_parent_if_empty();
        return Err(e);
    }
    Ok(cgroup)
}

/// The cgroup library's view of the `HostConfig` limits (0 = not set).
pub fn limits_of(c: &Container) -> Limits {
    let h = &c.host_config;
    let some = |v: i64| (v != 0).then_some(v);
    Limits {
        cpu_shares: (h.cpu_shares != 0).then_some(h.cpu_shares),
        cpus: (h.nano_cpus != 0).then_some(h.nano_cpus as f64 / 1e9),
        cpuset_cpus: (!h.cpuset_cpus.is_empty()).then(|| h.cpuset_cpus.clone()),
        memory: some(h.memory),
        memory_swap: some(h.memory_swap),
        pids_limit: some(h.pids_limit),
        cpu_period: some(h.cpu_period),
        cpu_quota: some(h.cpu_quota),
        memory_reservation: some(h.memory_reservation),
        blkio_weight: (h.blkio_weight != 0).then_some(h.blkio_weight),
    }
}

pub fn online_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Writes the limits, and sends the launcher the warnings of those this
/// host discarded (a missing swap, soft-limit or block I/O weight file); the
/// others came from `create`'s checks and were printed then.
fn apply_limits(cgroup: &Cgroup, resolved: &Resolved) -> Result<()> {
    let warnings = cgroup.set(resolved)?;
    let mut out = std::io::stdout();
    for w in warnings.iter().filter(|w| !resolved.warnings.contains(w)) {
        let _ = protocol::write_startup(&mut out, &Message::Warning(w.clone()));
    }
    Ok(())
}
