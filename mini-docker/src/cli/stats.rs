//! `stats`: the resource usage of containers, computed as Docker 20.10
//! computes it — CPU % from two samples of the cgroup's CPU time against
//! the host's (`/proc/stat`) times the online CPUs; memory as usage minus
//! the inactive file cache, against the limit (the host's memory when
//! unlimited); network bytes from the container's network namespace; block
//! I/O from `blkio`/`io.stat`; and the cgroup's process count.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use mini_docker::container::lifecycle::{self, is_running};
use mini_docker::container::record::{Container, NetworkMode};
use serde_json::{json, Value};

use super::{template, Context};

/// Docker's collector interval.
const INTERVAL: Duration = Duration::from_secs(1);

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    no_trunc: bool,
    /// Pretty-print stats using a Go template.
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

/// One reading of one container.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sample {
    /// Cgroup CPU time and the host's, in nanoseconds.
    pub cpu_ns: u64,
    pub system_ns: u64,
    pub memory: u64,
    pub memory_limit: u64,
    pub net_rx: u64,
    pub net_tx: u64,
    pub block_read: u64,
    pub block_write: u64,
    pub pids: u64,
}

/// What one row shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub container: String,
    pub id: String,
    pub name: String,
    pub cpu_percent: f64,
    pub memory: u64,
    pub memory_limit: u64,
    pub net: (u64, u64),
    pub block: (u64, u64),
    pub pids: u64,
}

/// Docker's CPU %: the container's share of all CPU time that passed,
/// scaled to the number of CPUs (so one busy core of two reads 100%).
pub fn cpu_percent(before: &Sample, after: &Sample, online_cpus: usize) -> f64 {
    let cpu = after.cpu_ns.saturating_sub(before.cpu_ns) as f64;
    let system = after.system_ns.saturating_sub(before.system_ns) as f64;
    if system > 0.0 && cpu > 0.0 {
        cpu / system * online_cpus as f64 * 100.0
    } else {
        0.0
    }
}

/// The host's CPU time from `/proc/stat`'s `cpu` line (user to softirq,
/// as Docker sums it), in nanoseconds.
pub fn system_ns(proc_stat: &str) -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let line = proc_stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .unwrap_or_default();
    let sum: u64 = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    sum * (1_000_000_000 / ticks)
}

/// Received and transmitted bytes of every interface but `lo`, from a
/// `/proc/net/dev` (Docker counts the container's own interfaces).
pub fn net_bytes(net_dev: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for line in net_dev.lines().skip(2) {
        let Some((name, counters)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let fields: Vec<u64> = counters
            .split_whitespace()
            .filter_map(|f| f.parse().ok())
            .collect();
        if fields.len() >= 9 {
            rx += fields[0];
            tx += fields[8];
        }
    }
    (rx, tx)
}

/// The host's memory (`MemTotal`), in bytes.
pub fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Go's `%.*g`: `precision` significant digits, trailing zeros dropped,
/// the exponent form for large or tiny exponents.
pub fn go_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let sci = format!("{:.*e}", precision.saturating_sub(1), value);
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exponent < -4 || exponent >= precision as i32 {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exponent.abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        trim(&format!("{value:.decimals$}"))
    }
}

/// go-units' `CustomSize`: divide by `base` while it is at least `base`.
fn custom_size(bytes: u64, base: f64, units: &[&str], precision: usize) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit < units.len() - 1 {
        value /= base;
        unit += 1;
    }
    format!("{}{}", go_g(value, precision), units[unit])
}

/// go-units' `BytesSize`: `324KiB`, `1.944GiB`.
pub fn binary_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
    custom_size(bytes, 1024.0, &UNITS, 4)
}

/// go-units' `HumanSizeWithPrecision(x, 3)`: `726B`, `1.2kB`.
pub fn decimal_size(bytes: u64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    custom_size(bytes, 1000.0, &UNITS, 3)
}

impl Row {
    fn memory_percent(&self) -> f64 {
        if self.memory_limit == 0 {
            0.0
        } else {
            self.memory as f64 / self.memory_limit as f64 * 100.0
        }
    }

