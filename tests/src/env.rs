use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::leaks::{self, Snapshot};

/// The environment variable that marks every process a test starts, so the
/// leak checker can find the ones still running afterwards.
pub const TOKEN_VAR: &str = "TESTKIT_TOKEN";

/// Where the tests' default networks take their subnets (a /24 each, the
/// first one no route uses): away from Docker's default pools, which a
/// busy host's other stores and the lessons' fixed subnets (172.30.0.0/16)
/// use, and from the differential suite's (10.100–163.0.0/16).
pub const ADDRESS_POOL: &str = "10.164.0.0/14";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Goes on only as root: otherwise the test is [skipped](crate::skip) —
/// ignored in the runner's summary, a failure under CI.
pub fn require_root() {
    if !is_root() {
        crate::skip("needs root: namespaces, mounts and cgroups are real here");
    }
}

/// One test's private world: a state directory, a unique token for global
/// names, and a leak check when it ends.
#[derive(Debug)]
pub struct TestEnv {
    name: String,
    token: String,
    dir: PathBuf,
    before: Snapshot,
    checked: bool,
    watched: Vec<String>,
}

impl TestEnv {
    /// A root test's environment; the test is skipped without root (see
    /// [`require_root`]).
    pub fn root(name: &str) -> Self {
        require_root();
        Self::new(name)
    }

    /// An environment for a test that does not need root.
    pub fn new(name: &str) -> Self {
        let token = unique_token();
        // A user's tests do not share root's directory (nor could write it).
        let base = match nix::unistd::geteuid() {
            uid if uid.is_root() => "testkit".to_string(),
            uid => format!("testkit-{uid}"),
        };
        let dir = std::env::temp_dir()
            .join(base)
            .join(format!("{}-{token}", sanitize(name)));
        std::fs::create_dir_all(&dir).expect("create test state directory");
        let dir = dir.canonicalize().expect("canonical test directory");
        TestEnv {
            name: name.to_string(),
            before: Snapshot::take(),
            token,
            dir,
            checked: false,
            watched: Vec::new(),
        }
    }

    /// The private state directory; removed at the end of the test.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.join(rel)
    }

    /// The token in every global name this test creates.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// A unique name for a global resource (link, netns, cgroup). At most 15
    /// bytes, so it is valid as a network interface name.
    pub fn name(&self, suffix: &str) -> String {
        let name = format!("tk{}{suffix}", self.token);
        assert!(
            name.len() <= 15,
            "{name}: suffix too long for an interface name"
        );
        name
    }

    /// A private, writable copy of the busybox rootfs fixture.
    pub fn rootfs(&self) -> PathBuf {
        let dst = self.dir.join("rootfs");
        if !dst.exists() {
            let status = Command::new("cp")
                .arg("-a")
                .arg(crate::busybox_rootfs())
                .arg(&dst)
                .status()
                .expect("run cp");
            assert!(status.success(), "copying the busybox rootfs failed");
        }
        dst
    }

    /// A command started in the state directory and marked with the token.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir).env(TOKEN_VAR, &self.token);
        cmd
    }

    /// Also count as this test's any new resource whose name or mount point
    /// contains `marker` — for programs that name things after their own PID
    /// (`ns-demo-1234`) rather than after the test's token. A leak by a
    /// concurrent test using the same program is then reported here too:
    /// still a real leak.
    pub fn watch(&mut self, marker: &str) {
        self.watched.push(marker.to_string());
    }

    fn marks(&self) -> Vec<&str> {
        std::iter::once(self.token.as_str())
            .chain(self.watched.iter().map(String::as_str))
            .collect()
    }

    /// The environment a `mini-docker` of this test runs with: its cgroups,
    /// links and bridges carry the token, and no NAT rule is set up (tests
    /// never send traffic off the machine).
    pub fn mini_docker_env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "MINI_DOCKER_CGROUP_PARENT",
                format!("mini-docker-{}", self.token),
            ),
            ("MINI_DOCKER_LINK_PREFIX", self.token.clone()),
            ("MINI_DOCKER_NAT", "off".into()),
            // Names the embedded DNS does not know are refused, never
            // forwarded off the machine (a test may point it at a stub).
            ("MINI_DOCKER_DNS_UPSTREAM", "off".into()),
            ("MINI_DOCKER_ADDRESS_POOL", ADDRESS_POOL.into()),
        ]
    }

    /// Removes the bridge of the default `bridge` network of the
    /// mini-docker store `root`, if one was made. Like `docker0`, it
    /// outlives containers by design; a test that used it takes it away.
    pub fn drop_default_bridge(&self, root: &Path) {
        let Ok(text) = std::fs::read_to_string(root.join("networks/bridge.json")) else {
            return;
        };
        let name = text
            .split("\"com.docker.network.bridge.name\"")
            .nth(1)
            .and_then(|rest| rest.split('"').nth(1))
            .map(str::to_string);
        if let Some(name) = name {
            let _ = Command::new("ip").args(["link", "del", &name]).status();
        }
    }

    /// Waits (up to five seconds) until nothing of this test is left. The
    /// kernel takes some things down after their owner is gone — a veth
    /// when its network namespace is cleaned up, a monitor's mount
    /// namespace after its last grace period — so a leak check right after
    /// the last command may see them on their way out.
    pub fn settle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !self.leaks().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// What this test created and left behind so far.
    pub fn leaks(&self) -> Vec<String> {
        leaks::find(&self.before, &Snapshot::take(), &self.dir, &self.marks())
    }

    /// Fails the test if it leaked anything; cleans up the leaks first so
    /// that one failing test does not poison the machine.
    pub fn assert_no_leaks(&mut self) {
        self.checked = true;
        let found = self.leaks();
        leaks::clean(&self.dir, &self.marks());
        assert!(
            found.is_empty(),
            "{} leaked:\n  {}",
            self.name,
            found.join("\n  ")
        );
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let found = (!self.checked && !std::thread::panicking()).then(|| self.leaks());
        // Cleaned and removed first: a leak fails the test, but leaves
        // neither the leak nor the state directory behind.
        leaks::clean(&self.dir, &self.marks());
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(found) = found {
            assert!(
                found.is_empty(),
                "{} leaked:\n  {}",
                self.name,
                found.join("\n  ")
            );
        }
    }
}

fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect()
}

/// Six hex digits, unique across the tests running at the same time.
fn unique_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:06x}", h.finish() & 0xff_ffff)
}
