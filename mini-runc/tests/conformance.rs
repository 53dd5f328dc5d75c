//! Conformance with the OCI runtime specification, section by section,
//! driving `mini-runc` as an engine would. (The runtime-tools validation
//! suite cannot be built offline here: its tests need
//! github.com/mndrix/tap-go, which Debian does not package.) Each test
//! names the section it checks; root only; each has its own state root,
//! bundle and token-named cgroups, and checks for leaks.

use std::io::{Read as _, Write as _};
use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use testkit::TestEnv;

struct Runtime {
    env: TestEnv,
}

impl Runtime {
    fn new(name: &str) -> Runtime {
        Runtime {
            env: TestEnv::root(name),
        }
    }

    fn id(&self, suffix: &str) -> String {
        format!("tk{}{suffix}", self.env.token())
    }

    fn command(&self) -> Command {
        let mut c = self.env.command(testkit::bin("mini-runc"));
        c.arg("--root").arg(self.env.path("state"));
        c
    }

    /// Runs mini-runc with stdout and stderr in files: a created
    /// container keeps the stdio it was given, so pipes would never see
    /// end-of-file.
    fn run(&self, args: &[&str]) -> Output {
        let out = self.env.path("last.out");
        let err = self.env.path("last.err");
        let status = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .status()
            .expect("run mini-runc");
        Output {
            status,
            stdout: std::fs::read(&out).unwrap(),
            stderr: std::fs::read(&err).unwrap(),
        }
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "mini-runc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "mini-runc {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// A bundle named `name`: `mini-runc spec`'s config with `args`, no
    /// terminal, the busybox rootfs and a token-named cgroup, then `edit`.
    fn bundle(&self, name: &str, args: &[&str], edit: impl FnOnce(&mut Value)) -> PathBuf {
        let dir = self.env.path(format!("bundle-{name}"));
        std::fs::create_dir_all(&dir).unwrap();
        let out = self
            .command()
            .arg("spec")
            .arg("--bundle")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut c: Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        c["process"]["terminal"] = json!(false);
        c["process"]["args"] = json!(args);
        c["root"]["path"] = json!(self.env.rootfs());
        c["root"]["readonly"] = json!(false);
        c["linux"]["cgroupsPath"] = json!(format!("/{}/{name}", self.id("")));
        edit(&mut c);
        std::fs::write(dir.join("config.json"), c.to_string()).unwrap();
        dir
    }

    /// `run` in the foreground: (exit code, stdout, stderr).
    fn run_bundle(&self, bundle: &Path, id: &str) -> (i32, String, String) {
        let bundle = bundle.to_str().unwrap();
        let out = self.run(&["run", "--bundle", bundle, id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn sh(&self, name: &str, script: &str, edit: impl FnOnce(&mut Value)) -> String {
        let bundle = self.bundle(name, &["sh", "-c", script], edit);
        let (code, out, err) = self.run_bundle(&bundle, &self.id(name));
        assert_eq!(code, 0, "{name}: {err}{out}");
        out
    }

    fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).unwrap()
    }

    fn finish(mut self) {
        self.env.settle();
        self.env.assert_no_leaks();
        let left: Vec<_> = std::fs::read_dir(self.env.path("state"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "state left: {left:?}");
    }
}

/// runtime.md "Lifecycle" and "State": create leaves the process waiting
/// (created, with a PID), start runs it, kill stops it, delete removes it.
fn runtime_lifecycle_and_state() {
    let r = Runtime::new("conformance-lifecycle");
    let bundle = r.bundle("life", &["sleep", "100"], |c| {
        c["annotations"] = json!({"org.example.k": "v"});
    });
    let id = r.id("life");
    let pid_file = r.env.path("life.pid");
    r.ok(&[
        "create",
        "--bundle",
        bundle.to_str().unwrap(),
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
    ]);
    let s = r.state(&id);
    assert_eq!(s["status"], "created");
    assert_eq!(s["id"], id.as_str());
    assert_eq!(s["bundle"], bundle.to_str().unwrap());
    assert_eq!(s["annotations"]["org.example.k"], "v");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(s["pid"].to_string(), pid);
    // The user's command has not run yet: the process is still mini-runc.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "mini-runc");
    r.ok(&["start", &id]);
    assert_eq!(r.state(&id)["status"], "running");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    assert!(r.fails(&["start", &id]).contains("already running"));
    assert!(r.fails(&["delete", &id]).contains("not stopped"));
    r.ok(&["kill", &id, "KILL"]);
    testkit::wait_until("the container stops", || {
        r.state(&id)["status"] == "stopped"
    });
    assert!(r.fails(&["kill", &id]).contains("not running"));
    r.ok(&["delete", &id]);
    assert!(r.fails(&["state", &id]).contains("does not exist"));
    r.ok(&["delete", "--force", &id]);
    r.finish();
}

/// runtime.md "Operations": errors for an ID in use, an unknown ID, and
/// a bad bundle leave nothing behind.
fn runtime_operation_errors() {
    let r = Runtime::new("conformance-errors");
    let bundle = r.bundle("dup", &["sleep", "100"], |_| {});
    let id = r.id("dup");
    r.ok(&["create", "--bundle", bundle.to_str().unwrap(), &id]);
    assert!(r
        .fails(&["create", "--bundle", bundle.to_str().unwrap(), &id])
        .contains("exists"));
    assert!(r.fails(&["start", "nope"]).contains("does not exist"));
    assert!(r
        .fails(&["create", "--bundle", "/nonexistent", "x"])
        .contains("/nonexistent"));
    assert!(r
        .fails(&["create", "--bundle", bundle.to_str().unwrap(), "../x"])
        .contains("invalid container id"));
    // delete of a created container kills it (runc's behaviour).
    r.ok(&["delete", &id]);
    assert!(r.fails(&["checkpoint", &id]).contains("not supported"));
    r.finish();
}

/// config.md "Process": args, env, cwd, user (uid, gid, additionalGids),
/// rlimits, noNewPrivileges, oomScoreAdj, capabilities.
fn config_process() {
    let r = Runtime::new("conformance-process");
    let out = r.sh(
        "proc",
        "echo $FOO; pwd; id; ulimit -n; grep -E 'NoNewPrivs|CapBnd|CapEff' /proc/self/status; cat /proc/self/oom_score_adj",
        |c| {
            c["process"]["env"] = json!(["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "FOO=bar"]);
            c["process"]["cwd"] = json!("/tmp/work");
            c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [5, 6]});
            c["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]);
            c["process"]["noNewPrivileges"] = json!(true);
            c["process"]["oomScoreAdj"] = json!(100);
            // Ambient, so that a non-root user still has it after execve.
            c["process"]["capabilities"] = json!({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"], "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]});
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "bar");
    assert_eq!(lines[1], "/tmp/work");
    assert_eq!(lines[2], "uid=1000 gid=1001 groups=5,6");
    assert_eq!(lines[3], "256");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("CapBnd:\t0000000000000020"), "{out}");
    // A non-root user keeps only what it is given: CAP_KILL, ambient.
    assert!(out.contains("CapEff:\t0000000000000020"), "{out}");
    assert_eq!(lines.last().unwrap().trim(), "100");
    // The exit code is the command's; a missing command fails create.
    let bundle = r.bundle("code", &["sh", "-c", "exit 7"], |_| {});
    assert_eq!(r.run_bundle(&bundle, &r.id("code")).0, 7);
    let bundle = r.bundle("missing", &["no-such-command"], |_| {});
    let (code, _, err) = r.run_bundle(&bundle, &r.id("missing"));
    assert_eq!(code, 1);
    assert!(err.contains("executable file not found in $PATH"), "{err}");
    r.finish();
}

/// config.md "Root", "Mounts", "Hostname", "Domainname".
fn config_root_mounts_hostname() {
    let r = Runtime::new("conformance-mounts");
    let shared = r.env.path("shared");
    std::fs::create_dir_all(&shared).unwrap();
    std::fs::write(shared.join("file"), "from the host\n").unwrap();
    let out = r.sh(
        "mnt",
        "cat /data/file; touch /data/x 2>&1 | grep -o 'Read-only'; touch /x 2>&1 | grep -o 'Read-only'; grep ' /scratch ' /proc/mounts | cut -d' ' -f3,4 | sed 's/,inode64//'; hostname; cat /proc/sys/kernel/domainname",
        |c| {
            c["root"]["readonly"] = json!(true);
            let mounts = c["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/data", "type": "bind", "source": shared, "options": ["rbind", "ro"]}));
            mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]}));
            c["hostname"] = json!("conformance");
            c["domainname"] = json!("example.org");
        },
    );
    // (Kernels built with CONFIG_TMPFS_INODE64, Debian's among them, also
    // list inode64, which the mount did not ask for.)
    assert_eq!(
        out,
        "from the host\nRead-only\nRead-only\ntmpfs rw,nosuid,relatime,size=1024k\nconformance\nexample.org\n"
    );
    r.finish();
}

