//! mini-docker's local image commands, each test with its own --root.

mod support;

use std::path::Path;
use std::process::Stdio;

use support::{busybox_tar, count, fails_in, md_command, ok_in, only_layer};
use testkit::TestEnv;

fn ok(env: &TestEnv, args: &[&str]) -> String {
    ok_in(env, "root", args)
}

fn fails(env: &TestEnv, args: &[&str], code: i32) -> String {
    fails_in(env, "root", args, code)
}

fn import_list_tag_inspect_history_remove() {
    let env = TestEnv::root("md-images");
    let tar = busybox_tar(&env);
    let id = ok(
        &env,
        &[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "ENV A=1",
            "-m",
            "from the fixture",
            &tar,
            "busybox:1.36",
        ],
    );
    let id = id.trim();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");

    let listing = ok(&env, &["images"]);
    let lines: Vec<&str> = listing.lines().collect();
    assert!(
        lines[0].starts_with("REPOSITORY   TAG       IMAGE ID       CREATED"),
        "{listing}"
    );
    assert!(
        lines[1].starts_with(&format!("busybox      1.36      {}", &id[7..19])),
        "{listing}"
    );

    ok(
        &env,
        &["tag", "busybox:1.36", "localhost:5000/tools/box:v1"],
    );
    assert_eq!(
        ok(&env, &["images", "-q"]).trim(),
        &id[7..19],
        "one image, listed once"
    );
    let refs = ok(&env, &["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    let mut refs: Vec<&str> = refs.lines().collect();
    refs.sort();
    assert_eq!(refs, ["busybox:1.36", "localhost:5000/tools/box:v1"]);
    assert_eq!(
        ok(&env, &["images", "--filter", "reference=busy*"])
            .lines()
            .count(),
        2
    );

    let inspect: serde_json::Value =
        serde_json::from_str(&ok(&env, &["image", "inspect", "busybox:1.36"])).unwrap();
    let image = &inspect[0];
    assert_eq!(image["Id"], id);
    assert_eq!(image["Config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(image["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(image["RootFS"]["Type"], "layers");
    assert_eq!(image["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(image["Os"], "linux");
    assert_eq!(image["RepoTags"].as_array().unwrap().len(), 2);
    assert_eq!(
        ok(&env, &["inspect", "-f", "{{json .Config.Cmd}}", &id[7..19]]).trim(),
        "[\"/bin/sh\"]"
    );

    let history = ok(&env, &["history", "busybox:1.36"]);
    assert!(history.starts_with("IMAGE          CREATED"), "{history}");
    assert!(
        history
            .lines()
            .nth(1)
            .unwrap()
            .ends_with("from the fixture"),
        "{history}"
    );

    // The extracted layer is a usable root filesystem.
    let layers = env.path("root/layers");
    assert_eq!(count(&layers), 1);
    let layer = only_layer(&env, "root");
    assert!(layer.join("bin/busybox").is_file());

    // Two tags: removing by ID needs -f; by tag it only untags.
    let err = fails(&env, &["rmi", &id[7..19]], 1);
    assert!(
        err.contains("must be forced) - image is referenced in multiple repositories"),
        "{err}"
    );
    assert_eq!(
        ok(&env, &["rmi", "localhost:5000/tools/box:v1"]),
        "Untagged: localhost:5000/tools/box:v1\n"
    );
    let removed = ok(&env, &["rmi", "busybox:1.36"]);
    assert!(
        removed.starts_with("Untagged: busybox:1.36\nDeleted: sha256:"),
        "{removed}"
    );
    assert!(removed.ends_with(&format!("Deleted: {id}\n")), "{removed}");
    assert_eq!(count(&layers), 0, "layer left behind");
    assert_eq!(
        count(&env.path("root/blobs/sha256")),
        0,
        "blobs left behind"
    );
    assert_eq!(ok(&env, &["images"]).lines().count(), 1);
}

fn errors_name_the_problem_with_dockers_exit_codes() {
    let env = TestEnv::new("md-errors");
    assert_eq!(
        fails(&env, &["image", "inspect", "nope"], 1).trim(),
        "Error: No such image: nope"
    );
    // The top-level inspect looks for containers too, as Docker's does.
    assert_eq!(
        fails(&env, &["inspect", "nope"], 1).trim(),
        "Error: No such object: nope"
    );
    assert_eq!(
        fails(&env, &["rmi", "nope"], 1).trim(),
        "Error: No such image: nope"
    );
    assert_eq!(
        fails(&env, &["tag", "x", "Bad:tag"], 1).trim(),
        "Error: invalid reference format: repository name must be lowercase"
    );
    assert_eq!(
        fails(&env, &["tag", "x", "a:"], 1).trim(),
        "Error: invalid reference format"
    );
    assert!(fails(&env, &["images", "--bogus"], 125).contains("--bogus"));
    assert!(fails(&env, &["import", "-c", "RUN x", "/dev/null"], 1)
        .contains("RUN is not a valid change command"));
    assert!(fails(&env, &["images", "--filter", "color=red"], 1).contains("Invalid filter 'color'"));
}

/// A layer that tries to escape is refused at import, and nothing of it
/// stays in the store.
fn hostile_tarballs_are_refused_and_leave_nothing() {
    let env = TestEnv::new("md-hostile");
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(5);
    header.set_mode(0o644);
    header.as_old_mut().name[..15].copy_from_slice(b"../../escape.tx");
    header.set_cksum();
    tar.append(&header, &b"owned"[..]).unwrap();
    let path = env.path("evil.tar");
    std::fs::write(&path, tar.into_inner().unwrap()).unwrap();
    let err = fails(&env, &["import", path.to_str().unwrap(), "evil"], 1);
    assert!(
        err.contains("refusing layer entry \"../../escape.tx\": path climbs out with '..'"),
        "{err}"
    );
    assert!(!env.path("escape.tx").exists() && !Path::new("/escape.tx").exists());
    for dir in [
        "root/layers",
        "root/blobs/sha256",
        "root/images/db",
        "root/tmp",
    ] {
        assert_eq!(count(&env.path(dir)), 0, "{dir} not empty");
    }
    assert_eq!(ok(&env, &["images"]).lines().count(), 1, "nothing tagged");
}

/// Imports of the same tarball from two processes at once share one layer
/// and never corrupt the store.
fn concurrent_imports_share_layers() {
    let env = TestEnv::root("md-concurrent");
    let tar = busybox_tar(&env);
    let children: Vec<_> = (0..4)
        .map(|i| {
            md_command(&env, "root")
                .args(["import", &tar, &format!("box:{i}")])
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert_eq!(count(&env.path("root/layers")), 1, "one shared layer");
    assert_eq!(ok(&env, &["images"]).lines().count(), 5);
    assert_eq!(count(&env.path("root/tmp")), 0);
}

/// What a killed import left in tmp/ is swept by the next command.
fn leftovers_of_a_killed_command_are_swept() {
    let env = TestEnv::root("md-sweep");
    ok(&env, &["images"]);
    // A dead process's half-extracted layer and half-written blob.
    let dead = 999_999_999u32;
    std::fs::create_dir_all(env.path(format!("root/tmp/extract-{dead}-0/bin"))).unwrap();
    std::fs::write(env.path(format!("root/tmp/layer.tar.gz-{dead}-1")), "half").unwrap();
    ok(&env, &["images"]);
    assert_eq!(count(&env.path("root/tmp")), 0);
}

/// An image a container uses is not removed without -f, and keeps its
/// layers even then.
fn images_in_use_by_a_container_are_protected() {
    let env = TestEnv::root("md-in-use");
    let tar = busybox_tar(&env);
    let id = ok(&env, &["import", &tar, "box"]).trim().to_string();
    let container = env.path("root/containers/0123456789abcdef");
    std::fs::create_dir_all(&container).unwrap();
    std::fs::write(
        container.join("config.json"),
        format!("{{\"Id\":\"0123456789abcdef\",\"Image\":\"{id}\"}}"),
    )
    .unwrap();
    let err = fails(&env, &["rmi", "box"], 1);
    assert!(err.contains("unable to remove repository reference \"box\" (must force) - container 0123456789ab is using"), "{err}");
    let err = fails(&env, &["rmi", &id[7..19]], 1);
    assert!(
        err.contains("image is being used by stopped container 0123456789ab"),
        "{err}"
    );
    assert_eq!(ok(&env, &["rmi", "-f", "box"]), "Untagged: box:latest\n");
    assert_eq!(
        count(&env.path("root/layers")),
        1,
        "the container's layer stays"
    );
    assert!(
        ok(&env, &["images"]).contains("<none>"),
        "kept as a dangling image"
    );
    std::fs::remove_dir_all(env.path("root/containers")).unwrap();
    assert!(ok(&env, &["rmi", &id[7..19]]).ends_with(&format!("Deleted: {id}\n")));
}

/// --filter before/since/dangling select by creation and tags.
fn filters_select_by_time_and_tags() {
    let env = TestEnv::root("md-filters");
    let tar = busybox_tar(&env);
    ok(&env, &["import", "-m", "first", &tar, "old:1"]);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    ok(&env, &["import", "-c", "ENV X=1", &tar, "new:1"]);
    ok(&env, &["import", "-c", "ENV X=2", &tar]);
    let names = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["images", "--format", "{{.Repository}}"];
        all.extend_from_slice(args);
        ok(&env, &all).lines().map(String::from).collect()
    };
    assert_eq!(names(&["--filter", "before=new:1"]), ["old"]);
    assert_eq!(
        names(&["--filter", "since=old:1", "--filter", "dangling=false"]),
        ["new"]
    );
    assert_eq!(names(&["--filter", "dangling=true"]), ["<none>"]);
    assert_eq!(names(&["--filter", "reference=ne*"]), ["new"]);
}

testkit::main![
    import_list_tag_inspect_history_remove,
    errors_name_the_problem_with_dockers_exit_codes,
    hostile_tarballs_are_refused_and_leave_nothing,
    concurrent_imports_share_layers,
    leftovers_of_a_killed_command_are_swept,
    images_in_use_by_a_container_are_protected,
    filters_select_by_time_and_tags,
];
