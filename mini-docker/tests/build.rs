//! `build`: every instruction, the CMD/ENTRYPOINT table, the shell form's
//! PID 1, multi-stage builds, the cache, `.dockerignore`, contexts from
//! stdin, ADD of archives and of a URL (a loopback server), each
//! malformed-Dockerfile error, and `builder prune`.

mod support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use support::*;
use testkit::TestEnv;

/// A context directory `name` with `files` (path, content).
fn context(env: &TestEnv, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = env.path(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
    }
    dir
}

fn build(env: &TestEnv, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build"];
    args.extend(extra);
    let dir = dir.to_str().unwrap();
    args.push(dir);
    ok(env, &args)
}

/// `build -q`: the image ID.
fn build_q(env: &TestEnv, dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["-q"];
    args.extend(extra);
    build(env, dir, &args).trim().to_string()
}

fn image_field(env: &TestEnv, image: &str, format: &str) -> String {
    ok(env, &["image", "inspect", "-f", format, image])
        .trim()
        .to_string()
}

fn run_out(env: &TestEnv, args: &[&str]) -> String {
    let mut all = vec!["run", "--rm", "--network", "none"];
    all.extend(args);
    ok(env, &all).trim().to_string()
}

const EVERYTHING: &str = r#"# syntax=docker/dockerfile:1
# escape=\
FROM busybox AS base
MAINTAINER someone
ARG V=1
ENV A=b C="d e" \
    P=${V:-none}
LABEL l1=v1 "l 2"="v 2" from=$A
WORKDIR /app
COPY a.txt .
COPY dir /d/
ADD a.txt /added
RUN echo run $A $V && mkdir -p /made && rm /added
RUN ["sh", "-c", "echo exec"]
RUN <<SCRIPT
echo heredoc > /here
SCRIPT
EXPOSE 80 53/udp 8000-8001
VOLUME /data
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=5s --retries=2 CMD true
SHELL ["/bin/sh", "-xc"]
ONBUILD ENV CHILD=yes
ENTRYPOINT ["sh"]
CMD echo cmd
"#;

