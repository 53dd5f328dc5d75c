//! pull, push, login against Debian's docker-registry and skopeo/umoci on
//! loopback, and against a fake registry for authentication and bad input.

mod support;

use std::process::Command;
use std::sync::Arc;

use support::*;
use testkit::TestEnv;

/// `pull IMAGE` into the "root" store, expected to fail; returns stderr.
fn pull_err(env: &TestEnv, image: &str) -> String {
    fails_in(env, "root", &["pull", image], 1)
}

/// Imports busybox into the "src" store and pushes it as `registry/name`;
/// returns the full remote reference.
fn push_busybox(env: &TestEnv, registry: &RealRegistry, name: &str) -> String {
    let tar = busybox_tar(env);
    ok_in(env, "src", &["import", &tar, "box"]);
    let remote = format!("{}/{name}", registry.addr);
    ok_in(env, "src", &["tag", "box", &remote]);
    ok_in(env, "src", &["push", &remote]);
    remote
}

fn tool_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn push_is_read_by_skopeo_and_pulled_back() {
    let env = TestEnv::root("md-push");
    let registry = RealRegistry::start(&env);
    let tar = busybox_tar(&env);
    let id = ok_in(
        &env,
        "a",
        &["import", "-c", "CMD [\"/bin/sh\"]", &tar, "busybox"],
    )
    .trim()
    .to_string();
    let remote = format!("{}/tools/busybox:1.0", registry.addr);
    ok_in(&env, "a", &["tag", "busybox", &remote]);
    let pushed = ok_in(&env, "a", &["push", &remote]);
    assert!(
        pushed.starts_with(&format!(
            "The push refers to repository [{}/tools/busybox]\n",
            registry.addr
        )),
        "{pushed}"
    );
    assert!(pushed.contains(": Pushed\n"), "{pushed}");
    let digest_line = pushed.lines().last().unwrap();
    assert!(digest_line.starts_with("1.0: digest: sha256:"), "{pushed}");

    // skopeo reads what mini-docker wrote.
    let inspect = tool_ok(
        Command::new("skopeo")
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{remote}")),
    );
    let inspect: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    let oci = env.path("oci");
    tool_ok(
        Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false"])
            .arg(format!("docker://{remote}"))
            .arg(format!("oci:{}:copy", oci.display())),
    );
    assert!(oci.join("index.json").exists());

    // The v2 API lists it.
    let (status, catalog) = http_get(&registry.addr, "/v2/_catalog");
    assert_eq!(status, 200);
    assert!(catalog.contains("\"tools/busybox\""), "{catalog}");
    assert!(http_get(&registry.addr, "/v2/tools/busybox/tags/list")
        .1
        .contains("\"1.0\""));

    // Pushing again: nothing to upload. Another repository: a mount.
    assert!(ok_in(&env, "a", &["push", &remote]).contains(": Layer already exists"));
    let other = format!("{}/other:1", registry.addr);
    ok_in(&env, "a", &["tag", "busybox", &other]);
    assert!(ok_in(&env, "a", &["push", &other]).contains(": Mounted from tools/busybox"));

    // A fresh store pulls it back: same image ID, a usable root filesystem.
    let pulled = ok_in(&env, "b", &["pull", &remote]);
    assert!(
        pulled.ends_with(&format!("Status: Downloaded newer image for {remote}\n")),
        "{pulled}"
    );
    assert_eq!(
        ok_in(&env, "b", &["inspect", "-f", "{{.Id}}", &remote]).trim(),
        id
    );
    let layer = only_layer(&env, "b");
    assert!(layer.join("bin/busybox").is_file());
    assert!(ok_in(&env, "b", &["pull", &remote]).contains("Status: Image is up to date"));
    // By digest.
    let digest = digest_line.split_whitespace().nth(2).unwrap();
    let by_digest = format!("{}/tools/busybox@{digest}", registry.addr);
    assert!(ok_in(&env, "c", &["pull", "-q", &by_digest])
        .trim()
        .ends_with(digest));
    let repo_digests = ok_in(
        &env,
        "c",
        &["inspect", "-f", "{{json .RepoDigests}}", &by_digest],
    );
    assert!(repo_digests.contains(digest), "{repo_digests}");
}

