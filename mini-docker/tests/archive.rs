//! save and load: round trips, and Podman reading ours and we reading its.

mod support;

use std::process::{Command, Stdio};

use support::*;
use testkit::TestEnv;

/// podman with a private store under the test's directory (vfs: no mounts).
fn podman(env: &TestEnv, args: &[&str]) -> String {
    let out = Command::new("podman")
        .arg("--root")
        .arg(env.path("podman"))
        .arg("--runroot")
        .arg(env.path("podman-run"))
        .args([
            "--storage-driver",
            "vfs",
            "--events-backend",
            "none",
            "--cgroup-manager",
            "cgroupfs",
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("podman (scripts/setup.sh installs it)");
    assert!(
        out.status.success(),
        "podman {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn imported(env: &TestEnv, root: &str) -> String {
    let tar = busybox_tar(env);
    ok_in(
        env,
        root,
        &["import", "-c", "CMD [\"/bin/sh\"]", &tar, "box:1"],
    )
    .trim()
    .to_string()
}

fn save_and_load_round_trip_keeps_the_image_id() {
    let env = TestEnv::root("md-save");
    let id = imported(&env, "a");
    ok_in(&env, "a", &["tag", "box:1", "box:also"]);
    let archive = env.path("box.tar");
    ok_in(
        &env,
        "a",
        &["save", "-o", archive.to_str().unwrap(), "box:1", "box:also"],
    );
    let listing = Command::new("tar")
        .arg("-tf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for entry in ["oci-layout", "index.json", "manifest.json"] {
        assert!(
            listing.lines().any(|l| l == entry),
            "{entry} missing: {listing}"
        );
    }
    let loaded = ok_in(&env, "b", &["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(loaded, "Loaded image: box:1\nLoaded image: box:also\n");
    assert_eq!(
        ok_in(&env, "b", &["inspect", "-f", "{{.Id}}", "box:1"]).trim(),
        id
    );
    // And from stdin.
    let out = md_command(&env, "c")
        .args(["load", "-q"])
        .stdin(std::fs::File::open(&archive).unwrap())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(ok_in(&env, "c", &["images", "-q"]).trim(), &id[7..19]);
}

fn podman_loads_our_archive_and_we_load_podmans() {
    let env = TestEnv::root("md-podman");
    let id = imported(&env, "a");
    let ours = env.path("ours.tar");
    ok_in(&env, "a", &["save", "-o", ours.to_str().unwrap(), "box:1"]);
    let out = podman(&env, &["load", "-i", ours.to_str().unwrap()]);
    assert!(out.contains("Loaded image"), "{out}");
    let podman_id = podman(&env, &["images", "--no-trunc", "--format", "{{.ID}}"]);
    assert_eq!(podman_id.trim(), id, "podman sees the same image ID");
    for format in ["docker-archive", "oci-archive"] {
        let theirs = env.path(format!("{format}.tar"));
        podman(
            &env,
            &[
                "save",
                "--format",
                format,
                "-o",
                theirs.to_str().unwrap(),
                "docker.io/library/box:1",
            ],
        );
        let root = format!("from-{format}");
        let loaded = ok_in(&env, &root, &["load", "-i", theirs.to_str().unwrap()]);
        assert!(loaded.starts_with("Loaded image"), "{format}: {loaded}");
        assert_eq!(
            ok_in(&env, &root, &["images", "-q", "--no-trunc"]).trim(),
            id,
            "{format}"
        );
        let layer = only_layer(&env, &root);
        assert!(layer.join("bin/busybox").is_file(), "{format}");
    }
    podman(&env, &["rmi", "-a", "-f"]);
}

fn a_hostile_or_inconsistent_archive_loads_nothing() {
    let env = TestEnv::root("md-bad-archive");
    // An archive entry climbing out.
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(2);
    header.set_mode(0o644);
    header.as_old_mut().name[..13].copy_from_slice(b"../escape.txt");
    header.set_cksum();
    tar.append(&header, &b"hi"[..]).unwrap();
    let evil = env.path("evil.tar");
    std::fs::write(&evil, tar.into_inner().unwrap()).unwrap();
    let err = fails_in(&env, "root", &["load", "-i", evil.to_str().unwrap()], 1);
    assert!(err.contains("path climbs out with '..'"), "{err}");
    assert!(!env.path("escape.txt").exists());
    // A layer that is not what the config says.
    imported(&env, "a");
    let good = env.path("good.tar");
    ok_in(&env, "a", &["save", "-o", good.to_str().unwrap(), "box:1"]);
    let unpacked = env.path("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    assert!(Command::new("tar")
        .arg("-xf")
        .arg(&good)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap()
        .success());
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(unpacked.join("manifest.json")).unwrap())
            .unwrap();
    let layer = unpacked.join(manifest[0]["Layers"][0].as_str().unwrap());
    let mut bytes = std::fs::read(&layer).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&layer, bytes).unwrap();
    let bad = env.path("bad.tar");
    assert!(Command::new("tar")
        .arg("-cf")
        .arg(&bad)
        .arg("-C")
        .arg(&unpacked)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let err = fails_in(&env, "root", &["load", "-i", bad.to_str().unwrap()], 1);
    assert!(err.contains("the config says"), "{err}");
    for dir in [
        "root/images/db",
        "root/layers",
        "root/tmp",
        "root/blobs/sha256",
    ] {
        assert_eq!(count(&env.path(dir)), 0, "{dir}");
    }
}

testkit::main![
    save_and_load_round_trip_keeps_the_image_id,
    podman_loads_our_archive_and_we_load_podmans,
    a_hostile_or_inconsistent_archive_loads_nothing,
];
