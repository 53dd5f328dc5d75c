//! IP address management: which addresses of a subnet are taken.
//!
//! Each network is one JSON file in a state directory, rewritten atomically
//! (temporary file + rename) while holding an exclusive `flock` on the
//! directory's lock file, so concurrent users — two `docker run`s at once —
//! never get the same address and a crash never leaves half a file.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A network's address plan and who holds which address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Address → owner (a container id, a demo's name).
    pub allocations: BTreeMap<Ipv4Addr, String>,
}

/// The IPAM store in one directory.
#[derive(Debug, Clone)]
pub struct Ipam {
    dir: PathBuf,
}

impl Ipam {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Ipam { dir: dir.into() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    /// Runs `f` holding the store's exclusive lock.
    fn locked<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let lock_path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        let _lock = Flock::lock(file, FlockArg::LockExclusive)
            .map_err(|(_, e)| Error::io(&lock_path, e.into()))?;
        f()
    }

    /// Every network in the store.
    pub fn networks(&self) -> Result<Vec<Network>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(out);
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(read(&path)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn network(&self, name: &str) -> Result<Network> {
        let path = self.file(name);
        if !path.exists() {
            return Err(Error::Invalid(format!("network {name} not found")));
        }
        read(&path)
    }

    /// Registers a network. The gateway defaults to the subnet's first host
    /// address; a subnet overlapping another network's is refused.
    pub fn create(
        &self,
        name: &str,
        subnet: Ipv4Net,
        gateway: Option<Ipv4Addr>,
    ) -> Result<Network> {
        let subnet = subnet.trunc();
        if subnet.prefix_len() > 30 {
            return Err(Error::Invalid(format!(
                "subnet {subnet} is too small for a gateway and a host"
            )));
        }
        let gateway = gateway.unwrap_or_else(|| first_host(&subnet));
        if !subnet.contains(&gateway)
            || gateway == subnet.network()
            || gateway == subnet.broadcast()
        {
            return Err(Error::Invalid(format!(
                "gateway {gateway} is not a host address in subnet {subnet}"
            )));
        }
        self.locked(|| {
            if self.file(name).exists() {
                return Err(Error::Invalid(format!(
                    "network with name {name} already exists"
                )));
            }
            for other in self.networks()? {
                if other.subnet.contains(&subnet.network())
                    || subnet.contains(&other.subnet.network())
                {
                    return Err(Error::Invalid(format!(
                        "subnet {subnet} overlaps with network {} ({})",
                        other.name, other.subnet
                    )));
                }
            }
            let network = Network {
                name: name.to_string(),
                subnet,
                gateway,
                allocations: BTreeMap::new(),
            };
            write(&self.file(name), &network)?;
            Ok(network)
        })
    }

    /// Takes an address for `owner`: the one requested, or the lowest free
    /// host address.
    pub fn allocate(
        &self,
        name: &str,
        owner: &str,
        requested: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr> {
        self.locked(|| {
            let mut network = self.network(name)?;
            let address = match requested {
                Some(ip) => {
                    if !network.subnet.contains(&ip)
                        || ip == network.subnet.network()
                        || ip == network.subnet.broadcast()
                    {
                        return Err(Error::Invalid(format!(
                            "address {ip} is not a host address in {}",
                            network.subnet
                        )));
                    }
                    if ip == network.gateway || network.allocations.contains_key(&ip) {
                        return Err(Error::Invalid(format!("address {ip} is already in use")));
                    }
                    ip
                }
                None => network
                    .subnet
                    .hosts()
                    .find(|ip| *ip != network.gateway && !network.allocations.contains_key(ip))
                    .ok_or_else(|| {
                        Error::Invalid(format!("no free address left in {}", network.subnet))
                    })?,
            };
            network.allocations.insert(address, owner.to_string());
            write(&self.file(name), &network)?;
            Ok(address)
        })
    }

    /// Gives an address back; releasing a free address is fine.
    pub fn release(&self, name: &str, address: Ipv4Addr) -> Result<()> {
        self.locked(|| {
            let mut network = self.network(name)?;
            if network.allocations.remove(&address).is_some() {
                write(&self.file(name), &network)?;
            }
            Ok(())
        })
    }

    /// Forgets a network (its addresses must have been released).
    pub fn remove(&self, name: &str) -> Result<()> {
        self.locked(|| {
            let network = self.network(name)?;
            if !network.allocations.is_empty() {
                return Err(Error::Invalid(format!(
                    "network {name} still has {} address(es) in use",
                    network.allocations.len()
                )));
            }
            std::fs::remove_file(self.file(name)).map_err(|e| Error::io(self.file(name), e))
        })
    }
}

fn first_host(subnet: &Ipv4Net) -> Ipv4Addr {
    subnet.hosts().next().unwrap_or(subnet.network())
}

fn read(path: &Path) -> Result<Network> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))
}

/// Temporary file, then rename: readers see the old or the new file. No
/// fsync: the allocations describe running containers, which a power loss
/// ends anyway, and the sync cost milliseconds on every container's start
/// and exit.
fn write(path: &Path, network: &Network) -> Result<()> {
    let tmp = path.with_extension(format!("json.tmp-{}", std::process::id()));
    let json = serde_json::to_vec_pretty(network).map_err(|e| Error::Invalid(e.to_string()))?;
    let mut file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(&json).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (Ipam, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "ipam-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        (Ipam::new(&dir), dir)
    }

    #[test]
    fn allocates_lowest_free_and_skips_the_gateway() {
        let (ipam, dir) = store();
        let net = ipam
            .create("n", "10.9.0.0/29".parse().unwrap(), None)
            .unwrap();
        assert_eq!(net.gateway, Ipv4Addr::new(10, 9, 0, 1));
        let a = ipam.allocate("n", "a", None).unwrap();
        let b = ipam.allocate("n", "b", None).unwrap();
        assert_eq!(
            (a, b),
            (Ipv4Addr::new(10, 9, 0, 2), Ipv4Addr::new(10, 9, 0, 3))
        );
        ipam.release("n", a).unwrap();
        assert_eq!(ipam.allocate("n", "c", None).unwrap(), a);
        // .4 .5 .6 are left; then the /29 is full.
        for _ in 0..3 {
            ipam.allocate("n", "x", None).unwrap();
        }
        assert!(ipam
            .allocate("n", "y", None)
            .unwrap_err()
            .to_string()
            .contains("no free address"));
        assert!(ipam
            .allocate("n", "y", Some(b))
            .unwrap_err()
            .to_string()
            .contains("already in use"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn refuses_overlaps_and_bad_gateways() {
        let (ipam, dir) = store();
        ipam.create(
            "a",
            "172.30.0.0/16".parse().unwrap(),
            Some(Ipv4Addr::new(172, 30, 0, 1)),
        )
        .unwrap();
        let err = ipam
            .create("b", "172.30.5.0/24".parse().unwrap(), None)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "subnet 172.30.5.0/24 overlaps with network a (172.30.0.0/16)"
        );
        let err = ipam
            .create(
                "c",
                "10.1.0.0/24".parse().unwrap(),
                Some(Ipv4Addr::new(10, 2, 0, 1)),
            )
            .unwrap_err();
        assert!(err.to_string().contains("is not a host address"), "{err}");
        assert!(ipam
            .create("a", "10.3.0.0/24".parse().unwrap(), None)
            .unwrap_err()
            .to_string()
            .contains("already exists"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
