//! A Distribution API v2 client: what `docker pull` and `docker push` say
//! to a registry.
//!
//! Authentication follows the challenge flow: a request answered `401`
//! carries `WWW-Authenticate`; for `Bearer realm=…,service=…,scope=…` a
//! token is fetched from the realm (with the user's credentials, if any) and
//! the request repeated with it; for `Basic` the credentials are sent
//! directly. Loopback registries (and any named in
//! `MINI_DOCKER_INSECURE_REGISTRIES`) are tried over HTTPS first and over
//! plain HTTP when that fails, as Docker does; others are spoken to over
//! HTTPS only, trusting the system's roots plus the CA certificates in
//! `/etc/mini-docker/certs.d/HOST[:PORT]/*.crt`, if there are any.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use ureq::http::{Response, StatusCode};
use ureq::Body;

use crate::auth::Credentials;
use crate::digest::{Digest, Hashing};
use crate::{Error, Result};

/// What went wrong talking to a registry (beyond "not found" and content
/// that is not what it claims, which are [`Error::NotFound`] and
/// [`Error::Corrupt`]).
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A CA file of `certs.d` that does not parse.
    #[error("{path}: {why}")]
    Certificate { path: String, why: String },
    /// No answer: connection refused, TLS handshake, timeout…
    #[error("{method} {url}: {why}")]
    Transport {
        method: String,
        url: String,
        why: String,
    },
    #[error("{0}: unauthorized: authentication required (mini-docker login {0})")]
    LoginRequired(String),
    #[error("{0}: bearer challenge without a realm")]
    NoRealm(String),
    #[error("token from {realm}: {why}")]
    TokenServer { realm: String, why: String },
    #[error("{host}: unauthorized: the token server answered {status}")]
    TokenRefused { host: String, status: StatusCode },
    #[error("{host}: unsupported authentication challenge {challenge:?}")]
    Challenge { host: String, challenge: String },
    #[error("{0}: unauthorized: incorrect username or password")]
    BadCredentials(String),
    #[error("{host}: /v2/ answered {status}")]
    Ping { host: String, status: StatusCode },
    /// A refusal, in the registry's own words (`unauthorized: …`,
    /// `denied: …`, or the status).
    #[error("{what}: {message}")]
    Refused { what: String, message: String },
}

pub const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Debian's bundle of the system's trusted CAs.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Every certificate in a PEM file.
fn certificates(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, ureq::Error> {
    let mut out = Vec::new();
    for item in ureq::tls::parse_pem(pem) {
        if let ureq::tls::PemItem::Certificate(cert) = item? {
            out.push(cert);
        }
    }
    Ok(out)
}

/// Where `certs.d` lives (overridable for tests and unusual setups).
fn certs_dir() -> std::path::PathBuf {
    std::env::var_os("MINI_DOCKER_CERTS_D")
        .map_or_else(|| "/etc/mini-docker/certs.d".into(), Into::into)
}

/// Whether to use plain HTTP: loopback hosts always, others when listed.
pub fn insecure(host: &str) -> bool {
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let loopback = name == "localhost" || name.starts_with("127.") || name == "[::1]";
    loopback
        || std::env::var("MINI_DOCKER_INSECURE_REGISTRIES")
            .is_ok_and(|list| list.split(',').any(|h| h.trim() == host))
}

/// One registry, with its cached tokens.
pub struct Registry {
    pub host: String,
    api_host: String,
    /// Starts true; an insecure registry that fails over HTTPS drops to HTTP.
    https: AtomicBool,
    allow_http: bool,
    agent: ureq::Agent,
    credentials: Option<Credentials>,
    /// Authorization header value per scope.
    tokens: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({})", self.api_host)
    }
}

/// A request, kept so that it can be repeated after authenticating.
enum Payload<'a> {
    Empty,
    Bytes(&'a [u8], &'a str),
    File(&'a Path),
}