fn an_image_built_by_umoci_and_pushed_by_skopeo_pulls_correctly() {
    let env = TestEnv::root("md-umoci");
    let registry = RealRegistry::start(&env);
    let layout = env.path("layout");
    let layout_s = layout.display().to_string();
    tool_ok(Command::new("umoci").args(["init", "--layout", &layout_s]));
    tool_ok(Command::new("umoci").args(["new", "--image", &format!("{layout_s}:latest")]));
    let bundle = env.path("bundle");
    tool_ok(
        Command::new("umoci")
            .args(["unpack", "--image", &format!("{layout_s}:latest")])
            .arg(&bundle),
    );
    tool_ok(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", testkit::busybox_rootfs().display()))
            .arg(bundle.join("rootfs")),
    );
    tool_ok(
        Command::new("umoci")
            .args(["repack", "--image", &format!("{layout_s}:latest")])
            .arg(&bundle),
    );
    let remote = format!("{}/umoci/busybox:1", registry.addr);
    tool_ok(
        Command::new("skopeo")
            .args(["copy", "--dest-tls-verify=false"])
            .arg(format!("oci:{layout_s}:latest"))
            .arg(format!("docker://{remote}")),
    );
    let pulled = ok_in(&env, "root", &["pull", &remote]);
    assert!(pulled.contains(": Pull complete"), "{pulled}");
    let layer = only_layer(&env, "root");
    assert!(layer.join("bin/busybox").is_file());
    assert_eq!(
        std::fs::read_link(layer.join("bin/sh")).unwrap(),
        std::path::Path::new("/bin/busybox")
    );
    assert_eq!(
        std::fs::read_to_string(layer.join("etc/hostname")).unwrap(),
        "busybox\n"
    );
}

fn missing_images_and_tags_fail_cleanly() {
    let env = TestEnv::root("md-missing");
    let registry = RealRegistry::start(&env);
    let err = pull_err(&env, &format!("{}/nothing:here", registry.addr));
    assert!(
        err.starts_with("Error: manifest for nothing:here not found"),
        "{err}"
    );
    assert!(fails_in(&env, "root", &["push", "never-imported"], 1)
        .contains("No such image: never-imported:latest"));
    assert_eq!(count(&env.path("root/images/db")), 0);
}

/// A fake registry serving one real image, behind Docker Hub's bearer
/// token flow, optionally corrupting what it serves.
fn serve_image(env: &TestEnv, corrupt: fn(&str, Vec<u8>) -> Vec<u8>) -> FakeRegistry {
    serve_tar(env, &busybox_tar(env), corrupt)
}

/// [`serve_image`] of a small hand-made layer: needs no busybox fixture,
/// so logic tests run without root.
fn serve_small_image(env: &TestEnv, corrupt: fn(&str, Vec<u8>) -> Vec<u8>) -> FakeRegistry {
    // Incompressible, so the gzipped layer is the one blob over 1000 bytes.
    let mut x = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let tar = env.path("small.tar");
    std::fs::write(&tar, tar_with(&[("noise.bin", &noise)])).unwrap();
    serve_tar(env, tar.to_str().unwrap(), corrupt)
}

