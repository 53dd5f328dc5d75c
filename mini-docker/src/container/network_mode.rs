//! `--network`: Docker's `HostConfig.NetworkMode`, resolved once at create
//! into what it means for the container's network namespace.

use serde::{Deserialize, Serialize};

/// Where the container's network stack comes from. Stored as Docker
/// writes it: `none`, `host`, `container:NAME`, or a network's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", from = "String")]
pub enum NetworkMode {
    /// A namespace of its own with only `lo`.
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace (`container:NAME`, as given).
    Container(String),
    /// A namespace of its own on a bridge network: the default `bridge` or
    /// a user network.
    Network(String),
}

impl Default for NetworkMode {
    fn default() -> Self {
        NetworkMode::Network(crate::network::DEFAULT.into())
    }
}

impl From<String> for NetworkMode {
    fn from(text: String) -> Self {
        match text.as_str() {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match text.strip_prefix("container:") {
                Some(other) => NetworkMode::Container(other.into()),
                None => NetworkMode::Network(text),
            },
        }
    }
}

impl From<NetworkMode> for String {
    fn from(mode: NetworkMode) -> Self {
        mode.to_string()
    }
}

impl std::fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetworkMode::None => f.write_str("none"),
            NetworkMode::Host => f.write_str("host"),
            NetworkMode::Container(other) => write!(f, "container:{other}"),
            NetworkMode::Network(name) => f.write_str(name),
        }
    }
}

impl NetworkMode {
    /// The bridge network it is on, if any.
    pub fn network(&self) -> Option<&str> {
        match self {
            NetworkMode::Network(name) => Some(name),
            _ => None,
        }
    }

    /// It uses a network stack made by someone else (the host's or another
    /// container's): no ports, DNS or sysctls of its own.
    pub fn shares_stack(&self) -> bool {
        matches!(self, NetworkMode::Host | NetworkMode::Container(_))
    }

    /// It is on a user network (one with the embedded DNS).
    pub fn on_user_network(&self) -> bool {
        self.network().is_some_and(super::dns::is_user_network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_as_docker_stores_it() {
        for (text, mode) in [
            ("none", NetworkMode::None),
            ("host", NetworkMode::Host),
            ("container:db", NetworkMode::Container("db".into())),
            ("bridge", NetworkMode::default()),
            ("appnet", NetworkMode::Network("appnet".into())),
        ] {
            assert_eq!(NetworkMode::from(text.to_string()), mode);
            assert_eq!(serde_json::to_value(&mode).unwrap(), text);
            assert_eq!(
                serde_json::from_value::<NetworkMode>(text.into()).unwrap(),
                mode
            );
        }
        assert!(NetworkMode::Host.shares_stack() && !NetworkMode::None.shares_stack());
        assert_eq!(
            NetworkMode::Network("appnet".into()).network(),
            Some("appnet")
        );
        assert_eq!(NetworkMode::Container("x".into()).network(), None);
        assert!(NetworkMode::Network("appnet".into()).on_user_network());
        assert!(!NetworkMode::default().on_user_network());
    }
}
