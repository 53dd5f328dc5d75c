//! What a container runs: the image's defaults combined with `docker run`'s
//! flags by Docker's rules.
//!
//! - `ENTRYPOINT` + `CMD`: the command is the entrypoint followed by the
//!   command (which then serves as default arguments);
//! - arguments after the image name replace `CMD`;
//! - `--entrypoint` replaces `ENTRYPOINT` *and* clears the image's `CMD`;
//! - `-e` adds to or overrides the image's `ENV` (`Config.Env`); the
//!   process also gets a default `PATH`, `HOSTNAME` and `HOME`, as Docker's
//!   daemon and runc add them (see [`daemon_env`], [`home_dir`]);
//! - `-w` replaces `WORKDIR` (default `/`); `-u` replaces `USER` (default
//!   root) and is resolved in the image's `/etc/passwd` and `/etc/group`.

use crate::spec::RunConfig;
use crate::{Error, Result};

/// Why the image and the flags do not make a process (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("No command specified")]
    NoCommand,
    #[error("the working directory '{0}' is invalid, it needs to be an absolute path")]
    RelativeWorkdir(String),
    #[error("unable to find user {0}: no matching entries in passwd file")]
    NoSuchUser(String),
    #[error("unable to find group {0}: no matching entries in group file")]
    NoSuchGroup(String),
    /// The working directory (or a parent) is a file in the image.
    #[error("Cannot mkdir: {0} is not a directory")]
    WorkdirNotADirectory(String),
}

/// Docker's `PATH` when neither the image nor `-e` sets one.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The `run` flags that shape the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--entrypoint`; `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// Arguments after the image name.
    pub cmd: Vec<String>,
    /// `-e NAME=value` (or `-e NAME`, taken from `host_env`).
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
}

/// The process to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups from `/etc/group`.
    pub groups: Vec<u32>,
}

/// Reads a file of the image (`etc/passwd`) by its path relative to `/`.
pub type ImageFiles<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Combines the image's settings with the flags; `files` reads the image's
/// `/etc/passwd` and `/etc/group`, and `host_env` answers `-e NAME` without
/// a value.
pub fn process(
    image: &RunConfig,
    flags: &Overrides,
    files: ImageFiles,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<Process> {
    let entrypoint: Vec<String> = match &flags.entrypoint {
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
        None => image.entrypoint.clone().unwrap_or_default(),
    };
    let cmd: Vec<String> = if !flags.cmd.is_empty() {
        flags.cmd.clone()
    } else if flags.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    };
    let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if args.is_empty() {
        return Err(SpecError::NoCommand.into());
    }

    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for item in &flags.env {
        let entry = match item.split_once('=') {
            Some(_) => item.clone(),
            None => match host_env(item) {
                Some(value) => format!("{item}={value}"),
                None => continue,
            },
        };
        let key = entry.split('=').next().unwrap_or_default().to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }

    let cwd = flags
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone())
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(cwd).into());
    }
    let user = flags
        .user
        .clone()
        .or_else(|| image.user.clone())
        .unwrap_or_default();
    let (uid, gid, groups) = resolve_user(&user, files)?;
    Ok(Process {
        args,
        env,
        cwd,
        uid,
        gid,
        groups,
    })
}

/// The home directory of `uid` in `passwd` (an `/etc/passwd` text), `/`
/// when it has no entry: what a container's `HOME` defaults to.
pub fn home_dir(uid: u32, passwd: &str) -> String {
    passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 6 && f[2].parse() == Ok(uid))
        .map(|f| f[5].to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "/".into())
}

