//! `events`: the run root's event log (see `mini_docker::events`), filtered
//! and formatted as Docker's `events`. Without `--until` it follows the log
//! until interrupted; without `--since` it shows only what happens from now
//! (with `--until` alone, everything recorded up to then).

use std::io::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use clap::Args;
use mini_docker::events::{Event, Kind};
use serde_json::Value;

use super::{template, Context, Failure};

/// How often a follower looks for new lines.
const POLL: Duration = Duration::from_millis(100);

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show all events created since timestamp.
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    until: Option<String>,
    /// Filter output based on conditions provided.
    #[arg(short, long)]
    filter: Vec<String>,
    /// Format the output using the given Go template.
    #[arg(long)]
    format: Option<String>,
}

/// Why the flags were refused, in Docker's words.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    #[error("failed to parse value as time or duration: \"{0}\"")]
    Time(String),
    #[error("bad format of filter (expected name=value)")]
    FilterFormat,
    #[error("Invalid filter '{0}'")]
    FilterKey(String),
}

/// Docker's timestamps for `--since`/`--until`: Unix seconds (with a
/// fraction), RFC 3339 (or a bare date), or a duration before `now`.
/// Returns nanoseconds since the epoch.
pub fn parse_time(text: &str, now: SystemTime) -> Result<i64, EventsError> {
    let bad = || EventsError::Time(text.to_string());
    let nanos = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .map_err(|_| bad())
    };
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    if !secs.is_empty()
        && secs.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        let s: i64 = secs.parse().map_err(|_| bad())?;
        let frac = format!("{frac:0<9}");
        let n: i64 = frac[..9].parse().map_err(|_| bad())?;
        return Ok(s * 1_000_000_000 + n);
    }
    // After the number: humantime reads a bare `0` as a duration.
    if let Ok(d) = humantime::parse_duration(text) {
        return nanos(now.checked_sub(d).ok_or_else(bad)?);
    }
    let full = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_string()
    };
    humantime::parse_rfc3339_weak(&full)
        .or_else(|_| humantime::parse_rfc3339(&full))
        .map_err(|_| bad())
        .and_then(nanos)
}

/// `--filter` as Docker reads it: values of one key are alternatives,
/// different keys must all match.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Filters(Vec<(String, String)>);

const KEYS: &[&str] = &[
    "type",
    "event",
    "container",
    "image",
    "label",
    "volume",
    "network",
];

impl Filters {
    pub fn parse(args: &[String]) -> Result<Self, EventsError> {
        let mut out = Vec::new();
        for a in args {
            let (k, v) = a.split_once('=').ok_or(EventsError::FilterFormat)?;
            if !KEYS.contains(&k) {
                return Err(EventsError::FilterKey(k.to_string()));
            }
            out.push((k.to_string(), v.to_string()));
        }
        Ok(Filters(out))
    }

    fn values(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True when `key` is not filtered, or one of its values matches.
    fn any(&self, key: &str, matches: impl Fn(&str) -> bool) -> bool {
        let values = self.values(key);
        values.is_empty() || values.into_iter().any(matches)
    }

    /// Docker's rules: `container`/`volume`/`network` match the actor's ID
    /// or `name` by prefix; `image` matches exactly, with or without tag;
    /// every `label` must be among the attributes.
    pub fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        let named = |kind: Kind| {
            move |v: &str| {
                e.kind == kind
                    && (e.actor.id.starts_with(v) || attr("name").is_some_and(|n| n.starts_with(v)))
            }
        };
        let strip_tag = |s: &str| match s.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') && !s.starts_with("sha256:") => {
                repo.to_string()
            }
            _ => s.to_string(),
        };
        let image_name = if e.kind == Kind::Image {
            attr("name")
        } else {
            attr("image")
        }
        .unwrap_or_default();
        self.any("type", |v| v == e.kind.as_str())
            && self.any("event", |v| v == e.action.as_str())
            && self.any("container", named(Kind::Container))
            && self.any("volume", named(Kind::Volume))
            && self.any("network", named(Kind::Network))
            && self.any("image", |v| {
                [e.actor.id.as_str(), image_name]
                    .iter()
                    .any(|s| *s == v || strip_tag(s) == v)
            })
            && self
                .values("label")
                .iter()
                .all(|l| match l.split_once('=') {
                    Some((k, v)) => attr(k) == Some(v),
                    None => attr(l).is_some(),
                })
    }
}

/// What `--format` sees: the JSON fields plus Go's field names (`.Status`,
/// `.ID`, `.From`, `.Time`, `.TimeNano`, `.Scope`), as Docker's template
/// runs on the Go struct.
fn template_value(e: &Event) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for (go, json) in [
            ("Status", "status"),
            ("ID", "id"),
            ("From", "from"),
            ("Scope", "scope"),
            ("Time", "time"),
            ("TimeNano", "timeNano"),
        ] {
            let value = o.get(json).cloned().unwrap_or(Value::String(String::new()));
            o.insert(go.into(), value);
        }
    }
    v
}

