//! Lesson 1, narrated: what chroot isolates, how root escapes it, and how
//! pivot_root in a mount namespace closes the escape.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use chroot_demo::escape::{self, Outcome};
use chroot_demo::observe::{look, FileId, View};
use chroot_demo::process::{self, Exit};
use chroot_demo::{root, rootfs};
use clap::{Parser, Subcommand};
use narrate::{Cleanup, ForegroundChild, Steps};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

#[derive(Parser)]
#[command(version, about = "Lesson 1: chroot, its escape, and pivot_root")]
struct Cli {
    #[command(flatten)]
    options: narrate::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a busybox root filesystem in DIR (from Debian's busybox-static).
    PrepareRootfs {
        /// Where to build it (created; must be new or empty).
        dir: PathBuf,
        /// The statically linked busybox to install.
        #[arg(long, default_value = rootfs::DEFAULT_BUSYBOX)]
        busybox: PathBuf,
    },
    /// chroot into ROOTFS and run CMD, showing what chroot does not isolate.
    Run {
        /// A root filesystem (see prepare-rootfs).
        rootfs: PathBuf,
        /// Mount the host's /proc inside the rootfs first (a mount the host sees).
        #[arg(long)]
        proc: bool,
        /// Command to run inside (default: /bin/sh).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// The classic escape: it works from a chroot and fails after pivot_root.
    Escape {
        /// A root filesystem (see prepare-rootfs).
        rootfs: PathBuf,
    },
    /// Enter ROOTFS the way container runtimes do, then run CMD.
    Pivot {
        /// A root filesystem (see prepare-rootfs).
        rootfs: PathBuf,
        /// Make / shared in the new namespace first, to see pivot_root's EINVAL.
        #[arg(long)]
        shared_root: bool,
        /// Command to run inside (default: /bin/sh).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cmd: Vec<String>,
    },
    /// Remove what a run killed with SIGKILL left in ROOTFS.
    ///
    /// The /proc mount of `run --proc` and the escape's scratch directories.
    Clean {
        /// A root filesystem (see prepare-rootfs).
        rootfs: PathBuf,
    },
}

fn main() {
    let cli = Cli::parse();
    narrate::main("chroot-demo", cli.options, |steps| match cli.command {
        Command::PrepareRootfs { dir, busybox } => prepare(&dir, &busybox),
        Command::Run { rootfs, proc, cmd } => run(steps, &checked(&rootfs)?, proc, cmd),
        Command::Escape { rootfs } => escape_demo(steps, &checked(&rootfs)?),
        Command::Clean { rootfs } => clean(&checked(&rootfs)?),
        Command::Pivot {
            rootfs,
            shared_root,
            cmd,
        } => pivot(steps, &checked(&rootfs)?, shared_root, cmd),
    })
}

/// The rootfs as an absolute path, refusing anything that cannot work.
fn checked(rootfs: &Path) -> Result<PathBuf> {
    let abs =
        std::fs::canonicalize(rootfs).with_context(|| format!("rootfs {}", rootfs.display()))?;
    if abs == Path::new("/") {
        bail!("rootfs must not be the host's / itself");
    }
    if !abs.join("bin/sh").exists() {
        bail!(
            "{} has no /bin/sh; make one with: chroot-demo prepare-rootfs {}",
            rootfs.display(),
            rootfs.display()
        );
    }
    Ok(abs)
}

fn prepare(dir: &Path, busybox: &Path) -> Result<i32> {
    let prepared = rootfs::prepare_busybox(dir, busybox)?;
    let verb = if prepared.created {
        "prepared"
    } else {
        "already prepared"
    };
    println!(
        "{verb}: busybox rootfs in {} ({} applets)",
        dir.display(),
        prepared.applets
    );
    Ok(0)
}

fn clean(rootfs: &Path) -> Result<i32> {
    let proc_dir = rootfs.join("proc");
    if host_mount_count(&proc_dir)? > 0 {
        root::unmount(&proc_dir)?;
        println!("unmounted {}", proc_dir.display());
    }
    for entry in std::fs::read_dir(rootfs)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if narrate::left_by_dead_run(&name, ".escape-") {
            std::fs::remove_dir(entry.path())?;
            println!("removed {}", entry.path().display());
        }
    }
    Ok(0)
}

fn default_cmd(cmd: Vec<String>) -> Vec<String> {
    if cmd.is_empty() {
        vec!["/bin/sh".into()]
    } else {
        cmd
    }
}

fn run(steps: &mut Steps, rootfs: &Path, proc: bool, cmd: Vec<String>) -> Result<i32> {
    let cmd = default_cmd(cmd);
    steps.step("outside, on the host");
    let host = look()?;
    describe_host(&host, rootfs)?;

    let proc_dir = rootfs.join("proc");
    let _proc_mount = if proc {
        steps.step("mount /proc inside the rootfs");
        // Registered before mounting: a signal in between still unmounts.
        let target = proc_dir.clone();
        let cleanup = Cleanup::new(move || {
            let _ = root::unmount(&target);
        });
        root::mount_proc(&proc_dir)?;
        if host_mount_count(&proc_dir)? > 0 {
            println!(
                "   no mount namespace: the host's own mount table now lists {}",
                proc_dir.display()
            );
        }
        Some(cleanup)
    } else {
        None
    };

    steps.step(&format!("chroot {} and look around", rootfs.display()));
    let child = process::spawn(|| {
        enter_look_exec(
            || root::chroot(rootfs),
            |inside| describe_chroot(&host, inside),
            &cmd,
        )
    })?;
    let exit = wait_foreground(child)?;
    if proc {
        println!("== cleaning up: umount {}", proc_dir.display());
    }
    Ok(exit.code())
}

/// In a child: enter the rootfs, narrate what it looks like from inside,
/// then become `cmd`. Returns the exit code when any of that fails.
fn enter_look_exec(
    enter: impl FnOnce() -> chroot_demo::Result<()>,
    describe: impl FnOnce(&View),
    cmd: &[String],
) -> i32 {
    if let Err(e) = enter() {
        eprintln!("chroot-demo: {e}");
        return 1;
    }
    match look() {
        Ok(inside) => describe(&inside),
        Err(e) => eprintln!("chroot-demo: {e}"),
    }
    println!("== exec {}", cmd.join(" "));
    let (err, code) = process::exec(cmd);
    eprintln!("chroot-demo: exec {}: {err}", cmd.join(" "));
    code
}

fn describe_host(host: &View, rootfs: &Path) -> Result<()> {
    println!(
        "   my pid is {}, the hostname is {}",
        host.pid, host.hostname
    );
    println!("   / is {}", host.root);
    println!(
        "   {} is {}",
        rootfs.display(),
        FileId::of(rootfs).context("rootfs")?
    );
    Ok(())
}

fn describe_chroot(host: &View, inside: &View) {
    println!("   / is now {}: the rootfs directory", inside.root);
    println!(
        "   my pid is {}: the host's numbering, no PID namespace",
        inside.pid
    );
    let same = if inside.hostname == host.hostname {
        "the host's, no UTS namespace"
    } else {
        "changed?"
    };
    println!("   the hostname is {}: {same}", inside.hostname);
    match inside.processes {
        Some(n) => println!("   /proc lists {n} processes: every process on the host"),
        None => println!("   /proc is empty here; with --proc the host's processes would show"),
    }
    if let Some(n) = inside.mounts {
        println!(
            "   /proc/self/mountinfo lists {n} mount(s): only those below the new root show, \
             but the table is the host's"
        );
    }
}

/// Waits for a child the user may be typing into; Ctrl-C goes to it.
fn wait_foreground(child: Pid) -> Result<Exit> {
    let _reap = reaper(child);
    let _fg = ForegroundChild::enter();
    Ok(process::wait(child)?)
}

/// On an early exit (error, SIGTERM) the child must not outlive the demo.
fn reaper(child: Pid) -> Cleanup {
    Cleanup::new(move || {
        if kill(child, Signal::SIGKILL).is_ok() {
            let _ = process::wait(child);
        }
    })
}

/// Exit codes the escape children use to report the outcome.
const ESCAPED: i32 = 10;
const CONTAINED: i32 = 11;
const HOST_FILE: &str = "/etc/os-release";

fn escape_demo(steps: &mut Steps, rootfs: &Path) -> Result<i32> {
    steps.step("outside, on the host");
    let host_root = FileId::of(Path::new("/"))?;
    println!("   / is {host_root}");
    println!("   {HOST_FILE}: {}", peek(HOST_FILE));

    let scratch_name = format!(".escape-{}", std::process::id());
    let scratch = rootfs.join(&scratch_name);
    let _remove_scratch = Cleanup::new({
        let scratch = scratch.clone();
        move || {
            let _ = std::fs::remove_dir(&scratch);
        }
    });

    steps.step(&format!("chroot {} and try to climb out", rootfs.display()));
    let chrooted = attempt_in_child(host_root, &scratch_name, || root::chroot(rootfs))?;
    let _ = std::fs::remove_dir(&scratch);

    steps.step("pivot_root into the rootfs in a new mount namespace, and try again");
    let pivoted = attempt_in_child(host_root, &scratch_name, || {
        root::enter_with_pivot_root(rootfs)
    })?;

    steps.step("what happened");
    match (chrooted, pivoted) {
        (ESCAPED, CONTAINED) => {
            println!("   chroot: escaped. chroot only changes where path lookups start; the");
            println!("   host's filesystem is still mounted in this namespace, so a root process");
            println!("   that moves its root below its working directory walks back to it.");
            println!("   pivot_root: contained. The old root was detached from the new mount");
            println!("   namespace, so no path, not even `..` from the top, leads to the host.");
            Ok(0)
        }
        other => bail!("unexpected outcome (chroot, pivot_root) = {other:?}; see the lines above"),
    }
}

/// Enters the rootfs in a child, tries the escape there and narrates it.
/// Returns [`ESCAPED`], [`CONTAINED`] or the child's failure code.
fn attempt_in_child(
    host_root: FileId,
    scratch: &str,
    enter: impl FnOnce() -> chroot_demo::Result<()>,
) -> Result<i32> {
    let child = process::spawn(|| {
        if let Err(e) = enter() {
            eprintln!("chroot-demo: {e}");
            return 1;
        }
        let inside = FileId::of(Path::new("/")).map(|id| id.to_string());
        println!("   / is now {}", inside.unwrap_or_else(|e| e.to_string()));
        println!("   {HOST_FILE}: {}", peek(HOST_FILE));
        match escape::attempt(Path::new(scratch), host_root) {
            Ok(Outcome::Escaped) => {
                println!("   ESCAPED: / is {host_root} again, the host's root");
                println!("   {HOST_FILE}: {}", peek(HOST_FILE));
                ESCAPED
            }
            Ok(Outcome::Contained { root }) => {
                println!("   CONTAINED: the climb ended at {root}, the rootfs itself");
                println!("   {HOST_FILE}: {}", peek(HOST_FILE));
                CONTAINED
            }
            Err(e) => {
                eprintln!("chroot-demo: {e}");
                1
            }
        }
    })?;
    let _reap = reaper(child);
    Ok(process::wait(child)?.code())
}

/// The `PRETTY_NAME` line of an os-release file, or why it cannot be read.
fn peek(path: &str) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .lines()
            .find(|l| l.starts_with("PRETTY_NAME="))
            .or_else(|| text.lines().next())
            .unwrap_or("(empty)")
            .to_string(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "not found".into(),
        Err(e) => e.to_string(),
    }
}

