//! The v2 device policy on this host's real kernel. The eBPF device hook
//! belongs to the cgroup2 hierarchy itself, not to a controller, so it
//! works on the controller-less cgroup2 mount of a hybrid host too: this
//! test runs here and in the cgroup v2 guest lane alike.

use std::os::unix::fs::FileTypeExt as _;

use cgroup_demo::devices::{Access, Kind, Rule, Rules};
use cgroup_demo::{bpf, Cgroup, Driver, Layout};
use chroot_demo::process::{self, Exit};
use nix::fcntl::OFlag;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use ns_demo::spawn::spawn;
use testkit::TestEnv;

/// The cgroup2 hierarchy of this host (unified, or a hybrid host's
/// controller-less mount).
fn v2_driver() -> Driver {
    let layout = Layout::detect().unwrap();
    let root = layout
        .unified
        .expect("a cgroup2 mount (every supported host has one)");
    Driver::V2 { root }
}

/// Runs `probe` in a child placed in `cgroup`; its exit code is the answer.
fn probe_in(cgroup: &Cgroup, probe: impl FnOnce() -> i32) -> i32 {
    let mut child = spawn(&[], |mut channel| {
        channel.recv().unwrap();
        probe()
    })
    .unwrap();
    cgroup.add(child.pid).unwrap();
    child.channel.send().unwrap();
    match process::wait(child.pid).unwrap() {
        Exit::Code(code) => code,
        other => panic!("probe ended with {other:?}"),
    }
}

fn opens(path: &str, flags: OFlag) -> bool {
    nix::fcntl::open(path, flags, Mode::empty()).is_ok()
}

fn rules(extra: &[&str]) -> Rules {
    let mut rules = Rules(vec![
        Rule::everything(false),
        "c *:* m".parse().unwrap(),
        "b *:* m".parse().unwrap(),
        Rule::allow(Kind::Char, 1, 3, Access::ALL),
    ]);
    rules
        .0
        .extend(extra.iter().map(|r| r.parse::<Rule>().unwrap()));
    rules
}

fn the_device_program_decides_every_open_and_is_replaced_in_one_step() {
    let env = TestEnv::root("bpf-devices");
    let cgroup = v2_driver().create(env.name("devcg")).unwrap();
    cgroup.set_devices(&rules(&[])).unwrap();
    let dir = std::fs::File::open(&cgroup.dirs()[0]).unwrap();
    assert_eq!(bpf::attached(&dir).unwrap().len(), 1);

    // A block node for /dev/loop0's numbers, made by the child itself:
    // mknod is allowed, opening it is not.
    let node = env.path("disk");
    let node_path = node.to_str().unwrap().to_string();
    let code = probe_in(&cgroup, || {
        let mut failures = 0;
        if !opens("/dev/null", OFlag::O_RDWR) {
            failures |= 1;
        }
        if opens("/dev/zero", OFlag::O_RDONLY) {
            failures |= 2;
        }
        if mknod(
            node_path.as_str(),
            SFlag::S_IFBLK,
            Mode::from_bits_truncate(0o600),
            makedev(7, 0),
        )
        .is_err()
        {
            failures |= 4;
        }
        if opens(&node_path, OFlag::O_RDONLY) {
            failures |= 8;
        }
        failures
    });
    assert_eq!(
        code, 0,
        "bits: 1 null refused, 2 zero allowed, 4 mknod refused, 8 disk opened"
    );
    assert!(std::fs::symlink_metadata(&node)
        .unwrap()
        .file_type()
        .is_block_device());

    // New rules replace the old program: still one attached, now /dev/zero
    // opens (read only) and the disk still does not.
    cgroup.set_devices(&rules(&["c 1:5 r"])).unwrap();
    assert_eq!(bpf::attached(&dir).unwrap().len(), 1);
    let code = probe_in(&cgroup, || {
        let zero_read = opens("/dev/zero", OFlag::O_RDONLY);
        let zero_write = opens("/dev/zero", OFlag::O_WRONLY);
        let disk = opens(&node_path, OFlag::O_RDONLY);
        i32::from(!zero_read) | i32::from(zero_write) << 1 | i32::from(disk) << 2
    });
    assert_eq!(
        code, 0,
        "bits: 1 zero unreadable, 2 zero writable, 4 disk opened"
    );

    // Allowing everything takes the program off.
    cgroup
        .set_devices(&Rules(vec![Rule::everything(true)]))
        .unwrap();
    assert!(bpf::attached(&dir).unwrap().is_empty());
    drop(dir);
    std::fs::remove_file(&node).unwrap();
    cgroup.remove().unwrap();
}

fn a_program_the_verifier_refuses_is_a_clear_error() {
    let _env = TestEnv::root("bpf-verifier");
    // No exit instruction: the verifier refuses it and says why.
    let bad = [cgroup_demo::devices::Insn {
        code: 0xb7,
        regs: 0,
        off: 0,
        imm: 1,
    }];
    let err = bpf::load_device_program(&bad).unwrap_err().to_string();
    assert!(err.starts_with("bpf(BPF_PROG_LOAD): "), "{err}");
    assert!(err.contains("verifier"), "{err}");
}

fn the_lesson_binary_shows_the_rules_the_program_and_the_refusal() {
    let mut env = TestEnv::root("cg-devices");
    let out = env.run_ok(env!("CARGO_BIN_EXE_cgroup-demo"), &["devices"], |pid| {
        vec![
            format!("cgroup-demo-{pid}"),
            format!("cgroup-demo-devices-{pid}"),
        ]
    });
    assert!(
        out.contains("   deny  a *:* rwm\n   allow c *:* m\n"),
        "{out}"
    );
    assert!(out.contains("if major != 136 goto"), "{out}");
    assert!(out.contains("open /dev/null for writing: allowed"), "{out}");
    assert!(
        out.contains("open that node for reading: refused: Operation not permitted"),
        "{out}"
    );
}

testkit::main![
    the_device_program_decides_every_open_and_is_replaced_in_one_step,
    a_program_the_verifier_refuses_is_a_clear_error,
    the_lesson_binary_shows_the_rules_the_program_and_the_refusal,
];
