//! `network create|ls|inspect|connect|disconnect|rm|prune` and `port`.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};
use clap::{Args, Subcommand};
use mini_docker::container::lifecycle::is_running;
use mini_docker::container::record::NetworkMode;
use mini_docker::container::wiring;
use mini_docker::events::{Action, Event, Kind};
use mini_docker::network::{Network, Networks, DEFAULT};
use serde_json::json;

use super::filters::Filters;
use super::format::{self, Listing};
use super::{inspect_each, Context, NamesArgs};

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
    /// Filter output: name=, id=, driver=, label=, type=custom|builtin.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format output using a Go template, "table …", or "json".
    #[arg(long)]
    format: Option<String>,
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

/// Docker's pre-defined `host` and `none` networks (drivers `host` and
/// `null`): nothing to set up, so they are not stored; shown and inspected
/// as Docker shows them, with IDs derived from the store's path so that
/// they are stable for one store and differ between stores, like Docker's.
fn builtin(ctx: &Context) -> Vec<Network> {
    [("host", "host"), ("none", "null")]
        .iter()
        .map(|(name, driver)| {
            let seed = format!("{}\0{name}", ctx.store.root().display());
            Network {
                name: (*name).into(),
                id: mini_docker::digest::Digest::of(seed.as_bytes())
                    .hex()
                    .to_string(),
                // When the store was made: the nearest thing to Docker's
                // "when the daemon first started".
                created: mini_docker::human::docker_time(
                    std::fs::metadata(ctx.store.root())
                        .and_then(|m| m.modified())
                        .unwrap_or(std::time::UNIX_EPOCH),
                ),
                scope: "local".into(),
                driver: (*driver).into(),
                enable_ipv6: false,
                ipam: mini_docker::network::IpamConfig {
                    driver: "default".into(),
                    config: Vec::new(),
                },
                internal: false,
                options: BTreeMap::new(),
                labels: BTreeMap::new(),
            }
        })
        .collect()
}

/// A pre-defined network by name or ID prefix.
fn find_builtin(ctx: &Context, key: &str) -> Option<Network> {
    builtin(ctx)
        .into_iter()
        .find(|n| n.name == key || (!key.is_empty() && n.id.starts_with(key)))
}

/// Records a network event (Docker's: the network ID as actor).
fn network_event(ctx: &Context, action: Action, id: &str, attributes: &[(&str, &str)]) {
    ctx.containers
        .events()
        .record(&Event::object(Kind::Network, action, id, attributes));
}