/// A fake registry with a bearer-token flow serving the image `tar` as
/// `app` (by any tag), each answer passed through `corrupt(path, bytes)`.
fn serve_tar(env: &TestEnv, tar: &str, corrupt: fn(&str, Vec<u8>) -> Vec<u8>) -> FakeRegistry {
    ok_in(env, "source", &["import", tar, "img"]);
    let (manifest, blobs) = image_blobs(&env.path("source"));
    let blobs = Arc::new(blobs);
    let realm: Arc<std::sync::Mutex<String>> = Arc::default();
    let realm_handle = realm.clone();
    let registry = FakeRegistry::start(move |r| {
        let realm = realm_handle.lock().unwrap().clone();
        if r.path.starts_with("/token") {
            // Credentials are optional for pulls, checked when given.
            return match r.headers.get("authorization").map(String::as_str) {
                None | Some("Basic dXNlcjpzZWNyZXQ=") => Reply::new(200, r#"{"token":"t0ken"}"#),
                Some(_) => Reply::new(401, "{}"),
            };
        }
        if r.headers.get("authorization").map(String::as_str) != Some("Bearer t0ken") {
            let challenge =
                format!(r#"Bearer realm="{realm}",service="fake",scope="repository:app:pull""#);
            return Reply::new(
                401,
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
            )
            .header("WWW-Authenticate", &challenge);
        }
        if r.path == "/v2/" {
            return Reply::new(200, "{}");
        }
        let digest = r.path.rsplit('/').next().unwrap_or_default();
        let key = if r.path.contains("/manifests/") && !digest.starts_with("sha256:") {
            manifest.as_str()
        } else {
            digest
        };
        match blobs.get(key) {
            Some(bytes) => {
                let body = corrupt(&r.path, bytes.clone());
                let media = if r.path.contains("/manifests/") {
                    "application/vnd.docker.distribution.manifest.v2+json"
                } else {
                    "application/octet-stream"
                };
                Reply::new(200, body).header("Content-Type", media)
            }
            None => Reply::new(
                404,
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            ),
        }
    });
    *realm.lock().unwrap() = format!("http://{}/token", registry.addr);
    registry
}

fn bearer_token_flow_and_login() {
    let env = TestEnv::root("md-token");
    let registry = serve_image(&env, |_, b| b);
    let image = format!("{}/app:latest", registry.addr);
    let pulled = ok_in(&env, "root", &["pull", &image]);
    assert!(
        pulled.contains("Status: Downloaded newer image"),
        "{pulled}"
    );
    let seen = registry.seen.lock().unwrap().clone();
    let token_requests: Vec<_> = seen
        .iter()
        .filter(|r| r.path.starts_with("/token"))
        .collect();
    assert!(!token_requests.is_empty());
    assert!(
        token_requests[0]
            .path
            .contains("scope=repository%3Aapp%3Apull"),
        "{:?}",
        token_requests[0]
    );

    // login checks the credentials before storing them, root-only.
    let err = fails_in(
        &env,
        "root",
        &["login", "-u", "user", "-p", "wrong", &registry.addr],
        1,
    );
    assert!(err.contains("unauthorized"), "{err}");
    assert_eq!(
        ok_in(
            &env,
            "root",
            &["login", "-u", "user", "-p", "secret", &registry.addr]
        ),
        "Login Succeeded\n"
    );
    let auth = env.path("root/auth.json");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&auth).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&auth).unwrap()).unwrap();
    assert_eq!(json["auths"][&registry.addr]["auth"], "dXNlcjpzZWNyZXQ=");
    ok_in(&env, "root", &["rmi", &image]);
    ok_in(&env, "root", &["pull", &image]);
    let last_token = registry
        .seen
        .lock()
        .unwrap()
        .iter()
        .rev()
        .find(|r| r.path.starts_with("/token"))
        .cloned()
        .unwrap();
    assert_eq!(
        last_token.headers.get("authorization").map(String::as_str),
        Some("Basic dXNlcjpzZWNyZXQ=")
    );
    assert_eq!(
        ok_in(&env, "root", &["logout", &registry.addr]),
        format!("Removing login credentials for {}\n", registry.addr)
    );
}

fn assert_nothing_kept(env: &TestEnv) {
    for dir in [
        "root/images/db",
        "root/layers",
        "root/tmp",
        "root/blobs/sha256",
    ] {
        assert_eq!(count(&env.path(dir)), 0, "{dir} not empty");
    }
    assert_eq!(ok_in(env, "root", &["images", "-q"]), "");
}

