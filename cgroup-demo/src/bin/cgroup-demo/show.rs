//! Where a process is, and what limits it.

use std::path::Path;

use anyhow::{Context as _, Result};
use cgroup_demo::{Layout, Version};

/// The files worth showing per controller (v1 name, v2 name).
const LIMIT_FILES: &[(&str, &[&str])] = &[
    (
        "cpu",
        &[
            "cpu.shares",
            "cpu.cfs_quota_us",
            "cpu.cfs_period_us",
            "cpu.weight",
            "cpu.max",
        ],
    ),
    ("cpuset", &["cpuset.cpus"]),
    (
        "memory",
        &[
            "memory.limit_in_bytes",
            "memory.memsw.limit_in_bytes",
            "memory.max",
            "memory.swap.max",
        ],
    ),
    ("pids", &["pids.max"]),
];

pub fn info() -> Result<i32> {
    let layout = Layout::detect()?;
    println!("setup:  {}", layout.setup);
    println!("driver: cgroup {}", layout.version());
    for (controller, path) in &layout.v1 {
        println!("  v1 {controller:<10} {}", path.display());
    }
    if let Some(path) = &layout.unified {
        let controllers =
            std::fs::read_to_string(path.join("cgroup.controllers")).unwrap_or_default();
        let controllers = controllers.trim();
        let shown = if controllers.is_empty() {
            "(no controllers)"
        } else {
            controllers
        };
        println!("  v2 {:<10} {} {shown}", "unified", path.display());
    }
    Ok(0)
}

pub fn show(pid: Option<i32>) -> Result<i32> {
    let pid = pid.map_or_else(|| "self".to_string(), |p| p.to_string());
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .with_context(|| format!("process {pid}"))?;
    let layout = Layout::detect()?;
    println!("/proc/{pid}/cgroup:");
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let (label, root) = if controllers.is_empty() {
            ("(v2)".to_string(), layout.unified.clone())
        } else {
            let first = controllers.split(',').next().unwrap_or_default();
            (
                controllers.to_string(),
                layout.v1_root(first).map(Path::to_path_buf),
            )
        };
        let mut limits = Vec::new();
        if let Some(dir) = root.map(|r| r.join(path.trim_start_matches('/'))) {
            for (controller, files) in LIMIT_FILES {
                let relevant = controllers.split(',').any(|c| c == *controller)
                    || (controllers.is_empty() && layout.version() == Version::V2);
                if !relevant {
                    continue;
                }
                for file in *files {
                    if let Ok(value) = std::fs::read_to_string(dir.join(file)) {
                        limits.push(format!("{file}={}", value.trim()));
                    }
                }
            }
        }
        println!("  {label:<16} {path:<30} {}", limits.join(" "));
    }
    Ok(0)
}
