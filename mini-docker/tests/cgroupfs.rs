//! The cgroup filesystem inside containers and `--cgroupns`, on the real
//! kernel, on whichever cgroup version the host has: the container's own
//! limits at `/sys/fs/cgroup`, read-only unless `--privileged`, the cgroup
//! namespace per mode (Docker's default: private on v2, host on v1), and
//! `exec` in the same namespace. Each test has its own store and cgroup
//! parent, and checks that nothing is left — no mount on the host above
//! all.

mod support;

use std::path::PathBuf;

use cgroup_demo::{Layout, Version};
use support::*;
use testkit::TestEnv;

const MODES: [&str; 2] = ["private", "host"];

fn layout() -> Layout {
    Layout::detect().expect("the host's cgroup layout")
}

/// The container's cgroup, relative to each hierarchy's root.
fn cgroup(env: &TestEnv, id: &str) -> String {
    format!("mini-docker-{}/{id}", env.token())
}

/// A shell snippet printing the container's memory and pids limits as it
/// sees them at `/sys/fs/cgroup`. On v2 the container's cgroup is the
/// mount's root in a private namespace, and the path `/proc/self/cgroup`
/// names in the host's (runc shows the whole hierarchy there).
fn print_limits(version: Version) -> &'static str {
    match version {
        Version::V2 => {
            "p=$(sed -n 's/^0:://p' /proc/self/cgroup); \
             cat /sys/fs/cgroup$p/memory.max /sys/fs/cgroup$p/pids.max"
        }
        Version::V1 => {
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max"
        }
    }
}

/// A limit file of the container's cgroup inside it (`in_container`) and
/// on the host.
fn pids_max(version: Version, layout: &Layout, cgroup: &str) -> (String, PathBuf) {
    match version {
        Version::V2 => (
            "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/pids.max".into(),
            layout
                .unified
                .clone()
                .unwrap()
                .join(cgroup)
                .join("pids.max"),
        ),
        Version::V1 => (
            "/sys/fs/cgroup/pids/pids.max".into(),
            layout
                .v1_root("pids")
                .unwrap()
                .join(cgroup)
                .join("pids.max"),
        ),
    }
}

/// The lines of `/proc/self/cgroup` for the hierarchies mini-docker puts
/// the container in: `0::` on v2, `memory` on v1.
fn managed_lines(version: Version, text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| match version {
            Version::V2 => l.starts_with("0::"),
            Version::V1 => l.split(':').nth(1) == Some("memory"),
        })
        .map(str::to_string)
        .collect()
}

/// No mount of the test's cgroups reached the host's mount table.
fn assert_no_host_mounts(env: &TestEnv) {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let leaked: Vec<&str> = mountinfo
        .lines()
        .filter(|l| l.contains(env.token()))
        .collect();
    assert!(leaked.is_empty(), "mounts on the host: {leaked:?}");
}

fn limits_and_the_cgroup_namespace_are_visible_inside_in_both_modes() {
    let mut env = with_busybox("md-cgfs-limits", &[]);
    let version = layout().version();
    for mode in MODES {
        let name = env.name(&mode[..1]);
        let script = format!("{}; cat /proc/self/cgroup", print_limits(version));
        let out = ok(
            &env,
            &[
                "run",
                "--name",
                &name,
                "--network",
                "none",
                "--cgroupns",
                mode,
                "-m",
                "48m",
                "--pids-limit",
                "33",
                "busybox",
                "sh",
                "-c",
                &script,
            ],
        );
        let mut lines = out.lines();
        assert_eq!(lines.next(), Some("50331648"), "{mode}: {out}");
        assert_eq!(lines.next(), Some("33"), "{mode}: {out}");
        let own: String = lines.map(|l| format!("{l}\n")).collect();
        let id = inspect(&env, &name, "{{.Id}}");
        assert_eq!(inspect(&env, &name, "{{.HostConfig.CgroupnsMode}}"), mode);
        let managed = managed_lines(version, &own);
        assert_eq!(managed.len(), 1, "{mode}: {own}");
        if mode == "private" {
            // The namespace is rooted at the container's cgroup, in every
            // hierarchy.
            assert!(own.lines().all(|l| l.ends_with(":/")), "{own}");
            if version == Version::V2 {
                assert_eq!(own, "0::/\n");
            }
        } else {
            let path = format!("/{}", cgroup(&env, &id));
            assert!(managed[0].ends_with(&format!(":{path}")), "{own}");
        }
        ok(&env, &["rm", &name]);
    }
    assert_no_host_mounts(&env);
    assert_settled(&mut env);
}

fn cgroupfs_is_read_only_and_host_limits_stay() {
    let mut env = with_busybox("md-cgfs-ro", &[]);
    let layout = layout();
    let version = layout.version();
    for mode in MODES {
        let name = env.name(&mode[..1]);
        let args = [
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--cgroupns",
            mode,
            "--pids-limit",
            "33",
            "busybox",
            "sleep",
            "1000",
        ];
        ok(&env, &args);
        let id = inspect(&env, &name, "{{.Id}}");
        let (inside, host) = pids_max(version, &layout, &cgroup(&env, &id));
        let script = format!("mkdir /sys/fs/cgroup/probe; echo 1 > {inside}");
        let out = md_in(&env, "root", &["exec", &name, "sh", "-c", &script]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode}: {stderr}");
        assert_eq!(
            stderr.matches("Read-only file system").count(),
            2,
            "{mode}: {stderr}"
        );
        assert_eq!(std::fs::read_to_string(&host).unwrap().trim(), "33");
        ok(&env, &["rm", "-f", &name]);
    }
    assert_no_host_mounts(&env);
    assert_settled(&mut env);
}