fn every_instruction_makes_dockers_image() {
    let mut env = with_busybox("md-build-all", &[]);
    let dir = context(
        &env,
        "ctx",
        &[
            ("a.txt", "hello\n"),
            ("dir/sub/b.txt", "b\n"),
            ("Dockerfile", EVERYTHING),
        ],
    );
    let out = build(&env, &dir, &["-t", "all:1"]);
    assert!(out.contains("Step 1/21 : FROM busybox AS base\n"), "{out}");
    assert!(
        out.contains(
            "Step 10/21 : RUN echo run $A $V && mkdir -p /made && rm /added\n ---> Running in "
        ),
        "{out}"
    );
    assert!(
        out.contains("\nrun b 1\nRemoving intermediate container "),
        "{out}"
    );
    assert!(out.contains("\nexec\n"), "{out}");
    assert!(out.contains("\nSuccessfully tagged all:1\n"), "{out}");
    let config = image_field(&env, "all:1", "{{json .Config}}");
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(
        config["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "A=b",
            "C=d e",
            "P=1"
        ])
    );
    assert_eq!(
        config["Labels"],
        serde_json::json!({"from": "b", "l 2": "v 2", "l1": "v1"})
    );
    assert_eq!(config["WorkingDir"], "/app");
    assert_eq!(config["User"], "nobody");
    assert_eq!(config["StopSignal"], "SIGINT");
    assert_eq!(
        config["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "80/tcp": {}, "8000/tcp": {}, "8001/tcp": {}})
    );
    assert_eq!(config["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(config["Entrypoint"], serde_json::json!(["sh"]));
    assert_eq!(
        config["Cmd"],
        serde_json::json!(["/bin/sh", "-xc", "echo cmd"])
    );
    assert_eq!(config["Shell"], serde_json::json!(["/bin/sh", "-xc"]));
    assert_eq!(config["OnBuild"], serde_json::json!(["ENV CHILD=yes"]));
    assert_eq!(
        config["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 2})
    );
    assert_eq!(image_field(&env, "all:1", "{{.Author}}"), "someone");
    // History as Docker writes it.
    let history = ok(
        &env,
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "all:1",
        ],
    );
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(
        lines[0],
        r#"/bin/sh -xc #(nop)  CMD ["/bin/sh" "-xc" "echo cmd"]"#
    );
    assert_eq!(
        lines[4],
        r#"/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x02'}"#
    );
    for want in [
        "\n|1 V=1 /bin/sh -c echo run $A $V && mkdir -p /made && rm /added\n",
        "\n/bin/sh -c #(nop) WORKDIR /app\n",
        "\n/bin/sh -c #(nop)  ENV A=b C=d e P=1\n",
        "\n/bin/sh -c #(nop) COPY file:",
        "\n/bin/sh -c #(nop) COPY dir:",
    ] {
        assert!(history.contains(want), "{want} in {history}");
    }
    // The files, as the steps left them.
    let listing = run_out(
        &env,
        &[
            "--entrypoint",
            "sh",
            "all:1",
            "-c",
            "cat /app/a.txt /d/sub/b.txt /here; ls /made; test -e /added || echo no-added",
        ],
    );
    assert_eq!(listing, "hello\nb\nheredoc\nno-added");
    // ONBUILD runs in a child build, and is not inherited further.
    let child = context(&env, "child", &[("Dockerfile", "FROM all:1\nUSER root\n")]);
    let out = build(&env, &child, &["-t", "child"]);
    assert!(out.contains("# Executing 1 build trigger\n"), "{out}");
    assert_eq!(run_out(&env, &["child", "-c", "echo $CHILD"]), "yes");
    assert_eq!(
        image_field(&env, "child", "{{json .Config.OnBuild}}"),
        "null"
    );
    assert_settled(&mut env);
}

fn cmd_and_entrypoint_combine_as_dockers_table() {
    let mut env = with_busybox("md-build-cmd", &[]);
    let cases: [(&str, &[&str], &str); 7] = [
        ("CMD [\"echo\", \"c\"]", &[], "c"),
        ("CMD [\"echo\", \"c\"]", &["echo", "x"], "x"),
        ("ENTRYPOINT [\"echo\", \"e\"]", &[], "e"),
        ("ENTRYPOINT [\"echo\", \"e\"]\nCMD [\"c\"]", &[], "e c"),
        ("ENTRYPOINT [\"echo\", \"e\"]\nCMD [\"c\"]", &["x"], "e x"),
        ("ENTRYPOINT echo e\nCMD [\"c\"]", &["x"], "e"),
        (
            "ENTRYPOINT [\"echo\", \"e\"]\nCMD echo c",
            &[],
            "e /bin/sh -c echo c",
        ),
    ];
    for (n, (lines, args, want)) in cases.iter().enumerate() {
        let text = format!("FROM busybox\n{lines}\n");
        let dir = context(&env, &format!("c{n}"), &[("Dockerfile", &text)]);
        let id = build_q(&env, &dir, &[]);
        let mut run = vec![id.as_str()];
        run.extend(*args);
        assert_eq!(run_out(&env, &run), *want, "{lines} with {args:?}");
    }
    // --entrypoint replaces the image's and drops its CMD.
    let dir = env.path("c3");
    let id = build_q(&env, &dir, &[]);
    assert_eq!(run_out(&env, &["--entrypoint", "echo", &id, "y"]), "y");
    assert_eq!(image_field(&env, &id, "{{json .Config.Cmd}}"), "[\"c\"]");
    // An ENTRYPOINT resets a CMD inherited from the base image.
    let dir = context(
        &env,
        "reset",
        &[("Dockerfile", "FROM busybox\nENTRYPOINT [\"echo\"]\n")],
    );
    let id = build_q(&env, &dir, &[]);
    assert_eq!(image_field(&env, &id, "{{json .Config.Cmd}}"), "null");
    assert_settled(&mut env);
}

/// The shell form runs `/bin/sh -c` as PID 1; a shell that is PID 1 has no
/// handler for SIGTERM, so `stop` waits out its timeout and kills (137).
fn shell_form_keeps_the_shell_as_pid_1() {
    let mut env = with_busybox("md-build-pid1", &[]);
    // Two commands: busybox ash cannot exec the last one in place.
    let dir = context(
        &env,
        "ctx",
        &[("Dockerfile", "FROM busybox\nCMD sleep 1000; echo done\n")],
    );
    let id = build_q(&env, &dir, &[]);
    let name = format!("pid1-{}", env.token());
    ok(
        &env,
        &["run", "-d", "--name", &name, "--network", "none", &id],
    );
    let cmdline = ok(&env, &["exec", &name, "cat", "/proc/1/cmdline"]);
    assert_eq!(
        cmdline.replace('\0', " ").trim(),
        "/bin/sh -c sleep 1000; echo done"
    );
    ok(&env, &["stop", "-t", "1", &name]);
    assert_eq!(inspect(&env, &name, "{{.State.ExitCode}}"), "137");
    ok(&env, &["rm", &name]);
    assert_settled(&mut env);
}

fn multi_stage_copy_from_and_target() {
    let mut env = with_busybox("md-build-stages", &[]);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox AS build\nRUN mkdir /out && echo built > /out/artifact\nFROM busybox AS test\nRUN echo testing\nFROM scratch\nCOPY --from=build /out/ /\nCOPY --from=0 /bin/busybox /bin/\n",
        )],
    );
    let out = build(&env, &dir, &["-t", "final"]);
    assert!(out.contains("Step 5/7 : FROM scratch\n"), "{out}");
    assert_eq!(
        run_out(&env, &["final", "/bin/busybox", "cat", "/artifact"]),
        "built"
    );
    let out = build(&env, &dir, &["--target", "build", "-t", "first"]);
    assert!(out.contains("Step 2/2 : RUN mkdir"), "{out}");
    assert!(!out.contains("testing"));
    let err = fails(
        &env,
        &["build", "--target", "nope", dir.to_str().unwrap()],
        1,
    );
    assert!(
        err.contains("failed to reach build target nope in Dockerfile"),
        "{err}"
    );
    assert_settled(&mut env);
}

