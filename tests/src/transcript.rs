//! Lesson transcripts: every ```` ```console ```` block in `lessons/*.md` is
//! a script whose output is checked, so a lesson cannot drift from the
//! binaries it teaches.
//!
//! Format: a line starting with `$ ` is a command (a trailing `\` continues
//! it on the next line); the lines up to the next command are its expected
//! output, stdout and stderr together. A non-zero exit status is shown as a
//! last line `[exit N]`. In expected lines:
//!
//! | wildcard | matches |
//! | --- | --- |
//! | `[..]` | any text within the line |
//! | `[NUM]`, `[PID]` | a number |
//! | `[ADDR]` | an IPv4/IPv6 address, optionally with `/prefix` |
//! | `[TIME]` | a time or duration (`12ms`, `1.02s`, `2026-11-28T07:16:01Z`) |
//! | `[ID]` | a hex id of 6 to 64 digits |
//! | `...` alone on a line | any number of lines, including none |
//!
//! A block whose info string is ```` ```console cgroup-v2 ```` (or
//! `cgroup-v1`) runs only on a host whose containers get that cgroup
//! version (`cgroup_demo::Layout::version`); unmarked blocks run everywhere.
//! So a lesson can show both versions side by side, and each is checked
//! where it is real: v1 on this project's hosts, v2 in the guest of
//! `scripts/test-cgroup-v2.sh`.
//!
//! Each lesson runs as root in a fresh directory, its blocks in order and its
//! commands one `bash -c` each, with the workspace's binaries first in `PATH`
//! and mini-docker's state in that directory (`MINI_DOCKER_ROOT`,
//! `MINI_DOCKER_RUNROOT`) instead of `/var/lib/mini-docker`, with its
//! cgroups and links named after the test's token and no NAT rules
//! (`TestEnv::mini_docker_env`).

use std::io::Read as _;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cgroup_demo::{Layout, Version};
use regex::Regex;

use crate::TestEnv;

/// The longest a single lesson command may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

/// One command of a console block and the output it must print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based line of the command in the markdown file.
    pub line: usize,
    pub command: String,
    pub expected: Vec<String>,
    /// The only cgroup version the step's block runs on, if it is marked.
    pub cgroup: Option<Version>,
}

/// What a fence line opens: `None` for anything but a console block, else
/// the block's cgroup mark (`Some(None)` when unmarked). An unknown mark is
/// an error, so a typo cannot quietly skip a block.
fn console_fence(line: &str) -> Result<Option<Option<Version>>, String> {
    let Some(rest) = line.strip_prefix("```console") else {
        return Ok(None);
    };
    match rest.trim() {
        "" => Ok(Some(None)),
        "cgroup-v1" => Ok(Some(Some(Version::V1))),
        "cgroup-v2" => Ok(Some(Some(Version::V2))),
        _ if !rest.starts_with(' ') => Ok(None), // ```consoles, not ours
        other => Err(format!(
            "unknown console block mark `{other}` (cgroup-v1 or cgroup-v2)"
        )),
    }
}

/// The commands of every `console` block of a markdown text, in order.
pub fn parse(markdown: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    let mut block: Option<Option<Version>> = None;
    let mut continuing = false;
    for (i, line) in markdown.lines().enumerate() {
        let trimmed = line.trim_end();
        let Some(cgroup) = block else {
            block = console_fence(trimmed).map_err(|e| format!("line {}: {e}", i + 1))?;
            continue;
        };
        if trimmed == "```" {
            block = None;
            continue;
        }
        if continuing {
            let step = steps.last_mut().expect("a continued command exists");
            step.command.push('\n');
            step.command.push_str(trimmed);
            continuing = trimmed.ends_with('\\');
        } else if let Some(command) = trimmed.strip_prefix("$ ") {
            steps.push(Step {
                line: i + 1,
                command: command.to_string(),
                expected: Vec::new(),
                cgroup,
            });
            continuing = trimmed.ends_with('\\');
        } else if let Some(step) = steps.last_mut() {
            step.expected.push(trimmed.to_string());
        }
    }
    Ok(steps)
}

/// The cgroup marks (`cgroup-v1`, `cgroup-v2`) of a lesson's blocks, sorted.
pub fn cgroup_marks(steps: &[Step]) -> Vec<String> {
    let mut marks: Vec<String> = steps
        .iter()
        .filter_map(|s| s.cgroup.map(|v| format!("cgroup-{v}")))
        .collect();
    marks.sort();
    marks.dedup();
    marks
}

