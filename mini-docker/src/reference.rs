//! Image references, by Docker's rules: `[registry/]path[:tag][@digest]`.
//!
//! The first component is a registry only if it looks like a host (has a
//! `.` or a `:` port, or is `localhost`); otherwise the registry is
//! `docker.io`, and a one-component Docker Hub path lives under `library/`.
//! So `busybox` means `docker.io/library/busybox:latest`.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

pub const DEFAULT_REGISTRY: &str = "docker.io";
pub const DEFAULT_TAG: &str = "latest";

/// A fully qualified reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    pub registry: String,
    /// `library/busybox`, `team/app`.
    pub path: String,
    /// `None` only when a digest is given alone.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Docker's own wording for any malformed reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid reference format{}", .0.as_ref().map(|w| format!(": {w}")).unwrap_or_default())]
pub struct InvalidReference(pub Option<&'static str>);

impl FromStr for Reference {
    type Err = InvalidReference;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why| InvalidReference(why);
        if text.is_empty() || text.len() > 255 + 128 + 72 {
            return Err(invalid(None));
        }
        let (rest, digest) = match text.split_once('@') {
            Some((rest, d)) => (rest, Some(d.parse::<Digest>().map_err(|_| invalid(None))?)),
            None => (text, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !valid_tag(tag) {
                return Err(invalid(None));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        if !valid_registry(&registry) {
            return Err(invalid(None));
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(invalid(Some("repository name must be lowercase")));
        }
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(invalid(None));
        }
        let path = if registry == DEFAULT_REGISTRY && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some(DEFAULT_TAG.to_string()),
        };
        Ok(Reference {
            registry,
            path,
            tag,
            digest,
        })
    }
}

fn valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    tag.len() <= 128
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_registry(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !l.starts_with('-')
        })
        && port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`.
fn valid_component(c: &str) -> bool {
    if c.is_empty() || !c.starts_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    if !c.ends_with(|ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit()) {
        return false;
    }
    let bytes = c.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator: '.', '_', '__', or one or more '-'.
        let start = i;
        while i < bytes.len() && matches!(bytes[i], b'.' | b'_' | b'-') {
            i += 1;
        }
        let sep = &c[start..i];
        // An empty `sep` is a character that is neither: refused (it once
        // looped here forever on `ab'c`).
        let ok = sep == "."
            || sep == "_"
            || sep == "__"
            || (!sep.is_empty() && sep.chars().all(|ch| ch == '-'));
        if !ok {
            return false;
        }
    }
    true
}

impl Reference {
    /// `busybox` for `docker.io/library/busybox`, `localhost:5000/app` else.
    pub fn familiar_name(&self) -> String {
        if self.registry == DEFAULT_REGISTRY {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.path)
        }
    }

    /// `busybox:latest`, as `docker images` and `RepoTags` show it.
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(&digest.to_string());
        }
        s
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Reference {
        s.parse().unwrap()
    }

    #[test]
    fn dockers_defaults() {
        let r = parse("busybox");
        assert_eq!(
            (r.registry.as_str(), r.path.as_str(), r.tag.as_deref()),
            ("docker.io", "library/busybox", Some("latest"))
        );
        assert_eq!(r.familiar(), "busybox:latest");
        assert_eq!(parse("team/app:1.0").path, "team/app");
        assert_eq!(parse("docker.io/library/busybox:1").familiar(), "busybox:1");
    }

    #[test]
    fn registries_ports_and_digests() {
        let r = parse("localhost:5000/app/web:v2");
        assert_eq!(
            (r.registry.as_str(), r.path.as_str(), r.tag.as_deref()),
            ("localhost:5000", "app/web", Some("v2"))
        );
        let r = parse("127.0.0.1:5000/busybox");
        assert_eq!(
            (r.registry.as_str(), r.path.as_str()),
            ("127.0.0.1:5000", "busybox")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("busybox@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.digest.as_ref().unwrap().to_string(), d);
        assert_eq!(parse("localhost/app").registry, "localhost");
    }

    #[test]
    fn a_character_outside_the_grammar_is_refused_not_looped_on() {
        // Found by tests/properties.rs: these hung the parser.
        for text in ["ab'c", "l'x", "a\u{e0b}b", "a b"] {
            assert_eq!(
                text.parse::<Reference>(),
                Err(InvalidReference(None)),
                "{text}"
            );
        }
    }

    #[test]
    fn invalid_references_are_refused_in_dockers_words() {
        for bad in [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "a//b",
            "-a",
            "a-",
            "busybox@sha256:12",
            "a..b",
            "host:port:x/a",
            ":tag",
        ] {
            let err = bad.parse::<Reference>().unwrap_err().to_string();
            assert!(
                err.starts_with("invalid reference format"),
                "{bad:?}: {err}"
            );
        }
        assert_eq!(
            "Busybox".parse::<Reference>().unwrap_err().to_string(),
            "invalid reference format: repository name must be lowercase"
        );
        assert!("a__b".parse::<Reference>().is_ok() && "a---b".parse::<Reference>().is_ok());
    }
}
