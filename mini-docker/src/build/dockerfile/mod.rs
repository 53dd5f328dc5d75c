//! The Dockerfile: its lines (`lines`), its instructions with their
//! flags and argument forms (this module), and variable substitution
//! (`expand`). Parsing checks what Docker's parser checks, with its
//! messages; what depends on the build (images, files) is the engine's.

pub mod expand;
pub mod lines;

use std::collections::BTreeMap;
use std::time::Duration;

pub use lines::Heredoc;

/// Docker's instruction keywords (case-insensitive in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    From,
    Run,
    Cmd,
    Entrypoint,
    Copy,
    Add,
    Env,
    Arg,
    Workdir,
    User,
    Expose,
    Volume,
    Label,
    Shell,
    StopSignal,
    Onbuild,
    Healthcheck,
    Maintainer,
}

impl Keyword {
    fn parse(word: &str) -> Option<Keyword> {
        use Keyword::*;
        Some(match word.to_ascii_lowercase().as_str() {
            "from" => From,
            "run" => Run,
            "cmd" => Cmd,
            "entrypoint" => Entrypoint,
            "copy" => Copy,
            "add" => Add,
            "env" => Env,
            "arg" => Arg,
            "workdir" => Workdir,
            "user" => User,
            "expose" => Expose,
            "volume" => Volume,
            "label" => Label,
            "shell" => Shell,
            "stopsignal" => StopSignal,
            "onbuild" => Onbuild,
            "healthcheck" => Healthcheck,
            "maintainer" => Maintainer,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        use Keyword::*;
        match self {
            From => "FROM",
            Run => "RUN",
            Cmd => "CMD",
            Entrypoint => "ENTRYPOINT",
            Copy => "COPY",
            Add => "ADD",
            Env => "ENV",
            Arg => "ARG",
            Workdir => "WORKDIR",
            User => "USER",
            Expose => "EXPOSE",
            Volume => "VOLUME",
            Label => "LABEL",
            Shell => "SHELL",
            StopSignal => "STOPSIGNAL",
            Onbuild => "ONBUILD",
            Healthcheck => "HEALTHCHECK",
            Maintainer => "MAINTAINER",
        }
    }

    /// The flags each instruction takes (anything else is Docker's
    /// `Unknown flag`).
    fn flags(self) -> &'static [&'static str] {
        use Keyword::*;
        match self {
            From => &["platform"],
            Run => &["network"],
            Copy => &["from", "chown", "chmod"],
            Add => &["chown", "chmod"],
            Healthcheck => &["interval", "timeout", "start-period", "retries"],
            _ => &[],
        }
    }
}

/// Exec form (a JSON array) or shell form (a string for the shell).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandLine {
    Exec(Vec<String>),
    Shell(String),
}

impl CommandLine {
    /// The argument vector: shell form through `shell` (`SHELL`, default
    /// `/bin/sh -c`).
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            CommandLine::Exec(v) => v.clone(),
            CommandLine::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    }
}

/// `COPY`/`ADD` as written (sources and destination still unexpanded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<String>,
}

/// `HEALTHCHECK`: `NONE`, or a test with its timings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    None,
    Check {
        test: CommandLine,
        interval: Option<Duration>,
        timeout: Option<Duration>,
        start_period: Option<Duration>,
        retries: Option<i64>,
    },
}

/// `RUN --network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    Default,
    None,
    Host,
}

/// One instruction, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    Run {
        command: CommandLine,
        network: RunNetwork,
    },
    Cmd(CommandLine),
    Entrypoint(CommandLine),
    Copy(Transfer),
    Add(Transfer),
    /// Raw `KEY=value` words (expanded at build time, in order).
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Label(Vec<(String, String)>),
    Shell(Vec<String>),
    StopSignal(String),
    /// The trigger's text, run in a child build.
    Onbuild(String),
    Healthcheck(Health),
    Maintainer(String),
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub keyword: Keyword,
    /// The line as written (continuations joined): `Step N/M : …`.
    pub original: String,
    pub command: Command,
    pub heredocs: Vec<Heredoc>,
}

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    pub escape: char,
    pub syntax: Option<String>,
    pub instructions: Vec<Instruction>,
}

