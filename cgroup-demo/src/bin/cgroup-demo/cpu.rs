//! `--cpu-shares` and `--cpus`, measured.

use std::time::{Duration, Instant};

use anyhow::Result;
use cgroup_demo::{Cgroup, Limits, Version};
use narrate::Steps;
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

use crate::work::{checked, reaper, start_in, stop, Sandbox};

/// How far a measured ratio may stray from the configured one.
const TOLERANCE: f64 = 0.25;

fn busy_loop(pin: Option<usize>) -> i32 {
    if let Some(cpu) = pin {
        let mut set = CpuSet::new();
        if set.set(cpu).is_err() || sched_setaffinity(Pid::from_raw(0), &set).is_err() {
            return 1;
        }
    }
    let mut x = 0u64;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

/// Runs one busy loop per cgroup for `seconds`; returns the CPU seconds
/// each cgroup used and the wall-clock time.
fn race(cgroups: &[&Cgroup], pin: Option<usize>, seconds: f64) -> Result<(Vec<f64>, f64)> {
    let before: Vec<u64> = cgroups
        .iter()
        .map(|c| c.stats().map(|s| s.cpu_usage_ns))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for cgroup in cgroups {
        let pid = start_in(cgroup, move || busy_loop(pin))?;
        workers.push((pid, reaper(pid)));
    }
    std::thread::sleep(Duration::from_secs_f64(seconds));
    let used: Vec<f64> = cgroups
        .iter()
        .zip(&before)
        .map(|(c, b)| c.stats().map(|s| (s.cpu_usage_ns - b) as f64 / 1e9))
        .collect::<Result<_, _>>()?;
    let wall = started.elapsed().as_secs_f64();
    for (pid, _reap) in workers {
        stop(pid)?;
    }
    Ok((used, wall))
}

fn yes_no(ok: bool) -> &'static str {
    if ok {
        "yes"
    } else {
        "no"
    }
}

pub fn shares(steps: &mut Steps, shares: [u64; 2], seconds: f64) -> Result<i32> {
    let share = |s| {
        checked(Limits {
            cpu_shares: Some(s),
            ..Default::default()
        })
    };
    let limits = [share(shares[0])?, share(shares[1])?];
    let mut sandbox = Sandbox::new()?;
    let version = sandbox.driver.version();
    steps.step(&format!(
        "two cgroups, a with --cpu-shares {} and b with {}",
        shares[0], shares[1]
    ));
    let mut groups = Vec::new();
    for (name, limits) in ["a", "b"].into_iter().zip(&limits) {
        let cgroup = sandbox.child(name, limits)?;
        for (file, value) in limits.files(version) {
            println!("   {name}: {file} = {value} ({version})");
        }
        groups.push(cgroup);
    }
    // What the kernel divides the CPU by: the shares on v1, the weights runc's
    // conversion makes of them on v2 (1024 : 256 is 100 : 35 there, not 4 : 1).
    let weight = |s: u64| match version {
        Version::V1 => s as f64,
        Version::V2 => cgroup_demo::limits::shares_to_weight(s) as f64,
    };
    let configured = weight(shares[0]) / weight(shares[1]);

    steps.step(&format!(
        "a busy loop in each, both pinned to CPU 0, for {seconds}s: they must share it"
    ));
    let (used, wall) = race(&[&groups[0], &groups[1]], Some(0), seconds)?;
    let ratio = used[0] / used[1].max(1e-9);
    println!(
        "   a used {:.2}s of CPU, b {:.2}s, in {:.2}s",
        used[0], used[1], wall
    );
    println!(
        "   measured ratio {ratio:.2} : 1, configured {configured:.2} : 1 (within {:.0}%: {})",
        TOLERANCE * 100.0,
        yes_no((ratio / configured - 1.0).abs() <= TOLERANCE)
    );

    steps.step(&format!(
        "the same without pinning, on {} CPUs",
        crate::work::online_cpus()
    ));
    let (used, wall) = race(&[&groups[0], &groups[1]], None, seconds)?;
    println!(
        "   a used {:.2}s of CPU, b {:.2}s, in {:.2}s",
        used[0], used[1], wall
    );
    println!("   with a CPU each there is no contention: shares are weights, not limits,");
    println!("   and only matter when the CPUs are busy");
    sandbox.clear()?;
    Ok(0)
}

pub fn quota(steps: &mut Steps, cpus: f64, seconds: f64) -> Result<i32> {
    let limits = checked(Limits {
        cpus: Some(cpus),
        ..Default::default()
    })?;
    let mut sandbox = Sandbox::new()?;
    let version = sandbox.driver.version();
    steps.step(&format!("a cgroup with --cpus {cpus}"));
    let cgroup = sandbox.child("quota", &limits)?;
    for (file, value) in limits.files(version) {
        println!("   {file} = {value} ({version})");
    }

    steps.step(&format!("one busy loop in it for {seconds}s"));
    let (used, wall) = race(&[&cgroup], None, seconds)?;
    let share = used[0] / wall;
    // The loop may start just before a period ends and use that period's
    // quota as well: at most one period more than the wall time holds.
    let period = cgroup_demo::limits::CPU_PERIOD as f64 / 1e6;
    let ceiling = cpus * (wall + period) / wall * 1.02;
    println!(
        "   it used {:.2}s of CPU in {:.2}s: {share:.2} of a CPU (at most {cpus}: {})",
        used[0],
        wall,
        yes_no(share <= ceiling)
    );
    println!(
        "   the quota is a ceiling enforced every period ({}ms): the loop is throttled",
        cgroup_demo::limits::CPU_PERIOD / 1000
    );
    println!("   for the rest of each period once it has used its share");
    sandbox.clear()?;
    Ok(0)
}