/// How long a registry may stay silent: 30 s, or
/// `MINI_DOCKER_REGISTRY_TIMEOUT` seconds (the fault tests use 2).
fn stall_timeout() -> std::time::Duration {
    let secs = std::env::var("MINI_DOCKER_REGISTRY_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|&s| s > 0)
        .unwrap_or(30);
    std::time::Duration::from_secs(secs)
}

impl Registry {
    pub fn new(host: &str, credentials: Option<Credentials>) -> Result<Self> {
        let api_host = if host == crate::reference::DEFAULT_REGISTRY {
            "registry-1.docker.io"
        } else {
            host
        };
        let mut tls =
            ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier);
        let ca_dir = certs_dir().join(host);
        if let Ok(entries) = std::fs::read_dir(&ca_dir) {
            let mut extra = Vec::new();
            for entry in entries
                .flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "crt"))
            {
                let pem = std::fs::read(entry.path()).map_err(|e| Error::io(entry.path(), e))?;
                extra.extend(certificates(&pem).map_err(|e| RegistryError::Certificate {
                    path: entry.path().display().to_string(),
                    why: e.to_string(),
                })?);
            }
            if !extra.is_empty() {
                // The registry's CAs in addition to the system's, as Docker does.
                let mut roots = std::fs::read(SYSTEM_BUNDLE)
                    .ok()
                    .and_then(|pem| certificates(&pem).ok())
                    .unwrap_or_default();
                roots.extend(extra);
                tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&roots));
            }
        }
        // A registry that stops answering fails the pull instead of hanging
        // it: a connection must open, and each read deliver, within this.
        let patience = Some(stall_timeout());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(patience)
            .timeout_per_read(patience)
            .tls_config(tls.build())
            .user_agent(concat!("mini-docker/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Registry {
            host: host.to_string(),
            api_host: api_host.to_string(),
            https: AtomicBool::new(true),
            allow_http: insecure(host),
            agent,
            credentials,
            tokens: Mutex::default(),
        })
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            return path.to_string();
        }
        let scheme = if self.https.load(Ordering::Relaxed) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.api_host)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        scope: &str,
        headers: &[(&str, &str)],
        payload: &Payload,
    ) -> Result<Response<Body>> {
        let mut authorized_once = false;
        loop {
            let auth = self
                .tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(scope)
                .cloned();
            let response = match self.send_once(method, path, headers, payload, auth.as_deref()) {
                // An insecure registry that does not speak HTTPS: plain HTTP from now on.
                Err(tls_error) if self.allow_http && self.https.swap(false, Ordering::Relaxed) => {
                    tracing::info!(target: "explain", "# {} does not speak HTTPS: using HTTP", self.host);
                    let plain = self.send_once(method, path, headers, payload, auth.as_deref())?;
                    if plain.status() == StatusCode::BAD_REQUEST {
                        // A 400 to the very first plain request: the server speaks
                        // HTTPS ("client sent an HTTP request to an HTTPS server"),
                        // so the TLS failure was the real problem.
                        return Err(tls_error);
                    }
                    plain
                }
                other => other?,
            };
            if response.status() != StatusCode::UNAUTHORIZED || authorized_once {
                return Ok(response);
            }
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let value = self.authorize(&challenge, scope)?;
            self.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(scope.to_string(), value);
            authorized_once = true;
        }
    }

    fn send_once(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        payload: &Payload,
        auth: Option<&str>,
    ) -> Result<Response<Body>> {
        let url = self.url(path);
        let failed = |e: ureq::Error| {
            Error::from(RegistryError::Transport {
                method: method.into(),
                url: url.clone(),
                why: e.to_string(),
            })
        };
        macro_rules! with_headers {
            ($builder:expr) => {{
                let mut b = $builder;
                for (k, v) in headers {
                    b = b.header(*k, *v);
                }
                if let Some(auth) = auth {
                    b = b.header("Authorization", auth);
                }
                b
            }};
        }
        let response = match (method, payload) {
            ("GET", _) => with_headers!(self.agent.get(&url)).call(),
            ("HEAD", _) => with_headers!(self.agent.head(&url)).call(),
            (m, Payload::Empty) => {
                let b = if m == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                with_headers!(b).send_empty()
            }
            (m, Payload::Bytes(bytes, media_type)) => {
                let b = if m == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                with_headers!(b)
                    .header("Content-Type", *media_type)
                    .send(*bytes)
            }
            (m, Payload::File(file)) => {
                let b = if m == "POST" {
                    self.agent.post(&url)
                } else {
                    self.agent.put(&url)
                };
                let len = std::fs::metadata(file)
                    .map_err(|e| Error::io(*file, e))?
                    .len();
                let reader = File::open(file).map_err(|e| Error::io(*file, e))?;
                with_headers!(b)
                    .header("Content-Type", "application/octet-stream")
                    .header("Content-Length", len.to_string())
                    .send(ureq::SendBody::from_owned_reader(reader))
            }
        };
        response.map_err(failed)
    }

    /// Answers a `WWW-Authenticate` challenge; returns the header value.
    fn authorize(&self, challenge: &str, scope: &str) -> Result<String> {
        let (kind, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        let params = parse_challenge(params);
        match kind.to_ascii_lowercase().as_str() {
            "basic" => self
                .credentials
                .as_ref()
                .map(Credentials::basic)
                .ok_or_else(|| RegistryError::LoginRequired(self.host.clone()).into()),
            "bearer" => {
                let realm = params
                    .get("realm")
                    .ok_or_else(|| RegistryError::NoRealm(self.host.clone()))?;
                let mut url = format!("{realm}?");
                if let Some(service) = params.get("service") {
                    url.push_str(&format!("service={}&", encode(service)));
                }
                let scope = params.get("scope").map_or(scope, String::as_str);
                if !scope.is_empty() {
                    url.push_str(&format!("scope={}", encode(scope)));
                }
                let mut request = self.agent.get(&url);
                if let Some(credentials) = &self.credentials {
                    request = request.header("Authorization", credentials.basic());
                }
                let mut response = request.call().map_err(|e| RegistryError::TokenServer {
                    realm: realm.clone(),
                    why: e.to_string(),
                })?;
                if !response.status().is_success() {
                    return Err(RegistryError::TokenRefused {
                        host: self.host.clone(),
                        status: response.status(),
                    }
                    .into());
                }
                let body: serde_json::Value =
                    serde_json::from_slice(&read_small(&mut response)?)
                        .map_err(|e| Error::Corrupt(format!("token from {realm}: {e}")))?;
                let token = body
                    .get("token")
                    .or_else(|| body.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        Error::Corrupt(format!("token from {realm}: no token in the answer"))
                    })?;
                Ok(format!("Bearer {token}"))
            }
            _ => Err(RegistryError::Challenge {
                host: self.host.clone(),
                challenge: challenge.into(),
            }
            .into()),
        }
    }

    /// `GET /v2/`: reachable, and the credentials (if any) accepted.
    pub fn ping(&self) -> Result<()> {
        let response = self.send("GET", "/v2/", "", &[], &Payload::Empty)?;
        match response.status() {
            s if s.is_success() => Ok(()),
            StatusCode::UNAUTHORIZED => {
                Err(RegistryError::BadCredentials(self.host.clone()).into())
            }
            status => Err(RegistryError::Ping {
                host: self.host.clone(),
                status,
            }
            .into()),
        }
    }

    /// A manifest (or index) as the registry stores it: bytes, media type,
    /// and the digest of those bytes.
    pub fn manifest(&self, repo: &str, reference: &str) -> Result<(Vec<u8>, String, Digest)> {
        let accept = MANIFEST_TYPES.join(", ");
        let mut response = self.send(
            "GET",
            &format!("/v2/{repo}/manifests/{reference}"),
            &pull_scope(repo),
            &[("Accept", &accept)],
            &Payload::Empty,
        )?;
        check(&mut response, &format!("manifest for {repo}:{reference}"))?;
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let bytes = read_small(&mut response)?;
        let digest = Digest::of(&bytes);
        Ok((bytes, media_type, digest))
    }

    /// Downloads a blob to `dest`, verifying its digest on the way.
    pub fn fetch_blob(&self, repo: &str, digest: &Digest, dest: &Path) -> Result<u64> {
        self.fetch_blob_with_progress(repo, digest, dest, &|_, _| {})
    }

    /// [`fetch_blob`](Self::fetch_blob), reporting `(bytes so far, total)`
    /// as the download goes (total 0 when the registry does not say).
    pub fn fetch_blob_with_progress(
        &self,
        repo: &str,
        digest: &Digest,
        dest: &Path,
        progress: &dyn Fn(u64, u64),
    ) -> Result<u64> {
        let mut response = self.send(
            "GET",
            &format!("/v2/{repo}/blobs/{digest}"),
            &pull_scope(repo),
            &[],
            &Payload::Empty,
        )?;
        check(&mut response, &format!("blob {digest}"))?;
        let total = response
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let downloaded = (|| {
            let mut out = Hashing::new(File::create(dest).map_err(|e| Error::io(dest, e))?);
            let mut body = response.into_body().into_reader();
            let mut buf = vec![0u8; 256 * 1024];
            let mut done = 0u64;
            loop {
                let n = body.read(&mut buf).map_err(|e| {
                    Error::Corrupt(format!("blob {digest}: download interrupted: {e}"))
                })?;
                if n == 0 {
                    break;
                }
                std::io::Write::write_all(&mut out, &buf[..n]).map_err(|e| Error::io(dest, e))?;
                done += n as u64;
                progress(done, total);
            }
            let (file, actual, size) = out.finish();
            file.sync_all().map_err(|e| Error::io(dest, e))?;
            if &actual != digest {
                return Err(Error::Corrupt(format!(
                    "blob {digest}: downloaded content has digest {actual}"
                )));
            }
            Ok(size)
        })();
        if downloaded.is_err() {
            let _ = std::fs::remove_file(dest);
        }
        downloaded
    }

    pub fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let response = self.send(
            "HEAD",
            &format!("/v2/{repo}/blobs/{digest}"),
            &push_scope(repo),
            &[],
            &Payload::Empty,
        )?;
        Ok(response.status().is_success())
    }

    /// Cross-repository mount: the registry links a blob it already has in
    /// `from` into `repo` without an upload. Returns whether it did.
    pub fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool> {
        let scope = format!("{} repository:{from}:pull", push_scope(repo));
        let response = self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"),
            &scope,
            &[],
            &Payload::Empty,
        )?;
        Ok(response.status() == StatusCode::CREATED)
    }

    /// A monolithic upload: start a session, then one PUT with the content.
    pub fn upload_blob(&self, repo: &str, digest: &Digest, file: &Path) -> Result<()> {
        let mut start = self.send(
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &push_scope(repo),
            &[],
            &Payload::Empty,
        )?;
        check(&mut start, &format!("upload to {repo}"))?;
        let location = start
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::Corrupt(format!("upload to {repo}: no Location")))?
            .to_string();
        let location = if location.starts_with('/') {
            self.url(&location)
        } else {
            location
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let mut put = self.send(
            "PUT",
            &format!("{location}{separator}digest={digest}"),
            &push_scope(repo),
            &[],
            &Payload::File(file),
        )?;
        check(&mut put, &format!("blob {digest}"))
    }

    /// Puts a manifest under a tag; returns the digest the registry reports.
    pub fn put_manifest(
        &self,
        repo: &str,
        tag: &str,
        bytes: &[u8],
        media_type: &str,
    ) -> Result<Digest> {
        let mut response = self.send(
            "PUT",
            &format!("/v2/{repo}/manifests/{tag}"),
            &push_scope(repo),
            &[],
            &Payload::Bytes(bytes, media_type),
        )?;
        check(&mut response, &format!("manifest {repo}:{tag}"))?;
        Ok(Digest::of(bytes))
    }
}

fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

/// Turns a non-2xx answer into an error quoting the registry's own message.
fn check(response: &mut Response<Body>, what: &str) -> Result<()> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = read_small(response).unwrap_or_default();
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("errors")?.get(0)?;
            Some(format!(
                "{}: {}",
                e.get("code")?
                    .as_str()?
                    .to_ascii_lowercase()
                    .replace('_', " "),
                e.get("message")?.as_str()?
            ))
        })
        .unwrap_or_else(|| status.to_string());
    Err(match status {
        StatusCode::NOT_FOUND => Error::NotFound(format!("{what} not found: {message}")),
        _ => RegistryError::Refused {
            what: what.into(),
            message,
        }
        .into(),
    })
}

/// Manifests and tokens are small; refuse anything silly.
fn read_small(response: &mut Response<Body>) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(16 << 20)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Corrupt(format!("reading the registry's answer: {e}")))?;
    Ok(bytes)
}

/// `realm="https://auth",service="registry",scope="repository:x:pull"`.
fn parse_challenge(params: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = params.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let (value, next) = match after.strip_prefix('"') {
            Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
            None => after.split_once(',').unwrap_or((after, "")),
        };
        out.insert(key, value.to_string());
        rest = next.trim_start_matches(',').trim();
    }
    out
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let p = parse_challenge(
            r#"realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        );
        assert_eq!(p["realm"], "https://auth.docker.io/token");
        assert_eq!(p["service"], "registry.docker.io");
        assert_eq!(p["scope"], "repository:library/busybox:pull");
        assert_eq!(
            encode("repository:a/b:pull,push"),
            "repository%3Aa%2Fb%3Apull%2Cpush"
        );
    }

    #[test]
    fn loopback_is_insecure_by_default() {
        assert!(insecure("localhost:5000") && insecure("127.0.0.1:5000") && insecure("localhost"));
        assert!(!insecure("registry.example.com") && !insecure("docker.io"));
    }
}
