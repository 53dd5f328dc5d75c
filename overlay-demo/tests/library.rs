//! The overlay library on the real kernel: every operation's upper-dir
//! result, the layer tar round trip, hostile layers, and many layers.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};

use overlay_demo::changes::changes;
use overlay_demo::layer::{self, ApplyOptions, Whiteouts};
use overlay_demo::mount::{self, Overlay, MAX_OPTIONS};
use overlay_demo::whiteout::{is_opaque, is_whiteout};
use tar::{EntryType, Header};
use testkit::TestEnv;

fn write(path: impl AsRef<Path>, content: &str) {
    let path = path.as_ref();
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

/// lower/upper/work/merged below the test dir, with a small image.
fn container(env: &TestEnv) -> Overlay {
    let dirs: Vec<PathBuf> = ["lower", "upper", "work", "merged"]
        .iter()
        .map(|d| {
            let p = env.path(d);
            fs::create_dir_all(&p).unwrap();
            p
        })
        .collect();
    write(env.path("lower/file.txt"), "lower\n");
    write(env.path("lower/gone.txt"), "to delete\n");
    write(env.path("lower/dir/old.txt"), "old\n");
    write(env.path("lower/etc/app.conf"), "v=1\n");
    std::os::unix::fs::symlink("file.txt", env.path("lower/link")).unwrap();
    Overlay::new(
        vec![dirs[0].clone()],
        dirs[1].clone(),
        dirs[2].clone(),
        dirs[3].clone(),
    )
}

/// The merged view as (path → description), for comparing two mounts.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            let what = if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {:o}", meta.mode() & 0o7777)
            } else if meta.file_type().is_symlink() {
                format!("-> {}", fs::read_link(&path).unwrap().display())
            } else {
                format!(
                    "file {:o} {}",
                    meta.mode() & 0o7777,
                    fs::read_to_string(&path).unwrap()
                )
            };
            out.insert(rel, what);
        }
    }
    out
}

