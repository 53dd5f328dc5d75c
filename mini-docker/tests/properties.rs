//! Hostile input, generated rather than hand-picked (proptest): image
//! references, `-p` port specs, `-v`/`--mount`/`--tmpfs` specs and layer
//! tarballs. No parser may panic; what is accepted means what it says; a
//! layer never writes outside its directory. (The Go-template engine's
//! properties are unit tests beside it, `cli/template/tests.rs`.) No root:
//! a refusal is refused before any privilege would matter.
//!
//! Any failure proptest finds is kept as a named regression test below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mini_docker::container::dir::Containers;
use mini_docker::container::mounts::{resolve, MountFlags};
use mini_docker::reference::Reference;
use mini_docker::volume::Volumes;
use overlay_demo::layer::{apply, ApplyOptions, Whiteouts};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use testkit::TestEnv;

/// `cases` cases; failures are kept as named regression tests below,
/// not in a persistence file.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- image references

fn component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}([._-][a-z0-9]{1,4}|__[a-z0-9]{1,3}){0,2}"
}

/// The first component without a registry: no `.` (it would be a host).
fn first_component() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}([_-][a-z0-9]{1,4}|__[a-z0-9]{1,3}){0,2}"
}

fn registry() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        Just(None),
        Just(Some("localhost".to_string())),
        "[a-z0-9]{1,8}(\\.[a-z0-9]{1,5}){1,2}(:[0-9]{2,5})?".prop_map(Some),
        "[a-z0-9]{1,8}:[0-9]{2,5}".prop_map(Some),
    ]
}

prop_compose! {
    fn reference()(
        registry in registry(),
        first in first_component(),
        path in proptest::collection::vec(component(), 0..3),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        digest in proptest::option::of("[0-9a-f]{64}"),
    ) -> String {
        let mut s = registry.map(|r| format!("{r}/")).unwrap_or_default();
        s.push_str(&first);
        for p in path { s.push('/'); s.push_str(&p); }
        if let Some(t) = tag { s.push(':'); s.push_str(&t); }
        if let Some(d) = digest { s.push_str("@sha256:"); s.push_str(&d); }
        s
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_text_is_a_reference_or_an_error(text in "\\PC{0,80}") {
        let _ = text.parse::<Reference>();
    }

    #[test]
    fn a_valid_reference_parses_and_round_trips(text in reference()) {
        let r: Reference = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let again: Reference = r.to_string().parse().unwrap();
        prop_assert_eq!(&again, &r);
        prop_assert!(r.tag.is_some() || r.digest.is_some());
        prop_assert!(!r.registry.is_empty() && !r.path.is_empty());
    }

    #[test]
    fn an_uppercase_repository_is_refused(text in reference(), at in 0usize..8) {
        let name_end = text.rfind('/').map_or(0, |i| i + 1);
        let name: Vec<char> = text[name_end..].chars().take_while(|c| *c != ':' && *c != '@').collect();
        let letters: Vec<usize> = (0..name.len()).filter(|&i| name[i].is_ascii_lowercase()).collect();
        prop_assume!(!letters.is_empty());
        let i = letters[at % letters.len()];
        let mut bad = text.clone();
        bad.replace_range(name_end + i..name_end + i + 1, &name[i].to_ascii_uppercase().to_string());
        prop_assert!(bad.parse::<Reference>().is_err(), "{} was accepted", bad);
    }
}

/// Regression: a character outside the grammar inside a component made
/// the parser loop forever (`mini-docker pull "ab'c"` hung).
#[test]
fn regression_a_stray_character_in_a_reference_is_refused() {
    for text in ["ab'c", "l'\u{c2e}d", "a b:1"] {
        assert!(text.parse::<Reference>().is_err(), "{text}");
    }
}

// --- port specs

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_text_is_a_port_spec_or_an_error(text in "[0-9a-f:.\\[\\]/-]{0,30}|\\PC{0,30}") {
        let _ = net_demo::publish::parse_publish(&text);
    }

    #[test]
    fn a_valid_port_spec_publishes_what_it_says(
        ip in proptest::option::of(prop_oneof![Just("127.0.0.1"), Just("0.0.0.0"), Just("[::1]")]),
        host in proptest::option::of(1u16..60000),
        container in 1u16..60000,
        len in 0u16..4,
        udp in any::<bool>(),
    ) {
        let end = |p: u16| if len == 0 { p.to_string() } else { format!("{p}-{}", p + len) };
        let mut spec = String::new();
        if let Some(ip) = ip { spec.push_str(ip); spec.push(':'); }
        match host {
            Some(h) => { spec.push_str(&end(h)); spec.push(':'); }
            None if ip.is_some() => spec.push(':'),
            None => {}
        }
        spec.push_str(&end(container));
        if udp { spec.push_str("/udp"); }
        let specs = net_demo::publish::parse_publish(&spec)
            .map_err(|e| TestCaseError::fail(format!("{spec}: {e}")))?;
        prop_assert_eq!(specs.len(), usize::from(len) + 1, "{}", spec);
        for (i, s) in specs.iter().enumerate() {
            prop_assert_eq!(s.container_port, container + i as u16);
            if let Some(h) = host { prop_assert_eq!(s.host_port, Some(h + i as u16)); }
            prop_assert_eq!(s.proto == net_demo::publish::Proto::Udp, udp);
        }
    }

    #[test]
    fn ranges_of_different_lengths_are_refused(h in 1u16..60000, c in 1u16..60000, a in 1u16..5, b in 1u16..5) {
        prop_assume!(a != b);
        let spec = format!("{h}-{}:{c}-{}", h + a, c + b);
        prop_assert!(net_demo::publish::parse_publish(&spec).is_err(), "{} accepted", spec);
    }
}