    /// The fields `--format` sees, named and formatted as Docker's.
    pub fn value(&self) -> Value {
        json!({
            "Container": self.container,
            "ID": self.id,
            "Name": self.name,
            "CPUPerc": format!("{:.2}%", self.cpu_percent),
            "MemUsage": format!("{} / {}", binary_size(self.memory), binary_size(self.memory_limit)),
            "MemPerc": format!("{:.2}%", self.memory_percent()),
            "NetIO": format!("{} / {}", decimal_size(self.net.0), decimal_size(self.net.1)),
            "BlockIO": format!("{} / {}", decimal_size(self.block.0), decimal_size(self.block.1)),
            "PIDs": self.pids.to_string(),
        })
    }
}

const HEADER: [&str; 8] = [
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
];
const FIELDS: [&str; 8] = [
    "ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs",
];

/// Rows (the header first) as Docker's tabwriter lays them out: each
/// column as wide as its widest cell plus three spaces, and at least ten.
pub fn tabwriter(rows: &[Vec<String>]) -> String {
    tabwriter_min(rows, 10)
}

/// [`tabwriter`] with another minimum column width (`top` uses 20).
pub fn tabwriter_min(rows: &[Vec<String>], min: usize) -> String {
    let text: String = rows.iter().map(|row| row.join("\t") + "\n").collect();
    super::table::tabwrite(&text, min, super::table::PADDING)
}

/// The stats table.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = std::iter::once(HEADER.iter().map(|h| h.to_string()).collect())
        .chain(rows.iter().map(|r| {
            let v = r.value();
            FIELDS
                .iter()
                .map(|f| v[f].as_str().unwrap_or_default().to_string())
                .collect()
        }))
        .collect();
    tabwriter(&cells)
}

/// One reading of a container; zeros when it is not running (Docker shows
/// a stopped container that way under `-a`).
fn sample(c: &Container, running: bool, pid: i32, system: u64, host_mem: u64) -> Sample {
    if !running {
        return Sample::default();
    }
    let stats = lifecycle::cgroup(c).ok().and_then(|cg| cg.stats().ok());
    let Some(stats) = stats else {
        return Sample::default();
    };
    let (net_rx, net_tx) = if c.host_config.network_mode == NetworkMode::Host {
        (0, 0)
    } else {
        std::fs::read_to_string(format!("/proc/{pid}/net/dev"))
            .map(|t| net_bytes(&t))
            .unwrap_or_default()
    };
    let limit = stats.memory_limit_bytes.unwrap_or(u64::MAX);
    Sample {
        cpu_ns: stats.cpu_usage_ns,
        system_ns: system,
        memory: stats.memory_usage_no_cache(),
        memory_limit: if host_mem > 0 {
            limit.min(host_mem)
        } else {
            limit
        },
        net_rx,
        net_tx,
        block_read: stats.io_read_bytes,
        block_write: stats.io_write_bytes,
        pids: stats.pids,
    }
}

/// The containers to show: those named, or every running one (every one
/// with `-a`), each with the label Docker's `.Container` shows.
fn targets(ctx: &Context, args: &StatsArgs) -> Result<Vec<(String, Container)>> {
    if !args.containers.is_empty() {
        return args
            .containers
            .iter()
            .map(|k| Ok((k.clone(), ctx.containers.find(k)?)))
            .collect();
    }
    let mut out = Vec::new();
    for c in ctx.containers.list()? {
        let running = ctx.containers.runtime(&c.id).is_ok_and(|r| is_running(&r));
        if args.all || running {
            out.push((c.id[..12].to_string(), c));
        }
    }
    Ok(out)
}

fn read_all(ctx: &Context, targets: &[(String, Container)]) -> BTreeMap<String, Sample> {
    let system = system_ns(&std::fs::read_to_string("/proc/stat").unwrap_or_default());
    let host_mem = host_memory();
    targets
        .iter()
        .map(|(_, c)| {
            let runtime = ctx.containers.runtime(&c.id).ok();
            let running = runtime.as_ref().is_some_and(is_running);
            let pid = runtime.map_or(0, |r| r.state.pid);
            (c.id.clone(), sample(c, running, pid, system, host_mem))
        })
        .collect()
}