/// Docker's two kinds of parse failure print differently: the parser's
/// own (`failed to parse Dockerfile: …`) and an instruction's
/// (`dockerfile parse error line N: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    File(#[from] lines::Error),
    #[error("{0}")]
    Syntax(String),
    #[error("{message}")]
    Line { line: usize, message: String },
}

impl Error {
    /// The text Docker's classic builder prints for `name` (the `-f` name).
    pub fn render(&self, name: &str) -> String {
        match self {
            Error::File(e) => format!("failed to parse {name}: {e}"),
            Error::Syntax(m) => format!("failed to parse {name}: {m}"),
            Error::Line { line, message } => {
                format!("dockerfile parse error line {line}: {message}")
            }
        }
    }
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

/// `["a", "b"]`: `Ok(Some)` for a JSON string array, `Ok(None)` for text
/// that is not a JSON array (shell form), an error for an array of
/// anything but strings.
fn json_array(rest: &str) -> Result<Option<Vec<String>>, Error> {
    let trimmed = rest.trim_start();
    if !trimmed.starts_with('[') {
        return Ok(None);
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(trimmed) {
        Err(_) => Ok(None),
        Ok(values) => values
            .into_iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s),
                _ => Err(Error::Syntax(NOT_STRINGS.into())),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
    }
}

fn command_line(rest: &str) -> Result<CommandLine, Error> {
    Ok(match json_array(rest)? {
        Some(v) => CommandLine::Exec(v),
        None => CommandLine::Shell(rest.to_string()),
    })
}

/// JSON array, or whitespace-separated words.
fn list(rest: &str) -> Result<(Vec<String>, bool), Error> {
    Ok(match json_array(rest)? {
        Some(v) => (v, true),
        None => (rest.split_whitespace().map(String::from).collect(), false),
    })
}

/// The parser's word splitter for `ENV`, `LABEL`, `ARG`: whitespace
/// outside quotes separates, quotes and escapes are kept for the expander.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            None => {
                started = true;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                if c == escape {
                    if let Some(n) = chars.next() {
                        word.push(c);
                        word.push(n);
                    }
                    continue;
                }
                word.push(c);
            }
            Some(q) => {
                if c == escape && q != '\'' {
                    match chars.next() {
                        Some(n) => {
                            word.push(c);
                            word.push(n);
                        }
                        None => quote = None,
                    }
                    continue;
                }
                if c == q {
                    quote = None;
                }
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    words
}

/// `KEY=value …` or the old `KEY value` form.
fn name_values(rest: &str, keyword: &str, escape: char) -> Result<Vec<(String, String)>, Error> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Vec::new());
    };
    if !first.contains('=') {
        let mut parts = rest.trim().splitn(2, |c: char| c.is_whitespace());
        let key = parts.next().unwrap_or_default().to_string();
        return match parts.next() {
            Some(v) => Ok(vec![(key, v.trim_start().to_string())]),
            None => Err(Error::Syntax(format!("{keyword} must have two arguments"))),
        };
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(Error::Syntax(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            ))),
        })
        .collect()
}

/// Go's `time.ParseDuration` for the units a health check uses.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("time: invalid duration {text:?}");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut total = 0f64;
    let mut rest = text;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration {text:?}"))?;
        let value: f64 = rest[..n].parse().map_err(|_| bad())?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            unit => return Err(format!("time: unknown unit {unit:?} in duration {text:?}")),
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Ok(Duration::from_secs_f64(total))
}

struct Flags(BTreeMap<String, Option<String>>);

impl Flags {
    fn parse(words: &[String], keyword: Keyword) -> Result<Flags, String> {
        let mut map = BTreeMap::new();
        for w in words {
            let body = w.trim_start_matches("--");
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if !keyword.flags().contains(&name) {
                return Err(format!("Unknown flag: {name}"));
            }
            if map.insert(name.to_string(), value).is_some() {
                return Err(format!("Duplicate flag specified: {name}"));
            }
        }
        Ok(Flags(map))
    }

    fn string(&self, name: &str) -> Result<Option<String>, String> {
        match self.0.get(name) {
            None => Ok(None),
            Some(None) => Err(format!("Missing a value on flag: {name}")),
            Some(Some(v)) => Ok(Some(v.clone())),
        }
    }
}

