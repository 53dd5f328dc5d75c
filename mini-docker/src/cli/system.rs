//! `version`, `info` and `system df`, in Docker's layout where it makes
//! sense for a daemonless tool: the "server" is this binary and its
//! monitor, and its root directory is the store.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Result;
use clap::Args;
use mini_docker::container::lifecycle::effective;
use mini_docker::container::mounts::volumes_in_use;
use mini_docker::container::record::{MountKind, Status};
use mini_docker::human;
use mini_docker::volume::Volumes;
use serde_json::{json, Value};

use super::prune::disk_usage;
use super::stats::{binary_size, go_g, host_memory, tabwriter};
use super::{template, Context};

/// The Engine API version whose shapes `inspect` and friends follow.
const API_VERSION: &str = "1.41";

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Format the output using the given Go template.
    #[arg(short, long)]
    format: Option<String>,
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short, long)]
    verbose: bool,
    /// Pretty-print using a Go template.
    #[arg(long)]
    format: Option<String>,
}

/// Go's architecture names (`GOARCH`), which Docker prints.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn render(format: &str, value: &Value, type_name: &'static str) -> Result<()> {
    println!(
        "{}",
        template::render_as(format, value, type_name).map_err(anyhow::Error::msg)?
    );
    Ok(())
}

/// `version`: Client and Server sections, values aligned at column 20.
pub fn version(_ctx: &Context, args: &FormatArgs) -> Result<i32> {
    let v = env!("CARGO_PKG_VERSION");
    let os_arch = format!("linux/{}", go_arch());
    let value = json!({
        "Client": {
            "Version": v, "ApiVersion": API_VERSION, "Os": "linux", "Arch": go_arch(),
            "Context": "default", "Experimental": false,
        },
        "Server": {
            "Version": v, "ApiVersion": API_VERSION, "MinAPIVersion": "1.12",
            "Os": "linux", "Arch": go_arch(), "KernelVersion": kernel_version(),
            "Experimental": false,
            "Components": [
                {"Name": "Engine", "Version": v},
                {"Name": "mini-docker-monitor", "Version": v},
            ],
        },
    });
    if let Some(f) = &args.format {
        render(f, &value, "")?;
        return Ok(0);
    }
    let client = |k: &str, v: &str| println!(" {:<18} {v}", format!("{k}:"));
    let server = |k: &str, v: &str| println!("  {:<17} {v}", format!("{k}:"));
    println!("Client:");
    client("Version", v);
    client("API version", API_VERSION);
    client("OS/Arch", &os_arch);
    client("Context", "default");
    client("Experimental", "false");
    println!();
    println!("Server:");
    println!(" Engine:");
    server("Version", v);
    server(
        "API version",
        &format!("{API_VERSION} (minimum version 1.12)"),
    );
    server("OS/Arch", &os_arch);
    server("Experimental", "false");
    println!(" mini-docker-monitor:");
    server("Version", v);
    Ok(0)
}

fn kernel_version() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `PRETTY_NAME` from os-release, as Docker's "Operating System".
fn operating_system() -> String {
    ["/etc/os-release", "/usr/lib/os-release"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| {
            t.lines().find_map(|l| {
                l.strip_prefix("PRETTY_NAME=")
                    .map(|v| v.trim_matches('"').to_string())
            })
        })
        .unwrap_or_else(|| "Linux".into())
}

/// The warning `info` gives when other users can read the state root
/// (container configs hold environment variables, often secrets).
pub fn world_readable_warning(root: &Path, mode: u32) -> Option<String> {
    (mode & 0o004 != 0).then(|| {
        format!(
            "WARNING: the state root {} is readable by other users (mode {:o}); container configurations may hold secrets",
            root.display(),
            mode & 0o777
        )
    })
}

