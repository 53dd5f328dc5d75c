//! What the mini-docker tests share: running the binary with a private
//! store, the busybox fixture as a tarball, a real registry on loopback and
//! a scriptable fake one.

#![allow(dead_code)] // each test file uses its own subset

pub mod fault;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testkit::TestEnv;

pub const BIN: &str = env!("CARGO_BIN_EXE_mini-docker");

/// `mini-docker --root ENV/<root> --runroot ENV/run ARGS…`, with the
/// containers' cgroups under a parent and their links named after the
/// test's token (so the leak check finds any left behind), no outbound NAT rules (the tests
/// never send traffic off the machine, and a minimal host, the cgroup v2
/// lane's guest, has no iptables) and no DNS forwarding.
pub fn md_command(env: &TestEnv, root: &str) -> Command {
    let mut command = env.command(BIN);
    command
        .arg("--root")
        .arg(env.path(root))
        .arg("--runroot")
        .arg(env.path("run"))
        .env(
            "MINI_DOCKER_CGROUP_PARENT",
            format!("mini-docker-{}", env.token()),
        )
        // Links and bridges carry the token too: a test that fails before
        // its clean-up still has them found and removed by the leak check.
        .env("MINI_DOCKER_LINK_PREFIX", env.token())
        .env("MINI_DOCKER_NAT", "off")
        .env("MINI_DOCKER_ADDRESS_POOL", testkit::ADDRESS_POOL)
        // The embedded DNS refuses names it does not know rather than
        // forwarding them off the machine (a test may name a stub).
        .env("MINI_DOCKER_DNS_UPSTREAM", "off");
    command
}

pub fn md_in(env: &TestEnv, root: &str, args: &[&str]) -> Output {
    md_command(env, root)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

pub fn ok_in(env: &TestEnv, root: &str, args: &[&str]) -> String {
    let out = md_in(env, root, args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Runs a command expected to fail with `code`; returns its stderr.
pub fn fails_in(env: &TestEnv, root: &str, args: &[&str], code: i32) -> String {
    let out = md_in(env, root, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Asserts that the test leaked nothing (after taking away the default
/// network's bridge, which outlives containers like `docker0`), once
/// monitors have had a moment:
/// a monitor answers its clients first and then releases the container's
/// mount namespace (an RCU grace period), so it may outlive the command by
/// a few milliseconds. Anything still there after that is a leak.
pub fn assert_settled(env: &mut TestEnv) {
    for root in ["root", "a", "b"] {
        env.drop_default_bridge(&env.path(root));
    }
    env.settle();
    env.assert_no_leaks();
}

/// A root test's store "root" with the busybox image imported as
/// `busybox`, its command `sh`, plus any `-c` `changes`.
pub fn with_busybox(name: &str, changes: &[&str]) -> TestEnv {
    let env = TestEnv::root(name);
    let tar = busybox_tar(&env);
    let mut args = vec!["import", "-c", "CMD [\"sh\"]"];
    for c in changes {
        args.extend(["-c", c]);
    }
    args.extend([tar.as_str(), "busybox"]);
    ok_in(&env, "root", &args);
    env
}

/// `ok_in` and `fails_in` on the store "root".
pub fn ok(env: &TestEnv, args: &[&str]) -> String {
    ok_in(env, "root", args)
}

pub fn fails(env: &TestEnv, args: &[&str], code: i32) -> String {
    fails_in(env, "root", args, code)
}

/// `inspect -f FORMAT container`, trimmed.
pub fn inspect(env: &TestEnv, container: &str, format: &str) -> String {
    ok(env, &["inspect", "-f", format, container])
        .trim()
        .to_string()
}

/// SIGKILLs the monitor of a container of store "root" (what a crash or
/// an OOM kill of the supervisor would do).
pub fn kill_monitor(env: &TestEnv, container: &str) {
    let id = inspect(env, container, "{{.Id}}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.path(format!("root/containers/{id}/state.json"))).unwrap(),
    )
    .unwrap();
    let monitor = state["MonitorPid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
}

/// The busybox rootfs as a tarball, as `docker import` takes it.
pub fn busybox_tar(env: &TestEnv) -> String {
    let tar = env.path("busybox.tar");
    testkit::busybox_tar_at(&tar);
    tar.display().to_string()
}

/// The extracted directory (`layers/<chain>/diff`) of the one layer in
/// the store `root`.
pub fn only_layer(env: &TestEnv, root: &str) -> std::path::PathBuf {
    let layers = env.path(format!("{root}/layers"));
    assert_eq!(count(&layers), 1, "expected exactly one layer in {root}");
    std::fs::read_dir(&layers)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path()
        .join("diff")
}

pub fn count(dir: &Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain `GET` on loopback; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Debian's docker-registry (distribution 2.8) on 127.0.0.1, storing under
/// the test's directory; stopped on drop.
pub struct RealRegistry {
    pub addr: String,
    child: Child,
}

impl RealRegistry {
    pub fn start(env: &TestEnv) -> Self {
        Self::start_with(env, None)
    }

    /// Serving HTTPS with `(certificate, key)` PEM files.
    pub fn start_with(env: &TestEnv, tls: Option<(&Path, &Path)>) -> Self {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let config = env.path("registry.yml");
        let mut yaml = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            env.path("registry-data").display()
        );
        if let Some((cert, key)) = tls {
            yaml.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        std::fs::write(&config, yaml).unwrap();
        let child = env
            .command("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(env.path("registry.log")).unwrap())
            .spawn()
            .expect("docker-registry (scripts/setup.sh installs it)");
        let plain = tls.is_none();
        testkit::wait_until("the registry to answer", || {
            TcpStream::connect(&addr).is_ok() && (!plain || http_get(&addr, "/v2/").0 == 200)
        });
        RealRegistry { addr, child }
    }
}

impl Drop for RealRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer from the fake registry.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// A Content-Length other than the body's, to fake a cut download.
    pub declared_length: Option<usize>,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
            declared_length: None,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A request as the fake registry saw it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// A registry whose every answer the test decides; serves until dropped.
pub struct FakeRegistry {
    pub addr: String,
    pub seen: Arc<Mutex<Vec<Request>>>,
}

impl FakeRegistry {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log = seen.clone();
        let handler: Arc<Handler> = Arc::new(handler);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (handler, log) = (handler.clone(), log.clone());
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        FakeRegistry { addr, seen }
    }
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap_or_default().to_string(),
            parts.next().unwrap_or_default().to_string(),
        );
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method,
            path,
            headers,
        };
        log.lock().unwrap().push(request.clone());
        let reply = handler(&request);
        let length = reply.declared_length.unwrap_or(reply.body.len());
        let mut head = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {length}\r\n",
            reply.status
        );
        for (k, v) in &reply.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        if stream.write_all(head.as_bytes()).is_err()
            || (request.method != "HEAD" && stream.write_all(&reply.body).is_err())
            || reply.declared_length.is_some()
        {
            return; // an error, or hanging up mid-body on purpose
        }
    }
}

/// The blobs and manifest of an image in a store, by digest, for a fake
/// registry to serve.
pub fn image_blobs(store: &Path) -> (String, HashMap<String, Vec<u8>>) {
    let mut blobs = HashMap::new();
    for entry in std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .flatten()
    {
        blobs.insert(
            format!("sha256:{}", entry.file_name().to_string_lossy()),
            std::fs::read(entry.path()).unwrap(),
        );
    }
    let manifest = blobs
        .iter()
        .find(|(_, b)| b.starts_with(b"{\"schemaVersion\""))
        .map(|(d, _)| d.clone())
        .expect("a manifest blob");
    (manifest, blobs)
}
