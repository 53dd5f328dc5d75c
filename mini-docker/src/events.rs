//! `docker events` without a daemon: every command and every monitor
//! appends what it did to one JSON-lines file in the run root, and
//! `events` reads (and follows) it.
//!
//! Each event is one `write(2)` on a file opened with `O_APPEND`, so lines
//! from concurrent writers never interleave (the kernel positions and
//! writes an appending regular-file write atomically). The file is bounded:
//! past [`MAX_BYTES`] it is renamed to `events.log.1` (the previous one
//! dropped), under a lock so that two writers do not both rotate.
//! Recording is best effort: a command never fails because its event could
//! not be written.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::container::record::Container;

/// Rotation threshold of the live file.
pub const MAX_BYTES: u64 = 1 << 20;

/// What the event is about (Docker's `Type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Container,
    Image,
    Volume,
    Network,
}

/// What happened (Docker's `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Start,
    Die,
    Stop,
    Kill,
    Pause,
    Unpause,
    Destroy,
    Rename,
    Restart,
    Update,
    Attach,
    Detach,
    Pull,
    Push,
    Import,
    Load,
    Tag,
    Untag,
    Delete,
    Connect,
    Disconnect,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        use Action::*;
        match self {
            Create => "create",
            Start => "start",
            Die => "die",
            Stop => "stop",
            Kill => "kill",
            Pause => "pause",
            Unpause => "unpause",
            Destroy => "destroy",
            Rename => "rename",
            Restart => "restart",
            Update => "update",
            Attach => "attach",
            Detach => "detach",
            Pull => "pull",
            Push => "push",
            Import => "import",
            Load => "load",
            Tag => "tag",
            Untag => "untag",
            Delete => "delete",
            Connect => "connect",
            Disconnect => "disconnect",
        }
    }
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Container => "container",
            Kind::Image => "image",
            Kind::Volume => "volume",
            Kind::Network => "network",
        }
    }
}

/// Docker's `Actor`: the object's ID and what else identifies it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    pub attributes: BTreeMap<String, String>,
}

/// One event, in the JSON shape of Docker's API (`{{json .}}` prints it
/// as Docker does, with the deprecated `status`/`id`/`from` of container
/// and image events).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: Kind,
    #[serde(rename = "Action")]
    pub action: Action,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event stamped now.
    pub fn new(kind: Kind, action: Action, id: &str, attributes: BTreeMap<String, String>) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let legacy = matches!(kind, Kind::Container | Kind::Image);
        Event {
            status: if legacy {
                action.as_str().into()
            } else {
                String::new()
            },
            id: if legacy { id.into() } else { String::new() },
            from: if kind == Kind::Container {
                attributes.get("image").cloned().unwrap_or_default()
            } else {
                String::new()
            },
            kind,
            action,
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: nanos / 1_000_000_000,
            time_nano: nanos,
        }
    }

    /// A container event: its labels, `image` and `name` as attributes
    /// (Docker's), plus `extra` (`exitCode`, `signal`, `oldName`).
    pub fn container(action: Action, c: &Container, extra: &[(&str, String)]) -> Self {
        let mut attributes = c.config.labels.clone();
        attributes.insert("image".into(), c.config.image.clone());
        attributes.insert("name".into(), c.name.trim_start_matches('/').into());
        for (k, v) in extra {
            attributes.insert((*k).into(), v.clone());
        }
        Event::new(Kind::Container, action, &c.id, attributes)
    }

    /// An event about an image, volume or network: `name` and `extra`.
    pub fn object(kind: Kind, action: Action, id: &str, extra: &[(&str, &str)]) -> Self {
        let attributes = extra
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        Event::new(kind, action, id, attributes)
    }

    /// Docker's default line: `TIME TYPE ACTION ID (k=v, k=v)`, the time in
    /// RFC 3339 with nine fractional digits.
    pub fn line(&self) -> String {
        let secs = self.time_nano.div_euclid(1_000_000_000);
        let nanos = self.time_nano.rem_euclid(1_000_000_000);
        let when = UNIX_EPOCH + Duration::new(secs.max(0) as u64, nanos as u32);
        let when = humantime::format_rfc3339_nanos(when).to_string();
        let attrs: Vec<String> = self
            .actor
            .attributes
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut line = format!(
            "{when} {} {} {}",
            self.kind.as_str(),
            self.action.as_str(),
            self.actor.id
        );
        if !attrs.is_empty() {
            line.push_str(&format!(" ({})", attrs.join(", ")));
        }
        line
    }
}

/// The event log of one run root.
#[derive(Debug, Clone)]
pub struct Log {
    path: PathBuf,
}