/// `info`: counts from the store, facts from the host.
pub fn info(ctx: &Context, args: &FormatArgs) -> Result<i32> {
    let (mut running, mut paused, mut stopped) = (0, 0, 0);
    let containers = ctx.containers.list()?;
    for c in &containers {
        let state = effective(&ctx.containers.runtime(&c.id).unwrap_or_default());
        match state.status {
            Status::Running | Status::Restarting => running += 1,
            Status::Paused => paused += 1,
            _ => stopped += 1,
        }
    }
    let cgroup_version = match cgroup_demo::Layout::detect().map(|l| l.version()) {
        Ok(cgroup_demo::Version::V2) => "2",
        _ => "1",
    };
    let root = ctx.store.root();
    let name = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let cpus = mini_docker::container::monitor::online_cpus();
    let memory = host_memory();
    let mode = std::fs::metadata(root).map_or(0, |m| m.permissions().mode());
    let warnings: Vec<String> = world_readable_warning(root, mode).into_iter().collect();
    let value = json!({
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": ctx.store.images()?.len(),
        "Driver": "overlay2",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "KernelVersion": kernel_version(),
        "OperatingSystem": operating_system(),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": cpus,
        "MemTotal": memory,
        "Name": name,
        "DockerRootDir": root,
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Warnings": warnings,
    });
    if let Some(f) = &args.format {
        render(f, &value, "system.info")?;
        return Ok(0);
    }
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    println!("Client:");
    println!(" Context:    default");
    println!(" Debug Mode: false");
    println!();
    println!("Server:");
    println!(" Containers: {}", value["Containers"]);
    println!("  Running: {running}");
    println!("  Paused: {paused}");
    println!("  Stopped: {stopped}");
    println!(" Images: {}", value["Images"]);
    println!(" Server Version: {}", s(&value["ServerVersion"]));
    println!(" Storage Driver: overlay2");
    println!(" Logging Driver: json-file");
    println!(" Cgroup Driver: cgroupfs");
    println!(" Cgroup Version: {cgroup_version}");
    println!(" Kernel Version: {}", s(&value["KernelVersion"]));
    println!(" Operating System: {}", s(&value["OperatingSystem"]));
    println!(" OSType: linux");
    println!(" Architecture: {}", std::env::consts::ARCH);
    println!(" CPUs: {cpus}");
    println!(" Total Memory: {}", binary_size(memory));
    println!(" Name: {name}");
    println!(" Docker Root Dir: {}", root.display());
    println!(" Debug Mode: false");
    println!();
    for w in &warnings {
        eprintln!("{w}");
    }
    Ok(0)
}

/// `inspect -s`: the container's writable layer (`SizeRw`) and its whole
/// root filesystem, image included (`SizeRootFs`), in bytes.
pub fn container_sizes(
    ctx: &Context,
    c: &mini_docker::container::record::Container,
) -> Result<(u64, u64)> {
    let rw = disk_usage(&ctx.containers.dir(&c.id).join("upper"));
    let image = c
        .image
        .parse()
        .ok()
        .and_then(|id| mini_docker::image::details(&ctx.store, &id).ok())
        .map_or(0, |d| d.size);
    Ok((rw, rw + image))
}

/// go-units' `HumanSize`: four significant digits, decimal units.
fn human_size(bytes: u64) -> String {
    let (value, unit) = mini_docker::human::decimal(bytes);
    format!("{}{unit}", go_g(value, 4))
}

/// One line of `system df`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

impl Usage {
    /// `1.986MB (100%)`; no percentage when nothing is used at all.
    pub fn reclaimable_text(&self) -> String {
        match (self.reclaimable * 100).checked_div(self.size) {
            Some(percent) => format!("{} ({percent}%)", human_size(self.reclaimable)),
            None => human_size(self.reclaimable),
        }
    }

    fn value(&self) -> Value {
        json!({
            "Type": self.kind,
            "TotalCount": self.total.to_string(),
            "Active": self.active.to_string(),
            "Size": human_size(self.size),
            "Reclaimable": self.reclaimable_text(),
        })
    }
}

/// How images share layers: Docker's `LayersSize` (every layer once) and
/// each image's `SharedSize` (its layers that another image has too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharing {
    pub total: u64,
    pub shared: Vec<u64>,
    /// Each image's own size (all its layers).
    pub sizes: Vec<u64>,
}

/// [`Sharing`] of images given as lists of `(layer, size)`.
pub fn layer_sharing(images: &[Vec<(String, u64)>]) -> Sharing {
    let mut uses: std::collections::BTreeMap<&str, (usize, u64)> = Default::default();
    for layers in images {
        for (id, size) in layers {
            uses.entry(id).or_insert((0, *size)).0 += 1;
        }
    }
    Sharing {
        total: uses.values().map(|(_, s)| s).sum(),
        shared: images
            .iter()
            .map(|l| {
                l.iter()
                    .filter(|(id, _)| uses[id.as_str()].0 > 1)
                    .map(|(_, s)| s)
                    .sum()
            })
            .collect(),
        sizes: images
            .iter()
            .map(|l| l.iter().map(|(_, s)| s).sum())
            .collect(),
    }
}

