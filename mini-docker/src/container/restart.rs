//! `--restart`: Docker's restart policies, parsed once at create (or
//! `update`) and consulted by the monitor after each exit.

use serde::{Deserialize, Serialize};

/// Why a `--restart` value was refused (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error("invalid restart policy format: {0}")]
    Format(String),
    #[error("invalid restart policy format: maximum retry count can only be used with 'on-failure': {0}")]
    RetryCountWithout(String),
}

/// Which policy, spelled as Docker spells it in `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Name {
    /// Never (Docker writes it as `"no"`; an empty name means the same).
    #[default]
    #[serde(rename = "no", alias = "")]
    No,
    #[serde(rename = "always")]
    Always,
    /// After a non-zero exit, up to `MaximumRetryCount` times (0: always).
    #[serde(rename = "on-failure")]
    OnFailure,
    /// As `always` (mini-docker has no daemon restart to tell them apart).
    #[serde(rename = "unless-stopped")]
    UnlessStopped,
}

/// Docker's `HostConfig.RestartPolicy`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RestartPolicy {
    pub name: Name,
    pub maximum_retry_count: u32,
}

impl std::str::FromStr for RestartPolicy {
    type Err = Error;

    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let (name, count) = match text.split_once(':') {
            Some((n, c)) => (n, Some(c)),
            None => (text, None),
        };
        let bad = || Error::Format(text.into());
        // The count is checked first, as Docker's parser does.
        let maximum_retry_count = match (name, count) {
            ("on-failure", Some(c)) => c.parse().map_err(|_| bad())?,
            (_, Some(_)) => return Err(Error::RetryCountWithout(text.into())),
            (_, None) => 0,
        };
        let name = match name {
            "no" => Name::No,
            "always" => Name::Always,
            "on-failure" => Name::OnFailure,
            "unless-stopped" => Name::UnlessStopped,
            _ => return Err(bad()),
        };
        Ok(RestartPolicy {
            name,
            maximum_retry_count,
        })
    }
}

impl RestartPolicy {
    /// Whether a container that exited with `code` after `restarts`
    /// restarts is started again (`stop`/`kill` and `--rm` are the
    /// caller's to check: they win over any policy).
    pub fn restarts_after(&self, code: i32, restarts: u32) -> bool {
        match self.name {
            Name::No => false,
            Name::Always | Name::UnlessStopped => true,
            Name::OnFailure => {
                code != 0 && (self.maximum_retry_count == 0 || restarts < self.maximum_retry_count)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_as_docker_takes_them() {
        let p: RestartPolicy = "on-failure:3".parse().unwrap();
        assert_eq!((p.name, p.maximum_retry_count), (Name::OnFailure, 3));
        assert_eq!(
            "always".parse::<RestartPolicy>().unwrap().name,
            Name::Always
        );
        assert_eq!(
            "always:3".parse::<RestartPolicy>().unwrap_err().to_string(),
            "invalid restart policy format: maximum retry count can only be used with 'on-failure': always:3"
        );
        assert_eq!(
            "sometimes"
                .parse::<RestartPolicy>()
                .unwrap_err()
                .to_string(),
            "invalid restart policy format: sometimes"
        );
        assert!("on-failure:x".parse::<RestartPolicy>().is_err());
        assert!(matches!(
            "sometimes:3".parse::<RestartPolicy>(),
            Err(Error::RetryCountWithout(_))
        ));
    }

    #[test]
    fn stored_as_docker_spells_it() {
        let p: RestartPolicy = "unless-stopped".parse().unwrap();
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Name": "unless-stopped", "MaximumRetryCount": 0})
        );
        let none: RestartPolicy =
            serde_json::from_value(serde_json::json!({"Name": "", "MaximumRetryCount": 0}))
                .unwrap();
        assert_eq!(none.name, Name::No);
    }

    #[test]
    fn on_failure_counts_its_retries() {
        let p: RestartPolicy = "on-failure:2".parse().unwrap();
        assert!(!p.restarts_after(0, 0));
        assert!(p.restarts_after(1, 1));
        assert!(!p.restarts_after(1, 2));
        let unbounded: RestartPolicy = "on-failure".parse().unwrap();
        assert!(unbounded.restarts_after(1, 100));
        assert!(!RestartPolicy::default().restarts_after(1, 0));
    }
}
