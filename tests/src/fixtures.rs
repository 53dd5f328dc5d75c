use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// `target/<profile>` of the running test binary (`…/deps/<test>` lives below it).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test binary has a directory");
    let dir = if deps.ends_with("deps") {
        deps.parent().expect("deps has a parent")
    } else {
        deps
    };
    dir.to_path_buf()
}

/// The workspace root (where `lessons/` lives).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// A workspace binary by name, built beforehand by `cargo build --workspace`
/// (the README's test command does that).
pub fn bin(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        path.display()
    );
    path
}

/// The busybox root filesystem from Debian's `busybox-static`, built once per
/// target directory and shared read-only. Tests that write into a rootfs take
/// a private copy with [`crate::TestEnv::rootfs`].
pub fn busybox_rootfs() -> &'static Path {
    static ROOTFS: OnceLock<PathBuf> = OnceLock::new();
    ROOTFS.get_or_init(|| {
        let dir = target_dir().join("testkit/busybox-rootfs");
        // Concurrent test binaries may race here; prepare_busybox renames a
        // finished tree into place, so every racer ends with the same tree.
        chroot_demo::rootfs::prepare_busybox(&dir, Path::new(chroot_demo::rootfs::DEFAULT_BUSYBOX))
            .unwrap_or_else(|e| {
                panic!("busybox rootfs fixture: {e} (scripts/setup.sh installs busybox-static)")
            });
        dir
    })
}

/// The busybox fixture as a tarball at `tar`, as `docker import` takes it.
pub fn busybox_tar_at(tar: &Path) {
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(busybox_rootfs())
        .arg("-cf")
        .arg(tar)
        .arg(".")
        .status()
        .expect("run tar");
    assert!(status.success(), "tar of the busybox fixture failed");
}