fn corrupt_blobs_are_refused_and_nothing_is_kept() {
    let env = TestEnv::new("md-corrupt");
    let registry = serve_small_image(&env, |path, mut bytes| {
        if path.contains("/blobs/") && bytes.len() > 1000 {
            bytes[500] ^= 0xff;
        }
        bytes
    });
    let err = pull_err(&env, &format!("{}/app", registry.addr));
    assert!(err.contains("downloaded content has digest"), "{err}");
    assert_nothing_kept(&env);
}

fn malformed_and_unknown_manifests_are_refused() {
    let env = TestEnv::new("md-malformed");
    let registry = serve_small_image(&env, |path, bytes| {
        if path.ends_with("/manifests/broken") {
            b"{not json".to_vec()
        } else if path.ends_with("/manifests/weird") {
            String::from_utf8(bytes)
                .unwrap()
                .replace("diff.tar.gzip", "diff.tar.lzma")
                .into_bytes()
        } else {
            bytes
        }
    });
    let err = pull_err(&env, &format!("{}/app:broken", registry.addr));
    assert!(
        err.contains("manifest for") && err.contains("app:broken"),
        "{err}"
    );
    let err = pull_err(&env, &format!("{}/app:weird", registry.addr));
    assert!(err.contains("unknown layer media type"), "{err}");
    assert_nothing_kept(&env);
}

/// HTTPS with a private CA from certs.d, as Docker configures it; without
/// the CA the registry is refused.
fn https_registry_with_a_ca_from_certs_d() {
    let env = TestEnv::root("md-tls");
    // A private CA, and a certificate for 127.0.0.1 signed by it.
    let (ca_key, ca, key, csr, cert) = (
        env.path("ca.key"),
        env.path("ca.pem"),
        env.path("key.pem"),
        env.path("req.csr"),
        env.path("cert.pem"),
    );
    let openssl =
        |args: &[&str]| tool_ok(Command::new("openssl").current_dir(env.dir()).args(args));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
    ]);
    let ext = env.path("san.ext");
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "cert.pem",
    ]);
    let _ = (&ca_key, &csr);
    let registry = RealRegistry::start_with(&env, Some((&cert, &key)));
    let tar = busybox_tar(&env);
    ok_in(&env, "root", &["import", &tar, "box"]);
    let remote = format!("{}/secure/box:1", registry.addr);
    ok_in(&env, "root", &["tag", "box", &remote]);

    let certs_d = env.path("certs.d");
    let md = |args: &[&str]| {
        md_command(&env, "root")
            .env("MINI_DOCKER_CERTS_D", &certs_d)
            .args(args)
            .output()
            .unwrap()
    };
    let refused = md(&["push", &remote]);
    assert_eq!(refused.status.code(), Some(1));
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("https://") && why.to_lowercase().contains("certificate"),
        "{why}"
    );
    std::fs::create_dir_all(certs_d.join(&registry.addr)).unwrap();
    std::fs::copy(&ca, certs_d.join(&registry.addr).join("ca.crt")).unwrap();
    let pushed = md(&["push", &remote]);
    assert!(
        pushed.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&pushed.stderr),
        std::fs::read_to_string(env.path("registry.log")).unwrap_or_default()
    );
    let pulled = md(&["pull", &remote]);
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let inspect = tool_ok(
        Command::new("skopeo")
            .args(["inspect", "--cert-dir"])
            .arg(certs_d.join(&registry.addr))
            .arg(format!("docker://{remote}")),
    );
    assert!(inspect.contains("\"Os\": \"linux\""), "{inspect}");
}