fn each_operation_leaves_its_mark_in_the_upper_dir() {
    let env = TestEnv::root("ovl-ops");
    let overlay = container(&env);
    overlay.mount().unwrap();
    let (m, upper) = (&overlay.merged, env.path("upper"));

    // Read: nothing copied.
    assert_eq!(fs::read_to_string(m.join("file.txt")).unwrap(), "lower\n");
    assert_eq!(fs::read_dir(&upper).unwrap().count(), 0);
    // Create.
    fs::write(m.join("new.txt"), "new\n").unwrap();
    assert_eq!(fs::read_to_string(upper.join("new.txt")).unwrap(), "new\n");
    // Modify: copy-up of the whole file, parents included; lower untouched.
    fs::write(m.join("etc/app.conf"), "v=2\n").unwrap();
    assert_eq!(
        fs::read_to_string(upper.join("etc/app.conf")).unwrap(),
        "v=2\n"
    );
    assert_eq!(
        fs::read_to_string(env.path("lower/etc/app.conf")).unwrap(),
        "v=1\n"
    );
    // Delete: a 0/0 character device.
    fs::remove_file(m.join("gone.txt")).unwrap();
    let wh = fs::symlink_metadata(upper.join("gone.txt")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    assert!(!m.join("gone.txt").exists() && env.path("lower/gone.txt").exists());
    // Replace a directory: opaque.
    fs::remove_dir_all(m.join("dir")).unwrap();
    fs::create_dir(m.join("dir")).unwrap();
    write(m.join("dir/new.txt"), "n\n");
    assert!(is_opaque(&upper.join("dir")));
    assert_eq!(fs::read_dir(m.join("dir")).unwrap().count(), 1);
    // Rename a lower file: copy-up plus whiteout.
    fs::rename(m.join("file.txt"), m.join("renamed.txt")).unwrap();
    assert!(is_whiteout(
        &fs::symlink_metadata(upper.join("file.txt")).unwrap()
    ));
    assert_eq!(
        fs::read_to_string(upper.join("renamed.txt")).unwrap(),
        "lower\n"
    );

    let diff: Vec<String> = changes(&upper, &overlay.lowers)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(
        diff,
        [
            "C /dir",
            "A /dir/new.txt",
            "C /etc",
            "C /etc/app.conf",
            "D /file.txt",
            "D /gone.txt",
            "A /new.txt",
            "A /renamed.txt"
        ]
    );
    mount::unmount(&overlay.merged).unwrap();
}

fn an_upper_dir_survives_the_tar_round_trip() {
    let env = TestEnv::root("ovl-roundtrip");
    let overlay = container(&env);
    overlay.mount().unwrap();
    let m = &overlay.merged;
    fs::write(m.join("new.txt"), "new\n").unwrap();
    fs::write(m.join("etc/app.conf"), "v=2\n").unwrap();
    fs::remove_file(m.join("gone.txt")).unwrap();
    fs::remove_dir_all(m.join("dir")).unwrap();
    write(m.join("dir/fresh.txt"), "fresh\n");
    fs::hard_link(m.join("new.txt"), m.join("new-hardlink.txt")).unwrap();
    std::os::unix::fs::symlink("/etc/app.conf", m.join("abs-link")).unwrap();
    xattr::set(m.join("new.txt"), "user.note", b"kept").ok();
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(m.join("new.txt"), fs::Permissions::from_mode(0o4755)).unwrap();
    std::os::unix::fs::chown(m.join("etc/app.conf"), Some(1234), Some(5678)).unwrap();
    nix::sys::stat::mknod(
        &m.join("null"),
        nix::sys::stat::SFlag::S_IFCHR,
        nix::sys::stat::Mode::from_bits_truncate(0o666),
        libc::makedev(1, 3),
    )
    .unwrap();
    fs::set_permissions(m.join("null"), fs::Permissions::from_mode(0o666)).unwrap();
    let before = snapshot(m);
    mount::unmount(m).unwrap();

    // upper → tar → a fresh directory, kept in overlay form.
    let mut tarball = Vec::new();
    layer::export(&env.path("upper"), &mut tarball).unwrap();
    let names: Vec<String> = tar::Archive::new(&tarball[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&".wh.gone.txt".to_string()), "{names:?}");
    assert!(names.contains(&"dir/.wh..wh..opq".to_string()), "{names:?}");
    let applied_dir = env.path("applied");
    fs::create_dir(&applied_dir).unwrap();
    let options = ApplyOptions {
        allow_devices: true,
        ..Default::default()
    };
    let applied = layer::apply(&tarball[..], &applied_dir, options).unwrap();
    assert_eq!(applied.whiteouts, 2);
    assert!(is_whiteout(
        &fs::symlink_metadata(applied_dir.join("gone.txt")).unwrap()
    ));
    assert!(is_opaque(&applied_dir.join("dir")));
    let a = fs::metadata(applied_dir.join("new.txt")).unwrap();
    assert_eq!(
        a.ino(),
        fs::metadata(applied_dir.join("new-hardlink.txt"))
            .unwrap()
            .ino()
    );
    assert_eq!(a.mode() & 0o7777, 0o4755);
    let conf = fs::metadata(applied_dir.join("etc/app.conf")).unwrap();
    assert_eq!((conf.uid(), conf.gid()), (1234, 5678), "ownership kept");
    let null = fs::symlink_metadata(applied_dir.join("null")).unwrap();
    assert!(null.file_type().is_char_device() && null.rdev() == libc::makedev(1, 3));
    assert_eq!(null.mode() & 0o7777, 0o666);

    // The applied layer as a read-only lower over the image gives the same view.
    let merged2 = env.path("merged2");
    fs::create_dir(&merged2).unwrap();
    let stacked = Overlay {
        lowers: vec![applied_dir, env.path("lower")],
        upper: None,
        merged: merged2.clone(),
    };
    stacked.mount().unwrap();
    assert_eq!(snapshot(&merged2), before);
    if let Ok(Some(v)) = xattr::get(merged2.join("new.txt"), "user.note") {
        assert_eq!(v, b"kept");
    }
    mount::unmount(&merged2).unwrap();
}

type BuildTar = dyn Fn(&mut tar::Builder<Vec<u8>>);

/// A tar entry with exactly these name bytes (the tar crate refuses to
/// write hostile names, which is the point of these tests).
fn raw(
    tar: &mut tar::Builder<Vec<u8>>,
    name: &str,
    kind: EntryType,
    link: Option<&str>,
    data: &[u8],
) {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    if let Some(link) = link {
        header.set_link_name(link).unwrap();
    }
    if kind == EntryType::Char {
        header.set_device_major(1).unwrap();
        header.set_device_minor(3).unwrap();
    }
    header.set_cksum();
    tar.append(&header, data).unwrap();
}

fn hostile_layers_are_refused_and_the_host_is_untouched() {
    let env = TestEnv::root("ovl-hostile");
    let outside = env.path("outside");
    fs::create_dir(&outside).unwrap();
    write(outside.join("victim.txt"), "original\n");
    let root = env.path("layers/root");
    fs::create_dir_all(&root).unwrap();
    let outside_abs = outside.display().to_string();
    let cases: Vec<(&str, Box<BuildTar>)> = vec![
        (
            "path climbs out with '..'",
            Box::new(|t| {
                raw(
                    t,
                    "../../outside/victim.txt",
                    EntryType::Regular,
                    None,
                    b"owned",
                )
            }),
        ),
        (
            "absolute path",
            Box::new(move |t| raw(t, "/etc/hostname-evil", EntryType::Regular, None, b"owned")),
        ),
        (
            "is a symlink; writing through it",
            Box::new(|t| {
                raw(t, "escape", EntryType::Symlink, Some("/tmp"), b"");
                raw(t, "escape/victim.txt", EntryType::Regular, None, b"owned");
            }),
        ),
        (
            "its parent up is a symlink",
            Box::new(|t| {
                // The climbing link itself is stored (Docker stores it too);
                // writing through it is what is refused.
                raw(t, "up", EntryType::Symlink, Some("../../outside"), b"");
                raw(t, "up/victim.txt", EntryType::Regular, None, b"owned");
            }),
        ),
        (
            "/victim.txt\": absolute path",
            Box::new(move |t| {
                raw(
                    t,
                    "hard",
                    EntryType::Link,
                    Some(&format!("{outside_abs}/victim.txt")),
                    b"",
                )
            }),
        ),
        (
            "which this layer does not contain",
            Box::new(|t| raw(t, "hard", EntryType::Link, Some("nothing/here"), b"")),
        ),
        (
            "hard link target \"../../outside/victim.txt\": path climbs out with '..'",
            Box::new(|t| {
                raw(
                    t,
                    "hard",
                    EntryType::Link,
                    Some("../../outside/victim.txt"),
                    b"",
                )
            }),
        ),
        (
            "character device 1:3 not allowed",
            Box::new(|t| raw(t, "null", EntryType::Char, None, b"")),
        ),
    ];
    for (reason, build) in cases {
        let mut tar = tar::Builder::new(Vec::new());
        build(&mut tar);
        let bytes = tar.into_inner().unwrap();
        let err = layer::apply(&bytes[..], &root, ApplyOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("refusing layer entry") && err.contains(reason),
            "{reason}: {err}"
        );
        assert_eq!(
            fs::read_to_string(outside.join("victim.txt")).unwrap(),
            "original\n"
        );
        assert_eq!(
            fs::read_dir(&outside).unwrap().count(),
            1,
            "{reason}: something written outside"
        );
        assert!(!Path::new("/etc/hostname-evil").exists());
        assert!(!Path::new("/tmp/victim.txt").exists());
        fs::remove_dir_all(&root).unwrap();
        fs::create_dir(&root).unwrap();
    }
    // Devices are fine where allowed, absolute symlinks always.
    let mut tar = tar::Builder::new(Vec::new());
    raw(&mut tar, "null", EntryType::Char, None, b"");
    raw(
        &mut tar,
        "sh",
        EntryType::Symlink,
        Some("/bin/busybox"),
        b"",
    );
    let bytes = tar.into_inner().unwrap();
    let options = ApplyOptions {
        allow_devices: true,
        ..Default::default()
    };
    layer::apply(&bytes[..], &root, options).unwrap();
    assert_eq!(
        fs::symlink_metadata(root.join("null")).unwrap().rdev(),
        libc::makedev(1, 3)
    );
}

fn delete_mode_squashes_whiteouts_onto_the_layers_below() {
    let env = TestEnv::root("ovl-squash");
    let root = env.path("flat");
    write(root.join("keep.txt"), "keep\n");
    write(root.join("gone.txt"), "gone\n");
    write(root.join("dir/old.txt"), "old\n");
    let mut tar = tar::Builder::new(Vec::new());
    raw(&mut tar, ".wh.gone.txt", EntryType::Regular, None, b"");
    raw(&mut tar, "dir/new.txt", EntryType::Regular, None, b"new");
    raw(&mut tar, "dir/.wh..wh..opq", EntryType::Regular, None, b"");
    let bytes = tar.into_inner().unwrap();
    let options = ApplyOptions {
        whiteouts: Whiteouts::Delete,
        ..Default::default()
    };
    layer::apply(&bytes[..], &root, options).unwrap();
    assert!(!root.join("gone.txt").exists() && root.join("keep.txt").exists());
    assert!(
        !root.join("dir/old.txt").exists(),
        "opaque: the lower content goes"
    );
    assert!(
        root.join("dir/new.txt").exists(),
        "opaque: this layer's own content stays"
    );
}

fn many_layers_with_long_paths_still_mount() {
    let env = TestEnv::root("ovl-many");
    let base = env.path("store/layers-with-a-rather-long-directory-name");
    let lowers: Vec<PathBuf> = (0..150)
        .map(|i| {
            let dir = base.join(format!("{i:03}-0123456789abcdef/diff"));
            write(dir.join(format!("only-{i}")), "x");
            write(dir.join("who"), &i.to_string());
            dir
        })
        .rev()
        .collect(); // the highest number is the top
    let (upper, work, merged) = (
        env.path("store/c/upper"),
        env.path("store/c/work"),
        env.path("store/c/merged"),
    );
    for d in [&upper, &work, &merged] {
        fs::create_dir_all(d).unwrap();
    }
    let overlay = Overlay::new(lowers, upper, work, merged.clone());
    assert!(overlay.options(None).unwrap().len() > MAX_OPTIONS);
    overlay.mount().unwrap();
    assert_eq!(fs::read_to_string(merged.join("who")).unwrap(), "149");
    assert!(merged.join("only-0").exists() && merged.join("only-149").exists());
    mount::unmount(&merged).unwrap();
}

testkit::main![
    each_operation_leaves_its_mark_in_the_upper_dir,
    an_upper_dir_survives_the_tar_round_trip,
    hostile_layers_are_refused_and_the_host_is_untouched,
    delete_mode_squashes_whiteouts_onto_the_layers_below,
    many_layers_with_long_paths_still_mount,
];