/// Leading `--flag[=value]` words (the parser's rules: quotes and escapes
/// inside a flag word are removed).
fn split_flags(rest: &str, escape: char) -> (Vec<String>, String) {
    let mut flags = Vec::new();
    let mut rest = rest.trim_start();
    while rest.starts_with("--") {
        let mut word = String::new();
        let mut quote = None;
        let mut chars = rest.char_indices();
        let mut end = rest.len();
        while let Some((i, c)) = chars.next() {
            match quote {
                None if c.is_whitespace() => {
                    end = i;
                    break;
                }
                None if c == '\'' || c == '"' => quote = Some(c),
                Some(q) if c == q => quote = None,
                _ if c == escape => {
                    if let Some((_, n)) = chars.next() {
                        word.push(n);
                    }
                }
                _ => word.push(c),
            }
        }
        rest = rest[end..].trim_start();
        if word == "--" {
            break;
        }
        flags.push(word);
    }
    (flags, rest.to_string())
}

/// Parses a whole Dockerfile.
pub fn parse(text: &str) -> Result<Dockerfile, Error> {
    let (directives, lines) = lines::split(text)?;
    let instructions = lines
        .into_iter()
        .map(|line| instruction(&line.text, line.start, directives.escape, line.heredocs))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Dockerfile {
        escape: directives.escape,
        syntax: directives.syntax,
        instructions,
    })
}