impl Sharing {
    /// Docker CLI's reclaimable space: all layers, less what the images in
    /// use hold on their own (their size minus the shared part).
    pub fn reclaimable(&self, users: &[usize]) -> u64 {
        let used: u64 = users
            .iter()
            .enumerate()
            .filter(|(_, u)| **u > 0)
            .map(|(i, _)| self.sizes[i].saturating_sub(self.shared[i]))
            .sum();
        self.total.saturating_sub(used)
    }
}

/// `system df [-v] [--format F]`.
pub fn df(ctx: &Context, args: &DfArgs) -> Result<i32> {
    let containers = ctx.containers.list()?;
    let tags = ctx.store.tags()?;
    // Images, and the layers each one has (by chain ID, with its size).
    let mut images = Vec::new();
    let mut layers: Vec<Vec<(String, u64)>> = Vec::new();
    for id in ctx.store.images()? {
        let d = mini_docker::image::details_with_tags(&ctx.store, &id, &tags)?;
        let users = containers
            .iter()
            .filter(|c| c.image == id.to_string())
            .count();
        let chains = mini_docker::store::chain_ids(&d.config.rootfs.diff_ids);
        layers.push(
            chains
                .iter()
                .map(|c| {
                    let size = ctx.store.layer(c).map_or(0, |l| l.size);
                    (c.to_string(), size)
                })
                .collect(),
        );
        images.push((d, users));
    }
    let sharing = layer_sharing(&layers);
    let image_usage = Usage {
        kind: "Images",
        total: images.len(),
        active: images.iter().filter(|(_, u)| *u > 0).count(),
        size: sharing.total,
        reclaimable: sharing.reclaimable(&images.iter().map(|(_, u)| *u).collect::<Vec<_>>()),
    };
    // Containers: their writable layers.
    let mut sized = Vec::new();
    for c in &containers {
        let state = effective(&ctx.containers.runtime(&c.id).unwrap_or_default());
        let size = disk_usage(&ctx.containers.dir(&c.id).join("upper"));
        sized.push((c, state.running(), size));
    }
    let container_usage = Usage {
        kind: "Containers",
        total: sized.len(),
        active: sized.iter().filter(|(_, r, _)| *r).count(),
        size: sized.iter().map(|(_, _, s)| s).sum(),
        reclaimable: sized.iter().filter(|(_, r, _)| !r).map(|(_, _, s)| s).sum(),
    };
    // Volumes.
    let in_use = volumes_in_use(&ctx.containers)?;
    let volumes: Vec<_> = Volumes::open(ctx.store.root())?
        .list()?
        .into_iter()
        .map(|v| {
            let links = in_use.get(&v.name).map_or(0, Vec::len);
            let size = disk_usage(&v.mountpoint);
            (v, links, size)
        })
        .collect();
    let volume_usage = Usage {
        kind: "Local Volumes",
        total: volumes.len(),
        active: volumes.iter().filter(|(_, l, _)| *l > 0).count(),
        size: volumes.iter().map(|(_, _, s)| s).sum(),
        reclaimable: volumes
            .iter()
            .filter(|(_, l, _)| *l == 0)
            .map(|(_, _, s)| s)
            .sum(),
    };
    // The build cache: one record per step; its size is what each step's
    // own layer holds; active is what tagged images are built on.
    let cache = mini_docker::build::cache::Cache::open(&ctx.store);
    let live = mini_docker::build::cache::Cache::live(&ctx.store)?;
    let cached: Vec<(bool, u64)> = cache
        .entries()
        .iter()
        .map(|e| {
            (
                live.contains(&e.image),
                mini_docker::build::cache::Cache::own_size(&ctx.store, &e.image),
            )
        })
        .collect();
    let cache_usage = Usage {
        kind: "Build Cache",
        total: cached.len(),
        active: cached.iter().filter(|(l, _)| *l).count(),
        size: cached.iter().map(|(_, s)| s).sum(),
        reclaimable: cached.iter().filter(|(l, _)| !*l).map(|(_, s)| s).sum(),
    };
    let all = [image_usage, container_usage, volume_usage, cache_usage];
    if let Some(f) = args.format.as_deref().filter(|f| f.trim() != "table") {
        let header = json!({"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE",
            "Size": "SIZE", "Reclaimable": "RECLAIMABLE"});
        let values: Vec<Value> = all.iter().map(Usage::value).collect();
        print!("{}", super::stats::format_rows(f, &header, &values)?);
        return Ok(0);
    }
    if !args.verbose {
        let mut rows = vec![["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
            .map(String::from)
            .to_vec()];
        for u in &all {
            rows.push(vec![
                u.kind.to_string(),
                u.total.to_string(),
                u.active.to_string(),
                human_size(u.size),
                u.reclaimable_text(),
            ]);
        }
        print!("{}", tabwriter(&rows));
        return Ok(0);
    }
    println!("Images space usage:\n");
    let mut rows = vec![[
        "REPOSITORY",
        "TAG",
        "IMAGE ID",
        "CREATED",
        "SIZE",
        "SHARED SIZE",
        "UNIQUE SIZE",
        "CONTAINERS",
    ]
    .map(String::from)
    .to_vec()];
    for (i, (d, users)) in images.iter().enumerate() {
        let created = d.created.map(human::since).unwrap_or_else(|| "N/A".into());
        let names: Vec<(String, String)> = if d.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            d.tags
                .iter()
                .map(|t| (t.familiar_name(), t.tag.clone().unwrap_or_default()))
                .collect()
        };
        for (repo, tag) in names {
            rows.push(vec![
                repo,
                tag,
                d.id.short().to_string(),
                created.clone(),
                human_size(d.size),
                human_size(sharing.shared[i]),
                human_size(d.size.saturating_sub(sharing.shared[i])),
                users.to_string(),
            ]);
        }
    }
    println!("{}", tabwriter(&rows));
    println!("Containers space usage:\n");
    let mut rows = vec![[
        "CONTAINER ID",
        "IMAGE",
        "COMMAND",
        "LOCAL VOLUMES",
        "SIZE",
        "CREATED",
        "STATUS",
        "NAMES",
    ]
    .map(String::from)
    .to_vec()];
    for (c, _, size) in &sized {
        let created = human::parse_rfc3339(&c.created)
            .map(human::since)
            .unwrap_or_default();
        let (_, status) = super::containers::status_text(c, ctx);
        rows.push(vec![
            c.id[..12].to_string(),
            c.config.image.clone(),
            super::containers::short_command(c, false),
            c.mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume)
                .count()
                .to_string(),
            human_size(*size),
            created,
            status,
            c.name.trim_start_matches('/').to_string(),
        ]);
    }
    println!("{}", tabwriter(&rows));
    println!("Local Volumes space usage:\n");
    let mut rows = vec![["VOLUME NAME", "LINKS", "SIZE"].map(String::from).to_vec()];
    for (v, links, size) in &volumes {
        rows.push(vec![v.name.clone(), links.to_string(), human_size(*size)]);
    }
    println!("{}", tabwriter(&rows));
    println!("Build cache usage: 0B\n");
    print!(
        "{}",
        tabwriter(&[[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED"
        ]
        .map(String::from)
        .to_vec()])
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_prints_as_docker() {
        let u = Usage {
            kind: "Images",
            total: 1,
            active: 0,
            size: 1_986_000,
            reclaimable: 1_986_000,
        };
        assert_eq!(u.reclaimable_text(), "1.986MB (100%)");
        let none = Usage {
            size: 0,
            reclaimable: 0,
            ..u
        };
        assert_eq!(none.reclaimable_text(), "0B");
        assert_eq!(human_size(726), "726B");
    }

    #[test]
    fn df_table_has_dockers_layout() {
        let rows: Vec<Vec<String>> = [
            ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
            ["Images", "1", "0", "1.986MB", "1.986MB (100%)"],
            ["Local Volumes", "0", "0", "0B", "0B"],
        ]
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
        // As Docker 20.10 printed it.
        assert_eq!(
            tabwriter(&rows),
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          1         0         1.986MB   1.986MB (100%)\n\
             Local Volumes   0         0         0B        0B\n"
        );
    }

    #[test]
    fn shared_layers_count_once() {
        let base = ("a".to_string(), 100);
        let images = vec![vec![base.clone()], vec![base, ("b".to_string(), 10)]];
        let s = layer_sharing(&images);
        assert_eq!(s.total, 110);
        assert_eq!(s.shared, [100, 100]);
        // Only the derived image in use: its own 10 bytes are not reclaimable.
        assert_eq!(s.reclaimable(&[0, 1]), 100);
        assert_eq!(s.reclaimable(&[0, 0]), 110);
        assert_eq!(s.reclaimable(&[1, 1]), 110 - 10);
    }

    #[test]
    fn state_root_readable_by_others_is_warned() {
        assert!(world_readable_warning(Path::new("/r"), 0o40755).is_some());
        assert_eq!(world_readable_warning(Path::new("/r"), 0o40700), None);
    }
}
