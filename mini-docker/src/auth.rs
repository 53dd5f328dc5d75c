//! Registry credentials in Docker's `auths` JSON, kept in `$ROOT/auth.json`
//! with mode 0600 (root-only), written atomically.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    /// base64("user:password"), as Docker stores it.
    auth: String,
}

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic …` value.
    pub fn basic(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// The credential file of a store root.
#[derive(Debug, Clone)]
pub struct AuthStore {
    path: PathBuf,
}

impl AuthStore {
    pub fn new(root: &Path) -> Self {
        AuthStore {
            path: root.join("auth.json"),
        }
    }

    fn load(&self) -> Result<AuthFile> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Corrupt(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AuthFile::default()),
            Err(e) => Err(Error::io(&self.path, e)),
        }
    }

    fn save(&self, file: &AuthFile) -> Result<()> {
        let tmp = self
            .path
            .with_extension(format!("json.tmp-{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(file).map_err(|e| Error::Corrupt(e.to_string()))?;
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        out.write_all(&bytes)
            .and_then(|()| out.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::io(&self.path, e))
    }

    pub fn get(&self, registry: &str) -> Result<Option<Credentials>> {
        let Some(entry) = self.load()?.auths.remove(registry) else {
            return Ok(None);
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .map_err(|e| Error::Corrupt(format!("credentials for {registry}: {e}")))?;
        let raw = String::from_utf8_lossy(&raw);
        let (username, password) = raw
            .split_once(':')
            .ok_or_else(|| Error::Corrupt(format!("credentials for {registry}: no ':'")))?;
        Ok(Some(Credentials {
            username: username.into(),
            password: password.into(),
        }))
    }

    pub fn set(&self, registry: &str, credentials: &Credentials) -> Result<()> {
        let mut file = self.load()?;
        let raw = format!("{}:{}", credentials.username, credentials.password);
        file.auths.insert(
            registry.to_string(),
            Entry {
                auth: base64::engine::general_purpose::STANDARD.encode(raw),
            },
        );
        self.save(&file)
    }

    /// Returns whether there were credentials to remove.
    pub fn remove(&self, registry: &str) -> Result<bool> {
        let mut file = self.load()?;
        let removed = file.auths.remove(registry).is_some();
        if removed {
            self.save(&file)?;
        }
        Ok(removed)
    }
}
