//! A container's root filesystem from a stored image, on the real kernel.

mod support;

use mini_docker::container::rootfs::Rootfs;
use mini_docker::container::spec::{process, Overrides};
use mini_docker::store::Store;
use support::{busybox_tar, ok_in, only_layer};
use testkit::TestEnv;

fn an_image_becomes_a_writable_overlay_root() {
    let env = TestEnv::root("md-rootfs");
    let tar = busybox_tar(&env);
    let id = ok_in(
        &env,
        "root",
        &[
            "import",
            "-c",
            "CMD [\"/bin/sh\"]",
            "-c",
            "USER nobody",
            &tar,
            "box",
        ],
    );
    let store = Store::open(env.path("root")).unwrap();
    let id = id.trim().parse().unwrap();
    let rootfs = Rootfs::new(&store, &id, &env.path("container")).unwrap();
    rootfs.mount().unwrap();
    assert!(rootfs.merged.join("bin/busybox").is_file());
    std::fs::write(rootfs.merged.join("tmp/written"), "by the container").unwrap();
    assert!(
        rootfs.upper.join("tmp/written").is_file(),
        "writes land in the upper dir"
    );
    let layer = only_layer(&env, "root");
    assert!(
        !layer.join("tmp/written").exists(),
        "the shared layer is untouched"
    );

    // The process, resolved against this root's files: USER nobody from
    // the image.
    let config = store.config(&id).unwrap().config;
    let files = |rel: &str| std::fs::read_to_string(rootfs.merged.join(rel)).ok();
    let p = process(&config, &Overrides::default(), &files, |_| None).unwrap();
    assert_eq!(p.args, ["/bin/sh"]);
    assert_eq!((p.uid, p.gid), (65534, 65534));
    rootfs.unmount().unwrap();
    rootfs.unmount().unwrap();
}

testkit::main![an_image_becomes_a_writable_overlay_root,];