/// What Docker's daemon adds to a container's environment (not to
/// `Config.Env`): a default `PATH`, `HOSTNAME`, and `TERM=xterm` with a
/// terminal, first; the container's own settings win.
pub fn daemon_env(env: &[String], hostname: &str, tty: bool) -> Vec<String> {
    let has = |key: &str| env.iter().any(|e| e.split('=').next() == Some(key));
    let mut added = Vec::new();
    if !has("PATH") {
        added.push(format!("PATH={DEFAULT_PATH}"));
    }
    if !has("HOSTNAME") {
        added.push(format!("HOSTNAME={hostname}"));
    }
    if tty && !has("TERM") {
        added.push("TERM=xterm".to_string());
    }
    added.extend(env.iter().cloned());
    added
}

/// `name`, `uid`, `name:group`, `uid:gid` — as Docker resolves `-u`: names
/// must exist in the image; numbers need not.
pub fn resolve_user(user: &str, files: ImageFiles) -> Result<(u32, u32, Vec<u32>)> {
    let passwd = files("etc/passwd").unwrap_or_default();
    let group = files("etc/group").unwrap_or_default();
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let user_part = if user_part.is_empty() { "0" } else { user_part };
    let entry = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.len() >= 4 && (f[0] == user_part || f[2] == user_part));
    let (uid, primary, name) = match (&entry, user_part.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| Error::Corrupt(format!("/etc/passwd: bad uid for {}", f[0])))?,
            f[3].parse()
                .map_err(|_| Error::Corrupt(format!("/etc/passwd: bad gid for {}", f[0])))?,
            Some(f[0].to_string()),
        ),
        (None, Ok(uid)) => (uid, 0, None),
        (None, Err(_)) => return Err(SpecError::NoSuchUser(user_part.into()).into()),
    };
    let groups: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect())
        .filter(|f: &Vec<&str>| f.len() >= 3)
        .collect();
    let gid = match group_part {
        None => primary,
        Some(g) => match (
            groups.iter().find(|f| f[0] == g || f[2] == g),
            g.parse::<u32>(),
        ) {
            (Some(f), _) => f[2]
                .parse()
                .map_err(|_| Error::Corrupt(format!("/etc/group: bad gid for {}", f[0])))?,
            (None, Ok(gid)) => gid,
            (None, Err(_)) => return Err(SpecError::NoSuchGroup(g.into()).into()),
        },
    };
    let supplementary = match (&name, group_part) {
        (Some(name), None) => groups
            .iter()
            .filter(|f| {
                f.get(3)
                    .is_some_and(|members| members.split(',').any(|m| m == name))
            })
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != gid)
            .collect(),
        _ => Vec::new(),
    };
    // As runc: a user in no other group still lists its own.
    let supplementary = if supplementary.is_empty() {
        vec![gid]
    } else {
        supplementary
    };
    Ok((uid, gid, supplementary))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn none(_: &str) -> Option<String> {
        None
    }

    fn under(root: &Path) -> impl Fn(&str) -> Option<String> + '_ {
        move |rel| std::fs::read_to_string(root.join(rel)).ok()
    }

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> RunConfig {
        let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        RunConfig {
            entrypoint: entrypoint.map(owned),
            cmd: cmd.map(owned),
            env: Some(vec!["A=image".into(), "PATH=/bin".into()]),
            working_dir: Some("/srv".into()),
            ..Default::default()
        }
    }

    fn args(image: &RunConfig, flags: &Overrides) -> Vec<String> {
        process(image, flags, &none, |_| None).unwrap().args
    }

    #[test]
    fn entrypoint_and_cmd_combine_by_dockers_rules() {
        let img = image(Some(&["top", "-b"]), Some(&["-d", "1"]));
        assert_eq!(args(&img, &Overrides::default()), ["top", "-b", "-d", "1"]);
        let run_args = Overrides {
            cmd: vec!["-n".into(), "2".into()],
            ..Default::default()
        };
        assert_eq!(
            args(&img, &run_args),
            ["top", "-b", "-n", "2"],
            "run args replace CMD only"
        );
        let new_entry = Overrides {
            entrypoint: Some("sh".into()),
            ..Default::default()
        };
        assert_eq!(
            args(&img, &new_entry),
            ["sh"],
            "--entrypoint clears the image's CMD"
        );
        let both = Overrides {
            entrypoint: Some("sh".into()),
            cmd: vec!["-c".into(), "id".into()],
            ..Default::default()
        };
        assert_eq!(args(&img, &both), ["sh", "-c", "id"]);
        let cleared = Overrides {
            entrypoint: Some(String::new()),
            cmd: vec!["ls".into()],
            ..Default::default()
        };
        assert_eq!(args(&img, &cleared), ["ls"]);
        let nothing = image(None, None);
        let err = process(&nothing, &Overrides::default(), &none, |_| None).unwrap_err();
        assert_eq!(err.to_string(), "No command specified");
    }

    #[test]
    fn env_workdir_and_defaults() {
        let img = image(None, Some(&["sh"]));
        let flags = Overrides {
            env: vec!["A=flag".into(), "B=2".into(), "HOME".into(), "UNSET".into()],
            ..Default::default()
        };
        let p = process(&img, &flags, &none, |k| {
            (k == "HOME").then(|| "/root".to_string())
        })
        .unwrap();
        assert_eq!(p.env, ["PATH=/bin", "A=flag", "B=2", "HOME=/root"]);
        assert_eq!(p.cwd, "/srv");
        let bare = RunConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let p = process(&bare, &Overrides::default(), &none, |_| None).unwrap();
        assert!(
            p.env.is_empty(),
            "the default PATH is the daemon's, not Config.Env"
        );
        assert_eq!((p.cwd.as_str(), p.uid, p.gid), ("/", 0, 0));
        let rel = Overrides {
            workdir: Some("srv".into()),
            ..Default::default()
        };
        assert!(process(&bare, &rel, &none, |_| None)
            .unwrap_err()
            .to_string()
            .contains("absolute path"));
    }

    #[test]
    fn home_and_daemon_env_as_docker_sets_them() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n";
        assert_eq!(home_dir(0, passwd), "/root");
        assert_eq!(home_dir(65534, passwd), "/nonexistent");
        assert_eq!(home_dir(4321, passwd), "/");
        assert_eq!(
            daemon_env(&["A=1".to_string()], "h", true),
            [
                format!("PATH={DEFAULT_PATH}"),
                "HOSTNAME=h".into(),
                "TERM=xterm".into(),
                "A=1".into()
            ]
        );
        let mine = ["PATH=/bin".to_string(), "HOSTNAME=mine".to_string()];
        assert_eq!(daemon_env(&mine, "h", false), mine);
    }

    #[test]
    fn users_resolve_in_the_images_files() {
        let root = std::env::temp_dir().join(format!("spec-users-{}", std::process::id()));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(
            root.join("etc/passwd"),
            "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            root.join("etc/group"),
            "root:x:0:\napp:x:1000:\nwheel:x:10:app\nstaff:x:50:\n",
        )
        .unwrap();
        let files = under(&root);
        assert_eq!(resolve_user("", &files).unwrap(), (0, 0, vec![0]));
        assert_eq!(resolve_user("app", &files).unwrap(), (1000, 1000, vec![10]));
        assert_eq!(
            resolve_user("1000", &files).unwrap(),
            (1000, 1000, vec![10])
        );
        assert_eq!(
            resolve_user("app:staff", &files).unwrap(),
            (1000, 50, vec![50])
        );
        assert_eq!(
            resolve_user("4242:4343", &files).unwrap(),
            (4242, 4343, vec![4343])
        );
        assert_eq!(
            resolve_user("ghost", &files).unwrap_err().to_string(),
            "unable to find user ghost: no matching entries in passwd file"
        );
        assert!(resolve_user("app:nogroup", &files)
            .unwrap_err()
            .to_string()
            .contains("unable to find group nogroup"));
        drop(files);
        std::fs::remove_dir_all(root).unwrap();
    }
}