// --- volume and mount specs

/// Runs `test` on `cases` values of `strategy(env)` inside one test
/// environment (its directory holds every file the cases make, and is
/// removed, and leak-checked, at the end).
fn check<S: Strategy>(
    name: &str,
    cases: u32,
    strategy: impl Fn(&TestEnv) -> S,
    test: impl Fn(&TestEnv, S::Value) -> Result<(), TestCaseError>,
) {
    let env = TestEnv::new(name);
    let mut runner = TestRunner::new(config(cases));
    if let Err(e) = runner.run(&strategy(&env), |v| test(&env, v)) {
        panic!("{e}");
    }
}

/// The stores `resolve` makes volumes and looks up containers in.
fn mount_world(env: &TestEnv) -> (Volumes, Containers) {
    let root = env.path("store");
    let volumes = Volumes::open(&root).unwrap();
    let containers = Containers::open(&root, &env.path("run")).unwrap();
    (volumes, containers)
}

/// Go's `filepath.Clean` of an absolute path.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// `-v` specs; bind sources are confined to `host` (`-v` creates a
/// missing source).
fn volume_spec(host: &Path) -> impl Strategy<Value = String> {
    let bind = host.display().to_string();
    let source = prop_oneof![
        Just(String::new()),
        "[a-z][a-z0-9_.-]{0,8}".prop_map(|n| format!("{n}:")),
        "[a-z]{1,4}(/[a-z.]{1,3}){0,2}".prop_map(move |p| format!("{bind}/{p}:")),
        Just("relative/path:".to_string()),
    ];
    let dest = prop_oneof![
        Just("/data".to_string()),
        "(/[a-z.]{1,3}){1,3}",
        Just("/..".to_string()),
        Just("/a/../b/./c/".to_string()),
        Just("/".to_string()),
        Just("relative".to_string()),
        Just(String::new()),
    ];
    let opts = prop_oneof![
        Just(""),
        Just(":ro"),
        Just(":rw"),
        Just(":z"),
        Just(":ro,z"),
        Just(":bogus"),
        Just(":ro:extra")
    ];
    (source, dest, opts).prop_map(|(s, d, o)| format!("{s}{d}{o}"))
}