fn the_cache_keys_on_content_not_mtime() {
    let mut env = with_busybox("md-build-cache", &[]);
    let dir = context(
        &env,
        "ctx",
        &[
            ("one.txt", "1\n"),
            ("two.txt", "2\n"),
            (
                "Dockerfile",
                "FROM busybox\nENV X=1\nCOPY one.txt /\nRUN echo ran\nCOPY two.txt /\nCMD [\"true\"]\n",
            ),
        ],
    );
    let first = build(&env, &dir, &[]);
    assert!(!first.contains("Using cache"), "{first}");
    let again = build(&env, &dir, &[]);
    assert_eq!(again.matches(" ---> Using cache\n").count(), 5, "{again}");
    assert!(!again.contains("\nran\n"));
    // A new mtime is not a change.
    let file = std::fs::File::options()
        .append(true)
        .open(dir.join("one.txt"))
        .unwrap();
    file.set_modified(std::time::SystemTime::UNIX_EPOCH)
        .unwrap();
    assert_eq!(build(&env, &dir, &[]).matches("Using cache").count(), 5);
    // New content invalidates its COPY and everything after it.
    std::fs::write(dir.join("one.txt"), "changed\n").unwrap();
    let changed = build(&env, &dir, &[]);
    assert_eq!(changed.matches("Using cache").count(), 1, "{changed}");
    assert!(changed.contains("\nran\n"));
    // So does a new mode.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir.join("two.txt"), std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(build(&env, &dir, &[]).matches("Using cache").count(), 3);
    // --no-cache takes nothing from it.
    assert!(!build(&env, &dir, &["--no-cache"]).contains("Using cache"));
    assert_settled(&mut env);
}