/// One instruction line (also an `ONBUILD` trigger, in a child build).
pub fn instruction(
    text: &str,
    line: usize,
    escape: char,
    heredocs: Vec<Heredoc>,
) -> Result<Instruction, Error> {
    let original = text.trim().to_string();
    let (word, rest) = original
        .split_once(|c: char| c.is_whitespace())
        .map_or((original.as_str(), ""), |(w, r)| (w, r));
    let at = |message: String| Error::Line { line, message };
    let keyword = Keyword::parse(word).ok_or_else(|| {
        at(format!(
            "unknown instruction: {}",
            word.to_ascii_uppercase()
        ))
    })?;
    let (flag_words, rest) = split_flags(rest, escape);
    let rest = rest.trim().to_string();
    let flags = Flags::parse(&flag_words, keyword).map_err(at)?;
    let name = keyword.name();
    let need_one = || at(format!("{name} requires at least one argument"));
    let exactly_one = || at(format!("{name} requires exactly one argument"));
    use Keyword as K;
    let command = match keyword {
        K::From => {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let platform = flags.string("platform").map_err(at)?;
            match words.as_slice() {
                [image] => Command::From {
                    image: image.to_string(),
                    name: None,
                    platform,
                },
                [image, r#as, stage] if r#as.eq_ignore_ascii_case("as") => Command::From {
                    image: image.to_string(),
                    name: Some(stage.to_ascii_lowercase()),
                    platform,
                },
                [_, _, _] => return Err(at("AS is required for naming a stage".into())),
                _ => return Err(at("FROM requires either one or three arguments".into())),
            }
        }
        K::Run | K::Cmd | K::Entrypoint => {
            if rest.is_empty() && keyword == K::Run {
                return Err(need_one());
            }
            let command = command_line(&rest)?;
            match keyword {
                K::Run => {
                    let network = match flags.string("network").map_err(at)?.as_deref() {
                        None | Some("default") => RunNetwork::Default,
                        Some("none") => RunNetwork::None,
                        Some("host") => RunNetwork::Host,
                        Some(other) => {
                            return Err(at(format!("unsupported network mode {other:?}")))
                        }
                    };
                    Command::Run { command, network }
                }
                K::Cmd => Command::Cmd(command),
                _ => Command::Entrypoint(command),
            }
        }
        K::Copy | K::Add => {
            let (mut words, _) = list(&rest)?;
            match words.len() {
                0 => return Err(need_one()),
                1 => {
                    return Err(at(format!(
                        "{name} requires at least two arguments, but only one was provided. Destination could not be determined"
                    )))
                }
                _ => {}
            }
            let dest = words.pop().unwrap_or_default();
            let transfer = Transfer {
                sources: words,
                dest,
                from: if keyword == K::Copy {
                    flags.string("from").map_err(at)?
                } else {
                    None
                },
                chown: flags.string("chown").map_err(at)?,
                chmod: flags.string("chmod").map_err(at)?,
            };
            if keyword == K::Copy {
                Command::Copy(transfer)
            } else {
                Command::Add(transfer)
            }
        }
        K::Env | K::Label => {
            if rest.is_empty() {
                return Err(need_one());
            }
            let pairs = name_values(&rest, name, escape)?;
            if keyword == K::Env {
                if pairs.iter().any(|(k, _)| k.is_empty()) {
                    return Err(at("ENV names can not be blank".into()));
                }
                Command::Env(pairs)
            } else {
                if pairs.iter().any(|(k, _)| k.is_empty()) {
                    return Err(at("LABEL names can not be blank".into()));
                }
                Command::Label(pairs)
            }
        }
        K::Arg => {
            let words = parse_words(&rest, escape);
            if words.is_empty() {
                return Err(at("ARG requires at least one argument".into()));
            }
            Command::Arg(
                words
                    .into_iter()
                    .map(|w| match w.split_once('=') {
                        Some((k, v)) => (k.to_string(), Some(v.to_string())),
                        None => (w, None),
                    })
                    .collect(),
            )
        }
        K::Workdir | K::User | K::StopSignal | K::Maintainer => {
            if rest.is_empty() {
                return Err(if keyword == K::Maintainer {
                    need_one()
                } else {
                    exactly_one()
                });
            }
            match keyword {
                K::Workdir => Command::Workdir(rest),
                K::User => Command::User(rest),
                K::StopSignal => Command::StopSignal(rest),
                _ => Command::Maintainer(rest),
            }
        }
        K::Expose => {
            let ports: Vec<String> = rest.split_whitespace().map(String::from).collect();
            if ports.is_empty() {
                return Err(need_one());
            }
            Command::Expose(ports)
        }
        K::Volume => {
            let (paths, _) = list(&rest)?;
            if paths.is_empty() {
                return Err(need_one());
            }
            if paths.iter().any(|p| p.trim().is_empty()) {
                return Err(at("VOLUME specified can not be an empty string".into()));
            }
            Command::Volume(paths)
        }
        K::Shell => match json_array(&rest)? {
            Some(v) if !v.is_empty() => Command::Shell(v),
            Some(_) => return Err(need_one()),
            None => return Err(at("SHELL requires the arguments to be in JSON form".into())),
        },
        K::Onbuild => {
            if rest.is_empty() {
                return Err(need_one());
            }
            let trigger = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match trigger.as_str() {
                "ONBUILD" => {
                    return Err(at(
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()
                    ))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(at(format!("{trigger} isn't allowed as an ONBUILD trigger")))
                }
                _ => {}
            }
            instruction(&rest, line, escape, Vec::new())?;
            Command::Onbuild(rest)
        }
        K::Healthcheck => {
            let (kind, args) = rest
                .split_once(char::is_whitespace)
                .map_or((rest.as_str(), ""), |(k, a)| (k, a.trim_start()));
            match kind.to_ascii_uppercase().as_str() {
                "" => return Err(need_one()),
                "NONE" => {
                    if !args.is_empty() {
                        return Err(at("HEALTHCHECK NONE takes no arguments".into()));
                    }
                    Command::Healthcheck(Health::None)
                }
                "CMD" => {
                    if args.is_empty() {
                        return Err(at("Missing command after HEALTHCHECK CMD".into()));
                    }
                    let duration = |flag: &str| -> Result<Option<Duration>, Error> {
                        flags
                            .string(flag)
                            .map_err(at)?
                            .map(|v| parse_duration(&v).map_err(at))
                            .transpose()
                    };
                    let retries = flags
                        .string("retries")
                        .map_err(at)?
                        .map(|r| {
                            r.parse::<i64>().map_err(|_| {
                                at(format!("strconv.ParseInt: parsing {r:?}: invalid syntax"))
                            })
                        })
                        .transpose()?;
                    Command::Healthcheck(Health::Check {
                        test: command_line(args)?,
                        interval: duration("interval")?,
                        timeout: duration("timeout")?,
                        start_period: duration("start-period")?,
                        retries,
                    })
                }
                other => {
                    return Err(at(format!(
                        "Unknown type {other:?} in HEALTHCHECK (try CMD)"
                    )))
                }
            }
        }
    };
    Ok(Instruction {
        line,
        keyword,
        original,
        command,
        heredocs,
    })
}

#[cfg(test)]
mod tests;
