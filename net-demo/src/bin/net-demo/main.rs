//! Lesson 5, narrated: the network modes, bridges, IPAM, port publishing.

mod lab;
mod modes;

use clap::{Parser, Subcommand};
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

#[derive(Parser)]
#[command(version, about = "Lesson 5: container networking")]
struct Cli {
    #[command(flatten)]
    options: narrate::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// --network none: a namespace with only lo.
    None,
    /// --network host: no namespace; the host's interfaces and ports.
    Host,
    /// --network bridge: two containers on a bridge talk over TCP.
    Bridge {
        #[arg(long, default_value = "10.200.0.0/24")]
        subnet: Ipv4Net,
        /// Also masquerade the subnet's outbound traffic (iptables), removed at
        /// the end. The demo itself sends nothing off the machine.
        #[arg(long)]
        nat: bool,
    },
    /// --network container:NAME: a second container joins the first's namespace.
    Container {
        #[arg(long, default_value = "10.200.1.0/24")]
        subnet: Ipv4Net,
    },
    /// network create --driver bridge --subnet … --gateway …, by hand.
    Custom {
        #[arg(long, default_value = "172.30.0.0/16")]
        subnet: Ipv4Net,
        #[arg(long, default_value = "172.30.0.1")]
        gateway: Ipv4Addr,
    },
    /// network connect: a running container gets a second NIC on a second bridge.
    Connect {
        #[arg(long, default_value = "10.200.2.0/24")]
        first: Ipv4Net,
        #[arg(long, default_value = "10.200.3.0/24")]
        second: Ipv4Net,
    },
    /// -p [hostIP:]hostPort:containerPort: a web server in a container, reached from the host.
    Publish {
        #[arg(default_value = "127.0.0.1:18080:80")]
        spec: String,
        #[arg(long, default_value = "10.200.4.0/24")]
        subnet: Ipv4Net,
    },
    /// Remove what runs killed with SIGKILL left (links, network namespaces).
    ///
    /// With --prefix, everything whose name starts with PREFIX instead.
    Clean {
        #[arg(long)]
        prefix: Option<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    narrate::main("net-demo", cli.options, |steps| match cli.command {
        Command::None => modes::none(steps),
        Command::Host => modes::host(steps),
        Command::Bridge { subnet, nat } => modes::bridge(steps, subnet, nat),
        Command::Container { subnet } => modes::container(steps, subnet),
        Command::Custom { subnet, gateway } => modes::custom(steps, subnet, gateway),
        Command::Connect { first, second } => modes::connect(steps, first, second),
        Command::Publish { spec, subnet } => modes::publish(steps, &spec, subnet),
        Command::Clean { prefix } => {
            for prefix in lab::leftover_prefixes(prefix)? {
                for removed in net_demo::cleanup::remove_prefixed(&prefix)? {
                    println!("removed {removed}");
                }
                let _ = std::fs::remove_dir_all(
                    std::env::temp_dir().join(format!("net-demo-{}", &prefix[2..])),
                );
            }
            Ok(0)
        }
    })
}