/// config-linux.md "Namespaces": new ones, and one joined by path.
fn config_namespaces() {
    let r = Runtime::new("conformance-namespaces");
    let holder = r.bundle("holder", &["sleep", "100"], |_| {});
    let holder_id = r.id("holder");
    r.ok(&["create", "--bundle", holder.to_str().unwrap(), &holder_id]);
    let pid = r.state(&holder_id)["pid"].as_i64().unwrap();
    let net = std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    let out = r.sh("join", "echo $$; readlink /proc/self/ns/net", |c| {
        let ns = c["linux"]["namespaces"].as_array_mut().unwrap();
        ns.retain(|n| n["type"] != "network");
        ns.push(json!({"type": "network", "path": format!("/proc/{pid}/ns/net")}));
    });
    assert_eq!(out, format!("1\n{}\n", net.display()));
    r.ok(&["delete", "--force", &holder_id]);
    r.finish();
}

/// config-linux.md "User namespace mappings".
fn config_user_namespace_mappings() {
    let r = Runtime::new("conformance-userns");
    let out = r.sh(
        "userns",
        "cat /proc/self/uid_map /proc/self/gid_map; id -u",
        |c| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            // The rootfs belongs to the host's root: readable, not writable.
            c["root"]["readonly"] = json!(true);
        },
    );
    let words: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(words, ["0", "100000", "65536", "0", "100000", "65536", "0"]);
    r.finish();
}