#[test]
fn volume_specs_mean_what_they_say() {
    check(
        "props-volumes",
        1000,
        |env| proptest::collection::vec(volume_spec(&env.path("host")), 1..4),
        |env, specs| {
            let (volumes, containers) = mount_world(env);
            let flags = MountFlags {
                volumes: specs.clone(),
                ..Default::default()
            };
            if let Ok(mounts) = resolve(&flags, &[], &volumes, &containers) {
                prop_assert_eq!(mounts.len(), specs.len());
                // `resolve` orders mounts (parents first): match by target.
                let by_dest: BTreeMap<String, &String> = specs
                    .iter()
                    .map(|spec| {
                        let parts: Vec<&str> = spec.split(':').collect();
                        (
                            clean(if parts.len() == 1 { parts[0] } else { parts[1] }),
                            spec,
                        )
                    })
                    .collect();
                prop_assert_eq!(
                    by_dest.len(),
                    specs.len(),
                    "a duplicate target was accepted"
                );
                for m in &mounts {
                    let spec = by_dest.get(&m.destination);
                    prop_assert!(spec.is_some(), "{} from no spec", m.destination);
                    let spec = spec.unwrap();
                    // Cleaned as Docker cleans it, and never the root.
                    prop_assert_eq!(clean(&m.destination), m.destination.clone(), "{}", spec);
                    prop_assert!(m.destination != "/", "{}", spec);
                    prop_assert_eq!(
                        m.rw,
                        !spec.ends_with(":ro") && !spec.contains(":ro,"),
                        "{}",
                        spec
                    );
                    if m.kind == mini_docker::container::record::MountKind::Bind {
                        prop_assert!(
                            Path::new(&m.source).starts_with(env.path("host")),
                            "{}",
                            spec
                        );
                    }
                }
            }
            Ok(())
        },
    );
}

#[test]
fn mount_and_tmpfs_specs_never_panic() {
    let field = "((type|source|src|target|dst|readonly|tmpfs-size|tmpfs-mode|volume-opt|bind-propagation)(=[a-z0-9/=.,]{0,8})?,?){0,5}";
    check(
        "props-mounts",
        1000,
        |_| {
            (
                proptest::collection::vec(field, 0..3),
                proptest::collection::vec("(/[a-z]{1,3}){0,2}(:[a-z0-9=,]{0,12})?", 0..3),
            )
        },
        |env, (mounts, tmpfs)| {
            let (volumes, containers) = mount_world(env);
            // Bind sources of --mount are never created, so any text is safe.
            let flags = MountFlags {
                mounts,
                tmpfs,
                ..Default::default()
            };
            let _ = resolve(&flags, &[], &volumes, &containers);
            Ok(())
        },
    );
}

// --- layer application

/// One raw tar entry: (name, type, link target, payload).
type Entry = (String, tar::EntryType, String, Vec<u8>);

/// Layer entry names that try to leave: up to two `..` (which reach the
/// test's own directory, never further: a broken check must not damage the
/// host), whiteouts of what is outside, and absolute names (whose parts
/// name nothing on a host).
fn hostile_name() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("a"),
        Just("b"),
        Just("."),
        Just(""),
        Just("outside"),
        Just("victim"),
        Just(".wh.victim"),
        Just(".wh.a"),
        Just(".wh.outside"),
        Just(".wh..wh..opq"),
        Just("link"),
        Just("hard"),
    ];
    let relative = (0usize..3, proptest::collection::vec(part, 1..4)).prop_map(|(up, parts)| {
        let mut all = vec![".."; up];
        all.extend(parts);
        all.join("/")
    });
    let absolute = proptest::collection::vec(prop_oneof![Just("a"), Just("b")], 1..3)
        .prop_map(|parts| format!("/md-props-{}/{}", std::process::id(), parts.join("/")));
    prop_oneof![4 => relative, 1 => absolute]
}

