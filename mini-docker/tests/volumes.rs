//! Volumes, bind mounts, tmpfs and the data-container pattern, on the real
//! kernel, each test with its own store.

mod support;

use support::*;

fn named_volumes_outlive_containers_and_are_shared() {
    let mut env = with_busybox("md-vol-named", &[]);
    ok(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
    );
    assert_eq!(
        ok(
            &env,
            &[
                "run",
                "--rm",
                "-v",
                "data:/data",
                "busybox",
                "cat",
                "/data/f"
            ]
        ),
        "kept\n"
    );
    // Two containers at once see each other's writes: one volume, two mounts.
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "writer",
            "-v",
            "data:/data",
            "busybox",
            "sh",
            "-c",
            "echo live > /data/live; exec sleep 1000",
        ],
    );
    testkit::wait_until("the writer", || {
        md_in(
            &env,
            "root",
            &[
                "run", "--rm", "-v", "data:/d", "busybox", "test", "-e", "/d/live",
            ],
        )
        .status
        .success()
    });
    let listed = ok(&env, &["volume", "ls"]);
    assert_eq!(listed, "DRIVER    VOLUME NAME\nlocal     data\n");
    let inspected: serde_json::Value =
        serde_json::from_str(&ok(&env, &["volume", "inspect", "data"])).unwrap();
    assert_eq!(inspected[0]["Name"], "data");
    assert_eq!(inspected[0]["Driver"], "local");
    assert!(inspected[0]["Mountpoint"]
        .as_str()
        .unwrap()
        .ends_with("/volumes/data/_data"));
    let err = fails(&env, &["volume", "rm", "data"], 1);
    assert!(err.contains("volume is in use"), "{err}");
    assert_eq!(
        ok(&env, &["volume", "ls", "-q", "--filter", "dangling=true"]),
        ""
    );
    ok(&env, &["rm", "-f", "writer"]);
    assert_eq!(
        ok(&env, &["volume", "ls", "-q", "--filter", "dangling=true"]),
        "data\n"
    );
    ok(&env, &["volume", "create", "--label", "team=a", "other"]);
    assert_eq!(
        ok(&env, &["volume", "ls", "-q", "--filter", "label=team=a"]),
        "other\n"
    );
    // prune leaves named volumes alone unless -a.
    ok(&env, &["volume", "prune", "-f"]);
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "data\nother\n");
    ok(&env, &["volume", "rm", "data", "other"]);
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "");
    assert_settled(&mut env);
}

fn anonymous_volumes_are_filled_from_the_image_and_go_with_rm_v() {
    let mut env = with_busybox("md-vol-anon", &[]);
    // The image's /etc is copied into the new volume on first use.
    let out = ok(
        &env,
        &[
            "run",
            "--name",
            "aa",
            "-v",
            "/etc",
            "busybox",
            "sh",
            "-c",
            "grep -c root /etc/passwd; echo mine > /etc/added",
        ],
    );
    assert_eq!(out, "1\n");
    let volume = ok(
        &env,
        &["inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "aa"],
    );
    let volume = volume.trim();
    assert_eq!(volume.len(), 64, "{volume}");
    let data = env.path(format!("root/volumes/{volume}/_data"));
    assert!(data.join("passwd").is_file() && data.join("added").is_file());
    // An image VOLUME gets one automatically.
    let tar = busybox_tar(&env);
    ok(
        &env,
        &[
            "import",
            "-c",
            "VOLUME /srv",
            "-c",
            "CMD [\"sh\"]",
            &tar,
            "withvol",
        ],
    );
    let mounts = ok(&env, &["create", "--name", "bb", "withvol"]);
    assert!(!mounts.is_empty());
    let dest = ok(
        &env,
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Destination}} {{.Type}}{{end}}",
            "bb",
        ],
    );
    assert_eq!(dest.trim(), "/srv volume");
    assert_eq!(ok(&env, &["volume", "ls", "-q"]).lines().count(), 2);
    // rm -v takes the anonymous volume along; --rm does too.
    ok(&env, &["rm", "-v", "aa", "bb"]);
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "");
    ok(&env, &["run", "--rm", "-v", "/tmp", "busybox", "true"]);
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "");
    assert_settled(&mut env);
}