/// config-linux.md "Sysctl", "Masked Paths", "Readonly Paths", "Devices",
/// "Rootfs Mount Propagation".
fn config_linux_filesystem() {
    let r = Runtime::new("conformance-linux-fs");
    let out = r.sh(
        "fs",
        "cat /proc/sys/net/ipv4/ip_forward; cat /proc/kcore | wc -c; sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>&1 | grep -o Read-only; ls -l /dev/mynull | cut -c1; echo x > /dev/mynull && echo wrote; mknod /tmp/null c 1 3 && echo made; mknod /tmp/mem c 1 1 2>&1 | grep -o 'Operation not permitted'; grep ' / ' /proc/self/mountinfo | grep -o 'shared:[0-9]*' | head -1 | cut -c1-7",
        |c| {
            c["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
            c["linux"]["maskedPaths"] = json!(["/proc/kcore"]);
            c["linux"]["readonlyPaths"] = json!(["/proc/sys"]);
            c["linux"]["devices"] = json!([{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]);
            c["linux"]["rootfsPropagation"] = json!("rshared");
            // With CAP_MKNOD only the device cgroup (on v2 the eBPF
            // program) tells the allowed null from the unlisted /dev/mem.
            for set in ["bounding", "effective", "permitted"] {
                c["process"]["capabilities"][set]
                    .as_array_mut()
                    .unwrap()
                    .push(json!("CAP_MKNOD"));
            }
        },
    );
    assert_eq!(
        out,
        "1\n0\nRead-only\nc\nwrote\nmade\nOperation not permitted\nshared:\n"
    );
    r.finish();
}

/// config-linux.md "Control groups": resources applied, `update` changes
/// them, `pause`/`resume` freeze; a systemd-style cgroupsPath maps to a
/// cgroupfs path as runc maps it.
fn config_linux_resources() {
    let r = Runtime::new("conformance-resources");
    let slice = format!("{}.slice", r.id(""));
    let layout = cgroup_demo::Layout::detect().unwrap();
    let v2 = layout.version() == cgroup_demo::Version::V2;
    let bundle = r.bundle("res", &["sleep", "100"], |c| {
        if v2 {
            // linux.resources.unified: a v2 file written as given.
            c["linux"]["resources"]["unified"] = json!({"memory.high": "50331648"});
        }
        c["linux"]["cgroupsPath"] = json!(format!("{slice}:pre:res"));
        c["linux"]["resources"]["memory"] = json!({"limit": 67108864});
        c["linux"]["resources"]["pids"] = json!({"limit": 20});
        // A node outside the standard set, which only its own rule allows.
        c["linux"]["devices"] =
            json!([{"path": "/dev/mykmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438}]);
    });
    let id = r.id("res");
    r.ok(&[
        "--systemd-cgroup",
        "run",
        "--detach",
        "--bundle",
        bundle.to_str().unwrap(),
        &id,
    ]);
    let ps: Vec<i64> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &id])).unwrap();
    assert_eq!(ps.len(), 1);
    let scope = format!("{slice}/pre-res.scope");
    // The limit's file on the host, the same file in the container's own
    // cgroup mount, and the file that says the cgroup is frozen.
    let (memory_file, inside, frozen, frozen_text) = match layout.version() {
        cgroup_demo::Version::V1 => (
            layout
                .v1_root("memory")
                .unwrap()
                .join(&scope)
                .join("memory.limit_in_bytes"),
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            layout
                .v1_root("freezer")
                .unwrap()
                .join(&scope)
                .join("freezer.state"),
            "FROZEN",
        ),
        cgroup_demo::Version::V2 => {
            let dir = layout.unified.clone().unwrap().join(&scope);
            (
                dir.join("memory.max"),
                "/sys/fs/cgroup/memory.max",
                dir.join("cgroup.freeze"),
                "1",
            )
        }
    };
    assert_eq!(
        std::fs::read_to_string(&memory_file).unwrap().trim(),
        "67108864"
    );
    let mut update = r
        .command()
        .args(["update", "--resources", "-", &id])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    update
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"memory": {"limit": 33554432}, "devices": [{"allow": false, "type": "c", "major": 1, "minor": 9, "access": "rwm"}]}"#)
        .unwrap();
    assert!(update.wait().unwrap().success());
    assert_eq!(
        std::fs::read_to_string(&memory_file).unwrap().trim(),
        "33554432"
    );
    assert_eq!(r.ok(&["exec", &id, "cat", inside]), "33554432\n");
    // New device rules kept the bundle's node reachable.
    assert_eq!(
        r.ok(&[
            "exec",
            &id,
            "sh",
            "-c",
            "echo mini-runc > /dev/mykmsg && echo wrote"
        ]),
        "wrote\n"
    );
    if v2 {
        // The cgroup namespace roots the container at its own cgroup.
        assert_eq!(r.ok(&["exec", &id, "cat", "/proc/self/cgroup"]), "0::/\n");
        let high = memory_file.with_file_name("memory.high");
        assert_eq!(std::fs::read_to_string(high).unwrap().trim(), "50331648");
    }
    r.ok(&["pause", &id]);
    assert_eq!(r.state(&id)["status"], "paused");
    assert_eq!(
        std::fs::read_to_string(&frozen).unwrap().trim(),
        frozen_text
    );
    r.ok(&["resume", &id]);
    assert_eq!(r.state(&id)["status"], "running");
    let stats: Value = serde_json::from_str(&r.ok(&["events", "--stats", &id])).unwrap();
    assert_eq!(stats["type"], "stats");
    assert_eq!(stats["data"]["pids"]["current"], 1);
    r.ok(&["delete", "--force", &id]);
    r.finish();
}

/// config-linux.md "Seccomp": the specification's format, compiled.
fn config_linux_seccomp() {
    let r = Runtime::new("conformance-seccomp");
    let out = r.sh("sc", "mkdir /tmp/d 2>&1 | grep -o 'Operation not permitted'; grep Seccomp: /proc/self/status", |c| {
        c["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]
        });
    });
    assert_eq!(out, "Operation not permitted\nSeccomp:\t2\n");
    r.finish();
}