fn dockerignore_follows_dockers_rules() {
    let mut env = with_busybox("md-build-ignore", &[]);
    let dir = context(
        &env,
        "ctx",
        &[
            (
                ".dockerignore",
                "# comment\nsecret*\n**/*.md\n!docs/README.md\nbuild/\n",
            ),
            ("keep.txt", "k"),
            ("secret.key", "s"),
            ("docs/guide.md", "g"),
            ("docs/README.md", "r"),
            ("build/out.o", "o"),
            ("src/deep/x.md", "x"),
            ("src/deep/y.rs", "y"),
            ("Dockerfile", "FROM busybox\nCOPY . /ctx/\n"),
        ],
    );
    let id = build_q(&env, &dir, &[]);
    let files = run_out(&env, &[&id, "find", "/ctx", "-type", "f"]);
    let mut files: Vec<&str> = files.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/docs/README.md",
            "/ctx/keep.txt",
            "/ctx/src/deep/y.rs"
        ]
    );
    let dir2 = context(
        &env,
        "ctx2",
        &[
            (".dockerignore", "secret.key\n"),
            ("secret.key", "s"),
            ("Dockerfile", "FROM busybox\nCOPY secret.key /\n"),
        ],
    );
    let err = fails(&env, &["build", dir2.to_str().unwrap()], 1);
    assert!(
        err.contains("COPY failed: file not found in build context or excluded by .dockerignore: stat secret.key: file does not exist"),
        "{err}"
    );
    assert_settled(&mut env);
}

/// Each malformed Dockerfile fails as Docker's classic builder fails.
fn malformed_dockerfiles_fail_with_dockers_messages() {
    let mut env = with_busybox("md-build-errors", &[]);
    let cases: [(&str, i32, &str); 10] = [
        ("FROM busybox\nFOO bar\n", 1, "Error response from daemon: dockerfile parse error line 2: unknown instruction: FOO\n"),
        ("RUN true\n", 1, "Error response from daemon: no build stage in current context\n"),
        ("", 1, "Error response from daemon: the Dockerfile (Dockerfile) cannot be empty\n"),
        ("FROM busybox\nCMD [\"a\", 1]\n", 1, "Error response from daemon: failed to parse Dockerfile: when using JSON array syntax, arrays must be comprised of strings only\n"),
        ("FROM busybox\nCOPY nothere /x\n", 1, "COPY failed: file not found in build context or excluded by .dockerignore: stat nothere: file does not exist\n"),
        ("FROM busybox\nCOPY onlyone\n", 1, "Error response from daemon: dockerfile parse error line 2: COPY requires at least two arguments, but only one was provided. Destination could not be determined\n"),
        ("FROM busybox\nRUN exit 3\n", 3, "The command '/bin/sh -c exit 3' returned a non-zero code: 3\n"),
        ("FROM busybox\nRUN [\"sh\", \"-c\", \"exit 4\"]\n", 4, "The command 'sh -c exit 4' returned a non-zero code: 4\n"),
        ("FROM busybox\nSTOPSIGNAL FOO\n", 1, "Invalid signal: FOO\n"),
        ("FROM busybox\nEXPOSE abc\n", 1, "Invalid containerPort: abc\n"),
    ];
    for (n, (text, code, message)) in cases.iter().enumerate() {
        let dir = context(&env, &format!("e{n}"), &[("Dockerfile", text)]);
        let err = fails(&env, &["build", "--force-rm", dir.to_str().unwrap()], *code);
        assert_eq!(err, *message, "{text}");
    }
    // Nothing left with --force-rm; without it Docker keeps the failed
    // step's container, and so does mini-docker.
    assert_eq!(ok(&env, &["ps", "-aq"]), "");
    let dir = env.path("e6");
    fails(&env, &["build", dir.to_str().unwrap()], 3);
    let left = ok(&env, &["ps", "-aq"]);
    assert_eq!(left.lines().count(), 1);
    ok(&env, &["rm", left.trim()]);
    assert_settled(&mut env);
}

/// Serves `body` to one GET on a loopback port; returns the URL.
fn serve_once(body: Vec<u8>) -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files/hello.txt", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request);
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
    });
    (url, handle)
}

