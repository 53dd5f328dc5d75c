//! `--filter key=value` as Docker's listings take it: values of one key
//! are alternatives, different keys must all match, and an unknown key is
//! the daemon's `Invalid filter` error.

use std::collections::BTreeMap;

/// A filter Docker refuses, with its message and exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Refused by the CLI's flag parser (exit 125).
    #[error("invalid argument {0:?} for \"-f, --filter\" flag: bad format of filter (expected name=value)")]
    BadFormat(String),
    /// Refused by the daemon (exit 1).
    #[error("Error response from daemon: Invalid filter '{0}'")]
    UnknownKey(String),
    #[error("Error response from daemon: Invalid filter '{key}=[{value}]'")]
    BadBool { key: String, value: String },
    #[error("Error response from daemon: Invalid filter '{key}={value}'")]
    BadValue { key: String, value: String },
}

impl FilterError {
    pub fn code(&self) -> i32 {
        match self {
            FilterError::BadFormat(_) => 125,
            _ => 1,
        }
    }

    /// Prints the message as Docker does (no `Error:` prefix); the exit code.
    pub fn report(&self) -> i32 {
        eprintln!("{self}");
        self.code()
    }
}

#[derive(Debug, Default, Clone)]
pub struct Filters {
    by_key: BTreeMap<String, Vec<String>>,
}

impl Filters {
    /// Parses `key=value` flags, refusing keys not in `allowed`.
    pub fn parse(raw: &[String], allowed: &[&str]) -> Result<Self, FilterError> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in raw {
            let (key, value) = f
                .split_once('=')
                .ok_or_else(|| FilterError::BadFormat(f.clone()))?;
            let key = key.trim().to_lowercase();
            by_key
                .entry(key)
                .or_default()
                .push(value.trim().to_string());
        }
        if let Some(bad) = by_key.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(FilterError::UnknownKey(bad.clone()));
        }
        Ok(Filters { by_key })
    }

    pub fn values(&self, key: &str) -> impl Iterator<Item = &str> {
        self.by_key
            .get(key)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    pub fn contains(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// True when `key` is not filtered on, or one of its values matches.
    pub fn any(&self, key: &str, matches: impl Fn(&str) -> bool) -> bool {
        !self.contains(key) || self.values(key).any(matches)
    }

    /// `label=KEY` or `label=KEY=VALUE`: every one must hold.
    pub fn labels(&self, labels: &BTreeMap<String, String>) -> bool {
        self.values("label").all(|l| match l.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
            None => labels.contains_key(l),
        })
    }

    /// A boolean filter (`dangling=true|false|1|0`), None when absent.
    pub fn bool(&self, key: &str) -> Result<Option<bool>, FilterError> {
        let mut result = None;
        for v in self.values(key) {
            let b = match v.to_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(FilterError::BadBool {
                        key: key.into(),
                        value: v.into(),
                    })
                }
            };
            result = Some(b);
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(raw: &[&str], allowed: &[&str]) -> Result<Filters, FilterError> {
        Filters::parse(
            &raw.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            allowed,
        )
    }

    #[test]
    fn docker_errors() {
        assert_eq!(
            f(&["nope=1"], &["name"]).unwrap_err().to_string(),
            "Error response from daemon: Invalid filter 'nope'"
        );
        let bad = f(&["nope"], &["name"]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "invalid argument \"nope\" for \"-f, --filter\" flag: bad format of filter (expected name=value)"
        );
        assert_eq!(bad.code(), 125);
        assert_eq!(
            f(&["dangling=maybe"], &["dangling"])
                .unwrap()
                .bool("dangling")
                .unwrap_err()
                .to_string(),
            "Error response from daemon: Invalid filter 'dangling=[maybe]'"
        );
    }

    #[test]
    fn same_key_or_different_keys_and() {
        let filters = f(&["name=a", "name=b", "label=x=1"], &["name", "label"]).unwrap();
        assert!(filters.any("name", |v| v == "b"));
        assert!(!filters.any("name", |v| v == "c"));
        assert!(
            filters.any("driver", |_| false),
            "an absent key matches everything"
        );
        let labels = BTreeMap::from([("x".to_string(), "1".to_string())]);
        assert!(filters.labels(&labels));
        assert!(!filters.labels(&BTreeMap::new()));
    }
}
