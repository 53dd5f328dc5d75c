//! `--memory` and `--memory-swap`, and the OOM killer.

use anyhow::Result;
use cgroup_demo::size::human;
use cgroup_demo::{Cgroup, Limits, Version};
use chroot_demo::process::{self, Exit};
use narrate::Steps;
use nix::sys::signal::Signal;

use crate::work::{checked, reaper, start_in, Sandbox};

const MIB: usize = 1 << 20;

/// Allocates `bytes` in 1 MiB chunks, touching every page so the memory is
/// really used, then exits.
fn allocate(bytes: i64) -> i32 {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total = 0usize;
    while (total as i64) < bytes {
        chunks.push(vec![0xA5u8; MIB]);
        total += MIB;
    }
    println!("   child: allocated and touched {}", human(total as i64));
    std::hint::black_box(&chunks);
    0
}

/// Runs the allocation in `cgroup` and narrates how it ended.
fn run_allocation(cgroup: &Cgroup, alloc: i64) -> Result<Exit> {
    let before = cgroup.stats()?.oom_kills;
    let pid = start_in(cgroup, move || allocate(alloc))?;
    let _reap = reaper(pid);
    let exit = process::wait(pid)?;
    let stats = cgroup.stats()?;
    match exit {
        Exit::Signal(Signal::SIGKILL) => println!("   child: killed by SIGKILL, the OOM killer"),
        other => println!("   child: exited with status {}", other.code()),
    }
    if let Some(peak) = stats.memory_peak_bytes {
        println!("   peak usage: {}", human(peak as i64));
    }
    println!(
        "   OOM kills counted by the cgroup: {}",
        stats.oom_kills - before
    );
    Ok(exit)
}

pub fn limit(steps: &mut Steps, limit: i64, alloc: i64) -> Result<i32> {
    let limits = checked(Limits {
        memory: Some(limit),
        memory_swap: Some(limit),
        ..Default::default()
    })?;
    let mut sandbox = Sandbox::new()?;
    steps.step(&format!(
        "a cgroup with --memory {0} --memory-swap {0} (no swap at all)",
        human(limit)
    ));
    let cgroup = sandbox.child("mem", &limits)?;
    for (file, value) in limits.files(cgroup.version()) {
        println!("   {file} = {value}");
    }

    steps.step(&format!("a child allocates {} in it", human(alloc)));
    run_allocation(&cgroup, alloc)?;
    sandbox.clear()?;
    Ok(0)
}

/// Total swap of the host, from `/proc/meminfo`.
fn host_swap_bytes() -> i64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            let line = m.lines().find(|l| l.starts_with("SwapTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

pub fn swap(steps: &mut Steps, memory: i64, memory_swap: i64, alloc: i64) -> Result<i32> {
    let resolved = checked(Limits {
        memory: Some(memory),
        memory_swap: Some(memory_swap),
        ..Default::default()
    })?;
    steps.step("what the flags mean");
    let swap_part = if memory_swap < 0 {
        "unlimited swap".to_string()
    } else if memory_swap == memory {
        "no swap".to_string()
    } else {
        format!("up to {} of swap", human(memory_swap - memory))
    };
    let total = if memory_swap < 0 {
        "-1".to_string()
    } else {
        human(memory_swap)
    };
    println!(
        "   --memory {} --memory-swap {total}: {} of RAM, then {swap_part}",
        human(memory),
        human(memory)
    );
    for version in [Version::V1, Version::V2] {
        let files: Vec<String> = resolved
            .files(version)
            .into_iter()
            .map(|(f, v)| format!("{f}={v}"))
            .collect();
        println!("   cgroup {version} files: {}", files.join(" "));
    }

    let mut sandbox = Sandbox::new()?;
    steps.step(&format!(
        "write them on this host (cgroup {})",
        sandbox.driver.version()
    ));
    let cgroup = sandbox.child("swap", &resolved)?;
    for (file, _) in resolved.files(cgroup.version()) {
        let dir = cgroup.dir("memory").unwrap_or_default();
        let value = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|_| "(missing)".into());
        println!("   read back: {file} = {}", value.trim());
    }

    steps.step(&format!("a child allocates {} in it", human(alloc)));
    let swap = host_swap_bytes();
    if swap == 0 {
        println!(
            "   this host has no swap: beyond {} nothing can be swapped out,",
            human(memory)
        );
        println!("   so the swap allowance cannot help and the OOM killer decides");
    } else {
        println!(
            "   this host has {} of swap: pages beyond {} may go there",
            human(swap),
            human(memory)
        );
    }
    run_allocation(&cgroup, alloc)?;
    sandbox.clear()?;
    Ok(0)
}