fn add_extracts_archives_and_downloads_urls() {
    let mut env = with_busybox("md-build-add", &[]);
    let dir = context(&env, "ctx", &[("tarsrc/inner/f", "in tar\n")]);
    for (name, flag) in [
        ("a.tar.gz", "-z"),
        ("a.tar.bz2", "-j"),
        ("a.tar.xz", "-J"),
        ("a.tar", ""),
    ] {
        let mut cmd = std::process::Command::new("tar");
        cmd.arg("-C").arg(dir.join("tarsrc")).arg("-c");
        if !flag.is_empty() {
            cmd.arg(flag);
        }
        let status = cmd.arg("-f").arg(dir.join(name)).arg(".").status().unwrap();
        assert!(status.success());
    }
    let (url, server) = serve_once(b"downloaded\n".to_vec());
    std::fs::write(
        dir.join("Dockerfile"),
        format!("FROM busybox\nADD a.tar.gz /gz/\nADD a.tar.bz2 /bz\nADD a.tar.xz /xz/\nADD a.tar /plain/\nCOPY a.tar.gz /copied/\nADD {url} /web/\n"),
    )
    .unwrap();
    let id = build_q(&env, &dir, &[]);
    server.join().unwrap();
    let out = run_out(
        &env,
        &[
            &id,
            "sh",
            "-c",
            "cat /gz/inner/f /bz/inner/f /xz/inner/f /plain/inner/f /web/hello.txt; ls /copied; stat -c %a /web/hello.txt",
        ],
    );
    assert_eq!(
        out,
        "in tar\nin tar\nin tar\nin tar\ndownloaded\na.tar.gz\n600"
    );
    assert_settled(&mut env);
}

/// Runs `build ARGS` with `input` on stdin; returns the image ID (`-q`).
fn build_stdin(env: &TestEnv, args: &[&str], input: &[u8]) -> String {
    let mut child = md_command(env, "root")
        .arg("build")
        .arg("-q")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn contexts_from_stdin_and_dockerfiles_elsewhere() {
    let mut env = with_busybox("md-build-stdin", &[]);
    let dir = context(&env, "ctx", &[("f.txt", "from context\n")]);
    let outside = env.path("outside.Dockerfile");
    std::fs::write(&outside, "FROM busybox\nCOPY f.txt /\n").unwrap();
    // -f outside the context.
    let id = build_q(&env, &dir, &["-f", outside.to_str().unwrap()]);
    assert_eq!(run_out(&env, &[&id, "cat", "/f.txt"]), "from context");
    // -f - : the Dockerfile on stdin.
    let id = build_stdin(
        &env,
        &["-f", "-", dir.to_str().unwrap()],
        b"FROM busybox\nCOPY f.txt /g.txt\n",
    );
    assert_eq!(run_out(&env, &[&id, "cat", "/g.txt"]), "from context");
    // A tar on stdin is the context, its Dockerfile inside.
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY f.txt /h.txt\n").unwrap();
    let tar = std::process::Command::new("tar")
        .arg("-C")
        .arg(&dir)
        .arg("-c")
        .arg(".")
        .output()
        .unwrap();
    let id = build_stdin(&env, &["-"], &tar.stdout);
    assert_eq!(run_out(&env, &[&id, "cat", "/h.txt"]), "from context");
    assert_settled(&mut env);
}

fn flags_quiet_iidfile_labels_and_build_args() {
    let mut env = with_busybox("md-build-flags", &[]);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "ARG BASE=busybox\nFROM $BASE\nARG WHO=world\nRUN echo hello $WHO > /greeting\n",
        )],
    );
    let iid = env.path("iid");
    let id = build_q(
        &env,
        &dir,
        &[
            "--build-arg",
            "WHO=you",
            "--label",
            "team=a",
            "--iidfile",
            iid.to_str().unwrap(),
            "-t",
            "flags",
        ],
    );
    assert!(id.starts_with("sha256:"), "{id}");
    assert_eq!(std::fs::read_to_string(&iid).unwrap(), id);
    assert_eq!(run_out(&env, &["flags", "cat", "/greeting"]), "hello you");
    assert_eq!(
        image_field(&env, "flags", "{{index .Config.Labels \"team\"}}"),
        "a"
    );
    let history = ok(
        &env,
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "flags",
        ],
    );
    assert!(
        history.contains("|1 WHO=you /bin/sh -c echo hello $WHO > /greeting"),
        "{history}"
    );
    let out = build(&env, &dir, &["--build-arg", "UNUSED=1"]);
    assert!(
        out.contains("[Warning] One or more build-args [UNUSED] were not consumed\n"),
        "{out}"
    );
    // The predefined proxy arguments reach RUN without an ARG, and stay
    // out of the history and of the unused warning.
    let proxy = context(
        &env,
        "proxy",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN echo \"[$HTTP_PROXY]\" > /p\n",
        )],
    );
    let out = build(
        &env,
        &proxy,
        &[
            "--build-arg",
            "HTTP_PROXY=http://127.0.0.1:9",
            "-t",
            "proxy",
        ],
    );
    assert!(!out.contains("[Warning]"), "{out}");
    assert_eq!(
        run_out(&env, &["proxy", "cat", "/p"]),
        "[http://127.0.0.1:9]"
    );
    let history = ok(
        &env,
        &[
            "history",
            "--no-trunc",
            "--format",
            "{{.CreatedBy}}",
            "proxy",
        ],
    );
    assert!(
        history.starts_with("/bin/sh -c echo \"[$HTTP_PROXY]\" > /p\n"),
        "{history}"
    );
    assert_settled(&mut env);
}