fn rows(
    targets: &[(String, Container)],
    before: &BTreeMap<String, Sample>,
    after: &BTreeMap<String, Sample>,
    no_trunc: bool,
) -> Vec<Row> {
    let cpus = mini_docker::container::monitor::online_cpus();
    targets
        .iter()
        .map(|(label, c)| {
            let a = after.get(&c.id).cloned().unwrap_or_default();
            let b = before.get(&c.id).cloned().unwrap_or_default();
            Row {
                container: label.clone(),
                id: if no_trunc {
                    c.id.clone()
                } else {
                    c.id[..12].to_string()
                },
                name: c.name.trim_start_matches('/').to_string(),
                cpu_percent: cpu_percent(&b, &a, cpus),
                memory: a.memory,
                memory_limit: a.memory_limit,
                net: (a.net_rx, a.net_tx),
                block: (a.block_read, a.block_write),
                pids: a.pids,
            }
        })
        .collect()
}

/// Each header of the stats table, by field.
fn headers() -> Value {
    let mut v = serde_json::Map::new();
    for (field, header) in FIELDS.iter().zip(HEADER) {
        v.insert((*field).into(), header.into());
    }
    v.insert("Container".into(), "CONTAINER".into());
    Value::Object(v)
}

/// `--format` as Docker's formatter applies it: `table TEMPLATE` renders a
/// header (the template over the fields' column names) and the rows, and
/// lays out their tab-separated cells as the tabwriter does; any other
/// template is printed as rendered, one line per object.
pub fn format_rows(format: &str, header: &Value, rows: &[Value]) -> Result<String> {
    // Docker's formatter reads `\t` and `\n` written as two characters as a
    // tab and a newline, in every listing (stats and system df included).
    let format = format.replace("\\t", "\t").replace("\\n", "\n");
    let format = format.as_str();
    let render = |v: &Value| template::render(format_body(format), v).map_err(anyhow::Error::msg);
    if format.trim_start().starts_with("table") {
        let mut cells = vec![split_cells(&render(header)?)];
        for r in rows {
            cells.push(split_cells(&render(r)?));
        }
        return Ok(tabwriter(&cells));
    }
    let mut out = String::new();
    for r in rows {
        out.push_str(&render(r)?);
        out.push('\n');
    }
    Ok(out)
}

/// The template without Docker's `table` keyword.
fn format_body(format: &str) -> &str {
    format
        .trim_start()
        .strip_prefix("table")
        .map_or(format, |rest| rest.trim_start())
}

fn split_cells(line: &str) -> Vec<String> {
    line.split('\t').map(String::from).collect()
}

fn render(rows: &[Row], format: Option<&str>) -> Result<String> {
    match format.map(str::trim) {
        None | Some("table") | Some("") => Ok(table(rows)),
        Some(f) => format_rows(
            f,
            &headers(),
            &rows.iter().map(Row::value).collect::<Vec<_>>(),
        ),
    }
}

