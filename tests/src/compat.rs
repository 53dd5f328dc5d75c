//! The differential suite's scenarios: parsing the files of `tests/compat/`
//! and normalising what two tools print so that only real differences are
//! left (see `tests/compat/README.md` for the format).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A malformed scenario file: the file, the line and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {why}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub why: String,
}

/// What a step is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// `> cmd`: prepares; must succeed (`>? cmd`: may fail).
    Setup { may_fail: bool },
    /// `$ cmd`: run in both tools and compared.
    Compare,
    /// `< cmd`: cleans up; always runs, failures ignored.
    Cleanup,
}

/// Output stated by the scenario instead of taken from Docker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// Why Docker's own output is not the reference here.
    pub reason: String,
    /// `cannot`: Docker cannot run it here; `current`: current Docker
    /// documents a behaviour other than the installed 20.10.
    pub kind: ExpectKind,
    pub exit: i32,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExpectKind {
    #[default]
    Cannot,
    Current,
}

/// The `!` marks of a compared step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// Compare stdout lines sorted (Docker prints some maps unordered).
    pub sort: bool,
    /// Do not compare stderr (progress output, warnings only one tool has).
    pub ignore_stderr: bool,
    pub expected: Option<Expected>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub line: usize,
    pub kind: StepKind,
    pub command: String,
    pub marks: Marks,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub name: String,
    /// `file:line` of its header.
    pub origin: String,
    /// Runs alone: it prunes what the shared daemon holds.
    pub exclusive: bool,
    pub steps: Vec<Step>,
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name, self.origin)
    }
}

/// Every scenario of one file.
pub fn parse(file: &str, text: &str) -> Result<Vec<Scenario>, ParseError> {
    let mut scenarios: Vec<Scenario> = Vec::new();
    let err = |line: usize, why: String| ParseError {
        file: file.to_string(),
        line,
        why,
    };
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix("=== ") {
            let name = name.trim();
            if scenarios.iter().any(|s| s.name == name) {
                return Err(err(n, format!("scenario {name} is defined twice")));
            }
            scenarios.push(Scenario {
                name: name.to_string(),
                origin: format!("{file}:{n}"),
                exclusive: false,
                steps: Vec::new(),
            });
            continue;
        }
        let Some(scenario) = scenarios.last_mut() else {
            return Err(err(n, "a step before the first `=== name`".into()));
        };
        let (kind, command) = if let Some(c) = line.strip_prefix(">? ") {
            (StepKind::Setup { may_fail: true }, c)
        } else if let Some(c) = line.strip_prefix("> ") {
            (StepKind::Setup { may_fail: false }, c)
        } else if let Some(c) = line.strip_prefix("$ ") {
            (StepKind::Compare, c)
        } else if let Some(c) = line.strip_prefix("< ") {
            (StepKind::Cleanup, c)
        } else if let Some(mark) = line.strip_prefix("! ") {
            if mark.trim() == "exclusive" {
                scenario.exclusive = true;
                continue;
            }
            let step = scenario
                .steps
                .last_mut()
                .filter(|s| s.kind == StepKind::Compare)
                .ok_or_else(|| err(n, "a mark must follow a `$` step".into()))?;
            apply_mark(&mut step.marks, mark).map_err(|why| err(n, why))?;
            continue;
        } else {
            return Err(err(n, format!("not a step or a mark: {line}")));
        };
        scenario.steps.push(Step {
            line: n,
            kind,
            command: command.to_string(),
            marks: Marks::default(),
        });
    }
    for s in &scenarios {
        if !s.steps.iter().any(|st| st.kind == StepKind::Compare) {
            return Err(ParseError {
                file: file.to_string(),
                line: 0,
                why: format!("scenario {} compares nothing (no `$` step)", s.name),
            });
        }
    }
    Ok(scenarios)
}

fn apply_mark(marks: &mut Marks, mark: &str) -> Result<(), String> {
    let (word, rest) = mark.split_once(' ').unwrap_or((mark, ""));
    match word {
        "sort" => marks.sort = true,
        "ignore-stderr" => marks.ignore_stderr = true,
        "docker-cannot" | "current-docker" => {
            marks.expected = Some(Expected {
                reason: rest.to_string(),
                kind: if word == "docker-cannot" {
                    ExpectKind::Cannot
                } else {
                    ExpectKind::Current
                },
                ..Expected::default()
            })
        }
        "exit" | "stdout" | "stderr" => {
            let e = marks.expected.as_mut().ok_or_else(|| {
                format!("`{word}` needs a `docker-cannot` or `current-docker` mark first")
            })?;
            let text = rest.to_string();
            match word {
                "exit" => e.exit = rest.parse().map_err(|_| format!("bad exit code {rest}"))?,
                "stdout" => e.stdout.push(text),
                _ => e.stderr.push(text),
            }
        }
        _ => return Err(format!("unknown mark {word}")),
    }
    Ok(())
}

/// What one run of a command printed, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub exit: i32,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("normalisation pattern compiles")
}