/// config.md "POSIX-platform Hooks": all six, in order, each with the
/// state on stdin.
fn config_hooks() {
    let r = Runtime::new("conformance-hooks");
    let log = r.env.path("hooks.log");
    let hook = |name: &str| {
        json!({"path": "/bin/sh", "args": ["sh", "-c", format!(
            "echo {name} $(sed -n 's/.*\"status\": *\"\\([a-z]*\\)\".*/\\1/p') >> {}", log.display())]})
    };
    let bundle = r.bundle("hooks", &["true"], |c| {
        c["hooks"] = json!({
            "prestart": [hook("prestart")],
            "createRuntime": [hook("createRuntime")],
            "createContainer": [hook("createContainer")],
            "startContainer": [{"path": "/bin/true"}],
            "poststart": [hook("poststart")],
            "poststop": [hook("poststop")],
        });
    });
    let (code, _, err) = r.run_bundle(&bundle, &r.id("hooks"));
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "prestart creating",
            "createRuntime creating",
            "createContainer creating"
        ]
    );
    assert!(lines[3].starts_with("poststart"));
    assert_eq!(lines[4], "poststop stopped");
    // A failing prestart hook fails create and leaves nothing.
    let bad = r.bundle("badhook", &["true"], |c| {
        c["hooks"] = json!({"prestart": [{"path": "/bin/false"}]});
    });
    let (code, _, err) = r.run_bundle(&bad, &r.id("badhook"));
    assert_eq!(code, 1);
    assert!(err.contains("prestart hook /bin/false"), "{err}");
    r.finish();
}

