//! Runs a parsed Dockerfile: stages in order up to the target, each
//! instruction a step that either comes from the cache or makes a new
//! image on the previous one (a layer for `RUN`, `COPY`, `ADD` and a
//! `WORKDIR` that creates its directory; an `empty_layer` history entry
//! for the others), with Docker's `created_by` texts.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::time::{Duration, SystemTime};

use super::cache::Cache;
use super::context::Context;
use super::dockerfile::{
    self, expand, Command, CommandLine, Dockerfile, Health, Instruction, RunNetwork,
};
use super::output::Output;
use super::rootfs::RootView;
use super::transfer::{self, Origin};
use super::{run, Error, Options};
use crate::container::dir::Containers;
use crate::human;
use crate::image;
use crate::spec::{self, Descriptor, History, ImageConfig, RootFs};
use crate::store::{chain_ids, ImageId, Store};

/// Build arguments every build accepts without an `ARG` (and keeps out of
/// the history unless declared).
const PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The image a stage is at.
#[derive(Debug, Clone)]
struct Stage {
    name: Option<String>,
    image: Option<ImageId>,
    config: ImageConfig,
    layers: Vec<Descriptor>,
    /// Declared `ARG`s with their values (`None`: declared, unset).
    args: Vec<(String, Option<String>)>,
    /// Whether this stage set `CMD` (an `ENTRYPOINT` resets an inherited one).
    cmd_set: bool,
}

impl Stage {
    fn shell(&self) -> Vec<String> {
        self.config
            .config
            .shell
            .clone()
            .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }

    fn env_pairs(&self) -> Vec<(String, String)> {
        self.config
            .config
            .env
            .iter()
            .flatten()
            .map(|e| match e.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (e.clone(), String::new()),
            })
            .collect()
    }

    /// Variables for substitution: the stage's ARGs, overridden by ENV.
    fn expansion_env(&self) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = self
            .args
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        env.extend(self.env_pairs());
        env
    }

    fn workdir(&self) -> String {
        self.config
            .config
            .working_dir
            .clone()
            .unwrap_or_else(|| "/".into())
    }
}

/// The builder for one `build` command.
#[derive(Debug)]
pub struct Engine<'a> {
    pub store: &'a Store,
    pub containers: &'a Containers,
    pub global: &'a [OsString],
    pub options: &'a Options,
    pub out: &'a mut Output,
    pub context: &'a Context,
    cache: Cache,
    escape: char,
    /// `--build-arg`s, and which of them some `ARG` consumed.
    build_args: BTreeMap<String, Option<String>>,
    used_args: BTreeSet<String>,
    stages: Vec<Stage>,
    step: usize,
    total: usize,
}