fn privileged_containers_get_it_read_write() {
    let mut env = with_busybox("md-cgfs-priv", &[]);
    let version = layout().version();
    // A child cgroup of the container's own, made and removed from inside.
    let probe = match version {
        Version::V2 => "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)/probe",
        Version::V1 => "/sys/fs/cgroup/memory/probe",
    };
    let script = format!(
        "mkdir {probe} && rmdir {probe} && echo made; \
         grep ' /sys/fs/cgroup ' /proc/self/mountinfo | cut -d' ' -f6 | cut -d, -f1"
    );
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--privileged",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            &script,
        ],
    );
    assert_eq!(out, "made\nrw\n");
    assert_no_host_mounts(&env);
    assert_settled(&mut env);
}

fn exec_joins_the_containers_cgroup_namespace() {
    let mut env = with_busybox("md-cgfs-exec", &[]);
    let version = layout().version();
    for mode in MODES {
        let name = env.name(&mode[..1]);
        let args = [
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            "--cgroupns",
            mode,
            "-m",
            "48m",
            "--pids-limit",
            "33",
            "busybox",
            "sleep",
            "1000",
        ];
        ok(&env, &args);
        let script = format!(
            "readlink /proc/self/ns/cgroup; readlink /proc/1/ns/cgroup; {}; cat /proc/self/cgroup",
            print_limits(version)
        );
        let out = ok(&env, &["exec", &name, "sh", "-c", &script]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines.len() > 4, "{mode}: {out}");
        assert!(lines[0].starts_with("cgroup:["), "{mode}: {out}");
        assert_eq!(lines[0], lines[1], "{mode}: not the container's namespace");
        assert_eq!(&lines[2..4], ["50331648", "33"], "{mode}: {out}");
        let own: String = lines[4..].iter().map(|l| format!("{l}\n")).collect();
        let expected = match mode {
            "private" => "/".to_string(),
            _ => format!("/{}", cgroup(&env, &inspect(&env, &name, "{{.Id}}"))),
        };
        let managed = managed_lines(version, &own);
        assert_eq!(managed.len(), 1, "{mode}: {own}");
        assert!(
            managed[0].ends_with(&format!(":{expected}")),
            "{mode}: {own}"
        );
        ok(&env, &["rm", "-f", &name]);
    }
    assert_no_host_mounts(&env);
    assert_settled(&mut env);
}

fn cgroupns_flag_is_checked_and_recorded_with_dockers_default() {
    let mut env = with_busybox("md-cgfs-flag", &[]);
    for bad in ["bogus", "container:x"] {
        let err = fails(
            &env,
            &["run", "--rm", "--cgroupns", bad, "busybox", "true"],
            125,
        );
        assert_eq!(err, "Error: --cgroupns: invalid CGROUP mode\n");
        let err = fails(&env, &["create", "--cgroupns", bad, "busybox"], 125);
        assert_eq!(err, "Error: --cgroupns: invalid CGROUP mode\n");
    }
    assert_eq!(ok(&env, &["ps", "-a", "-q"]), "", "nothing was created");
    let default = match layout().version() {
        Version::V2 => "private",
        Version::V1 => "host",
    };
    for (flag, recorded) in [
        (None, default),
        (Some("host"), "host"),
        (Some("private"), "private"),
        (Some(""), default),
    ] {
        let name = env.name("c");
        let mut args = vec!["create", "--name", name.as_str()];
        if let Some(flag) = flag {
            args.extend(["--cgroupns", flag]);
        }
        args.push("busybox");
        ok(&env, &args);
        assert_eq!(
            inspect(&env, &name, "{{.HostConfig.CgroupnsMode}}"),
            recorded,
            "{flag:?}"
        );
        ok(&env, &["rm", &name]);
    }
    assert_settled(&mut env);
}

fn a_bind_mount_at_sys_fs_cgroup_replaces_the_view() {
    let mut env = with_busybox("md-cgfs-bind", &[]);
    let dir = env.path("fake-cgroupfs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("marker"), "the user's\n").unwrap();
    let volume = format!("{}:/sys/fs/cgroup:ro", dir.display());
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &volume,
            "busybox",
            "cat",
            "/sys/fs/cgroup/marker",
        ],
    );
    assert_eq!(out, "the user's\n");
    assert_no_host_mounts(&env);
    assert_settled(&mut env);
}

testkit::main![
    limits_and_the_cgroup_namespace_are_visible_inside_in_both_modes,
    cgroupfs_is_read_only_and_host_limits_stay,
    privileged_containers_get_it_read_write,
    exec_joins_the_containers_cgroup_namespace,
    cgroupns_flag_is_checked_and_recorded_with_dockers_default,
    a_bind_mount_at_sys_fs_cgroup_replaces_the_view,
];