fn builder_prune_and_image_prune_keep_what_they_should() {
    let mut env = with_busybox("md-build-prune", &[]);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nENV A=1\nRUN echo x > /x\nCMD [\"true\"]\n",
        )],
    );
    build_q(&env, &dir, &["-t", "live"]);
    // Intermediate images are hidden from `images`, listed by `images -a`.
    assert_eq!(ok(&env, &["images", "-q"]).lines().count(), 2);
    assert_eq!(ok(&env, &["images", "-aq"]).lines().count(), 4);
    let df = ok(&env, &["system", "df"]);
    assert!(df.contains("Build Cache     3         3"), "{df}");
    // image prune leaves the cache of a live image alone.
    ok(&env, &["image", "prune", "-f"]);
    assert_eq!(ok(&env, &["images", "-aq"]).lines().count(), 4);
    assert_eq!(build(&env, &dir, &[]).matches("Using cache").count(), 3);
    // Dangling build cache is what no tagged image is built on.
    assert_eq!(ok(&env, &["builder", "prune", "-f"]), "Total:\t0B\n");
    ok(&env, &["rmi", "live"]);
    let out = ok(&env, &["builder", "prune", "-f"]);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert_eq!(ok(&env, &["images", "-aq"]).lines().count(), 1);
    // -a also takes the cache of live images.
    build_q(&env, &dir, &["-t", "live"]);
    ok(&env, &["builder", "prune", "-a", "-f"]);
    assert!(!build(&env, &dir, &[]).contains("Using cache"));
    assert_settled(&mut env);
}

/// A built image pushed to the Debian registry on loopback is pulled and
/// run by Docker unchanged (the suite's dockerd: `DOCKER_HOST`; skipped
/// without one, except in CI).
fn docker_pulls_and_runs_a_built_image() {
    let Ok(docker_host) = std::env::var("DOCKER_HOST") else {
        testkit::skip("no DOCKER_HOST (scripts/test.sh starts the suite's dockerd)");
    };
    let mut env = with_busybox("md-build-push", &[]);
    let registry = RealRegistry::start(&env);
    let dir = context(
        &env,
        "ctx",
        &[
            ("msg", "pushed and pulled\n"),
            (
                "Dockerfile",
                "FROM busybox\nCOPY msg /srv/msg\nRUN chmod 600 /srv/msg && ln -s /srv/msg /msg\nWORKDIR /srv\nENTRYPOINT [\"cat\"]\nCMD [\"msg\"]\n",
            ),
        ],
    );
    let remote = format!("{}/built/app-{}:1", registry.addr, env.token());
    build_q(&env, &dir, &["-t", &remote]);
    ok(&env, &["push", &remote]);
    let docker = |args: &[&str]| {
        std::process::Command::new("/usr/bin/docker")
            .args(args)
            .env("DOCKER_HOST", &docker_host)
            .output()
            .unwrap()
    };
    let pulled = docker(&["pull", "-q", &remote]);
    assert!(pulled.status.success(), "{pulled:?}");
    let run = docker(&["run", "--rm", "--network", "none", &remote]);
    let ls = docker(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "ls",
        &remote,
        "-l",
        "/srv/msg",
        "/msg",
    ]);
    let history = docker(&[
        "history",
        "--format",
        "{{.CreatedBy}}",
        "--no-trunc",
        &remote,
    ]);
    docker(&["rmi", &remote]);
    assert_eq!(String::from_utf8_lossy(&run.stdout), "pushed and pulled\n");
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    assert!(
        ls.contains("-rw-------") && ls.contains("/msg -> /srv/msg"),
        "{ls}"
    );
    let history = String::from_utf8_lossy(&history.stdout).into_owned();
    assert!(
        history.starts_with("/bin/sh -c #(nop)  CMD [\"msg\"]\n"),
        "{history}"
    );
    drop(registry);
    assert_settled(&mut env);
}