/// The steps that run on a host whose cgroup version is `host`.
pub fn for_host(steps: Vec<Step>, host: Version) -> Vec<Step> {
    steps
        .into_iter()
        .filter(|s| s.cgroup.is_none_or(|v| v == host))
        .collect()
}

/// One expected line, compiled; `None` stands for `...`.
fn compile(expected: &str) -> Option<Regex> {
    if expected.trim() == "..." {
        return None;
    }
    const WILDCARDS: &[(&str, &str)] = &[
        ("[..]", ".*"),
        ("[NUM]", r"\d+"),
        ("[PID]", r"\d+"),
        ("[ADDR]", r"[0-9A-Fa-f.:]+(?:/\d+)?"),
        (
            "[TIME]",
            r"\d[\d:.\-T]*(?:Z|[+-]\d\d:?\d\d|ns|µs|us|ms|s|m|h)?",
        ),
        ("[ID]", r"[0-9a-f]{6,64}"),
    ];
    let mut pattern = String::from("^");
    let mut rest = expected;
    'scan: while !rest.is_empty() {
        for (token, re) in WILDCARDS {
            if let Some(after) = rest.strip_prefix(token) {
                pattern.push_str(re);
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().expect("non-empty");
        pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4])));
        rest = &rest[c.len_utf8()..];
    }
    pattern.push('$');
    Some(Regex::new(&pattern).expect("wildcard pattern compiles"))
}

/// Whether `actual` lines match the `expected` lines with their wildcards.
pub fn matches(expected: &[String], actual: &[String]) -> bool {
    let compiled: Vec<Option<Regex>> = expected.iter().map(|e| compile(e)).collect();
    match_from(&compiled, actual)
}

fn match_from(expected: &[Option<Regex>], actual: &[String]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((None, rest)) => (0..=actual.len()).any(|skip| match_from(rest, &actual[skip..])),
        Some((Some(re), rest)) => actual
            .split_first()
            .is_some_and(|(line, tail)| re.is_match(line) && match_from(rest, tail)),
    }
}

/// The output of a command as compared: trailing blanks and empty trailing
/// lines trimmed, and `[exit N]` appended for a non-zero status.
fn run(env: &TestEnv, command: &str) -> Result<Vec<String>, String> {
    let bin_dir = crate::target_dir();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut reader, writer) = std::io::pipe().map_err(|e| e.to_string())?;
    let mut child = {
        let mut cmd = env.command("bash");
        cmd.arg("-c")
            .arg(command)
            .env("PATH", path)
            .env("MINI_DOCKER_ROOT", env.path("mini-docker"))
            .env("MINI_DOCKER_RUNROOT", env.path("mini-docker-run"))
            .envs(env.mini_docker_env())
            .stdin(Stdio::null())
            .stdout(writer.try_clone().map_err(|e| e.to_string())?)
            .stderr(writer);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        cmd.spawn().map_err(|e| format!("spawn bash: {e}"))?
    };
    let collector = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        out
    });
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                return Err(format!("timed out after {COMMAND_TIMEOUT:?}"));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let out = collector.join().map_err(|_| "output reader panicked")?;
    let mut lines: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(|l| l.trim_end().to_string())
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    match status.code() {
        Some(0) => {}
        Some(code) => lines.push(format!("[exit {code}]")),
        None => lines.push(format!("[killed: {status}]")),
    }
    Ok(lines)
}