fn go_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1000) {
            format!("{}µs", nanos / 1000)
        } else {
            format!("{nanos}ns")
        };
    }
    let secs = d.as_secs();
    let frac = d.subsec_nanos();
    let s = if frac == 0 {
        format!("{}s", secs % 60)
    } else {
        let f = format!("{:09}", frac);
        format!("{}.{}s", secs % 60, f.trim_end_matches('0'))
    };
    match (secs / 3600, (secs / 60) % 60) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%q` of a small integer: a rune literal.
fn go_rune(n: u32) -> String {
    match char::from_u32(n) {
        Some(c) if (' '..='~').contains(&c) && c != '\'' && c != '\\' => format!("'{c}'"),
        _ if n < 0x100 => format!("'\\x{n:02x}'"),
        _ => format!("'\\u{n:04x}'"),
    }
}

fn health_config(health: &Health) -> crate::container::health::Config {
    let nanos = |d: &Option<Duration>| d.map_or(0, |d| d.as_nanos() as i64);
    match health {
        Health::None => crate::container::health::Config {
            test: vec!["NONE".into()],
            ..Default::default()
        },
        Health::Check {
            test,
            interval,
            timeout,
            start_period,
            retries,
        } => {
            let test = match test {
                CommandLine::Exec(v) => std::iter::once("CMD".to_string())
                    .chain(v.iter().cloned())
                    .collect(),
                CommandLine::Shell(s) => vec!["CMD-SHELL".into(), s.clone()],
            };
            crate::container::health::Config {
                test,
                interval: nanos(interval),
                timeout: nanos(timeout),
                start_period: nanos(start_period),
                retries: retries.unwrap_or(0).max(0) as u32,
            }
        }
    }
}

/// How a step changes the stage: only its config, or a layer too.
enum Change {
    Config,
    Layer(std::path::PathBuf),
    /// A layer tarball that may turn out empty (RUN, WORKDIR).
    Run(std::path::PathBuf),
}

impl<'a> Engine<'a> {
    pub fn new(
        store: &'a Store,
        containers: &'a Containers,
        global: &'a [OsString],
        options: &'a Options,
        out: &'a mut Output,
        context: &'a Context,
        escape: char,
    ) -> Engine<'a> {
        Engine {
            store,
            containers,
            global,
            options,
            out,
            context,
            cache: Cache::open(store),
            escape,
            build_args: options.build_args.iter().cloned().collect(),
            used_args: BTreeSet::new(),
            stages: Vec::new(),
            step: 0,
            total: 0,
        }
    }

    fn expand(&self, stage: &Stage, text: &str) -> Result<String, Error> {
        expand::word(text, self.escape, &stage.expansion_env())
            .map_err(|e| Error::Step(e.to_string()))
    }

    /// A build argument's value: `--build-arg K=V`, `--build-arg K` from
    /// our environment, or none.
    fn build_arg(&self, name: &str) -> Option<Option<String>> {
        self.build_args
            .get(name)
            .map(|v| v.clone().or_else(|| std::env::var(name).ok()))
    }

    /// Builds the Dockerfile; returns the final image.
    pub fn build(&mut self, file: &Dockerfile) -> Result<ImageId, Error> {
        // ARGs before the first FROM are for FROM lines only.
        let first_from = file
            .instructions
            .iter()
            .position(|i| matches!(i.command, Command::From { .. }));
        let Some(first_from) = first_from else {
            return Err(Error::Parse("no build stage in current context".into()));
        };
        let mut meta: Vec<(String, Option<String>)> = Vec::new();
        for i in &file.instructions[..first_from] {
            match &i.command {
                Command::Arg(args) => meta.extend(args.iter().cloned()),
                _ => return Err(Error::Parse("no build stage in current context".into())),
            }
        }
        // Stages, and the one to stop at (`--target`).
        let mut stages: Vec<(usize, usize)> = Vec::new();
        for (n, i) in file.instructions.iter().enumerate().skip(first_from) {
            if matches!(i.command, Command::From { .. }) {
                stages.push((n, n + 1));
            } else if let Some(last) = stages.last_mut() {
                last.1 = n + 1;
            }
        }
        let last_stage = match &self.options.target {
            None => stages.len() - 1,
            Some(target) => stages
                .iter()
                .position(|(n, _)| matches!(&file.instructions[*n].command, Command::From { name: Some(s), .. } if s.eq_ignore_ascii_case(target)))
                .ok_or_else(|| Error::Parse(format!("failed to reach build target {target} in Dockerfile")))?,
        };
        self.total = stages[last_stage].1 - first_from
            + self.options.labels.len()
            + file.instructions[..first_from].len();
        // Docker counts the meta ARGs as steps too.
        for i in &file.instructions[..first_from] {
            self.step += 1;
            self.out.step(self.step, self.total, &i.original);
        }
        let meta_env: Vec<(String, String)> = meta
            .iter()
            .filter_map(|(k, default)| {
                let value = match self.build_arg(k) {
                    Some(v) => v,
                    None => default
                        .as_ref()
                        .map(|d| expand::word(d, self.escape, &Vec::new()).unwrap_or_default()),
                };
                if self.build_args.contains_key(k) {
                    self.used_args.insert(k.clone());
                }
                Some((k.clone(), value?))
            })
            .collect();
        let mut current = None;
        for (s, (from, end)) in stages.iter().enumerate().take(last_stage + 1) {
            let mut stage = self.from(&file.instructions[*from], &meta_env)?;
            for i in &file.instructions[from + 1..*end] {
                self.step += 1;
                self.out.step(self.step, self.total, &i.original);
                self.instruction(&mut stage, i)?;
            }
            if s == last_stage {
                // `--label`s: one `LABEL` step each, in key order, as
                // Docker adds them to the last stage (never expanded).
                let mut labels = self.options.labels.clone();
                labels.sort();
                for (k, v) in labels {
                    self.step += 1;
                    self.out
                        .step(self.step, self.total, &format!("LABEL {k}={v}"));
                    let quote = |t: &str| {
                        format!(
                            "\"{}\"",
                            t.replace('\\', "\\\\")
                                .replace('"', "\\\"")
                                .replace('$', "\\$")
                        )
                    };
                    let i = Instruction {
                        line: 0,
                        keyword: dockerfile::Keyword::Label,
                        original: format!("LABEL {k}={v}"),
                        command: Command::Label(vec![(quote(&k), quote(&v))]),
                        heredocs: Vec::new(),
                    };
                    self.instruction(&mut stage, &i)?;
                }
            }
            current = Some(stage.clone());
            self.stages.push(stage);
        }
        let stage = current.expect("at least one stage");
        let unused: Vec<&String> = self
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PROXY_ARGS.contains(&k.as_str()))
            .collect();
        if !unused.is_empty() {
            let names: Vec<&str> = unused.iter().map(|s| s.as_str()).collect();
            self.out.line(&format!(
                "[Warning] One or more build-args [{}] were not consumed",
                names.join(" ")
            ));
        }
        match stage.image {
            Some(id) => Ok(id),
            // `FROM scratch` and nothing else: Docker has nothing to name.
            None => Err(Error::Step(
                "No image was generated. Is your Dockerfile empty?".into(),
            )),
        }
    }

    /// `FROM`: a previous stage, `scratch`, or an image (pulled when
    /// missing or with `--pull`), then its `ONBUILD` triggers.
    fn from(&mut self, i: &Instruction, meta_env: &[(String, String)]) -> Result<Stage, Error> {
        let Command::From { image, name, .. } = &i.command else {
            unreachable!("stages start at FROM")
        };
        self.step += 1;
        self.out.step(self.step, self.total, &i.original);
        let image = expand::word(image, self.escape, &meta_env.to_vec())
            .map_err(|e| Error::Step(e.to_string()))?;
        let mut stage = if image.eq_ignore_ascii_case("scratch") {
            Stage {
                name: name.clone(),
                image: None,
                config: ImageConfig {
                    created: None,
                    author: None,
                    architecture: spec::host_architecture().into(),
                    os: "linux".into(),
                    config: spec::RunConfig {
                        env: Some(vec![DEFAULT_PATH.into()]),
                        ..Default::default()
                    },
                    rootfs: RootFs {
                        kind: "layers".into(),
                        diff_ids: Vec::new(),
                    },
                    history: Vec::new(),
                },
                layers: Vec::new(),
                args: Vec::new(),
                cmd_set: false,
            }
        } else if let Some(prev) = self.stages.iter().rev().find(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&image))
        }) {
            Stage {
                name: name.clone(),
                args: Vec::new(),
                cmd_set: false,
                ..prev.clone()
            }
        } else {
            let id = self.image(&image)?;
            let mut stage = self.stage_of(&id, name.clone())?;
            // Docker gives a stage the default PATH when its image has none.
            let env = stage.config.config.env.get_or_insert_with(Vec::new);
            if !env.iter().any(|e| e.starts_with("PATH=")) {
                env.insert(0, DEFAULT_PATH.into());
            }
            stage
        };
        match &stage.image {
            Some(id) => self.out.arrow(id.short()),
            None => self.out.arrow(""),
        }
        let triggers = stage.config.config.on_build.take().unwrap_or_default();
        if !triggers.is_empty() {
            self.out.line(&format!(
                "# Executing {} build trigger{}",
                triggers.len(),
                if triggers.len() == 1 { "" } else { "s" }
            ));
            for t in triggers {
                let i = dockerfile::instruction(&t, 0, self.escape, Vec::new())
                    .map_err(|e| Error::Parse(e.render(&self.context.dockerfile_name)))?;
                self.instruction(&mut stage, &i)?;
            }
        }
        Ok(stage)
    }

    fn stage_of(&self, id: &ImageId, name: Option<String>) -> Result<Stage, Error> {
        let config = self.store.config(id)?;
        let record = self.store.record(id)?;
        let manifest = record
            .manifest
            .ok_or_else(|| Error::Step(format!("image {id} has no manifest")))?;
        let layers = self.store.manifest(&manifest)?.layers;
        Ok(Stage {
            name,
            image: Some(id.clone()),
            config,
            layers,
            args: Vec::new(),
            cmd_set: false,
        })
    }

    /// An image by name: local, or pulled (`--pull` always pulls).
    fn image(&mut self, name: &str) -> Result<ImageId, Error> {
        if !self.options.pull {
            match self.store.resolve(name) {
                Ok(id) => return Ok(id),
                Err(crate::Error::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let reference: crate::reference::Reference = name.parse().map_err(crate::Error::from)?;
        let auth = crate::auth::AuthStore::new(self.store.root());
        // Pull progress goes to stderr: it is not the build's stream.
        struct Progress;
        impl crate::distribution::Progress for Progress {
            fn line(&self, text: &str) {
                eprintln!("{text}");
            }
        }
        let progress = Progress;
        Ok(crate::distribution::pull(
            self.store, &auth, &reference, &progress,
        )?)
    }

    /// The `created_by` prefix of a step that runs nothing.
    fn nop(stage: &Stage, text: &str) -> String {
        format!("{} #(nop) {text}", stage.shell().join(" "))
    }

    fn instruction(&mut self, stage: &mut Stage, i: &Instruction) -> Result<(), Error> {
        let mut next = stage.config.config.clone();
        let (created_by, change) = match &i.command {
            Command::From { .. } => unreachable!("FROM starts a stage"),
            Command::Maintainer(m) => {
                stage.config.author = Some(m.clone());
                (
                    Self::nop(stage, &format!(" MAINTAINER {m}")),
                    Change::Config,
                )
            }
            Command::Arg(args) => {
                let mut shown = Vec::new();
                for (k, default) in args {
                    if self.build_args.contains_key(k) {
                        self.used_args.insert(k.clone());
                    }
                    let default = default
                        .as_ref()
                        .map(|d| self.expand(stage, d))
                        .transpose()?;
                    let value = match self.build_arg(k) {
                        Some(v) => v,
                        None => default.clone(),
                    };
                    shown.push(match &default {
                        Some(d) => format!("{k}={d}"),
                        None => k.clone(),
                    });
                    stage.args.retain(|(n, _)| n != k);
                    stage.args.push((k.clone(), value));
                }
                (
                    Self::nop(stage, &format!(" ARG {}", shown.join(" "))),
                    Change::Config,
                )
            }
            Command::Env(pairs) => {
                let mut shown = Vec::new();
                let mut env = next.env.clone().unwrap_or_default();
                for (k, v) in pairs {
                    let scratch = Stage {
                        config: ImageConfig {
                            config: spec::RunConfig {
                                env: Some(env.clone()),
                                ..Default::default()
                            },
                            ..stage.config.clone()
                        },
                        ..stage.clone()
                    };
                    let key = self.expand(&scratch, k)?;
                    let value = self.expand(&scratch, v)?;
                    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != key);
                    env.push(format!("{key}={value}"));
                    shown.push(format!("{key}={value}"));
                }
                next.env = Some(env);
                (
                    Self::nop(stage, &format!(" ENV {}", shown.join(" "))),
                    Change::Config,
                )
            }
            Command::Label(pairs) => {
                let mut shown = Vec::new();
                let labels = next.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs {
                    let key = self.expand(stage, k)?;
                    let value = self.expand(stage, v)?;
                    shown.push(format!("{key}={value}"));
                    labels.insert(key, value);
                }
                (
                    Self::nop(stage, &format!(" LABEL {}", shown.join(" "))),
                    Change::Config,
                )
            }
            Command::Workdir(dir) => {
                let dir = self.expand(stage, dir)?;
                let full = if dir.starts_with('/') {
                    dir.clone()
                } else {
                    format!("{}/{dir}", stage.workdir())
                };
                let full = format!("/{}", crate::gopath::clean_relative(&full));
                next.working_dir = Some(full.clone());
                let rel = full.trim_start_matches('/').to_string();
                let view = RootView::new(self.store, &stage.config);
                let change = if rel.is_empty() || view.lookup(&rel).is_some_and(|(_, m)| m.is_dir())
                {
                    Change::Config
                } else {
                    Change::Run(self.workdir_layer(&view, &rel)?)
                };
                (Self::nop(stage, &format!("WORKDIR {full}")), change)
            }
            Command::User(u) => {
                let u = self.expand(stage, u)?;
                next.user = Some(u.clone());
                (Self::nop(stage, &format!(" USER {u}")), Change::Config)
            }
            Command::StopSignal(s) => {
                let s = self.expand(stage, s)?;
                crate::container::lifecycle::parse_signal(&s)
                    .map_err(|_| Error::Step(format!("Invalid signal: {s}")))?;
                next.stop_signal = Some(s.clone());
                (
                    Self::nop(stage, &format!(" STOPSIGNAL {s}")),
                    Change::Config,
                )
            }
            Command::Expose(ports) => {
                let mut shown = Vec::new();
                let exposed = next.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    let p = self.expand(stage, p)?;
                    for port in expose(&p)? {
                        exposed.insert(port, serde_json::json!({}));
                    }
                    shown.push(p);
                }
                shown.sort();
                (
                    Self::nop(stage, &format!(" EXPOSE {}", shown.join(" "))),
                    Change::Config,
                )
            }
            Command::Volume(paths) => {
                let mut shown = Vec::new();
                let volumes = next.volumes.get_or_insert_with(BTreeMap::new);
                for p in paths {
                    let p = self.expand(stage, p)?;
                    volumes.insert(p.clone(), serde_json::json!({}));
                    shown.push(p);
                }
                (
                    Self::nop(stage, &format!(" VOLUME [{}]", shown.join(" "))),
                    Change::Config,
                )
            }
            Command::Shell(shell) => {
                next.shell = Some(shell.clone());
                let text = format!("{} #(nop)  SHELL [{}]", shell.join(" "), shell.join(" "));
                (text, Change::Config)
            }
            Command::Cmd(cmd) => {
                let argv = cmd.argv(&stage.shell());
                next.cmd = Some(argv.clone());
                stage.cmd_set = true;
                (
                    Self::nop(stage, &format!(" CMD {}", go_quoted(&argv))),
                    Change::Config,
                )
            }
            Command::Entrypoint(ep) => {
                let argv = match ep {
                    CommandLine::Shell(s) if s.is_empty() => Vec::new(),
                    other => other.argv(&stage.shell()),
                };
                next.entrypoint = Some(argv.clone());
                if !stage.cmd_set {
                    next.cmd = None;
                }
                (
                    Self::nop(stage, &format!(" ENTRYPOINT {}", go_quoted(&argv))),
                    Change::Config,
                )
            }
            Command::Healthcheck(h) => {
                let config = health_config(h);
                let text = format!(
                    " HEALTHCHECK &{{{} {:?} {:?} {:?} {}}}",
                    go_quoted(&config.test),
                    go_duration(Duration::from_nanos(config.interval as u64)),
                    go_duration(Duration::from_nanos(config.timeout as u64)),
                    go_duration(Duration::from_nanos(config.start_period as u64)),
                    go_rune(config.retries),
                );
                next.healthcheck = Some(config);
                (Self::nop(stage, &text), Change::Config)
            }
            Command::Onbuild(trigger) => {
                next.on_build
                    .get_or_insert_with(Vec::new)
                    .push(trigger.clone());
                (
                    Self::nop(stage, &format!(" ONBUILD {trigger}")),
                    Change::Config,
                )
            }
            Command::Copy(t) | Command::Add(t) => return self.transfer(stage, i, t),
            Command::Run { command, network } => return self.run(stage, i, command, *network),
        };
        self.commit(stage, next, created_by, change, None)
    }

    /// A layer with the directories of a new `WORKDIR`.
    fn workdir_layer(&self, view: &RootView, rel: &str) -> Result<std::path::PathBuf, Error> {
        let tmp = self.store.temp_path("workdir.tar");
        let file = std::fs::File::create(&tmp).map_err(|e| crate::Error::io(&tmp, e))?;
        let mut builder = tar::Builder::new(file);
        let mut prefix = String::new();
        for part in rel.split('/') {
            prefix = if prefix.is_empty() {
                part.to_string()
            } else {
                format!("{prefix}/{part}")
            };
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mtime(
                SystemTime::now()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
            match view.lookup(&prefix) {
                Some((_, m)) if m.is_dir() => {
                    use std::os::unix::fs::MetadataExt;
                    h.set_mode(m.mode() & 0o7777);
                    h.set_uid(m.uid().into());
                    h.set_gid(m.gid().into());
                }
                _ => h.set_mode(0o755),
            }
            builder
                .append_data(&mut h, format!("{prefix}/"), std::io::empty())
                .map_err(|e| crate::Error::io(&tmp, e))?;
        }
        builder
            .into_inner()
            .map_err(|e| crate::Error::io(&tmp, e))?;
        Ok(tmp)
    }

    fn transfer(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
        t: &dockerfile::Transfer,
    ) -> Result<(), Error> {
        let add = matches!(i.command, Command::Add(_));
        let name = if add { "ADD" } else { "COPY" };
        let sources: Vec<String> = t
            .sources
            .iter()
            .map(|s| self.expand(stage, s))
            .collect::<Result<_, _>>()?;
        let dest = self.expand(stage, &t.dest)?;
        let workdir = stage.workdir();
        let dest_abs = if dest.starts_with('/') {
            dest.clone()
        } else {
            let base = if workdir.ends_with('/') {
                workdir.clone()
            } else {
                format!("{workdir}/")
            };
            format!("{base}{dest}")
        };
        let dest_abs = if dest == "." || dest.ends_with('/') || dest.ends_with("/.") {
            format!("{}/", dest_abs.trim_end_matches('.').trim_end_matches('/'))
        } else {
            dest_abs
        };
        let view = RootView::new(self.store, &stage.config);
        let read = |rel: &str| {
            view.lookup(rel)
                .and_then(|(p, _)| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        let ids = match &t.chown {
            None => (0, 0),
            Some(spec) => {
                let spec = self.expand(stage, spec)?;
                transfer::chown_ids(&spec, &read("etc/passwd"), &read("etc/group"))
                    .map_err(|e| Error::Step(e.to_string()))?
            }
        };
        let chmod = t
            .chmod
            .as_deref()
            .map(|m| {
                transfer::parse_chmod(m)
                    .ok_or_else(|| Error::Step(format!("invalid chmod parameter: {m}")))
            })
            .transpose()?;
        let origin = match &t.from {
            None => Origin::Context(self.context),
            Some(from) => {
                let from = self.expand(stage, from)?;
                let source = match from.parse::<usize>() {
                    Ok(n) if n < self.stages.len() => self.stages[n].config.clone(),
                    _ => match self.stages.iter().rev().find(|s| {
                        s.name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&from))
                    }) {
                        Some(s) => s.config.clone(),
                        None => {
                            let id = self.image(&from).map_err(|e| {
                                Error::Step(format!("invalid from flag value {from}: {e}"))
                            })?;
                            self.store.config(&id)?
                        }
                    },
                };
                Origin::Image(RootView::new(self.store, &source))
            }
        };
        let heredocs: Vec<(String, String)> = i
            .heredocs
            .iter()
            .map(|h| {
                let body = if h.expand {
                    self.expand(stage, &h.content)
                        .unwrap_or_else(|_| h.content.clone())
                } else {
                    h.content.clone()
                };
                (h.name.clone(), body)
            })
            .collect();
        let request = transfer::Request {
            name,
            sources: &sources,
            dest: &dest_abs,
            add,
            ids,
            chmod,
            heredocs: &heredocs,
        };
        let plan = transfer::plan(&origin, &view, &request)
            .map_err(|e| Error::Step(format!("{name} failed: {e}")))?;
        let mut comment = format!("{name} ");
        if let Some(c) = &t.chown {
            // Docker 20.10 writes no space after it.
            comment.push_str(&format!("--chown={c}"));
        }
        if let Some(m) = &t.chmod {
            comment.push_str(&format!("--chmod={m} "));
        }
        comment.push_str(&format!("{} in {dest} ", plan.source_hash));
        let created_by = Self::nop(stage, &comment);
        let next = stage.config.config.clone();
        let key = Cache::key(stage.image.as_ref(), &created_by);
        if self.cached(stage, &key)? {
            return Ok(());
        }
        let tmp = self.store.temp_path("copy.tar");
        let written = std::fs::File::create(&tmp)
            .map_err(|e| crate::Error::io(&tmp, e))
            .map_err(Error::from)
            .and_then(|f| {
                plan.write_layer(std::io::BufWriter::new(f))
                    .map_err(|e| Error::Step(format!("{name} failed: {e}")))
            });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        self.commit(stage, next, created_by, Change::Layer(tmp), Some(key))
    }

    fn run(
        &mut self,
        stage: &mut Stage,
        i: &Instruction,
        command: &CommandLine,
        network: RunNetwork,
    ) -> Result<(), Error> {
        let shell = stage.shell();
        let argv = match (command, i.heredocs.first()) {
            // `RUN <<EOF`: the heredoc is the script, for the shell.
            (CommandLine::Shell(line), Some(doc)) if line.trim().starts_with("<<") => {
                let mut argv = shell.clone();
                argv.push(doc.content.clone());
                argv
            }
            _ => command.argv(&shell),
        };
        // Declared ARGs with a value (and proxy args given) reach RUN's
        // environment; the declared ones are also part of its history.
        let mut declared: Vec<(String, String)> = stage
            .args
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect();
        declared.sort();
        let env_names: BTreeSet<String> = stage.env_pairs().into_iter().map(|(k, _)| k).collect();
        let mut env: Vec<String> = declared
            .iter()
            .filter(|(k, _)| !env_names.contains(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        for p in PROXY_ARGS {
            if let Some(Some(v)) = self.build_arg(p) {
                if !declared.iter().any(|(k, _)| k == p) {
                    env.push(format!("{p}={v}"));
                }
            }
        }
        let mut created_by = argv.join(" ");
        if !declared.is_empty() {
            let shown: Vec<String> = declared.iter().map(|(k, v)| format!("{k}={v}")).collect();
            created_by = format!("|{} {} {created_by}", declared.len(), shown.join(" "));
        }
        let network_mode = match network {
            RunNetwork::None => Some("none".to_string()),
            RunNetwork::Host => Some("host".to_string()),
            RunNetwork::Default => self.options.network.clone(),
        };
        let key = Cache::key(
            stage.image.as_ref(),
            &format!("{created_by}\n{network_mode:?}"),
        );
        if self.cached(stage, &key)? {
            return Ok(());
        }
        let image = self.container_image(stage)?;
        let spec = run::Spec {
            argv: argv.clone(),
            env,
            network: network_mode,
        };
        let (mut container, outcome) = run::run(
            self.store,
            self.containers,
            self.global,
            &image,
            &spec,
            self.out,
        )?;
        let failure = match outcome {
            Ok(0) => None,
            Ok(code) => {
                let shown = match command {
                    CommandLine::Exec(v) => v.join(" "),
                    CommandLine::Shell(_) => argv.join(" "),
                };
                Some(Error::Run {
                    command: shown,
                    code,
                })
            }
            Err(not_started) => Some(not_started.into()),
        };
        if let Some(failure) = failure {
            container.keep(!self.options.force_remove);
            if self.options.force_remove {
                let short = container.short_id().to_string();
                drop(container);
                self.out
                    .line(&format!("Removing intermediate container {short}"));
            }
            return Err(failure);
        }
        let layer = container.layer(&RootView::new(self.store, &stage.config))?;
        let short = container.short_id().to_string();
        container.keep(!self.options.remove);
        drop(container);
        if self.options.remove {
            self.out
                .line(&format!("Removing intermediate container {short}"));
        }
        let next = stage.config.config.clone();
        self.commit(stage, next, created_by, Change::Run(layer), Some(key))
    }

    /// The image a step's container is made from. A stage `FROM scratch`
    /// has none before its first step (Docker makes the container from
    /// nothing, and a `RUN` there fails for want of /bin/sh); mini-docker's
    /// containers need one, so the stage's empty config becomes an image,
    /// unnamed and not printed (the same one each time: its ID is its
    /// content's).
    fn container_image(&self, stage: &Stage) -> Result<ImageId, Error> {
        if let Some(image) = &stage.image {
            return Ok(image.clone());
        }
        let _lock = self.store.lock()?;
        Ok(image::save_image(
            self.store,
            &stage.config,
            Vec::new(),
            None,
        )?)
    }

    /// A cache hit moves the stage to the cached image.
    fn cached(&mut self, stage: &mut Stage, key: &str) -> Result<bool, Error> {
        if self.options.no_cache {
            return Ok(false);
        }
        let Some(id) = self.cache.get(self.store, key) else {
            return Ok(false);
        };
        let name = stage.name.clone();
        let (args, cmd_set) = (stage.args.clone(), stage.cmd_set);
        *stage = Stage {
            args,
            cmd_set,
            ..self.stage_of(&id, name)?
        };
        self.out.arrow("Using cache");
        self.out.arrow(id.short());
        Ok(true)
    }

    /// Makes the step's image (after a cache probe for config steps).
    fn commit(
        &mut self,
        stage: &mut Stage,
        next: spec::RunConfig,
        created_by: String,
        change: Change,
        key: Option<String>,
    ) -> Result<(), Error> {
        let key_given = key.is_some();
        let key = match key {
            Some(k) => k,
            None => {
                let k = Cache::key(
                    stage.image.as_ref(),
                    &format!(
                        "{created_by}\n{}",
                        serde_json::to_string(&next).unwrap_or_default()
                    ),
                );
                if self.cached(stage, &k)? {
                    if let Change::Layer(t) | Change::Run(t) = &change {
                        let _ = std::fs::remove_file(t);
                    }
                    return Ok(());
                }
                k
            }
        };
        // A config step (not COPY/ADD/RUN, which come with their key) goes
        // through a container as in Docker's classic builder: created,
        // never started, removed after the commit unless `--rm=false`.
        let step = if key_given {
            None
        } else {
            let image = self.container_image(stage)?;
            let shell = next
                .shell
                .clone()
                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
            let spec = run::Spec {
                argv: nop_argv(shell, &created_by),
                env: Vec::new(),
                network: self.options.network.clone(),
            };
            let mut container = run::create(self.store, self.containers, &image, &spec, self.out)?;
            container.keep(!self.options.remove);
            Some(container)
        };
        let mut config = stage.config.clone();
        config.config = next;
        let now = human::rfc3339(SystemTime::now());
        let mut layers = stage.layers.clone();
        let mut empty_layer = true;
        let tar = match change {
            Change::Config => None,
            Change::Layer(t) | Change::Run(t) => Some(t),
        };
        if let Some(tar) = tar {
            let empty =
                std::fs::metadata(&tar).is_ok_and(|m| m.len() <= 1024 && tar_is_empty(&tar));
            if !empty || stage.image.is_none() {
                let _lock = self.store.lock()?;
                let parent_chain = chain_ids(&config.rootfs.diff_ids).last().cloned();
                let committed = image::commit_layer(self.store, &tar, parent_chain.as_ref());
                let _ = std::fs::remove_file(&tar);
                let committed = committed?;
                config.rootfs.diff_ids.push(committed.diff_id);
                layers.push(committed.blob);
                empty_layer = false;
            } else {
                let _ = std::fs::remove_file(&tar);
            }
        }
        config.history.push(History {
            created: Some(now.clone()),
            created_by: Some(created_by),
            author: config.author.clone(),
            comment: None,
            empty_layer,
        });
        config.created = Some(now);
        let id = {
            let _lock = self.store.lock()?;
            let id = image::save_image(self.store, &config, layers.clone(), None)?;
            let mut record = self.store.record(&id)?;
            record.parent = stage.image.clone();
            self.store.put_record(&id, &record)?;
            id
        };
        self.cache.put(&key, &id)?;
        if let Some(container) = step {
            let short = container.short_id().to_string();
            drop(container);
            if self.options.remove {
                self.out
                    .line(&format!("Removing intermediate container {short}"));
            }
        }
        self.out.arrow(id.short());
        stage.image = Some(id);
        stage.config = config;
        stage.layers = layers;
        Ok(())
    }
}

/// The command of a config step's container, from the step's history
/// line: Docker's `#(nop) ` and comment as two words (`ENV`, `CMD`, …),
/// or as one (`WORKDIR`, whose comment has no leading space).
fn nop_argv(mut shell: Vec<String>, created_by: &str) -> Vec<String> {
    let comment = created_by.split_once("#(nop) ").map_or("", |(_, c)| c);
    match comment.strip_prefix(' ') {
        Some(rest) => shell.extend(["#(nop) ".to_string(), rest.to_string()]),
        None => shell.push(format!("#(nop) {comment}")),
    }
    shell
}