fn entry(outside: String) -> impl Strategy<Value = Entry> {
    let kind = prop_oneof![
        4 => Just(tar::EntryType::Regular),
        2 => Just(tar::EntryType::Directory),
        2 => Just(tar::EntryType::Symlink),
        2 => Just(tar::EntryType::Link),
        1 => Just(tar::EntryType::Char),
        1 => Just(tar::EntryType::Block),
        1 => Just(tar::EntryType::Fifo),
    ];
    let target = prop_oneof![
        hostile_name(),
        Just(outside.clone()),
        Just(format!("{outside}/victim")),
        Just("../../outside/victim".to_string()),
    ];
    (
        hostile_name(),
        kind,
        target,
        proptest::collection::vec(any::<u8>(), 0..16),
    )
}

/// Raw headers: the tar crate's own path checks are what we test past.
fn tarball(entries: &[Entry]) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for (name, kind, target, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        let name = &name.as_bytes()[..name.len().min(99)];
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        let target = &target.as_bytes()[..target.len().min(99)];
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target);
        h.set_mode(0o4755);
        h.set_device_major(8).unwrap();
        h.set_device_minor(0).unwrap();
        let data: &[u8] = if *kind == tar::EntryType::Regular {
            data
        } else {
            &[]
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        out.append(&h, data).unwrap();
    }
    out.into_inner().unwrap()
}

/// Every path below `dir` with its kind and content (links not followed).
fn listing(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else if meta.file_type().is_symlink() {
                format!("-> {:?}", std::fs::read_link(&p).unwrap())
            } else if meta.is_file() {
                format!("file {:?}", std::fs::read(&p).ok())
            } else {
                // A FIFO is not opened: that would wait for a writer.
                format!(
                    "{:?} {}",
                    meta.file_type(),
                    std::os::unix::fs::MetadataExt::rdev(&meta)
                )
            };
            out.insert(p, what);
        }
    }
    out
}

/// Whatever the stream holds, nothing outside the layer's directory is
/// created, changed or removed, and nothing panics.
#[test]
fn a_layer_never_writes_outside_its_directory() {
    check(
        "props-layers",
        1500,
        |env| {
            let outside = env.path("layer/outside").display().to_string();
            (
                proptest::collection::vec(entry(outside), 1..12),
                any::<bool>(),
                any::<bool>(),
            )
        },
        |env, (entries, delete, allow_devices)| {
            let base = env.path("layer");
            let _ = std::fs::remove_dir_all(&base);
            let (root, outside) = (base.join("layers/root"), base.join("outside"));
            std::fs::create_dir_all(&root).unwrap();
            std::fs::create_dir_all(&outside).unwrap();
            std::fs::write(outside.join("victim"), "original").unwrap();
            let passwd = std::fs::read("/etc/passwd").unwrap();
            let before = listing(&base);
            let options = ApplyOptions {
                whiteouts: if delete {
                    Whiteouts::Delete
                } else {
                    Whiteouts::Overlay
                },
                allow_devices,
                same_owner: false,
            };
            let _ = apply(&tarball(&entries)[..], &root, options);
            let after = listing(&base);
            for (path, was) in &before {
                if !path.starts_with(&root) {
                    prop_assert_eq!(after.get(path), Some(was), "{} changed", path.display());
                }
            }
            for path in after.keys() {
                prop_assert!(
                    path.starts_with(&root) || before.contains_key(path),
                    "{} created",
                    path.display()
                );
            }
            prop_assert_eq!(std::fs::read("/etc/passwd").unwrap(), passwd);
            let absolute = PathBuf::from(format!("/md-props-{}", std::process::id()));
            prop_assert!(
                !absolute.exists(),
                "an absolute name was written on the host"
            );
            Ok(())
        },
    );
}