impl Log {
    pub fn in_run_root(run_root: &Path) -> Self {
        Log {
            path: run_root.join("events.log"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn rotated(&self) -> PathBuf {
        self.path.with_extension("log.1")
    }

    /// Appends one event; errors are logged, never returned (see the
    /// module's note).
    pub fn record(&self, event: &Event) {
        if let Err(e) = self.append(event) {
            tracing::debug!("event not recorded in {}: {e}", self.path.display());
        }
    }

    fn append(&self, event: &Event) -> std::io::Result<()> {
        let mut line = serde_json::to_vec(event)?;
        line.push(b'\n');
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= MAX_BYTES) {
            self.rotate()?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write: an appending write of a few hundred bytes to a regular
        // file is not split by the kernel.
        let written = file.write(&line)?;
        if written != line.len() {
            return Err(std::io::Error::other("short write"));
        }
        Ok(())
    }

    /// Moves the full file aside, unless another writer just did.
    fn rotate(&self) -> std::io::Result<()> {
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.path.with_extension("lock"))?;
        let _held =
            Flock::lock(lock, FlockArg::LockExclusive).map_err(|(_, e)| std::io::Error::from(e))?;
        if std::fs::metadata(&self.path).is_ok_and(|m| m.len() >= MAX_BYTES) {
            std::fs::rename(&self.path, self.rotated())?;
        }
        Ok(())
    }

    /// Every recorded event, oldest first (the rotated file, then the live
    /// one), and the live file's identity and length for [`Log::follow`].
    pub fn read_all(&self) -> (Vec<Event>, Cursor) {
        let mut events = read_lines(&self.rotated(), 0).0;
        let (live, end) = read_lines(&self.path, 0);
        events.extend(live);
        (
            events,
            Cursor {
                offset: end,
                inode: inode(&self.path),
            },
        )
    }

    /// Events appended since `cursor` (from the start of a new file after a
    /// rotation), advancing it.
    pub fn read_new(&self, cursor: &mut Cursor) -> Vec<Event> {
        let now = inode(&self.path);
        if now != cursor.inode {
            // Rotated: what was left in the old file, then the new one.
            let (mut events, _) = read_lines(&self.rotated(), cursor.offset);
            let (more, end) = read_lines(&self.path, 0);
            events.extend(more);
            *cursor = Cursor {
                offset: end,
                inode: now,
            };
            return events;
        }
        let (events, end) = read_lines(&self.path, cursor.offset);
        cursor.offset = end;
        events
    }
}

/// Where a reader is in the live file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    offset: u64,
    inode: Option<u64>,
}

fn inode(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

/// Whole lines from `offset` on (a line still being written is left for
/// the next read); returns the events and the offset after the last one.
fn read_lines(path: &Path, offset: u64) -> (Vec<Event>, u64) {
    let Ok(mut file) = File::open(path) else {
        return (Vec::new(), 0);
    };
    if file.seek(SeekFrom::Start(offset)).is_err() {
        return (Vec::new(), offset);
    }
    let mut reader = BufReader::new(file);
    let (mut events, mut end) = (Vec::new(), offset);
    let mut line = String::new();
    while let Ok(n) = reader.read_line(&mut line) {
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        end += n as u64;
        if let Ok(event) = serde_json::from_str(&line) {
            events.push(event);
        }
        line.clear();
    }
    (events, end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("events-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn container() -> Container {
        let mut c = Container {
            id: "abc".into(),
            name: "/web".into(),
            ..Default::default()
        };
        c.config.image = "busybox".into();
        c.config.labels.insert("tier".into(), "front".into());
        c
    }

    #[test]
    fn default_line_and_json_follow_docker() {
        let mut e = Event::container(Action::Die, &container(), &[("exitCode", "3".into())]);
        e.time_nano = 1_796_100_000_123_456_789;
        e.time = e.time_nano / 1_000_000_000;
        assert_eq!(
            e.line(),
            "2026-12-01T04:40:00.123456789Z container die abc (exitCode=3, image=busybox, name=web, tier=front)"
        );
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["status"], "die");
        assert_eq!(v["from"], "busybox");
        assert_eq!(v["Type"], "container");
        assert_eq!(v["Actor"]["ID"], "abc");
        assert_eq!(v["scope"], "local");
        let vol = Event::object(Kind::Volume, Action::Create, "data", &[("driver", "local")]);
        let v = serde_json::to_value(&vol).unwrap();
        assert!(v.get("status").is_none(), "volume events have no status");
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = scratch("concurrent");
        let log = Log::in_run_root(&dir);
        let c = container();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        log.record(&Event::container(Action::Start, &c, &[]));
                    }
                });
            }
        });
        let text = std::fs::read_to_string(log.path()).unwrap();
        assert_eq!(text.lines().count(), 1600);
        assert!(text
            .lines()
            .all(|l| serde_json::from_str::<Event>(l).is_ok()));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn appends_reads_follows_and_rotates() {
        let dir = scratch("log");
        let log = Log::in_run_root(&dir);
        let (none, mut cursor) = log.read_all();
        assert!(none.is_empty());
        let c = container();
        log.record(&Event::container(Action::Create, &c, &[]));
        log.record(&Event::container(Action::Start, &c, &[]));
        let new = log.read_new(&mut cursor);
        assert_eq!(
            new.iter().map(|e| e.action).collect::<Vec<_>>(),
            [Action::Create, Action::Start]
        );
        assert!(log.read_new(&mut cursor).is_empty());
        // Fill past the bound: the next append rotates.
        let filler = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        filler.set_len(MAX_BYTES).unwrap();
        log.record(&Event::container(Action::Die, &c, &[]));
        assert!(dir.join("events.log.1").exists());
        assert!(std::fs::metadata(log.path()).unwrap().len() < 1000);
        let after = log.read_new(&mut cursor);
        assert_eq!(after.last().map(|e| e.action), Some(Action::Die));
        let (all, _) = log.read_all();
        assert_eq!(all.len(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