/// config.md "Properties": unknown ones are ignored; a known value
/// mini-runc cannot honour is a clear error.
fn config_unknown_and_unsupported() {
    let r = Runtime::new("conformance-unknown");
    assert_eq!(
        r.sh("unknown", "echo ok", |c| c["someFutureThing"] =
            json!({"x": 1})),
        "ok\n"
    );
    let bundle = r.bundle("time", &["true"], |c| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
    });
    let (code, _, err) = r.run_bundle(&bundle, &r.id("time"));
    assert_eq!(code, 1);
    assert!(
        err.contains("the time namespace is not supported by mini-runc"),
        "{err}"
    );
    r.finish();
}

/// `exec` (runc's command line): args and a process file, exit codes.
fn runtime_exec() {
    let r = Runtime::new("conformance-exec");
    let bundle = r.bundle("ex", &["sleep", "100"], |_| {});
    let id = r.id("ex");
    r.ok(&["run", "-d", "--bundle", bundle.to_str().unwrap(), &id]);
    // In the container's PID namespace: its PID 1 is the container's.
    assert_eq!(r.ok(&["exec", &id, "cat", "/proc/1/comm"]), "sleep\n");
    let out = r.run(&["exec", &id, "sh", "-c", "exit 9"]);
    assert_eq!(out.status.code(), Some(9));
    let process = r.env.path("process.json");
    std::fs::write(&process, json!({"args": ["sh", "-c", "id -u; echo $X"], "cwd": "/", "env": ["X=y"], "user": {"uid": 7, "gid": 7}}).to_string()).unwrap();
    assert_eq!(
        r.ok(&["exec", "--process", process.to_str().unwrap(), &id]),
        "7\ny\n"
    );
    let pid_file = r.env.path("exec.pid");
    r.ok(&[
        "exec",
        "--detach",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &id,
        "sleep",
        "50",
    ]);
    let pids: Vec<i64> = serde_json::from_str(&r.ok(&["ps", "--format", "json", &id])).unwrap();
    let exec_pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(pids.contains(&exec_pid), "{pids:?} {exec_pid}");
    r.ok(&["kill", "--all", &id, "KILL"]);
    testkit::wait_until("the container stops", || {
        r.state(&id)["status"] == "stopped"
    });
    r.ok(&["delete", &id]);
    r.finish();
}

/// The console socket (runc's `--console-socket`): the pty master comes
/// over SCM_RIGHTS; the container's stdio is the pty.
fn runtime_console_socket() {
    let r = Runtime::new("conformance-console");
    let socket = r.env.path("console.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let bundle = r.bundle(
        "tty",
        &["sh", "-c", "tty; read line; echo got $line"],
        |c| {
            c["process"]["terminal"] = json!(true);
        },
    );
    let id = r.id("tty");
    let mut create = r
        .command()
        .args([
            "create",
            "--console-socket",
            socket.to_str().unwrap(),
            "--bundle",
            bundle.to_str().unwrap(),
            &id,
        ])
        .spawn()
        .unwrap();
    let (stream, _) = listener.accept().unwrap();
    let master = receive_fd(stream.as_raw_fd());
    assert!(create.wait().unwrap().success());
    r.ok(&["start", &id]);
    let mut pty = std::fs::File::from(master);
    pty.write_all(b"hello\n").unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains("got hello") {
        let n = pty.read(&mut buf).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("/dev/pts/0"), "{seen}");
    assert!(seen.contains("got hello"), "{seen}");
    testkit::wait_until("the container stops", || {
        r.state(&id)["status"] == "stopped"
    });
    r.ok(&["delete", &id]);
    r.finish();
}

fn receive_fd(socket: std::os::fd::RawFd) -> OwnedFd {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 64];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(socket, &mut iov, Some(&mut space), MsgFlags::empty()).unwrap();
    for cmsg in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            // SAFETY: the kernel just installed this descriptor for us.
            return unsafe { OwnedFd::from_raw_fd(fds[0]) };
        }
    }
    panic!("no descriptor on the console socket");
}

/// `features` and `spec`.
fn runtime_features() {
    let r = Runtime::new("conformance-features");
    let f: Value = serde_json::from_str(&r.ok(&["features"])).unwrap();
    assert_eq!(f["ociVersionMax"], "1.2.0");
    assert!(f["linux"]["namespaces"].as_array().unwrap().len() >= 7);
    assert!(f["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|h| h == "createContainer"));
    r.finish();
}

testkit::main![
    runtime_lifecycle_and_state,
    runtime_operation_errors,
    config_process,
    config_root_mounts_hostname,
    config_namespaces,
    config_user_namespace_mappings,
    config_linux_filesystem,
    config_linux_resources,
    config_linux_seccomp,
    config_hooks,
    config_unknown_and_unsupported,
    runtime_exec,
    runtime_console_socket,
    runtime_features,
];
