//! Networks as Docker users know them, on lesson 5's library: the default
//! `bridge` network and user bridge networks (a Linux bridge with the
//! gateway address, one veth pair per container, addresses from IPAM),
//! outbound NAT, and the `/etc/hosts` that lets containers on a user
//! network find each other by name.
//!
//! Link names must be unique on the host and at most 15 bytes, and several
//! stores may share a host, so every link carries the store's prefix (six
//! characters derived from `--root`, or `MINI_DOCKER_LINK_PREFIX`):
//! bridges `PREFIXb<network id>`, host ends of veths `PREFIX<container
//! id><n>`.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use net_demo::ipam::Ipam;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::container::dir::{random_id, read_json, write_json, Containers};

/// Why `network create` (or an address on a network) was refused
/// (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network name: {0}")]
    InvalidName(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("invalid pool request: Pool overlaps with other one on this address space ({0})")]
    PoolOverlaps(Ipv4Net),
    #[error("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")]
    NoFreePool,
    /// An address or gateway the network cannot give, as IPAM words it.
    #[error("{0}")]
    Address(String),
    /// A host port that cannot be published, as net-demo words it.
    #[error("{0}")]
    Publish(String),
}
use crate::container::record::now;
use crate::digest::Digest;
use crate::{Error, Result};

/// Docker's name for the default network.
pub const DEFAULT: &str = "bridge";
/// Candidate subnets for networks created without `--subnet`, in order:
/// Docker's default pools, 172.17–31.0.0/16 then 192.168.0–240.0/20; or,
/// like dockerd's `--default-address-pool`, the /24s of the network in
/// `MINI_DOCKER_ADDRESS_POOL` (a store that must not compete for the
/// defaults: a test, a second store on a busy host).
fn pools() -> Vec<Ipv4Net> {
    if let Some(base) = std::env::var("MINI_DOCKER_ADDRESS_POOL")
        .ok()
        .and_then(|v| v.parse::<Ipv4Net>().ok())
    {
        return base
            .subnets(24.max(base.prefix_len()))
            .map(Iterator::collect)
            .unwrap_or_default();
    }
    let big = (17..=31).map(|b| Ipv4Net::new(Ipv4Addr::new(172, b, 0, 0), 16));
    let small = (0..16).map(|n| Ipv4Net::new(Ipv4Addr::new(192, 168, n * 16, 0), 20));
    big.chain(small).map(|n| n.expect("valid prefix")).collect()
}