fn pivot(steps: &mut Steps, rootfs: &Path, shared_root: bool, cmd: Vec<String>) -> Result<i32> {
    let cmd = default_cmd(cmd);
    steps.step("outside, on the host");
    let host = look()?;
    describe_host(&host, rootfs)?;
    println!(
        "   the host's mount table has {} mounts",
        host.mounts.unwrap_or(0)
    );

    steps.step("new mount namespace, private propagation, pivot_root, detach the old root");
    let child = process::spawn(|| {
        let entered = root::new_mount_namespace().and_then(|()| {
            if shared_root {
                root::make_root_shared()?;
                println!("   (--shared-root: / is shared in this namespace, as on systemd hosts)");
            } else {
                root::make_root_private()?;
            }
            root::pivot_root(rootfs)
        });
        enter_look_exec(
            || entered.and_then(|()| root::mount_proc(Path::new("/proc"))),
            |inside| describe_pivot(&host, inside),
            &cmd,
        )
    })?;
    let exit = wait_foreground(child)?;
    let leaked = host_mount_count(rootfs)?;
    println!(
        "== back on the host: it sees {leaked} mounts under the rootfs; the namespace's died with it"
    );
    Ok(exit.code())
}

/// Mounts at or below `path` in the narrator's (the host's) mount table.
fn host_mount_count(path: &Path) -> Result<usize> {
    Ok(std::fs::read_to_string("/proc/self/mountinfo")?
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| Path::new(m).starts_with(path))
        .count())
}

fn describe_pivot(host: &View, inside: &View) {
    println!("   / is now {}: the rootfs, as a mount point", inside.root);
    if let Some(n) = inside.mounts {
        println!(
            "   /proc/self/mountinfo lists {n} mounts: the new root and /proc; the host's {} are gone",
            host.mounts.unwrap_or(0)
        );
    }
    println!(
        "   my pid is {} and the hostname is {}: still the host's (lesson 2 adds namespaces)",
        inside.pid, inside.hostname
    );
}