/// Two pulls of the same image at once: both succeed, one layer stored.
fn concurrent_pulls_of_one_image() {
    let env = TestEnv::root("md-concurrent-pull");
    let registry = RealRegistry::start(&env);
    let remote = push_busybox(&env, &registry, "box:1");
    let pulls: Vec<_> = (0..3)
        .map(|_| {
            md_command(&env, "root")
                .args(["pull", "-q", &remote])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut pull in pulls {
        assert!(pull.wait().unwrap().success());
    }
    assert_eq!(count(&env.path("root/layers")), 1);
    assert_eq!(count(&env.path("root/tmp")), 0);
    assert_eq!(ok_in(&env, "root", &["images", "-q"]).lines().count(), 1);
}

static SLOW_BLOBS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// A pull killed in the middle of a download leaves a readable store, and
/// running it again completes.
fn a_killed_pull_can_be_run_again() {
    let env = TestEnv::root("md-killed-pull");
    let registry = serve_image(&env, |path, bytes| {
        if path.contains("/blobs/")
            && bytes.len() > 1000
            && SLOW_BLOBS.load(std::sync::atomic::Ordering::SeqCst)
        {
            std::thread::sleep(std::time::Duration::from_secs(30));
        }
        bytes
    });
    let image = format!("{}/app:latest", registry.addr);
    let mut pull = md_command(&env, "root")
        .args(["pull", &image])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let seen = registry.seen.clone();
    testkit::wait_until("the layer download to start", || {
        seen.lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.contains("/blobs/"))
            .count()
            >= 2
    });
    pull.kill().unwrap();
    pull.wait().unwrap();
    assert_eq!(ok_in(&env, "root", &["images", "-q"]), "", "nothing tagged");
    assert_eq!(
        count(&env.path("root/tmp")),
        0,
        "the next command swept the dead pull's files"
    );
    SLOW_BLOBS.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(ok_in(&env, "root", &["pull", &image]).contains("Status: Downloaded newer image"));
    assert_eq!(count(&env.path("root/layers")), 1);
}

/// On a terminal, pull draws a bar per layer (run under `script` for a pty).
fn pull_on_a_terminal_shows_progress_bars() {
    let env = TestEnv::root("md-tty");
    let registry = RealRegistry::start(&env);
    let remote = push_busybox(&env, &registry, "box:tty");
    let command = format!(
        "{BIN} --root {} --runroot {} pull {remote}",
        env.path("root").display(),
        env.path("run").display()
    );
    let out = env
        .command("script")
        .args(["-qec", &command, "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(
        screen.contains("Downloading [") && screen.contains("MiB"),
        "{screen}"
    );
    assert!(
        screen.contains(": Pull complete") && screen.contains("Status: Downloaded newer image"),
        "{screen}"
    );
}

/// A one-layer image built in the test from raw parts: (manifest bytes,
/// blobs by digest). `layer` is the uncompressed tarball.
fn hand_made_image(
    layer: &[u8],
    platform_arch: &str,
) -> (Vec<u8>, std::collections::HashMap<String, Vec<u8>>) {
    use mini_docker::digest::Digest;
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(layer).unwrap();
    let blob = gz.finish().unwrap();
    let config = serde_json::json!({
        "architecture": platform_arch, "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [Digest::of(layer).to_string()]},
    })
    .to_string()
    .into_bytes();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": Digest::of(&config).to_string()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": blob.len(), "digest": Digest::of(&blob).to_string()}],
    })
    .to_string()
    .into_bytes();
    let mut blobs = std::collections::HashMap::new();
    blobs.insert(Digest::of(&config).to_string(), config);
    blobs.insert(Digest::of(&blob).to_string(), blob);
    (manifest, blobs)
}

fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_cksum();
        tar.append(&header, *data).unwrap();
    }
    tar.into_inner().unwrap()
}