/// Masks what legitimately differs between two runs or two tools: IDs,
/// times, sizes, random host ports, container addresses; and collapses
/// column padding (widths follow the masked values).
pub fn normalise_stdout(text: &str, prefix: &str, sort: bool) -> Vec<String> {
    static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        vec![
            (re(r"sha256:[0-9a-f]{64}"), "sha256:<ID>"),
            (re(r"\b[0-9a-f]{64}\b"), "<ID>"),
            (re(r"\b[0-9a-f]{12}\b"), "<ID>"),
            (
                re(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)"),
                "<TIME>",
            ),
            (
                re(
                    r"(Less than a second|About an? \w+|\d+ (second|minute|hour|day|week|month|year)s?)( ago)?",
                ),
                "<TIME>",
            ),
            (re(r"\b\d+(\.\d+)?\s?(B|kB|KB|MB|GB)\b"), "<SIZE>"),
            (
                re(r":(3[3-9]\d\d\d|32[89]\d\d|327[7-9]\d|3276[89]|[4-6]\d\d\d\d)\b"),
                ":<PORT>",
            ),
            (
                re(r"\b(172\.(1[6-9]|2\d|3[01])|192\.168|10|100\.64)\.\d+\.\d+\b"),
                "<IP>",
            ),
        ]
    });
    static PADDING: LazyLock<Regex> = LazyLock::new(|| re(r" {2,}"));
    let mut text = text.to_string();
    if !prefix.is_empty() {
        text = text.replace(prefix, "{P}");
    }
    for (pattern, with) in RULES.iter() {
        text = pattern.replace_all(&text, *with).into_owned();
    }
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| PADDING.replace_all(l.trim_end(), "  ").into_owned())
        .collect();
    while lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    if sort {
        lines.sort();
    }
    lines
}

/// `See 'docker run --help'.`: Docker's pointer to the usage text.
fn is_usage_hint(line: &str) -> bool {
    line.starts_with("See '") && line.ends_with("--help'.")
}

/// Stderr reduced to its messages: Docker's `Error: `, `Error response
/// from daemon: `, `docker: ` prefixes and the OCI runtime's wrapping
/// removed, usage hints, usage text and client noise dropped, the program
/// name `"mini-docker …"` read as `"docker …"`, then masked as stdout.
pub fn normalise_stderr(text: &str, prefix: &str) -> Vec<String> {
    static WRAPPERS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
        vec![
            re(r"^(docker: |Error response from daemon: |Error: )+"),
            re(
                r"^failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: ",
            ),
            re(r#"^failed to start container "[0-9a-f]+": "#),
            re(r"^OCI runtime exec failed: exec failed: unable to start container process: "),
            re(r"^OCI runtime exec failed: "),
        ]
    });
    static TAIL: LazyLock<Regex> = LazyLock::new(|| re(r"(: unknown)?\.?$"));
    let kept: Vec<String> = text
        .lines()
        .map(str::trim_end)
        // A usage error ends with the command's usage text: not the message.
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !(l.is_empty() || is_usage_hint(l) || l.starts_with("time=\"")))
        .map(|l| {
            let mut l = l.to_string();
            for w in WRAPPERS.iter() {
                l = w.replace(&l, "").into_owned();
            }
            // The program's own name is the one difference allowed.
            let l = l.replace("\"mini-docker ", "\"docker ");
            TAIL.replace(&l, "").into_owned()
        })
        .collect();
    normalise_stdout(&kept.join("\n"), prefix, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_steps_marks_and_scenarios() {
        let text = "# c\n=== a\n> docker run -d --name x busybox\n$ docker ps\n! sort\n< docker rm -f x\n\n=== b\n! exclusive\n$ docker y\n! current-docker silent now\n! exit 0\n! stdout ok\n";
        let s = parse("f", text).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].steps.len(), 3);
        assert!(s[0].steps[1].marks.sort);
        assert_eq!(s[0].steps[2].kind, StepKind::Cleanup);
        assert!(s[1].exclusive);
        let e = s[1].steps[0].marks.expected.clone().unwrap();
        assert_eq!(
            (e.kind, e.exit, e.stdout),
            (ExpectKind::Current, 0, vec!["ok".to_string()])
        );
    }

    #[test]
    fn rejects_malformed_files() {
        assert!(parse("f", "$ x\n").is_err());
        assert!(parse("f", "=== a\n! sort\n").is_err());
        assert!(parse("f", "=== a\n> x\n").is_err());
        assert!(parse("f", "=== a\n$ x\n! exit 1\n").is_err());
        assert!(parse("f", "=== a\n$ x\n=== a\n$ y\n").is_err());
    }

    #[test]
    fn masks_what_may_differ() {
        let out = normalise_stdout(
            "abcdef012345   busybox   \"sh\"   2 seconds ago   Up Less than a second   0.0.0.0:32769->80/tcp   tk1-web\n",
            "tk1-",
            false,
        );
        assert_eq!(
            out,
            ["<ID>  busybox  \"sh\"  <TIME>  Up <TIME>  0.0.0.0:<PORT>->80/tcp  {P}web"]
        );
        assert_eq!(
            normalise_stdout("172.17.0.2 127.0.0.1 1.2MB", "", false),
            ["<IP> 127.0.0.1 <SIZE>"]
        );
    }

    #[test]
    fn stderr_is_compared_by_message() {
        let docker = "docker: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"x\": executable file not found in $PATH: unknown.\nSee 'docker run --help'.\n";
        let ours = "Error: failed to start container \"0123456789ab\": exec: \"x\": executable file not found in $PATH\n";
        assert_eq!(normalise_stderr(docker, ""), normalise_stderr(ours, ""));
    }
}