/// `stats [--no-stream] [-a] [--no-trunc] [--format F] [CONTAINER...]`.
pub fn stats(ctx: &Context, args: &StatsArgs) -> Result<i32> {
    // A missing container is the daemon's error in Docker.
    if let Some(e) = args
        .containers
        .iter()
        .find_map(|k| ctx.containers.find(k).err())
    {
        eprintln!("Error response from daemon: {e}");
        return Ok(1);
    }
    super::end_on_interrupt();
    let mut targets = targets(ctx, args)?;
    let mut before = read_all(ctx, &targets);
    let mut stdout = std::io::stdout();
    loop {
        std::thread::sleep(INTERVAL);
        let after = read_all(ctx, &targets);
        let text = render(
            &rows(&targets, &before, &after, args.no_trunc),
            args.format.as_deref(),
        )?;
        if args.no_stream {
            write!(stdout, "{text}")?;
            stdout.flush()?;
            return Ok(0);
        }
        // Docker's live screen: clear, home, redraw (until the reader goes).
        let drawn = write!(stdout, "\x1b[2J\x1b[H{text}").and_then(|()| stdout.flush());
        match drawn {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(0),
            other => other?,
        }
        before = after;
        if args.containers.is_empty() {
            // New containers join, removed ones leave, as in Docker.
            targets = self::targets(ctx, args)?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_formats_get_dockers_headers() {
        let row =
            json!({"Name": "w2", "CPUPerc": "0.00%", "Container": "w2", "MemUsage": "1B / 2B"});
        // As `docker stats --format "table {{.Name}}\t{{.CPUPerc}}\t{{.Container}}\t{{.MemUsage}}"`.
        assert_eq!(
            format_rows(
                "table {{.Name}}\\t{{.CPUPerc}}\\t{{.Container}}\\t{{.MemUsage}}",
                &headers(),
                std::slice::from_ref(&row)
            )
            .unwrap(),
            "NAME      CPU %     CONTAINER   MEM USAGE / LIMIT\nw2        0.00%     w2          1B / 2B\n"
        );
        assert_eq!(
            format_rows("{{.Name}}\\t{{.CPUPerc}}", &headers(), &[row]).unwrap(),
            "w2\t0.00%\n"
        );
    }

    #[test]
    fn sizes_print_as_go_units_does() {
        assert_eq!(binary_size(331_776), "324KiB");
        assert_eq!(binary_size(200 << 20), "200MiB");
        assert_eq!(binary_size(25_275_809_792), "23.54GiB");
        assert_eq!(binary_size(0), "0B");
        assert_eq!(decimal_size(726), "726B");
        assert_eq!(decimal_size(1234), "1.23kB");
        assert_eq!(decimal_size(999_999), "1e+03kB");
        assert_eq!(go_g(1000.5, 4), "1000");
        assert_eq!(go_g(0.000012, 3), "1.2e-05");
    }

    #[test]
    fn cpu_percent_scales_by_cpus() {
        let at = |cpu, system| Sample {
            cpu_ns: cpu,
            system_ns: system,
            ..Default::default()
        };
        // Half of all CPU time on a 2-CPU host: one full core, 100%.
        assert_eq!(cpu_percent(&at(0, 0), &at(500, 1000), 2), 100.0);
        assert_eq!(cpu_percent(&at(10, 10), &at(10, 20), 2), 0.0);
        assert_eq!(cpu_percent(&at(10, 10), &at(20, 10), 2), 0.0);
    }

    #[test]
    fn proc_files_parse() {
        let stat = "cpu  10 0 5 100 1 0 2 7 0 0\ncpu0 5 0 2 50 0 0 1 3 0 0\n";
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
        assert_eq!(system_ns(stat), 118 * (1_000_000_000 / hz));
        let dev = "Inter-|   Receive                            |  Transmit\n \
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  \
eth0:     726       9    0    0    0     0          0         0       42       1    0    0    0     0       0          0\n";
        assert_eq!(net_bytes(dev), (726, 42));
    }

    #[test]
    fn table_and_json_have_dockers_shape() {
        let row = Row {
            container: "u2".into(),
            id: "a7217dd504e3".into(),
            name: "u2".into(),
            cpu_percent: 0.0,
            memory: 331_776,
            memory_limit: 200 << 20,
            net: (726, 0),
            block: (0, 0),
            pids: 1,
        };
        // As `docker stats --no-stream` printed it (Docker 20.10).
        assert_eq!(
            table(std::slice::from_ref(&row)),
            "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     BLOCK I/O   PIDS\n\
             a7217dd504e3   u2        0.00%     324KiB / 200MiB     0.16%     726B / 0B   0B / 0B     1\n"
        );
        assert_eq!(
            row.value(),
            json!({"BlockIO":"0B / 0B","CPUPerc":"0.00%","Container":"u2","ID":"a7217dd504e3","MemPerc":"0.16%","MemUsage":"324KiB / 200MiB","Name":"u2","NetIO":"726B / 0B","PIDs":"1"})
        );
    }
}
