//! State root safety on the real store: roots mini-docker creates are
//! private, and one damaged record — a container's config.json or
//! state.json, a volume's or a network's record, the tag file — breaks
//! only itself.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use support::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn new_roots_are_private_and_existing_ones_keep_their_mode() {
    let mut env = testkit::TestEnv::root("md-state-modes");
    ok_in(&env, "fresh", &["ps", "-a"]);
    assert_eq!(mode(&env.path("fresh")), 0o700);
    assert_eq!(mode(&env.path("run")), 0o700);
    let open = env.path("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    ok_in(&env, "open", &["ps", "-a"]);
    assert_eq!(mode(&open), 0o755);
    let warning = mini_docker::damage::exposure(&open).unwrap();
    assert!(warning.contains("accessible by other users"), "{warning}");
    assert_eq!(mini_docker::damage::exposure(&env.path("fresh")), None);
    assert_settled(&mut env);
}

/// Replaces a record with bytes that do not parse; returns the original.
fn damage(path: &Path) -> Vec<u8> {
    let original = std::fs::read(path).unwrap();
    std::fs::write(path, b"{\"half\": ").unwrap();
    original
}

/// Runs `args`, expecting success and a warning naming `record`.
fn lists_and_warns(env: &testkit::TestEnv, args: &[&str], record: &Path) -> String {
    let out = md_in(env, "root", args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    let named = format!("damaged record {}", record.display());
    assert!(stderr.contains(&named), "{args:?}: {stderr}");
    stdout
}

fn a_damaged_record_breaks_only_itself() {
    let mut env = with_busybox("md-state-damage", &[]);
    let root = env.path("root");
    ok(&env, &["run", "--name", "good", "busybox", "true"]);
    let bad = ok(&env, &["create", "--name", "bad", "busybox", "true"]);
    let bad = bad.trim().to_string();
    let worse = ok(&env, &["create", "--name", "worse", "busybox", "true"]);
    let worse = worse.trim().to_string();
    ok(&env, &["volume", "create", "keep"]);
    ok(&env, &["volume", "create", "broken"]);
    ok(
        &env,
        &["network", "create", "--subnet", "10.241.9.0/24", "statenet"],
    );
    let containers = root.join("containers");
    damage(&containers.join(&bad).join("config.json"));
    damage(&containers.join(&worse).join("state.json"));
    damage(&root.join("volumes/broken/volume.json"));
    let network_record = root.join("networks/statenet.json");
    let network = damage(&network_record);
    let tags = root.join("images/repositories.json");
    let tag_file = damage(&tags);

    let ps = lists_and_warns(
        &env,
        &["ps", "-a", "--format", "{{.Names}}"],
        &containers.join(&bad).join("config.json"),
    );
    assert_eq!(ps, "worse\ngood\n");
    lists_and_warns(
        &env,
        &["ps", "-a"],
        &containers.join(&worse).join("state.json"),
    );
    let volumes = lists_and_warns(
        &env,
        &["volume", "ls", "-q"],
        &root.join("volumes/broken/volume.json"),
    );
    assert_eq!(volumes, "keep\n");
    let networks = lists_and_warns(&env, &["network", "ls"], &network_record);
    assert!(
        networks.contains("bridge") && !networks.contains("statenet"),
        "{networks}"
    );
    let images = lists_and_warns(&env, &["images"], &tags);
    assert!(images.contains("<none>"), "{images}");
    // Changing tags does not overwrite the damaged file.
    fails(&env, &["tag", "busybox", "other"], 1);
    assert_eq!(std::fs::read(&tags).unwrap(), b"{\"half\": ");

    // rm -f removes the damaged containers, by ID prefix or by name.
    assert_eq!(
        ok(&env, &["rm", "-f", &bad[..12]]),
        format!("{}\n", &bad[..12])
    );
    assert!(!containers.join(&bad).exists());
    ok(&env, &["rm", "-f", "worse"]);
    assert!(!containers.join(&worse).exists());
    // Nothing else is lost.
    assert_eq!(ok(&env, &["ps", "-a", "--format", "{{.Names}}"]), "good\n");
    std::fs::write(&tags, tag_file).unwrap();
    assert!(ok(&env, &["images"]).contains("busybox"));
    std::fs::write(&network_record, network).unwrap();
    ok(&env, &["network", "rm", "statenet"]);
    ok(&env, &["rm", "good"]);
    assert_settled(&mut env);
}

testkit::main![
    new_roots_are_private_and_existing_ones_keep_their_mode,
    a_damaged_record_breaks_only_itself,
];