/// Serves manifests by tag or digest and blobs from maps, anonymously or
/// behind Basic auth; `truncate` cuts blob bodies short.
fn serve_parts(
    manifests: std::collections::HashMap<String, (String, Vec<u8>)>,
    blobs: std::collections::HashMap<String, Vec<u8>>,
    basic: Option<&'static str>,
    truncate: bool,
) -> FakeRegistry {
    FakeRegistry::start(move |r| {
        if let Some(expected) = basic {
            if r.headers.get("authorization").map(String::as_str) != Some(expected) {
                return Reply::new(401, "{}").header("WWW-Authenticate", "Basic realm=\"fake\"");
            }
        }
        if r.path == "/v2/" {
            return Reply::new(200, "{}");
        }
        let key = r.path.rsplit('/').next().unwrap_or_default().to_string();
        if r.path.contains("/manifests/") {
            return match manifests.get(&key) {
                Some((media, bytes)) => {
                    Reply::new(200, bytes.clone()).header("Content-Type", media)
                }
                None => Reply::new(
                    404,
                    r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                ),
            };
        }
        match blobs.get(&key) {
            Some(bytes) if truncate => {
                // Promise the whole blob, send half.
                let mut reply = Reply::new(200, bytes[..bytes.len() / 2].to_vec());
                reply.declared_length = Some(bytes.len());
                reply
            }
            Some(bytes) => Reply::new(200, bytes.clone()),
            None => Reply::new(
                404,
                r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
            ),
        }
    })
}

fn manifests_for(
    tag: &str,
    manifest: &[u8],
) -> std::collections::HashMap<String, (String, Vec<u8>)> {
    let media = "application/vnd.docker.distribution.manifest.v2+json".to_string();
    let digest = mini_docker::digest::Digest::of(manifest).to_string();
    [
        (tag.to_string(), (media.clone(), manifest.to_vec())),
        (digest, (media, manifest.to_vec())),
    ]
    .into_iter()
    .collect()
}

fn basic_auth_and_manifest_lists() {
    let env = TestEnv::root("md-basic-list");
    let arch = mini_docker::spec::host_architecture();
    let (ours, mut blobs) = hand_made_image(&tar_with(&[("hello.txt", b"native")]), arch);
    let (other, other_blobs) = hand_made_image(&tar_with(&[("hello.txt", b"foreign")]), "s390x");
    blobs.extend(other_blobs);
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": other.len(), "digest": mini_docker::digest::Digest::of(&other).to_string(), "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": ours.len(), "digest": mini_docker::digest::Digest::of(&ours).to_string(), "platform": {"os": "linux", "architecture": arch}},
        ],
    })
    .to_string()
    .into_bytes();
    let mut manifests = manifests_for("multi", &index);
    manifests.get_mut("multi").unwrap().0 = "application/vnd.oci.image.index.v1+json".into();
    manifests.extend(manifests_for("x", &ours));
    manifests.extend(manifests_for("y", &other));
    // "user:secret"
    let registry = serve_parts(manifests, blobs, Some("Basic dXNlcjpzZWNyZXQ="), false);
    let image = format!("{}/app:multi", registry.addr);
    let err = pull_err(&env, &image);
    assert!(
        err.contains("unauthorized: authentication required"),
        "{err}"
    );
    ok_in(
        &env,
        "root",
        &["login", "-u", "user", "-p", "secret", &registry.addr],
    );
    ok_in(&env, "root", &["pull", &image]);
    let layer = only_layer(&env, "root");
    assert_eq!(
        std::fs::read(layer.join("hello.txt")).unwrap(),
        b"native",
        "this platform's image"
    );
}