pub fn run(ctx: &Context, command: NetworkCommand) -> Result<i32> {
    let networks = Networks::open(ctx.store.root())?;
    match command {
        NetworkCommand::Create(args) => {
            if builtin(ctx).iter().any(|n| n.name == args.name) {
                eprintln!(
                    "Error response from daemon: operation is not permitted on predefined {} network",
                    args.name
                );
                return Ok(1);
            }
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
            let n = networks.create(&args.name, subnet, gateway, labels)?;
            network_event(
                ctx,
                Action::Create,
                &n.id,
                &[("name", &n.name), ("type", &n.driver)],
            );
            println!("{}", n.id);
        }
        NetworkCommand::Ls(args) => return list(ctx, &networks, &args),
        NetworkCommand::Inspect(args) => {
            let attached = attached(ctx)?;
            return inspect_each(&args.names, args.format.as_deref(), |name| {
                inspect_value(ctx, &networks, &attached, name)
            });
        }
        NetworkCommand::Connect(args) => connect(ctx, &networks, &args, true)?,
        NetworkCommand::Disconnect(args) => connect(ctx, &networks, &args, false)?,
        NetworkCommand::Rm(args) => {
            let attached = attached(ctx)?;
            let mut failed = false;
            for name in &args.names {
                if let Some(n) = find_builtin(ctx, name) {
                    eprintln!(
                        "Error response from daemon: {} is a pre-defined network and cannot be removed",
                        n.name
                    );
                    failed = true;
                    continue;
                }
                let result = networks.get(name).map_err(|e| no_such_network(e, name)).and_then(|n| {
                    if n.name == DEFAULT {
                        bail!("bridge is a pre-defined network and cannot be removed");
                    }
                    if attached.contains_key(&n.name) {
                        bail!("error while removing network: network {} id {} has active endpoints", n.name, n.id);
                    }
                    networks.remove(&n)?;
                    network_event(ctx, Action::Destroy, &n.id, &[("name", &n.name), ("type", &n.driver)]);
                    Ok(())
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
    if mode.network().is_none() {
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
            wiring::write_hosts(&ctx.containers, &c, &updated.networks)?;
            if net.resolves_names() {
                mini_docker::container::dns::use_embedded_resolver(&ctx.containers, &c)?;
            }
        } else if let Some(endpoint) = runtime.networks.get(&net.name) {
            wiring::disconnect(networks, &net.name, endpoint, true);
            let updated = ctx.containers.update(&c.id, |r| {
                r.networks.remove(&net.name);
            })?;
            wiring::write_hosts(&ctx.containers, &c, &updated.networks)?;
        }
    }
    let action = if join {
        Action::Connect
    } else {
        Action::Disconnect
    };
    network_event(
        ctx,
        action,
        &net.id,
        &[
            ("container", &c.id),
            ("name", &net.name),
            ("type", &net.driver),
        ],
    );
    if join {
        c.connected_networks.push(net.name.clone());
    } else {
        c.connected_networks.retain(|n| n != &net.name);
        if c.host_config.network_mode.network() == Some(&net.name) {
            c.host_config.network_mode = NetworkMode::None;
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

/// `host` or `none` as `network inspect` shows it: the containers running
/// in that mode are its members.
fn builtin_value(ctx: &Context, n: &Network) -> Result<serde_json::Value> {
    let mut v = serde_json::to_value(n)?;
    let mut members = serde_json::Map::new();
    for c in ctx.containers.list()? {
        let running = ctx.containers.runtime(&c.id).is_ok_and(|r| is_running(&r));
        if running && c.host_config.network_mode.to_string() == n.name {
            members.insert(
                c.id.clone(),
                json!({
                    "Name": c.name.trim_start_matches('/'),
                    "EndpointID": "",
                    "MacAddress": "",
                    "IPv4Address": "",
                    "IPv6Address": "",
                }),
            );
        }
    }
    v["Containers"] = serde_json::Value::Object(members);
    Ok(v)
}

/// Docker's `network inspect` object: the record plus its running members.
fn inspect_value(
    ctx: &Context,
    networks: &Networks,
    attached: &BTreeMap<String, Vec<serde_json::Value>>,
    name: &str,
) -> Result<serde_json::Value> {
    if let Some(n) = find_builtin(ctx, name) {
        return builtin_value(ctx, &n);
    }
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
}

/// `inspect NAME` for a network, when no container or image has that name.
pub fn inspect_by_name(ctx: &Context, name: &str) -> Result<Option<serde_json::Value>> {
    let networks = Networks::open(ctx.store.root())?;
    if networks.get(name).is_err() && find_builtin(ctx, name).is_none() {
        return Ok(None);
    }
    inspect_value(ctx, &networks, &attached(ctx)?, name).map(Some)
}

/// `network ls`: Docker's filters (name and id match anywhere, driver
/// exactly, type custom|builtin) and `--format`.
fn list(ctx: &Context, networks: &Networks, args: &ListArgs) -> Result<i32> {
    let filters = match Filters::parse(&args.filter, &["name", "id", "driver", "label", "type"]) {
        Ok(f) => f,
        Err(e) => return Ok(e.report()),
    };
    for kind in filters.values("type") {
        if kind != "custom" && kind != "builtin" {
            eprintln!("Error response from daemon: invalid filter: 'type'='{kind}'");
            return Ok(1);
        }
    }
    let mut rows = Vec::new();
    for n in networks.list()?.into_iter().chain(builtin(ctx)) {
        let builtin = matches!(n.name.as_str(), "bridge" | "host" | "none");
        let keep = filters.any("name", |v| n.name.contains(v))
            && filters.any("id", |v| n.id.starts_with(v))
            && filters.any("driver", |v| n.driver == v)
            && filters.labels(&n.labels)
            && filters.any("type", |v| (v == "builtin") == builtin);
        if !keep {
            continue;
        }
        let id = if args.no_trunc {
            n.id.clone()
        } else {
            n.id[..12].to_string()
        };
        rows.push(json!({
            "CreatedAt": format::go_time(&n.created),
            "Driver": n.driver,
            "ID": id,
            "IPv6": n.enable_ipv6.to_string(),
            "Internal": n.internal.to_string(),
            "Labels": format::labels(&n.labels),
            "Name": n.name,
            "Scope": n.scope,
        }));
    }
    rows.sort_by(|a, b| {
        let name = |r: &serde_json::Value| r["Name"].as_str().unwrap_or_default().to_string();
        format::natural_cmp(&name(a), &name(b))
    });
    if format::quiet_applies(args.quiet, args.format.as_deref()) {
        rows.iter()
            .for_each(|r| println!("{}", r["ID"].as_str().unwrap_or_default()));
        return Ok(0);
    }
    Ok(format::print(
        Listing::Networks,
        args.format.as_deref(),
        &rows,
    ))
}