/// Whether a layer tarball has no entries.
fn tar_is_empty(path: &std::path::Path) -> bool {
    std::fs::File::open(path)
        .ok()
        .and_then(|f| {
            tar::Archive::new(f)
                .entries()
                .ok()
                .map(|mut e| e.next().is_none())
        })
        .unwrap_or(false)
}

/// `EXPOSE 80`, `80/udp`, `8000-8002/tcp` → Docker's `port/proto` keys.
fn expose(spec: &str) -> Result<Vec<String>, Error> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::Step(format!("Invalid proto: {proto}")));
    }
    let bad = || Error::Step(format!("Invalid containerPort: {ports}"));
    let (start, end) = match ports.split_once('-') {
        Some((a, b)) => (
            a.parse::<u16>().map_err(|_| bad())?,
            b.parse::<u16>().map_err(|_| bad())?,
        ),
        None => {
            let p = ports.parse::<u16>().map_err(|_| bad())?;
            (p, p)
        }
    };
    if end < start {
        return Err(Error::Step(format!(
            "Invalid range specified for the Port: {ports}"
        )));
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_step_containers_run_dockers_nop_command() {
        let sh = || vec!["/bin/sh".to_string(), "-c".to_string()];
        assert_eq!(
            nop_argv(sh(), "/bin/sh -c #(nop)  ENV A=1"),
            ["/bin/sh", "-c", "#(nop) ", "ENV A=1"]
        );
        assert_eq!(
            nop_argv(sh(), "/bin/sh -c #(nop) WORKDIR /srv"),
            ["/bin/sh", "-c", "#(nop) WORKDIR /srv"]
        );
    }

    #[test]
    fn go_formats() {
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(go_duration(Duration::ZERO), "0s");
        assert_eq!(go_rune(0), "'\\x00'");
        assert_eq!(go_rune(3), "'\\x03'");
        assert_eq!(
            go_quoted(&["CMD-SHELL".into(), "true".into()]),
            "[\"CMD-SHELL\" \"true\"]"
        );
    }

    #[test]
    fn expose_specs() {
        assert_eq!(expose("80").unwrap(), ["80/tcp"]);
        assert_eq!(expose("53/udp").unwrap(), ["53/udp"]);
        assert_eq!(expose("8000-8002").unwrap().len(), 3);
        assert_eq!(
            expose("abc").unwrap_err().to_string(),
            "Invalid containerPort: abc"
        );
    }
}
