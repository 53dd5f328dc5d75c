//! `network create|ls|inspect|connect|disconnect|rm|prune` and `port`.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use mini_docker::container::lifecycle::is_running;
use mini_docker::container::wiring;
use mini_docker::network::{Networks, DEFAULT};
use serde_json::json;

use super::{inspect_each, table, Context, NamesArgs};

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Display detailed information on one or more networks.
    Inspect(NamesArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(ConnectArgs),
    /// Remove one or more networks.
    #[command(alias = "remove")]
    Rm(RemoveArgs),
    /// Remove all unused networks.
    Prune(PruneArgs),
}

#[derive(Args)]
pub struct CreateArgs {
    /// Driver to manage the Network (bridge).
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment.
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 Gateway for the master subnet.
    #[arg(long)]
    gateway: Option<String>,
    /// Set metadata on a network (KEY=VALUE).
    #[arg(long)]
    label: Vec<String>,
    name: String,
}

#[derive(Args)]
pub struct ListArgs {
    /// Only display network IDs.
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output.
    #[arg(long)]
    no_trunc: bool,
}

#[derive(Args)]
pub struct ConnectArgs {
    network: String,
    container: String,
}

#[derive(Args)]
pub struct RemoveArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    force: bool,
}

#[derive(Args)]
pub struct PortArgs {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    port: Option<String>,
}

/// The running containers on each network: name → [(container, endpoint)].
fn attached(ctx: &Context) -> Result<BTreeMap<String, Vec<serde_json::Value>>> {
    let mut out: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for c in ctx.containers.list()? {
        let runtime = ctx.containers.runtime(&c.id)?;
        if !is_running(&runtime) {
            continue;
        }
        for (name, e) in &runtime.networks {
            out.entry(name.clone()).or_default().push(json!({
                "Id": c.id,
                "Name": c.name.trim_start_matches('/'),
                "EndpointID": e.endpoint_id,
                "MacAddress": e.mac_address,
                "IPv4Address": format!("{}/{}", e.ip_address, e.ip_prefix_len),
                "IPv6Address": "",
            }));
        }
    }
    Ok(out)
}

pub fn run(ctx: &Context, command: NetworkCommand) -> Result<i32> {
    let networks = Networks::open(ctx.store.root())?;
    match command {
        NetworkCommand::Create(args) => {
            if args.driver != "bridge" {
                bail!(
                    "plugin \"{}\" not found (this mini-docker has the bridge driver)",
                    args.driver
                );
            }
            let subnet = args
                .subnet
                .as_deref()
                .map(|s| s.parse().with_context(|| format!("invalid subnet {s}")))
                .transpose()?;
            let gateway = args
                .gateway
                .as_deref()
                .map(|g| g.parse().with_context(|| format!("invalid gateway {g}")))
                .transpose()?;
            let labels = args
                .label
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or((l, ""));
                    (k.to_string(), v.to_string())
                })
                .collect();
            println!(
                "{}",
                networks.create(&args.name, subnet, gateway, labels)?.id
            );
        }
        NetworkCommand::Ls(args) => {
            let rows: Vec<Vec<String>> = networks
                .list()?
                .into_iter()
                .map(|n| {
                    let id = if args.no_trunc {
                        n.id.clone()
                    } else {
                        n.id[..12].to_string()
                    };
                    vec![id, n.name, n.driver, n.scope]
                })
                .collect();
            if args.quiet {
                rows.iter().for_each(|r| println!("{}", r[0]));
            } else {
                table::print(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows);
            }
        }
        NetworkCommand::Inspect(args) => {
            let attached = attached(ctx)?;
            return inspect_each(&args.names, args.format.as_deref(), |name| {
                let n = networks.get(name).map_err(|e| no_such_network(e, name))?;
                let mut v = serde_json::to_value(&n)?;
                let members: serde_json::Map<String, serde_json::Value> = attached
                    .get(&n.name)
                    .into_iter()
                    .flatten()
                    .map(|c| {
                        let mut c = c.clone();
                        let id = c["Id"].as_str().unwrap_or_default().to_string();
                        c.as_object_mut().map(|o| o.remove("Id"));
                        (id, c)
                    })
                    .collect();
                v["Containers"] = serde_json::Value::Object(members);
                Ok(v)
            });
        }
        NetworkCommand::Connect(args) => connect(ctx, &networks, &args, true)?,
        NetworkCommand::Disconnect(args) => connect(ctx, &networks, &args, false)?,
        NetworkCommand::Rm(args) => {
            let attached = attached(ctx)?;
            let mut failed = false;
            for name in &args.names {
                let result = networks.get(name).map_err(|e| no_such_network(e, name)).and_then(|n| {
                    if n.name == DEFAULT {
                        bail!("bridge is a pre-defined network and cannot be removed");
                    }
                    if attached.contains_key(&n.name) {
                        bail!("error while removing network: network {} id {} has active endpoints", n.name, n.id);
                    }
                    Ok(networks.remove(&n)?)
                });
                match result {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e:#}");
                        failed = true;
                    }
                }
            }
            return Ok(i32::from(failed));
        }
        NetworkCommand::Prune(args) => return super::prune::network_prune(ctx, args.force),
    }
    Ok(0)
}