/// The lesson binaries a lesson's commands call (`chroot-demo`, …): they
/// name what they create after themselves.
pub fn binaries_used(steps: &[Step]) -> Vec<String> {
    let mut found: Vec<String> = steps
        .iter()
        .flat_map(|s| {
            s.command
                .split(|c: char| c.is_whitespace() || c == ';' || c == '&')
        })
        // mini-docker's resources carry the test's token (its state root,
        // its cgroup parent), so only the demos need watching by name.
        .filter(|w| w.ends_with("-demo"))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// The steps of the lesson at `path`.
pub fn lesson_steps(path: &Path) -> Result<Vec<Step>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Runs every console command of the lesson at `path` in `env` that is
/// meant for this host's cgroup version, in order, stopping at the first
/// mismatch with a report a reader can act on. What the lesson's binaries
/// name after themselves (`ns-demo-1234`) is watched by the leak check.
pub fn check_lesson(path: &Path, env: &mut TestEnv) -> Result<usize, String> {
    let host = Layout::detect()
        .map_err(|e| format!("cgroup layout: {e}"))?
        .version();
    let steps = for_host(lesson_steps(path)?, host);
    for binary in binaries_used(&steps) {
        env.watch(&format!("{binary}-"));
    }
    for step in &steps {
        let actual = run(env, &step.command)
            .map_err(|e| format!("{}:{}: `{}`: {e}", path.display(), step.line, step.command))?;
        if !matches(&step.expected, &actual) {
            return Err(format!(
                "{}:{}: `{}`\n--- expected\n{}\n--- actual\n{}\n",
                path.display(),
                step.line,
                step.command,
                step.expected.join("\n"),
                actual.join("\n")
            ));
        }
    }
    env.drop_default_bridge(&env.path("mini-docker"));
    env.settle();
    Ok(steps.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn parses_commands_outputs_and_continuations() {
        let md = "text\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n```sh\n$ not run\n```\n";
        let steps = parse(md).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].command, "echo a \\\n  b");
        assert_eq!(steps[0].expected, ["a b"]);
        assert_eq!(steps[0].line, 3);
        assert_eq!(steps[1].command, "true");
        assert!(steps[1].expected.is_empty());
    }

    #[test]
    fn blocks_marked_for_a_cgroup_version_run_only_there() {
        let md = "```console\n$ both\n```\n\
                  ```console cgroup-v2\n$ v2 \\\n  more\nout\n```\n\
                  ```console cgroup-v1\n$ v1\n```\n";
        let steps = parse(md).unwrap();
        let marks: Vec<_> = steps.iter().map(|s| s.cgroup).collect();
        assert_eq!(marks, [None, Some(Version::V2), Some(Version::V1)]);
        assert_eq!(steps[1].command, "v2 \\\n  more");
        assert_eq!(steps[1].expected, ["out"]);
        assert_eq!(cgroup_marks(&steps), ["cgroup-v1", "cgroup-v2"]);
        let commands = |host| -> Vec<String> {
            for_host(steps.clone(), host)
                .into_iter()
                .map(|s| s.command)
                .collect()
        };
        assert_eq!(commands(Version::V1), ["both", "v1"]);
        assert_eq!(commands(Version::V2), ["both", "v2 \\\n  more"]);
        assert!(cgroup_marks(&steps[..1]).is_empty());
    }

    #[test]
    fn an_unknown_mark_is_an_error_not_a_skip() {
        let err = parse("x\n```console cgroup-v3\n$ true\n```\n").unwrap_err();
        assert!(
            err.starts_with("line 2: unknown console block mark `cgroup-v3`"),
            "{err}"
        );
        // Other fences are not console blocks at all.
        assert!(parse("```consoles\n$ true\n```\n").unwrap().is_empty());
    }

    #[test]
    fn finds_the_binaries_a_lesson_uses() {
        let steps = parse("```console\n$ ns-demo uts; chroot-demo run x &\n$ ls\n```\n").unwrap();
        assert_eq!(binaries_used(&steps), ["chroot-demo", "ns-demo"]);
    }

    #[test]
    fn wildcards_match_what_they_promise() {
        assert!(matches(
            &lines("pid [PID] at [ADDR]"),
            &lines("pid 42 at 10.0.0.2/24")
        ));
        assert!(matches(&lines("took [TIME]"), &lines("took 1.25s")));
        assert!(matches(&lines("id [ID]"), &lines("id 0123abcdef")));
        assert!(matches(&lines("a[..]z"), &lines("a anything z")));
        assert!(!matches(&lines("pid [PID]"), &lines("pid x")));
        assert!(!matches(&lines("exact (1)"), &lines("exact 1")));
    }

    #[test]
    fn ellipsis_spans_any_number_of_lines() {
        let expected = lines("first\n...\nlast");
        assert!(matches(&expected, &lines("first\nlast")));
        assert!(matches(&expected, &lines("first\nx\ny\nlast")));
        assert!(!matches(&expected, &lines("first\nx\nnot last")));
        assert!(!matches(&lines("only"), &lines("only\nextra")));
    }
}
