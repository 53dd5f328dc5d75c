//! chroot-demo driven as a workshop attendee would, on the real kernel.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use testkit::{wait_until, TestEnv};

const BIN: &str = env!("CARGO_BIN_EXE_chroot-demo");

fn demo(env: &TestEnv, args: &[&str]) -> Output {
    env.command(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run chroot-demo")
}

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

fn host_mounts_under(path: &Path) -> usize {
    testkit::leaks::mount_points()
        .iter()
        .filter(|m| Path::new(m).starts_with(path))
        .count()
}

fn escape_succeeds_under_chroot_and_fails_after_pivot_root() {
    let env = TestEnv::root("chroot-escape");
    let rootfs = env.rootfs();
    let out = demo(&env, &["escape", rootfs.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let escaped = stdout.find("ESCAPED").expect("chroot escape reported");
    let contained = stdout
        .find("CONTAINED")
        .expect("pivot_root containment reported");
    assert!(escaped < contained, "{stdout}");
    // The host file the escape reached is printed; the rootfs has no such file.
    let host_line = std::fs::read_to_string("/etc/os-release")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("PRETTY_NAME="))
        .unwrap()
        .to_string();
    let after_escape = &stdout[escaped..contained];
    assert!(after_escape.contains(&host_line), "{stdout}");
    assert!(!stdout[contained..].contains(&host_line), "{stdout}");
    // The scratch directories of both attempts are gone.
    let leftovers: Vec<_> = std::fs::read_dir(&rootfs)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".escape"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn chroot_keeps_the_hosts_pid_numbering_and_hostname() {
    let env = TestEnv::root("chroot-run");
    let rootfs = env.rootfs();
    let out = demo(
        &env,
        &[
            "run",
            "--proc",
            rootfs.to_str().unwrap(),
            "/bin/sh",
            "-c",
            "echo inner-pid=$$; echo inner-host=$(hostname); ls /proc/1/ >/dev/null && echo sees-host-pid1",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    let host = nix::unistd::gethostname().unwrap();
    assert!(
        stdout.contains(&format!("inner-host={}", host.to_string_lossy())),
        "{stdout}"
    );
    // The PID the shell sees is the one the narration reported from the host's numbering.
    let narrated = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("my pid is "))
        .and_then(|l| l.split(':').next())
        .expect("narrated pid")
        .to_string();
    let inner_pid: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("inner-pid="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(inner_pid > 1, "chroot gives no PID namespace: {inner_pid}");
    let narrated_inner = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("my pid is "))
        .nth(1)
        .and_then(|l| l.split(':').next())
        .unwrap()
        .parse::<u32>()
        .unwrap();
    assert_eq!(narrated_inner, inner_pid, "{stdout}");
    assert_ne!(narrated, narrated_inner.to_string());
    assert!(stdout.contains("sees-host-pid1"), "{stdout}");
    assert_eq!(
        host_mounts_under(&rootfs),
        0,
        "the /proc mount was left behind"
    );
}

fn exit_codes_follow_the_shell() {
    let env = TestEnv::root("chroot-exit");
    let rootfs = env.rootfs();
    let root = rootfs.to_str().unwrap();
    let code = |args: &[&str]| demo(&env, args).status.code();
    assert_eq!(code(&["run", root, "/bin/sh", "-c", "exit 7"]), Some(7));
    assert_eq!(code(&["run", root, "/no/such/command"]), Some(127));
    assert_eq!(code(&["pivot", root, "/bin/sh", "-c", "exit 3"]), Some(3));
    let missing = demo(&env, &["run", "/no/such/rootfs"]);
    assert_eq!(missing.status.code(), Some(1));
    let err = text(&missing.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("rootfs /no/such/rootfs"), "{err}");
}

fn pivot_root_shows_only_the_new_root_and_leaves_the_host_alone() {
    let env = TestEnv::root("chroot-pivot");
    let rootfs = env.rootfs();
    let out = demo(
        &env,
        &[
            "--explain",
            "pivot",
            rootfs.to_str().unwrap(),
            "/bin/cat",
            "/proc/self/mountinfo",
        ],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("+ pivot_root . ."), "{stdout}");
    assert!(stdout.contains("+ mount --make-rprivate /"), "{stdout}");
    let after_exec: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("== exec"))
        .skip(2) // the heading and the explain line of exec
        .take_while(|l| !l.starts_with("=="))
        .collect();
    assert_eq!(after_exec.len(), 2, "only / and /proc: {stdout}");
    assert!(after_exec[0].contains(" / "), "{stdout}");
    assert!(after_exec[1].contains(" /proc "), "{stdout}");
    assert!(stdout.contains("0 mounts under the rootfs"), "{stdout}");
}

fn pivot_root_on_a_shared_root_fails_with_einval_explained() {
    let env = TestEnv::root("chroot-shared");
    let rootfs = env.rootfs();
    let out = demo(&env, &["pivot", "--shared-root", rootfs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("pivot_root . . failed: EINVAL"), "{err}");
    assert!(err.contains("mount --make-rprivate /"), "{err}");
}

/// A demo interrupted while its command runs removes its host mount (SIGTERM
/// to the demo, and Ctrl-C delivered to the whole process group as a
/// terminal does) and leaves no process behind.
fn interrupted_demo_cleans_up() {
    let env = TestEnv::root("chroot-interrupt");
    let rootfs = env.rootfs();
    let proc_dir = rootfs.join("proc");
    for (signal, group, expected) in [(Signal::SIGTERM, false, 143), (Signal::SIGINT, true, 130)] {
        let mut cmd = env.command(BIN);
        cmd.args([
            "run",
            "--proc",
            rootfs.to_str().unwrap(),
            "/bin/sleep",
            "60",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().unwrap();
        wait_until("the /proc mount", || host_mounts_under(&proc_dir) == 1);
        // Let the demo reach its wait for the command.
        std::thread::sleep(Duration::from_millis(200));
        let pid = Pid::from_raw(child.id() as i32);
        if group {
            killpg(pid, signal).unwrap();
        } else {
            kill(pid, signal).unwrap();
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(expected), "{signal}");
        assert_eq!(
            host_mounts_under(&proc_dir),
            0,
            "{signal}: /proc left mounted"
        );
    }
}

fn prepare_rootfs_is_idempotent_and_refuses_bad_input() {
    let env = TestEnv::root("chroot-prepare");
    let out = demo(&env, &["prepare-rootfs", "fresh"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("prepared: busybox rootfs in fresh ("));
    assert!(env.path("fresh/bin/sh").exists());
    let again = demo(&env, &["prepare-rootfs", "fresh"]);
    assert!(text(&again.stdout).starts_with("already prepared"));

    std::fs::create_dir(env.path("busy")).unwrap();
    std::fs::write(env.path("busy/file"), "x").unwrap();
    let busy = demo(&env, &["prepare-rootfs", "busy"]);
    assert_eq!(busy.status.code(), Some(1));
    assert!(text(&busy.stderr).contains("is not a busybox rootfs"));

    let dynamic = demo(&env, &["prepare-rootfs", "dyn", "--busybox", "/bin/sh"]);
    assert_eq!(dynamic.status.code(), Some(1));
    assert!(text(&dynamic.stderr).contains("dynamically linked"));
    let names: Vec<String> = std::fs::read_dir(env.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.contains("dyn")),
        "half-written: {names:?}"
    );
}

fn pause_waits_for_enter_between_steps() {
    let env = TestEnv::root("chroot-pause");
    let rootfs = env.rootfs();
    let mut child = env
        .command(BIN)
        .args(["--pause", "escape", rootfs.to_str().unwrap()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Three pauses (before steps 2, 3 and 4), answered with Enter.
    use std::io::Write as _;
    child.stdin.take().unwrap().write_all(b"\n\n\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(stdout.matches("[Enter to continue]").count(), 3, "{stdout}");
}

/// After `kill -9` no handler runs; `clean ROOTFS` unmounts the /proc it left.
fn clean_removes_what_a_killed_demo_left() {
    let mut env = TestEnv::root("chroot-clean");
    let rootfs = env.rootfs();
    let root = rootfs.to_str().unwrap().to_string();
    let mut job = env.start_job(BIN, &["run", "--proc", &root, "/bin/sleep", "60"], |_| {
        Vec::new()
    });
    let proc_dir = rootfs.join("proc");
    wait_until("the /proc mount", || host_mounts_under(&proc_dir) == 1);
    testkit::kill_9(&mut job);
    assert_eq!(host_mounts_under(&proc_dir), 1, "kill -9 ran no clean-up");
    let out = demo(&env, &["clean", &root]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!("unmounted {}\n", proc_dir.display())
    );
    assert_eq!(host_mounts_under(&proc_dir), 0);
}

testkit::main![
    escape_succeeds_under_chroot_and_fails_after_pivot_root,
    chroot_keeps_the_hosts_pid_numbering_and_hostname,
    exit_codes_follow_the_shell,
    pivot_root_shows_only_the_new_root_and_leaves_the_host_alone,
    pivot_root_on_a_shared_root_fails_with_einval_explained,
    interrupted_demo_cleans_up,
    prepare_rootfs_is_idempotent_and_refuses_bad_input,
    pause_waits_for_enter_between_steps,
    clean_removes_what_a_killed_demo_left,
];
