//! The prune commands: what nothing uses goes, what something uses stays.

mod support;

use support::*;

fn prune_removes_only_what_nothing_uses() {
    let mut env = with_busybox("md-prune", &[]);
    let tar = busybox_tar(&env);
    // A dangling image: "app:1" moves to a newer image.
    let old = ok(&env, &["import", "-c", "CMD [\"old\"]", &tar, "app:1"]);
    ok(&env, &["import", "-c", "CMD [\"new\"]", &tar, "app:1"]);
    assert_eq!(ok(&env, &["images", "-q"]).lines().count(), 3);
    // Fresh images are younger than an hour: a filter keeps them.
    let kept = ok(&env, &["image", "prune", "-f", "--filter", "until=1h"]);
    assert_eq!(kept, "Total reclaimed space: 0B\n");
    let pruned = ok(&env, &["image", "prune", "-f"]);
    assert!(
        pruned.starts_with(&format!("Deleted Images:\ndeleted: {}\n", old.trim())),
        "{pruned}"
    );
    assert_eq!(ok(&env, &["images", "-q"]).lines().count(), 2);

    // A stopped container, an unused network, an orphaned anonymous volume.
    ok(
        &env,
        &[
            "run",
            "--name",
            "stopped",
            "--network",
            "none",
            "busybox",
            "true",
        ],
    );
    ok(
        &env,
        &[
            "run",
            "--name",
            "gone",
            "--network",
            "none",
            "-v",
            "/data",
            "busybox",
            "true",
        ],
    );
    ok(&env, &["rm", "gone"]);
    ok(
        &env,
        &["network", "create", "--subnet", "10.217.0.0/24", "idle"],
    );
    ok(
        &env,
        &[
            "run",
            "-d",
            "--name",
            "live",
            "--network",
            "none",
            "busybox",
            "sleep",
            "1000",
        ],
    );
    let out = ok(&env, &["system", "prune", "-f", "--volumes"]);
    assert!(out.starts_with("Deleted Containers:\n"), "{out}");
    assert!(
        out.contains("\nDeleted Networks:\nidle\n") && out.contains("\nDeleted Volumes:\n"),
        "{out}"
    );
    assert!(
        out.ends_with("Total reclaimed space: 0B\n") || out.contains("Total reclaimed space: "),
        "{out}"
    );
    assert_eq!(
        ok(&env, &["ps", "-aq"]).lines().count(),
        1,
        "the running one stays"
    );
    assert_eq!(ok(&env, &["volume", "ls", "-q"]), "");
    // -a: every image no container uses; busybox is still in use.
    ok(&env, &["system", "prune", "-a", "-f"]);
    assert_eq!(
        ok(&env, &["images", "--format", "{{.Repository}}"]),
        "busybox\n"
    );
    ok(&env, &["rm", "-f", "live"]);
    let out = ok(&env, &["system", "prune", "-a", "-f"]);
    assert!(
        out.contains("untagged: busybox:latest\ndeleted: sha256:"),
        "{out}"
    );
    assert_eq!(ok(&env, &["images", "-q"]), "");
    assert_settled(&mut env);
}

testkit::main![prune_removes_only_what_nothing_uses,];