fn truncated_downloads_and_missing_blobs_keep_nothing() {
    let env = TestEnv::new("md-truncated");
    let (manifest, blobs) = hand_made_image(
        &tar_with(&[("big.bin", &vec![7u8; 300_000])]),
        mini_docker::spec::host_architecture(),
    );
    let truncated = serve_parts(
        manifests_for("latest", &manifest),
        blobs.clone(),
        None,
        true,
    );
    let err = pull_err(&env, &format!("{}/app", truncated.addr));
    assert!(
        err.contains("download interrupted") || err.contains("downloaded content has digest"),
        "{err}"
    );
    assert_nothing_kept(&env);
    let layer_only: std::collections::HashMap<String, Vec<u8>> =
        blobs.into_iter().filter(|(_, b)| b.len() > 1000).collect();
    let missing = serve_parts(manifests_for("latest", &manifest), layer_only, None, false);
    let err = pull_err(&env, &format!("{}/app", missing.addr));
    assert!(
        err.contains("not found: blob unknown: blob unknown to registry"),
        "{err}"
    );
    assert_nothing_kept(&env);
}

fn a_hostile_layer_is_refused_at_pull() {
    let env = TestEnv::new("md-hostile-pull");
    let (manifest, blobs) = hand_made_image(
        &tar_with(&[("../../pwned.txt", b"owned")]),
        mini_docker::spec::host_architecture(),
    );
    let registry = serve_parts(manifests_for("latest", &manifest), blobs, None, false);
    let err = pull_err(&env, &format!("{}/app", registry.addr));
    assert!(
        err.contains("refusing layer entry \"../../pwned.txt\": path climbs out with '..'"),
        "{err}"
    );
    assert!(!env.path("pwned.txt").exists() && !std::path::Path::new("/pwned.txt").exists());
    assert_nothing_kept(&env);
}

fn zstd_layers_pushed_by_skopeo_are_pulled() {
    let env = TestEnv::root("md-zstd");
    let registry = RealRegistry::start(&env);
    let gz = push_busybox(&env, &registry, "box:gzip");
    let zst = format!("{}/box:zstd", registry.addr);
    tool_ok(
        Command::new("skopeo")
            .args([
                "copy",
                "--src-tls-verify=false",
                "--dest-tls-verify=false",
                "--dest-compress-format",
                "zstd",
                "--format",
                "oci",
            ])
            .arg(format!("docker://{gz}"))
            .arg(format!("docker://{zst}")),
    );
    ok_in(&env, "root", &["pull", &zst]);
    let layer = only_layer(&env, "root");
    assert!(layer.join("bin/busybox").is_file());
}

fn run_pulls_a_missing_image_first() {
    let mut env = TestEnv::root("md-run-pull");
    let registry = RealRegistry::start(&env);
    let tar = busybox_tar(&env);
    let remote = format!("{}/tools/busybox:run", registry.addr);
    ok_in(
        &env,
        "a",
        &[
            "import",
            "-c",
            "CMD [\"echo\", \"pulled and ran\"]",
            &tar,
            &remote,
        ],
    );
    ok_in(&env, "a", &["push", &remote]);
    // Store "b" has never seen it: run pulls, as Docker does, with the
    // progress on stderr and only the container's output on stdout.
    let out = support::md_in(&env, "b", &["run", "--rm", &remote]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "pulled and ran\n");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("Unable to find image '{remote}' locally")),
        "{err}"
    );
    assert!(ok_in(&env, "b", &["images"]).contains("tools/busybox"));
    drop(registry);
    assert_settled(&mut env);
}

testkit::main![
    push_is_read_by_skopeo_and_pulled_back,
    an_image_built_by_umoci_and_pushed_by_skopeo_pulls_correctly,
    missing_images_and_tags_fail_cleanly,
    bearer_token_flow_and_login,
    corrupt_blobs_are_refused_and_nothing_is_kept,
    malformed_and_unknown_manifests_are_refused,
    https_registry_with_a_ca_from_certs_d,
    concurrent_pulls_of_one_image,
    a_killed_pull_can_be_run_again,
    pull_on_a_terminal_shows_progress_bars,
    basic_auth_and_manifest_lists,
    truncated_downloads_and_missing_blobs_keep_nothing,
    a_hostile_layer_is_refused_at_pull,
    zstd_layers_pushed_by_skopeo_are_pulled,
    run_pulls_a_missing_image_first,
];
