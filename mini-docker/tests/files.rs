//! Issue 14's file semantics, on the real kernel, each test with its own
//! store: a new volume takes the image directory's mode and owner, and
//! `cp` goes through symlinks inside the container's root.

mod support;

use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use support::*;

fn an_empty_volume_takes_the_image_directorys_mode_and_owner() {
    let mut env = with_busybox("md-files-volmode", &[]);
    let stat = |volume: &str, dest: &str, image: &str| {
        ok(
            &env,
            &[
                "run",
                "--rm",
                "-v",
                &format!("{volume}:{dest}"),
                image,
                "stat",
                "-c",
                "%a %u:%g",
                dest,
            ],
        )
        .trim()
        .to_string()
    };
    // An empty image directory: its mode and owner alone.
    assert_eq!(stat("t", "/tmp", "busybox"), "1777 0:0");
    // Still empty: Docker copies again (the new place's mode).
    assert_eq!(stat("t", "/root", "busybox"), "700 0:0");
    ok(
        &env,
        &[
            "run",
            "--name",
            "owner",
            "busybox",
            "sh",
            "-c",
            "mkdir /owned && echo f > /owned/f && chown 1000:1001 /owned && chmod 750 /owned",
        ],
    );
    ok(&env, &["commit", "owner", "owned:1"]);
    assert_eq!(stat("o", "/owned", "owned:1"), "750 1000:1001");
    // A volume with files keeps its own mode elsewhere.
    assert_eq!(stat("o", "/root", "owned:1"), "750 1000:1001");
    let mountpoint = ok(&env, &["volume", "inspect", "-f", "{{.Mountpoint}}", "o"]);
    let meta = std::fs::metadata(mountpoint.trim()).unwrap();
    assert_eq!(
        (meta.permissions().mode() & 0o7777, meta.uid(), meta.gid()),
        (0o750, 1000, 1001)
    );
    ok(&env, &["rm", "owner"]);
    assert_settled(&mut env);
}

fn cp_goes_through_symlinks_inside_the_container() {
    let mut env = with_busybox("md-files-cplinks", &[]);
    let victim = format!("/tmp/md-files-victim-{}", std::process::id());
    let script = format!(
        "if [ -e /done ]; then readlink /link; cat /target; cat {victim}; exit 0; fi; \
         mkdir -p /d/sub {tmp} && echo a > /d/a && echo b > /d/sub/b && ln -s /d /ld && \
         echo old > /target && ln -s /target /link && ln -s target /rel && \
         ln -s ../../../../etc/passwd /up && ln -s ../../../..{victim} /evil && touch /done",
        tmp = "/tmp"
    );
    ok(
        &env,
        &["run", "--name", "cc", "busybox", "sh", "-c", &script],
    );
    let passwd = ok(&env, &["run", "--rm", "busybox", "cat", "/etc/passwd"]);

    // SRC/. through a symlink to a directory: its contents.
    ok(&env, &["cp", "cc:/ld/.", "out"]);
    assert_eq!(std::fs::read_to_string(env.path("out/a")).unwrap(), "a\n");
    assert_eq!(
        std::fs::read_to_string(env.path("out/sub/b")).unwrap(),
        "b\n"
    );
    // The link itself, then what it points to with -L / --follow-link.
    ok(&env, &["cp", "cc:/rel", "nofollow"]);
    assert!(std::fs::symlink_metadata(env.path("nofollow"))
        .unwrap()
        .is_symlink());
    ok(&env, &["cp", "-L", "cc:/rel", "followed"]);
    assert_eq!(
        std::fs::read_to_string(env.path("followed")).unwrap(),
        "old\n"
    );
    // A link climbing above / is followed inside the root: the container's
    // passwd, never the host's.
    ok(&env, &["cp", "--follow-link", "cc:/up", "up"]);
    assert_eq!(std::fs::read_to_string(env.path("up")).unwrap(), passwd);

    // Into a symlink to a file: written through, the link stays.
    std::fs::write(env.path("infile"), "new\n").unwrap();
    ok(&env, &["cp", "infile", "cc:/link"]);
    // Into a link that climbs: lands in the container's /tmp.
    ok(&env, &["cp", "infile", "cc:/evil"]);
    assert!(
        !std::path::Path::new(&victim).exists(),
        "written on the host"
    );
    let out = ok(&env, &["start", "-a", "cc"]);
    assert_eq!(out, "/target\nnew\nnew\n");

    // A host source link with -L: its target's content under the link's name.
    std::os::unix::fs::symlink("infile", env.path("hostlink")).unwrap();
    ok(&env, &["cp", "-L", "hostlink", "cc:/d/"]);
    ok(&env, &["cp", "cc:/d/hostlink", "back"]);
    assert!(std::fs::symlink_metadata(env.path("back"))
        .unwrap()
        .is_file());
    assert_eq!(std::fs::read_to_string(env.path("back")).unwrap(), "new\n");
    ok(&env, &["rm", "cc"]);
    assert_settled(&mut env);
}

/// `cp` streams: a file twice the memory each `cp` may map goes into a
/// container and comes back whole (renamed on the way, and as a tar stream
/// on stdout). A `cp` that buffered the archive could not allocate it.
fn cp_streams_a_file_larger_than_its_memory_limit() {
    use std::io::Write as _;
    use std::os::unix::process::CommandExt as _;
    let mut env = with_busybox("md-files-cpstream", &[]);
    const MIB: usize = 1 << 20;
    const SIZE: usize = 96 * MIB;
    // RLIMIT_DATA: every private writable mapping (heap, thread stacks).
    const LIMIT: libc::rlim_t = 48 << 20;
    let block: Vec<u8> = (0..MIB as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let big = env.path("big");
    let mut file = std::fs::File::create(&big).unwrap();
    for _ in 0..SIZE / MIB {
        file.write_all(&block).unwrap();
    }
    drop(file);
    ok(&env, &["create", "--name", "cs", "busybox", "true"]);
    let cp = |args: &[&str]| {
        let mut command = md_command(&env, "root");
        command.arg("cp").args(args);
        // SAFETY: setrlimit is async-signal-safe; it only lowers the limit.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: LIMIT,
                    rlim_max: LIMIT,
                };
                if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "cp {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let same_as_big = |reader: &mut dyn std::io::Read| {
        let mut chunk = vec![0; MIB];
        for _ in 0..SIZE / MIB {
            reader.read_exact(&mut chunk).unwrap();
            assert!(chunk == block, "the copy differs");
        }
        assert_eq!(reader.read(&mut chunk).unwrap(), 0, "the copy is longer");
    };
    cp(&[big.to_str().unwrap(), "cs:/big"]);
    let back = env.path("back");
    cp(&["cs:/big", back.to_str().unwrap()]);
    same_as_big(&mut std::fs::File::open(&back).unwrap());
    let stream = cp(&["cs:/big", "-"]);
    let mut archive = tar::Archive::new(&stream[..]);
    let mut entries = archive.entries().unwrap();
    let mut entry = entries.next().unwrap().unwrap();
    assert_eq!(entry.path().unwrap().to_str(), Some("big"));
    same_as_big(&mut entry);
    ok(&env, &["rm", "cs"]);
    assert_settled(&mut env);
}

testkit::main![
    an_empty_volume_takes_the_image_directorys_mode_and_owner,
    cp_goes_through_symlinks_inside_the_container,
    cp_streams_a_file_larger_than_its_memory_limit,
];