/// Prints one event; `Ok(false)` once the reader has gone (`events | head`
/// ends quietly, as Docker's does).
fn print(e: &Event, format: Option<&str>) -> Result<bool> {
    let line = match format {
        None => e.line(),
        Some(f) if f.trim() == "{{json .}}" => serde_json::to_string(e)?,
        Some(f) => template::render(f, &template_value(e)).map_err(anyhow::Error::msg)?,
    };
    match writeln!(std::io::stdout(), "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn now_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `events [--since T] [--until T] [--filter K=V]… [--format F]`.
pub fn events(ctx: &Context, args: &EventsArgs) -> Result<i32> {
    let now = SystemTime::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    // A filter without `=` is a bad flag value to Docker's CLI (exit 125).
    let filters = Filters::parse(&args.filter).map_err(|e| match e {
        EventsError::FilterFormat => anyhow::Error::new(Failure::Flag(format!(
            "invalid argument \"{}\" for \"-f, --filter\" flag: {e}",
            args.filter
                .iter()
                .find(|f| !f.contains('='))
                .map_or("", |f| f.as_str())
        ))),
        other => other.into(),
    })?;
    super::end_on_interrupt();
    let format = args.format.as_deref();
    let log = ctx.containers.events();
    let (past, mut cursor) = log.read_all();
    // Docker: no --since shows nothing old, unless --until asks for a past.
    let start = since.unwrap_or_else(|| if until.is_some() { 0 } else { now_nanos() });
    let in_range = |e: &Event| e.time_nano >= start && until.is_none_or(|u| e.time_nano <= u);
    for e in past.iter().filter(|e| in_range(e) && filters.matches(e)) {
        if !print(e, format)? {
            return Ok(0);
        }
    }
    loop {
        if until.is_some_and(|u| now_nanos() > u) {
            return Ok(0);
        }
        std::thread::sleep(POLL);
        for e in log.read_new(&mut cursor) {
            if in_range(&e) && filters.matches(&e) && !print(&e, format)? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mini_docker::container::record::Container;
    use mini_docker::events::Action;

    #[test]
    fn times_parse_as_docker_takes_them() {
        let now = UNIX_EPOCH + Duration::from_secs(1_796_100_000);
        assert_eq!(
            parse_time("1796100000", now).unwrap(),
            1_796_100_000_000_000_000
        );
        assert_eq!(
            parse_time("1796100000.5", now).unwrap(),
            1_796_100_000_500_000_000
        );
        assert_eq!(
            parse_time("10m", now).unwrap(),
            (1_796_100_000 - 600) * 1_000_000_000
        );
        assert_eq!(
            parse_time("2026-12-01T04:40:00Z", now).unwrap(),
            1_796_100_000_000_000_000
        );
        assert_eq!(
            parse_time("2026-12-01", now).unwrap(),
            (1_796_100_000 - 4 * 3600 - 40 * 60) * 1_000_000_000
        );
        assert_eq!(
            parse_time("yesterday", now).unwrap_err().to_string(),
            "failed to parse value as time or duration: \"yesterday\""
        );
    }

    fn event(action: Action) -> Event {
        let mut c = Container {
            id: "abcdef".into(),
            name: "/web".into(),
            ..Default::default()
        };
        c.config.image = "busybox:latest".into();
        c.config.labels.insert("tier".into(), "front".into());
        Event::container(action, &c, &[])
    }

    #[test]
    fn filters_follow_docker() {
        let f = |args: &[&str]| {
            Filters::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
        };
        let start = event(Action::Start);
        assert!(f(&[]).matches(&start));
        assert!(f(&["type=container", "event=start"]).matches(&start));
        assert!(
            f(&["event=die", "event=start"]).matches(&start),
            "OR within a key"
        );
        assert!(!f(&["event=die"]).matches(&start));
        assert!(f(&["container=abc"]).matches(&start), "ID prefix");
        assert!(f(&["container=web"]).matches(&start));
        assert!(!f(&["container=db"]).matches(&start));
        assert!(f(&["image=busybox"]).matches(&start), "tag stripped");
        assert!(f(&["image=busybox:latest"]).matches(&start));
        assert!(!f(&["image=busy"]).matches(&start), "images match exactly");
        assert!(f(&["label=tier"]).matches(&start));
        assert!(f(&["label=tier=front"]).matches(&start));
        assert!(!f(&["label=tier=back"]).matches(&start));
        let vol = Event::object(Kind::Volume, Action::Create, "data", &[("driver", "local")]);
        assert!(!f(&["container=web"]).matches(&vol));
        assert!(f(&["volume=da"]).matches(&vol));
        assert_eq!(
            Filters::parse(&["bogus=1".into()]).unwrap_err().to_string(),
            "Invalid filter 'bogus'"
        );
    }

    #[test]
    fn templates_see_go_field_names() {
        let v = template_value(&event(Action::Die));
        assert_eq!(
            template::render(
                "{{.Status}} {{.ID}} {{.Type}} {{.Actor.Attributes.name}}",
                &v
            )
            .unwrap(),
            "die abcdef container web"
        );
    }
}
