//! `top CONTAINER [PS-OPTIONS]`: the host's `ps` with those options
//! (Docker's default `-ef`), keeping
//! the header and the lines of the container's processes, as Docker's
//! daemon does (so any `ps` column works: `-o pid,comm`, `aux`, …).

use anyhow::Result;
use mini_docker::container::lifecycle;
use mini_docker::container::record::Container;

use super::stats::tabwriter_min;

/// Why `ps`'s output could not be used, in Docker's words.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopError {
    #[error("Couldn't find PID field in ps output")]
    NoPidColumn,
    #[error("Unexpected pid '{0}'")]
    BadPid(String),
    #[error("ps: {0}")]
    Ps(String),
}

/// The header and the rows of `ps` output whose PID is one of `pids`; the
/// last column keeps its spaces (a command line). A `-` PID (a thread line
/// of `ps m`) belongs to the process line above it.
pub fn filter(output: &str, pids: &[i32]) -> Result<(Vec<String>, Vec<Vec<String>>), TopError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    let pid_index = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or(TopError::NoPidColumn)?;
    let mut rows = Vec::new();
    let mut previous_kept = false;
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let Some(pid) = fields.get(pid_index) else {
            continue;
        };
        let keep = if *pid == "-" {
            previous_kept
        } else {
            let pid: i32 = pid.parse().map_err(|_| TopError::BadPid(pid.to_string()))?;
            previous_kept = pids.contains(&pid);
            previous_kept
        };
        if keep {
            let last = titles.len().saturating_sub(1).min(fields.len());
            let mut row: Vec<String> = fields[..last].iter().map(|s| s.to_string()).collect();
            row.push(fields[last..].join(" "));
            rows.push(row);
        }
    }
    Ok((titles, rows))
}

/// Runs `ps ARGS` and prints the container's lines, columns at least 20
/// wide as Docker's `top` prints them; returns the exit code, or `None`
/// when the host has no `ps`. A `ps` that fails or has no PID column is the
/// daemon's error in Docker: so worded, exit 1.
pub fn ps(c: &Container, args: &[String]) -> Result<Option<i32>> {
    let pids = lifecycle::cgroup(c)?.processes()?;
    let out = match std::process::Command::new("ps").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let filtered = if out.status.success() {
        filter(&String::from_utf8_lossy(&out.stdout), &pids)
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr.lines().next().unwrap_or_default().trim();
        Err(TopError::Ps(first.to_string()))
    };
    match filtered {
        Ok((titles, rows)) => {
            let mut table = vec![titles];
            table.extend(rows);
            print!("{}", tabwriter_min(&table, 20));
            Ok(Some(0))
        }
        Err(e) => {
            eprintln!("Error response from daemon: {e}");
            Ok(Some(1))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_containers_lines_and_the_whole_command() {
        let ps = "UID   PID  PPID CMD\nroot    1     0 /sbin/init\nroot   42     1 sleep 1000\nroot   43    42 sh -c x y\n";
        let (titles, rows) = filter(ps, &[42, 43]).unwrap();
        assert_eq!(titles, ["UID", "PID", "PPID", "CMD"]);
        assert_eq!(
            rows,
            [
                vec!["root", "42", "1", "sleep 1000"],
                vec!["root", "43", "42", "sh -c x y"]
            ]
        );
        let mut table = vec![titles];
        table.extend(rows);
        // As Docker's `top` lays it out.
        assert_eq!(
            tabwriter_min(&table[..2], 20),
            "UID                 PID                 PPID                CMD\n\
             root                42                  1                   sleep 1000\n"
        );
    }

    #[test]
    fn threads_follow_their_process_and_errors_are_dockers() {
        let ps = "PID TID CMD\n42 - sleep\n- 42 -\n7 - other\n- 7 -\n";
        let (_, rows) = filter(ps, &[42]).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            filter("COMMAND\nsleep\n", &[1]).unwrap_err().to_string(),
            "Couldn't find PID field in ps output"
        );
        assert_eq!(
            filter("PID\nx\n", &[1]).unwrap_err().to_string(),
            "Unexpected pid 'x'"
        );
    }
}