/// `network inspect`'s object, in Docker's shape (containers are added at
/// inspect time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Network {
    pub name: String,
    pub id: String,
    pub created: String,
    pub scope: String,
    pub driver: String,
    #[serde(rename = "EnableIPv6")]
    pub enable_ipv6: bool,
    #[serde(rename = "IPAM")]
    pub ipam: IpamConfig,
    pub internal: bool,
    pub options: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpamConfig {
    pub driver: String,
    pub config: Vec<Pool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pool {
    pub subnet: String,
    pub gateway: String,
}

/// Docker's option naming the Linux bridge.
pub const BRIDGE_NAME: &str = "com.docker.network.bridge.name";

impl Network {
    pub fn bridge(&self) -> &str {
        self.options
            .get(BRIDGE_NAME)
            .map(String::as_str)
            .unwrap_or_default()
    }

    pub fn subnet(&self) -> Result<Ipv4Net> {
        self.ipam.config[0]
            .subnet
            .parse()
            .map_err(|_| Error::Corrupt(format!("network {}: bad subnet", self.name)))
    }

    pub fn gateway(&self) -> Result<Ipv4Addr> {
        self.ipam.config[0]
            .gateway
            .parse()
            .map_err(|_| Error::Corrupt(format!("network {}: bad gateway", self.name)))
    }

    /// Whether containers on it find each other by name (user networks
    /// only, as with Docker).
    pub fn resolves_names(&self) -> bool {
        self.name != DEFAULT
    }
}

/// One container's place on one network (`NetworkSettings.Networks.X`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Endpoint {
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    pub gateway: String,
    #[serde(rename = "IPAddress")]
    pub ip_address: String,
    #[serde(rename = "IPPrefixLen")]
    pub ip_prefix_len: u8,
    pub mac_address: String,
    /// mini-docker's own: the veth's host end and the name inside.
    #[serde(default)]
    pub host_end: String,
    #[serde(default)]
    pub interface: String,
    /// `--network-alias`es and, on a user network, the short ID: other
    /// names the embedded DNS answers for.
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// The networks of one store.
#[derive(Debug, Clone)]
pub struct Networks {
    dir: PathBuf,
    ipam: Ipam,
    prefix: String,
}

/// Whether outbound NAT rules are set up (`MINI_DOCKER_NAT=off` turns them
/// off, as the tests do: they may not send traffic off the machine).
fn nat_enabled() -> bool {
    std::env::var("MINI_DOCKER_NAT").map_or(true, |v| v != "off")
}

impl Networks {
    pub fn open(root: &Path) -> Result<Self> {
        let dir = root.join("networks");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let prefix = std::env::var("MINI_DOCKER_LINK_PREFIX").unwrap_or_else(|_| {
            let hex = Digest::of(root.display().to_string().as_bytes())
                .hex()
                .to_string();
            format!("md{}", &hex[..4])
        });
        Ok(Networks {
            ipam: Ipam::new(dir.join("ipam")),
            dir,
            prefix: prefix.chars().take(6).collect(),
        })
    }

    fn record(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// The veth host end for container `id`'s `n`th interface.
    pub fn host_end(&self, id: &str, n: usize) -> String {
        format!("{}{}{}", self.prefix, &id[..7], n % 10)
    }

    /// Every network, the default one included (created on first use).
    /// A damaged record is left out (and reported).
    pub fn list(&self) -> Result<Vec<Network>> {
        if let Err(e) = self.get(DEFAULT) {
            if !crate::damage::is_damage(&e) {
                return Err(e);
            }
        }
        self.recorded()
    }

    /// The networks that exist, without making the default one.
    pub fn recorded(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let path = entry.map_err(|e| Error::io(&self.dir, e))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                match read_json::<Network>(&path) {
                    Ok(n) => out.push(n),
                    Err(e) if crate::damage::is_damage(&e) => crate::damage::report(&path, &e),
                    Err(e) => return Err(e),
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// A network by name, full ID or unique ID prefix. Asking for `bridge`
    /// creates the default network the first time.
    pub fn get(&self, key: &str) -> Result<Network> {
        if let Ok(n) = read_json::<Network>(&self.record(key)) {
            return Ok(n);
        }
        if key == DEFAULT {
            return match self.create(DEFAULT, None, None, BTreeMap::new()) {
                // Made meanwhile by another command.
                Err(Error::Networks(NetworkError::Exists(_))) => read_json(&self.record(key)),
                other => other,
            };
        }
        let found: Vec<Network> = fs::read_dir(&self.dir)
            .map_err(|e| Error::io(&self.dir, e))?
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| read_json::<Network>(&e.path()).ok())
            .filter(|n| !key.is_empty() && n.id.starts_with(key))
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(Error::NotFound(format!("network {key} not found"))),
        }
    }

    /// `network create`: a subnet (given, or the first default pool that no
    /// host route — other networks' bridges included — uses), the bridge
    /// with the gateway address, and outbound NAT. A host-wide lock
    /// serialises the choice between stores.
    pub fn create(
        &self,
        name: &str,
        subnet: Option<Ipv4Net>,
        gateway: Option<Ipv4Addr>,
        labels: BTreeMap<String, String>,
    ) -> Result<Network> {
        if !crate::container::dir::valid_name(name) && name != DEFAULT {
            return Err(NetworkError::InvalidName(name.into()).into());
        }
        let _host = host_lock()?;
        if self.record(name).exists() {
            return Err(NetworkError::Exists(name.into()).into());
        }
        // Before the routes are read: an orphan's route holds a subnet.
        if let Ok(nl) = net_demo::netlink::Netlink::open() {
            reclaim_orphans(&nl)?;
        }
        self.forget_unfinished()?;
        let taken = host_routes();
        let subnet = match subnet {
            Some(s) => {
                let s = s.trunc();
                if taken
                    .iter()
                    .any(|t| t.contains(&s.network()) || s.contains(&t.network()))
                {
                    return Err(NetworkError::PoolOverlaps(s).into());
                }
                s
            }
            None => pools()
                .into_iter()
                .find(|s| {
                    !taken
                        .iter()
                        .any(|t| t.contains(&s.network()) || s.contains(&t.network()))
                })
                .ok_or(NetworkError::NoFreePool)?,
        };
        let plan = self
            .ipam
            .create(name, subnet, gateway)
            .map_err(|e| match e {
                net_demo::Error::Invalid(m) => Error::from(NetworkError::Address(m)),
                e => e.into(),
            })?;
        let id = random_id();
        let bridge = format!("{}b{}", self.prefix, &id[..8]);
        let network = Network {
            name: name.into(),
            id,
            created: now(),
            scope: "local".into(),
            driver: "bridge".into(),
            enable_ipv6: false,
            ipam: IpamConfig {
                driver: "default".into(),
                config: vec![Pool {
                    subnet: plan.subnet.to_string(),
                    gateway: plan.gateway.to_string(),
                }],
            },
            internal: false,
            options: BTreeMap::from([(BRIDGE_NAME.to_string(), bridge.clone())]),
            labels,
        };
        let gateway = Ipv4Net::new(plan.gateway, plan.subnet.prefix_len()).expect("valid prefix");
        // The record before the bridge: a create killed after it leaves a
        // network whose bridge the first container to join makes (and that
        // `network rm` removes), never a bridge that nothing names.
        let made = write_json(&self.record(name), &network).and_then(|()| {
            let nl = net_demo::netlink::Netlink::open()?;
            self.ensure_bridge(&nl, &network, gateway)?;
            if nat_enabled() {
                net_demo::nat::enable(plan.subnet, &bridge, &network.id[..12])?;
            }
            Ok(())
        });
        if let Err(e) = made {
            let _ = fs::remove_file(self.record(name));
            let _ = self.ipam.remove(name);
            if let Ok(nl) = net_demo::netlink::Netlink::open() {
                let _ = nl.delete(&bridge);
            }
            return Err(e);
        }
        Ok(network)
    }

    /// Creates the network's bridge if it is missing (with the gateway
    /// address, up), and leaves on a new one a note naming its record
    /// (`ip link set BRIDGE alias 'mini-docker ID RECORD'`), by which a
    /// later `network create` of any store recognises it as an orphan once
    /// the record is gone (see [`reclaim_orphans`]).
    pub fn ensure_bridge(
        &self,
        nl: &net_demo::netlink::Netlink,
        network: &Network,
        gateway: Ipv4Net,
    ) -> Result<()> {
        if net_demo::attach::ensure_bridge(nl, network.bridge(), gateway)? {
            let note = format!(
                "{NOTE} {} {}",
                &network.id[..12],
                self.record(&network.name).display()
            );
            // IFALIASZ: a longer note (a very deep root) is left off.
            if note.len() < 256 {
                nl.set_alias(network.bridge(), &note)?;
            }
        }
        Ok(())
    }

    /// Address plans without a network record are what a `create` killed
    /// before writing the record left (creates hold the host lock, so none
    /// is under way): they would reserve a subnet and the name forever.
    fn forget_unfinished(&self) -> Result<()> {
        for plan in self.ipam.networks()? {
            if !self.record(&plan.name).exists() && plan.allocations.is_empty() {
                let _ = self.ipam.remove(&plan.name);
            }
        }
        Ok(())
    }

    /// `network rm`: the bridge, the NAT rule and the address plan.
    pub fn remove(&self, network: &Network) -> Result<()> {
        let _host = host_lock()?;
        if nat_enabled() {
            let _ = net_demo::nat::disable(network.subnet()?, network.bridge(), &network.id[..12]);
        }
        if let Ok(nl) = net_demo::netlink::Netlink::open() {
            if nl.link(network.bridge())?.is_some() {
                nl.delete(network.bridge())?;
            }
        }
        let _ = self.ipam.remove(&network.name);
        fs::remove_file(self.record(&network.name)).map_err(|e| Error::io(&self.dir, e))
    }

    /// Removes the outbound NAT rules of this store's networks: those of
    /// `gone` (networks just removed, whether or not NAT was on then) and
    /// any whose bridge of this store no longer exists (a removal that
    /// failed half-way). Returns the rules removed; without `iptables`
    /// there are none.
    pub fn remove_nat_rules(&self, gone: &[Network]) -> Result<Vec<net_demo::nat::Rule>> {
        let _host = host_lock()?;
        let Ok(rules) = net_demo::nat::rules() else {
            return Ok(Vec::new());
        };
        let nl = net_demo::netlink::Netlink::open()?;
        let ours = format!("{}b", self.prefix);
        let mut removed = Vec::new();
        for rule in rules {
            let of_gone = gone
                .iter()
                .any(|n| n.bridge() == rule.bridge && n.id.starts_with(&rule.tag));
            let stale = rule.bridge.starts_with(&ours) && nl.link(&rule.bridge)?.is_none();
            if of_gone || stale {
                net_demo::nat::remove(&rule)?;
                removed.push(rule);
            }
        }
        Ok(removed)
    }

    /// An address for container `id` (the one it holds already, across
    /// restarts). Addresses held by containers that are not running any
    /// more — their monitor was killed — are reclaimed when the network is
    /// full or the requested address is taken: only then, since finding
    /// them reads every holder's state, and a start must not cost more
    /// with every container already on the network.
    pub fn allocate(
        &self,
        network: &Network,
        id: &str,
        requested: Option<Ipv4Addr>,
        containers: &Containers,
    ) -> Result<Ipv4Net> {
        let subnet = network.subnet()?;
        let plan = self.ipam.network(&network.name)?;
        let held = plan.allocations.iter().find(|(_, owner)| *owner == id);
        if let Some((addr, _)) = held {
            return Ok(Ipv4Net::new(*addr, subnet.prefix_len()).expect("valid prefix"));
        }
        let allocated = self
            .ipam
            .allocate(&network.name, id, requested)
            .or_else(|_| {
                for (addr, owner) in &plan.allocations {
                    if !containers.runtime(owner).is_ok_and(|r| r.monitor_alive()) {
                        self.ipam.release(&network.name, *addr)?;
                    }
                }
                self.ipam.allocate(&network.name, id, requested)
            })
            .map_err(|e| match e {
                net_demo::Error::Invalid(m) => Error::from(NetworkError::Address(m)),
                e => e.into(),
            })?;
        Ok(Ipv4Net::new(allocated, subnet.prefix_len()).expect("valid prefix"))
    }

    pub fn release(&self, network: &str, address: &str) {
        if let Ok(addr) = address.parse() {
            let _ = self.ipam.release(network, addr);
        }
    }
}

/// How a bridge's note ([`Networks::ensure_bridge`]) starts.
const NOTE: &str = "mini-docker";

/// Whether the bridge with this note belongs to a network that no longer
/// exists: its record is gone (its state root deleted without `system
/// reset`), or names another network now. A record that cannot be read
/// otherwise is not taken as gone.
fn orphaned(note: &str) -> bool {
    let mut words = note.splitn(3, ' ');
    let (Some(NOTE), Some(id), Some(record)) = (words.next(), words.next(), words.next()) else {
        return false;
    };
    match read_json::<Network>(Path::new(record)) {
        Ok(network) => !network.id.starts_with(id),
        Err(Error::Io { error, .. }) => error.kind() == std::io::ErrorKind::NotFound,
        Err(_) => false,
    }
}

/// Whether a NAT rule has the shape of a mini-docker network's: the
/// bridge `PREFIXb` and eight hex digits, the tag twelve.
fn mini_docker_rule(rule: &net_demo::nat::Rule) -> bool {
    let hex = |s: &[u8]| s.iter().all(u8::is_ascii_hexdigit);
    let (b, tag) = (rule.bridge.as_bytes(), rule.tag.as_bytes());
    b.len() == 15 && b[6] == b'b' && hex(&b[7..]) && tag.len() == 12 && hex(tag)
}

/// Removes what stores that are gone left on the host: bridges whose
/// record is gone ([`orphaned`]) — each holds its subnet, so after a few
/// deleted state roots a fixed `--subnet` would collide with them — and
/// mini-docker NAT rules whose bridge no longer exists. Call under the
/// host lock.
fn reclaim_orphans(nl: &net_demo::netlink::Netlink) -> Result<()> {
    let links = nl.links()?;
    let mut removed = false;
    for link in &links {
        if link.alias.as_deref().is_some_and(orphaned) {
            nl.delete(&link.name)?;
            removed = true;
        }
    }
    if !(removed || nat_enabled()) {
        return Ok(());
    }
    let Ok(rules) = net_demo::nat::rules() else {
        return Ok(());
    };
    let present: Vec<String> = nl.links()?.into_iter().map(|l| l.name).collect();
    for rule in rules {
        if mini_docker_rule(&rule) && !present.contains(&rule.bridge) {
            net_demo::nat::remove(&rule)?;
        }
    }
    Ok(())
}

/// Serialises subnet choices and bridge changes between all stores.
fn host_lock() -> Result<Flock<fs::File>> {
    let path = Path::new("/run/mini-docker-networks.lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| Error::io(path, e.into()))
}

/// The host's IPv4 routes (`/proc/net/route`): destinations a new subnet
/// must not overlap.
fn host_routes() -> Vec<Ipv4Net> {
    let Ok(text) = fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(f.get(7)?, 16).ok()?;
            if mask == 0 {
                return None; // the default route overlaps everything
            }
            let addr = Ipv4Addr::from(dest.swap_bytes());
            Ipv4Net::new(addr, mask.count_ones() as u8).ok()
        })
        .collect()
}

/// The `/etc/hosts` of a container: localhost, its own address and name,
/// `--add-host` entries, and on a user network its peers by name.
pub fn hosts_file(
    own: &[(String, String)],
    extra: &[String],
    peers: &[(String, String)],
) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    for entry in extra {
        if let Some((name, ip)) = entry.split_once(':') {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    for (ip, names) in own.iter().chain(peers) {
        out.push_str(&format!("{ip}\t{names}\n"));
    }
    out
}

/// Rewrites a bound file in place (a rename would leave the container's
/// bind mount on the old inode): unchanged content is left alone, and the
/// new bytes overwrite the old ones before the file is cut to length, so a
/// reader never finds it empty.
pub fn rewrite_in_place(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::FileExt as _;
    if fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    file.write_all_at(text.as_bytes(), 0)
        .and_then(|()| file.set_len(text.len() as u64))
        .map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orphan_is_a_bridge_whose_record_is_gone() {
        let dir = std::env::temp_dir().join(format!("md-orphan-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let record = dir.join("app.json");
        let mut network: Network = serde_json::from_str(
            r#"{"Name":"app","Id":"0123456789abcdef","Created":"","Scope":"local","Driver":"bridge","EnableIPv6":false,"IPAM":{"Driver":"default","Config":[]},"Internal":false,"Options":{},"Labels":{}}"#,
        )
        .unwrap();
        write_json(&record, &network).unwrap();
        let note = format!("mini-docker 0123456789ab {}", record.display());
        assert!(!orphaned(&note), "the record is there");
        network.id = "ffff".into();
        write_json(&record, &network).unwrap();
        assert!(orphaned(&note), "the record names another network");
        fs::write(&record, "{").unwrap();
        assert!(!orphaned(&note), "a damaged record is no proof");
        fs::remove_dir_all(&dir).unwrap();
        assert!(orphaned(&note), "the record is gone");
        assert!(!orphaned("docker0 bridge"), "someone else's note");
    }

    #[test]
    fn only_mini_docker_shaped_rules_are_swept() {
        let rule = |bridge: &str, tag: &str| net_demo::nat::Rule {
            subnet: "172.17.0.0/16".parse().unwrap(),
            bridge: bridge.into(),
            tag: tag.into(),
        };
        assert!(mini_docker_rule(&rule("mda108b772ac9ef", "772ac9ef5718")));
        assert!(!mini_docker_rule(&rule("docker0", "772ac9ef5718")));
        assert!(!mini_docker_rule(&rule("nd1234br0nat000", "772ac9ef5718")));
        assert!(!mini_docker_rule(&rule("mda108b772ac9ef", "nd1234nat")));
    }

    #[test]
    fn routes_parse_and_hosts_render() {
        assert!(host_routes().iter().all(|r| r.prefix_len() > 0));
        let hosts = hosts_file(
            &[("10.1.0.2".into(), "abc web".into())],
            &["db.local:10.9.9.9".into()],
            &[("10.1.0.3".into(), "def api".into())],
        );
        assert!(
            hosts.contains("10.9.9.9\tdb.local\n10.1.0.2\tabc web\n10.1.0.3\tdef api\n"),
            "{hosts}"
        );
    }
}