fn bind_mounts_share_the_host_directory_and_honour_ro() {
    let mut env = with_busybox("md-vol-bind", &[]);
    let host = env.path("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("from-host"), "host\n").unwrap();
    let spec = format!("{}:/shared", host.display());
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            &spec,
            "busybox",
            "sh",
            "-c",
            "cat /shared/from-host; echo c > /shared/from-container",
        ],
    );
    assert_eq!(out, "host\n");
    assert_eq!(
        std::fs::read_to_string(host.join("from-container")).unwrap(),
        "c\n"
    );
    let out = md_in(
        &env,
        "root",
        &[
            "run",
            "--rm",
            "-v",
            &format!("{spec}:ro"),
            "busybox",
            "touch",
            "/shared/x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Read-only file system"));
    let mount = format!("type=bind,source={},target=/m,readonly", host.display());
    let out = md_in(
        &env,
        "root",
        &["run", "--rm", "--mount", &mount, "busybox", "touch", "/m/x"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = fails(
        &env,
        &[
            "run",
            "--rm",
            "--mount",
            "type=bind,source=/nonexistent/x,target=/m",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("bind source path does not exist"), "{err}");
    let err = fails(
        &env,
        &["run", "--rm", "-v", "a:/x", "-v", "b:/x", "busybox", "true"],
        125,
    );
    assert!(err.contains("Duplicate mount point"), "{err}");
    // tmpfs
    let out = ok(
        &env,
        &[
            "run",
            "--rm",
            "--tmpfs",
            "/scratch:size=1m",
            "busybox",
            "sh",
            "-c",
            "grep /scratch /proc/mounts",
        ],
    );
    assert!(
        out.contains("tmpfs /scratch tmpfs") && out.contains("size=1024k"),
        "{out}"
    );
    assert_eq!(
        ok(&env, &["volume", "ls", "-q"]),
        "",
        "a failed create keeps no volume"
    );
    // A mount target is resolved inside the container: a symlink to /etc
    // in the image leads to the container's /etc, not the host's.
    ok(
        &env,
        &[
            "run", "--name", "linker", "busybox", "ln", "-s", "/etc", "/link",
        ],
    );
    ok(&env, &["commit", "linker", "linked"]);
    let marker = format!("md-vol-{}", env.token());
    let target = format!("{}:/link/{marker}", host.display());
    ok(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            &target,
            "linked",
            "test",
            "-e",
            &format!("/etc/{marker}/from-host"),
        ],
    );
    assert!(
        !std::path::Path::new("/etc").join(&marker).exists(),
        "mounted onto the host's /etc"
    );
    ok(&env, &["rm", "linker"]);
    ok(&env, &["rmi", "linked"]);
    assert_settled(&mut env);
}

fn volumes_from_a_data_container() {
    let mut env = with_busybox("md-vol-from", &[]);
    // The seed's data-container pattern.
    ok(
        &env,
        &["create", "--name", "store", "-v", "/shared", "busybox"],
    );
    ok(
        &env,
        &[
            "run",
            "--rm",
            "--volumes-from",
            "store",
            "busybox",
            "sh",
            "-c",
            "echo via data container > /shared/note",
        ],
    );
    assert_eq!(
        ok(
            &env,
            &[
                "run",
                "--rm",
                "--volumes-from",
                "store",
                "busybox",
                "cat",
                "/shared/note"
            ]
        ),
        "via data container\n"
    );
    let out = md_in(
        &env,
        "root",
        &[
            "run",
            "--rm",
            "--volumes-from",
            "store:ro",
            "busybox",
            "touch",
            "/shared/x",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "read-only with :ro");
    // The volume still belongs to the data container: removing a user does
    // not take it; removing the data container with -v does.
    assert_eq!(ok(&env, &["volume", "ls", "-q"]).lines().count(), 1);
    ok(&env, &["rm", "-v", "store"]);
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "");
    assert_settled(&mut env);
}

fn local_driver_options_mount_a_tmpfs_per_container() {
    let mut env = with_busybox("md-vol-opts", &[]);
    let create = [
        "volume",
        "create",
        "--driver",
        "local",
        "--opt",
        "type=tmpfs",
        "--opt",
        "device=tmpfs",
        "--opt",
        "o=size=1m,noexec",
        "t",
    ];
    assert_eq!(ok(&env, &create), "t\n");
    assert_eq!(
        ok(&env, &["volume", "inspect", "-f", "{{json .Options}}", "t"]),
        "{\"device\":\"tmpfs\",\"o\":\"size=1m,noexec\",\"type\":\"tmpfs\"}\n"
    );
    // Mounted with the options (noexec a flag, size the tmpfs's data), and
    // written data is the container's own: the next one starts empty.
    let mount = ok(
        &env,
        &[
            "run",
            "--rm",
            "-v",
            "t:/d",
            "busybox",
            "sh",
            "-c",
            "grep ' /d ' /proc/mounts; df -k /d | tail -1 | awk '{print $2}'; echo x > /d/f",
        ],
    );
    assert!(mount.starts_with("tmpfs /d tmpfs rw,noexec,"), "{mount}");
    assert!(mount.contains("size=1024k"), "{mount}");
    assert!(mount.ends_with("\n1024\n"), "{mount}");
    assert_eq!(
        ok(&env, &["run", "--rm", "-v", "t:/d", "busybox", "ls", "/d"]),
        ""
    );
    // Nothing was mounted on the host: the volume's directory stays empty.
    let data = env.path("root").join("volumes/t/_data");
    assert_eq!(std::fs::read_dir(&data).unwrap().count(), 0);

    // Docker's checks.
    let err = fails(&env, &["volume", "create", "--opt", "foo=bar", "bad"], 1);
    assert!(err.contains("create bad: invalid option: \"foo\""), "{err}");
    let err = fails(&env, &["volume", "create", "--opt", "type=tmpfs", "bad"], 1);
    assert!(
        err.contains("create bad: missing required option: \"device\""),
        "{err}"
    );
    let err = fails(&env, &["volume", "create", "--driver", "nfs", "bad"], 1);
    assert!(err.contains("plugin \"nfs\" not found"), "{err}");
    // A mount the kernel refuses fails the start with Docker's message.
    ok(
        &env,
        &[
            "volume",
            "create",
            "-o",
            "type=tmpfs",
            "-o",
            "device=tmpfs",
            "-o",
            "o=bogus=1",
            "g",
        ],
    );
    let err = fails(&env, &["run", "--rm", "-v", "g:/d", "busybox", "true"], 125);
    assert!(
        err.contains("failed to mount local volume: mount tmpfs:")
            && err.contains(", data: bogus=1: invalid argument"),
        "{err}"
    );
    assert_settled(&mut env);
}

testkit::main![
    named_volumes_outlive_containers_and_are_shared,
    anonymous_volumes_are_filled_from_the_image_and_go_with_rm_v,
    bind_mounts_share_the_host_directory_and_honour_ro,
    volumes_from_a_data_container,
    local_driver_options_mount_a_tmpfs_per_container,
];