/// Docker's wording for a network `rm` or `inspect` cannot find (`run
/// --network` keeps "network X not found").
fn no_such_network(e: mini_docker::Error, name: &str) -> anyhow::Error {
    match e {
        mini_docker::Error::NotFound(_) => anyhow::anyhow!("No such network: {name}"),
        e => e.into(),
    }
}

/// `network connect`/`disconnect`: recorded in the container's
/// configuration (so a restart keeps it) and, if it runs, done now.
fn connect(ctx: &Context, networks: &Networks, args: &ConnectArgs, join: bool) -> Result<()> {
    let net = networks.get(&args.network)?;
    let mut c = ctx.containers.find(&args.container)?;
    let mode = c.host_config.network_mode.clone();
    if mode == "host" || mode == "none" || mode.starts_with("container:") {
        bail!(
            "container cannot be connected to network {}: it uses --network {mode}",
            net.name
        );
    }
    let on: Vec<String> = wiring::network_names(&c);
    if join == on.contains(&net.name) {
        if join {
            bail!(
                "endpoint with name {} already exists in network {}",
                c.name.trim_start_matches('/'),
                net.name
            );
        }
        bail!(
            "container {} is not connected to network {}",
            c.name.trim_start_matches('/'),
            net.name
        );
    }
    let runtime = ctx.containers.runtime(&c.id)?;
    if is_running(&runtime) {
        if join {
            let index = runtime.networks.len();
            let endpoint = wiring::connect(
                networks,
                &ctx.containers,
                &c,
                runtime.state.pid,
                &net.name,
                index,
            )?;
            let updated = ctx.containers.update(&c.id, |r| {
                r.networks.insert(net.name.clone(), endpoint);
            })?;
            wiring::write_hosts(networks, &ctx.containers, &c, &updated.networks)?;
        } else if let Some(endpoint) = runtime.networks.get(&net.name) {
            wiring::disconnect(networks, &net.name, endpoint, true);
            let updated = ctx.containers.update(&c.id, |r| {
                r.networks.remove(&net.name);
            })?;
            wiring::write_hosts(networks, &ctx.containers, &c, &updated.networks)?;
        }
        wiring::refresh_peers(
            networks,
            &ctx.containers,
            std::slice::from_ref(&net.name),
            &c.id,
        );
    }
    if join {
        c.connected_networks.push(net.name.clone());
    } else {
        c.connected_networks.retain(|n| n != &net.name);
        if c.host_config.network_mode == net.name {
            c.host_config.network_mode = "none".into();
        }
    }
    ctx.containers.save_config(&c)?;
    Ok(())
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`.
pub fn port(ctx: &Context, args: &PortArgs) -> Result<i32> {
    let c = ctx.containers.find(&args.container)?;
    let runtime = ctx.containers.runtime(&c.id)?;
    let wanted = args.port.as_deref().map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let mut found = false;
    for (key, hosts) in &runtime.ports {
        if wanted.as_ref().is_some_and(|w| w != key) {
            continue;
        }
        for h in hosts {
            found = true;
            if wanted.is_some() {
                println!("{}:{}", h.host_ip, h.host_port);
            } else {
                println!("{key} -> {}:{}", h.host_ip, h.host_port);
            }
        }
    }
    if let (Some(w), false) = (wanted, found) {
        bail!("No public port '{w}' published for {}", args.container);
    }
    Ok(0)
}
