//! Lesson 3, narrated: Docker's resource flags on cgroup v1 and v2.

mod cpu;
mod devices;
mod memory;
mod show;
mod work;

use cgroup_demo::size::{parse_bytes, parse_bytes_or_unlimited};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Lesson 3: cgroups, v1 and v2")]
struct Cli {
    #[command(flatten)]
    options: narrate::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The host's cgroup setup: v1, hybrid or v2, and where each hierarchy is.
    Info,
    /// --cpu-shares: two busy loops sharing one CPU by weight.
    CpuShares {
        /// Shares of the two cgroups, as A,B.
        #[arg(long, default_value = "1024,512", value_parser = parse_pair)]
        shares: Pair,
        /// How long each measurement runs.
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// --cpus: one busy loop held to a fraction of a CPU.
    CpuQuota {
        #[arg(long, default_value_t = 0.5)]
        cpus: f64,
        #[arg(long, default_value_t = 2.0)]
        seconds: f64,
    },
    /// --memory: an allocation beyond the limit is OOM-killed.
    Memory {
        /// The memory limit (Docker's -m).
        #[arg(long, default_value = "64m", value_parser = parse_size)]
        limit: i64,
        /// How much the child allocates and touches.
        #[arg(long, default_value = "200m", value_parser = parse_size)]
        alloc: i64,
    },
    /// --memory-swap: memory plus swap, written for this host's version.
    MemorySwap {
        #[arg(long, default_value = "64m", value_parser = parse_size)]
        memory: i64,
        /// Memory + swap; -1 for unlimited swap.
        #[arg(long, default_value = "128m", value_parser = parse_size_or_unlimited, allow_hyphen_values = true)]
        memory_swap: i64,
        /// How much the child allocates and touches.
        #[arg(long, default_value = "96m", value_parser = parse_size)]
        alloc: i64,
    },
    /// --pids-limit: a fork bomb is contained.
    Pids {
        #[arg(long, default_value_t = 20)]
        max: i64,
    },
    /// Devices: a node is not a permission; the cgroup's rules (v1) or eBPF
    /// program (v2) decide every open and mknod.
    Devices,
    /// Remove what runs killed with SIGKILL left (their cgroups).
    Clean,
    /// Which cgroups a process is in, per controller, and their limits.
    Show {
        /// The process (default: this one).
        pid: Option<i32>,
    },
}

/// Two numbers as one clap value.
#[derive(Clone, Copy)]
struct Pair([u64; 2]);

fn parse_pair(text: &str) -> Result<Pair, String> {
    let invalid = || format!("expected two numbers like 1024,512, got '{text}'");
    let (a, b) = text.split_once(',').ok_or_else(invalid)?;
    Ok(Pair([
        a.trim().parse().map_err(|_| invalid())?,
        b.trim().parse().map_err(|_| invalid())?,
    ]))
}

fn parse_size(text: &str) -> Result<i64, String> {
    parse_bytes(text).map_err(|e| e.to_string())
}

fn parse_size_or_unlimited(text: &str) -> Result<i64, String> {
    parse_bytes_or_unlimited(text).map_err(|e| e.to_string())
}

fn main() {
    let cli = Cli::parse();
    narrate::main("cgroup-demo", cli.options, |steps| match cli.command {
        Command::Info => show::info(),
        Command::CpuShares { shares, seconds } => cpu::shares(steps, shares.0, seconds),
        Command::CpuQuota { cpus, seconds } => cpu::quota(steps, cpus, seconds),
        Command::Memory { limit, alloc } => memory::limit(steps, limit, alloc),
        Command::MemorySwap {
            memory,
            memory_swap,
            alloc,
        } => memory::swap(steps, memory, memory_swap, alloc),
        Command::Pids { max } => work::pids(steps, max),
        Command::Devices => devices::devices(steps),
        Command::Show { pid } => show::show(pid),
        Command::Clean => work::clean(),
    })
}