/// `RUN` is on the default bridge, unless `RUN --network` or `build
/// --network` say otherwise.
fn run_steps_get_the_network_asked_for() {
    let mut env = with_busybox("md-build-net", &[]);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nRUN ls /sys/class/net | tr '\\n' ' ' > /default\nRUN --network=none ls /sys/class/net > /none\n",
        )],
    );
    let id = build_q(&env, &dir, &[]);
    assert_eq!(
        run_out(&env, &[&id, "cat", "/default", "/none"]),
        "eth0 lo lo"
    );
    let id = build_q(&env, &dir, &["--no-cache", "--network", "none"]);
    assert_eq!(run_out(&env, &[&id, "cat", "/default"]), "lo");
    assert_settled(&mut env);
}

/// Heredocs (BuildKit's syntax, which current Docker's parser has):
/// `COPY <<NAME` writes a file (expanded unless the name is quoted),
/// `RUN <<NAME` runs a script.
fn heredocs_write_files_and_scripts() {
    let mut env = with_busybox("md-build-heredoc", &[]);
    let dir = context(
        &env,
        "ctx",
        &[(
            "Dockerfile",
            "FROM busybox\nARG X=val\nCOPY <<NOTE /note.txt\nnote $X\nNOTE\nCOPY <<-\"RAW\" /raw.txt\n\traw $X\n\tRAW\nRUN <<SCRIPT\nset -e\ncat /note.txt /raw.txt > /both\nSCRIPT\n",
        )],
    );
    let id = build_q(&env, &dir, &[]);
    assert_eq!(run_out(&env, &[&id, "cat", "/both"]), "note val\nraw $X");
    assert_settled(&mut env);
}

/// A `FROM` image that is not in the store is pulled (from a loopback
/// registry here), and `--pull` pulls it even when it is.
fn from_pulls_a_missing_base_and_pull_refreshes_it() {
    let mut env = with_busybox("md-build-pull", &[]);
    let registry = RealRegistry::start(&env);
    let base = format!("{}/base/busybox:1", registry.addr);
    ok(&env, &["tag", "busybox", &base]);
    ok(&env, &["push", &base]);
    let text = format!("FROM {base}\nRUN echo on the pulled base > /o\n");
    let dir = context(&env, "ctx", &[("Dockerfile", &text)]);
    // Store "b" has no images at all.
    let out = ok_in(&env, "b", &["build", "-q", dir.to_str().unwrap()]);
    let id = out.trim();
    assert!(id.starts_with("sha256:"), "{out}");
    let run = ok_in(
        &env,
        "b",
        &["run", "--rm", "--network", "none", id, "cat", "/o"],
    );
    assert_eq!(run, "on the pulled base\n");
    let out = md_in(&env, "b", &["build", "--pull", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Status: Image is up to date for"),
        "{stderr}"
    );
    drop(registry);
    assert_settled(&mut env);
}

testkit::main![
    every_instruction_makes_dockers_image,
    cmd_and_entrypoint_combine_as_dockers_table,
    shell_form_keeps_the_shell_as_pid_1,
    multi_stage_copy_from_and_target,
    the_cache_keys_on_content_not_mtime,
    dockerignore_follows_dockers_rules,
    malformed_dockerfiles_fail_with_dockers_messages,
    add_extracts_archives_and_downloads_urls,
    contexts_from_stdin_and_dockerfiles_elsewhere,
    flags_quiet_iidfile_labels_and_build_args,
    builder_prune_and_image_prune_keep_what_they_should,
    docker_pulls_and_runs_a_built_image,
    run_steps_get_the_network_asked_for,
    heredocs_write_files_and_scripts,
    from_pulls_a_missing_base_and_pull_refreshes_it,
];
