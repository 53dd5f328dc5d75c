//! `create` (and the first half of `run`): the parent's side of a
//! container start — runc's order. The cgroup with its limits, the fifo,
//! the seccomp filter compiled, namespaces cloned (ns-demo), the child
//! placed in its cgroup (born there on cgroup v2) and its id maps written;
//! then the `prestart`/`createRuntime` hooks while the child waits with
//! its filesystem built; `create` returns once the child is blocked on
//! `exec.fifo`, and the container is `created`.

use std::io::Read as _;
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::path::{Path, PathBuf};

use cgroup_demo::{Layout, Version};
use mini_docker::container::cgroupfs::View;
use mini_docker::container::record::CgroupnsMode;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use ns_demo::Kind;

use crate::state::{self, Container, Record, Status};
use crate::{cgroups, config, hooks, init, seccomp, Error, Result};

/// `create`'s arguments.
#[derive(Debug, Clone)]
pub struct Options {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_pivot: bool,
    pub systemd_cgroup: bool,
    /// `run` in the foreground keeps the container's stdio and may do
    /// without a console socket only if there is no terminal.
    pub detach: bool,
    /// Descriptors beyond stdio the container's process keeps.
    pub preserve_fds: u32,
}

/// Creates the container; on failure nothing is left behind (directory,
/// cgroup, process). Also returns the read end of the process's error
/// pipe: what it reports if it fails after `create` (a foreground `run`
/// shows it).
pub fn create(o: &Options) -> Result<(Container, std::io::PipeReader)> {
    state::check_id(&o.id)?;
    let bundle = std::fs::canonicalize(&o.bundle).map_err(|e| Error::io(&o.bundle, e))?;
    let spec = config::load(&bundle)?;
    let rootfs = config::rootfs(&spec, &bundle)?;
    std::fs::create_dir_all(&o.root).map_err(|e| Error::io(&o.root, e))?;
    let dir = Container::path(&o.root, &o.id);
    match std::fs::create_dir(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(Error::Exists(o.id.clone()))
        }
        Err(e) => return Err(Error::io(&dir, e)),
    }
    // No lock is held: the new directory is this create's alone, and a
    // lock's descriptor would live on in the container's process
    // (cloned before its exec) and hold off every later command.
    let mut undo = Undo {
        dir: dir.clone(),
        cgroup: None,
        pid: None,
    };
    // Relative mount sources are relative to the bundle.
    std::env::set_current_dir(&bundle).map_err(|e| Error::io(&bundle, e))?;
    let linux = spec.linux().clone().unwrap_or_default();
    let relative = cgroups::path(linux.cgroups_path().as_deref(), &o.id, o.systemd_cgroup)?;
    let nodes = linux.devices().clone().unwrap_or_default();
    let cgroup = cgroups::create(&relative, linux.resources().as_ref(), &nodes)?;
    undo.cgroup = Some(cgroup.clone());

    let fifo_path = dir.join(state::FIFO);
    nix::unistd::mkfifo(&fifo_path, Mode::from_bits_truncate(0o622))
        .map_err(Error::sys(format!("mkfifo {}", fifo_path.display())))?;
    // Writable by the container's root even in a user namespace (the
    // umask took that away from mkfifo's mode).
    std::fs::set_permissions(
        &fifo_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o622),
    )
    .map_err(|e| Error::io(&fifo_path, e))?;
    let fifo = nix::fcntl::open(&fifo_path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(Error::sys("opening exec.fifo"))?;
    let process = spec.process().clone().expect("checked by config::check");
    let filter = linux.seccomp().as_ref().map(seccomp::compile).transpose()?;
    let console = console_socket(&process, o)?;
    let namespaces = config::Namespaces::of(&spec)?;
    let mut join = Vec::new();
    for (kind, path) in &namespaces.join {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        if *kind == Kind::Pid {
            // Affects only children created from now on: the container.
            chroot_demo::error::step(
                format!("setns({})   # pid, joined by path", path.display()),
                || nix::sched::setns(file.as_fd(), Kind::Pid.flag()),
            )?;
        } else {
            join.push((*kind, OwnedFd::from(file)));
        }
    }
    let cgroups_view = needs_cgroup_view(&spec)
        .then(|| -> Result<View> {
            let read_only = spec.mounts().iter().flatten().any(|m| {
                (m.typ().as_deref() == Some("cgroup") || m.typ().as_deref() == Some("cgroup2"))
                    && m.options().iter().flatten().any(|w| w == "ro")
            });
            Ok(View {
                layout: Layout::detect()?,
                mode: if namespaces.has_new(Kind::Cgroup) {
                    CgroupnsMode::Private
                } else {
                    CgroupnsMode::Host
                },
                read_only,
                replaced: false,
            })
        })
        .transpose()?;
    let (mut errors_read, errors_write) = std::io::pipe().map_err(|e| Error::io("pipe", e))?;
    let state_file = dir.join("hook-state.json");
    let plan = init::Plan {
        spec: &spec,
        process: &process,
        rootfs: rootfs.clone(),
        namespaces: namespaces.clone(),
        join,
        fifo: fifo.as_raw_fd(),
        console: console.as_ref().map(|c| c.as_raw_fd()),
        errors: errors_write.as_raw_fd(),
        no_pivot: o.no_pivot,
        filter: filter.as_ref(),
        cgroups: cgroups_view,
        state_file: state_file.clone(),
        preserve_fds: o.preserve_fds,
    };
    // A new cgroup namespace is unshared by the child once in its cgroup.
    let kinds: Vec<Kind> = namespaces
        .new
        .iter()
        .copied()
        .filter(|k| *k != Kind::Cgroup)
        .collect();
    let cgroup_dir = match cgroup.version() {
        Version::V2 => cgroup
            .dirs()
            .first()
            .and_then(|d| std::fs::File::open(d).ok()),
        Version::V1 => None,
    };
    let mut child =
        ns_demo::spawn::spawn_in(&kinds, cgroup_dir.as_ref().map(|f| f.as_fd()), |channel| {
            init::run(&plan, channel)
        })?;
    drop(errors_write);
    drop(plan);
    drop(console);
    undo.pid = Some(child.pid.as_raw());
    let child_failed = |errors: &mut std::io::PipeReader| -> Error {
        let mut message = String::new();
        let _ = errors.read_to_string(&mut message);
        if message.is_empty() {
            Error::State("the container's process exited during create".into())
        } else {
            Error::Child(message)
        }
    };
    if child.placement != ns_demo::spawn::Placement::Born {
        cgroup.add(child.pid)?;
    }
    if namespaces.has_new(Kind::User) {
        let maps =
            |m: Option<&Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<ns_demo::idmap::IdMap> {
                m.into_iter()
                    .flatten()
                    .map(|m| ns_demo::idmap::IdMap::range(m.container_id(), m.host_id(), m.size()))
                    .collect()
            };
        ns_demo::idmap::write(
            child.pid,
            &maps(linux.uid_mappings().as_ref()),
            &maps(linux.gid_mappings().as_ref()),
            ns_demo::idmap::SetGroups::Allow,
        )?;
    }
    let container = Container {
        dir: dir.clone(),
        record: Record {
            id: o.id.clone(),
            pid: child.pid.as_raw(),
            start_time: state::start_time(child.pid.as_raw()).unwrap_or_default(),
            bundle: bundle.clone(),
            rootfs,
            created: humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
            cgroup: relative,
            spec: spec.clone(),
        },
    };
    container.save()?;
    let creating = container.oci_state_as(Status::Creating);
    std::fs::write(&state_file, creating.to_string()).map_err(|e| Error::io(&state_file, e))?;
    let go = |child: &mut ns_demo::spawn::Child| {
        child
            .channel
            .send()
            .map_err(|e| Error::io("the init channel", e))
    };
    go(&mut child)?;
    if child.channel.recv_value().ok().flatten() != Some(init::READY_FOR_HOOKS) {
        return Err(child_failed(&mut errors_read));
    }
    let hook_list = spec.hooks().clone().unwrap_or_default();
    hooks::run("prestart", hook_list.prestart().as_ref(), &creating)?;
    hooks::run(
        "createRuntime",
        hook_list.create_runtime().as_ref(),
        &creating,
    )?;
    go(&mut child)?;
    if child.channel.recv_value().ok().flatten() != Some(init::CREATED) {
        return Err(child_failed(&mut errors_read));
    }
    let _ = std::fs::remove_file(&state_file);
    if let Some(path) = &o.pid_file {
        write_pid_file(path, child.pid.as_raw())?;
    }
    undo.disarm();
    Ok((container, errors_read))
}

/// Whether a bundle mount asks for the cgroup filesystem.
fn needs_cgroup_view(spec: &oci_spec::runtime::Spec) -> bool {
    spec.mounts()
        .iter()
        .flatten()
        .any(|m| matches!(m.typ().as_deref(), Some("cgroup") | Some("cgroup2")))
}

/// `terminal: true` needs somewhere to send the pty: the console socket
/// (runc's rule; a foreground `run` with a terminal is not supported).
fn console_socket(
    process: &oci_spec::runtime::Process,
    o: &Options,
) -> Result<Option<std::os::unix::net::UnixStream>> {
    let terminal = process.terminal() == Some(true);
    match (&o.console_socket, terminal) {
        (Some(path), true) => Ok(Some(
            std::os::unix::net::UnixStream::connect(path).map_err(|e| Error::io(path, e))?,
        )),
        (Some(_), false) => Err(Error::Usage(
            "--console-socket given but process.terminal is false".into(),
        )),
        (None, true) if o.detach => Err(Error::Usage(
            "cannot allocate tty if mini-runc will detach without setting console socket".into(),
        )),
        (None, true) => Err(Error::Unsupported(
            "a terminal without --console-socket (run from a terminal-less engine or give one)"
                .into(),
        )),
        (None, false) => Ok(None),
    }
}

/// The PID, written atomically (engines read the file as soon as it exists).
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let tmp = path.with_extension("mini-runc-tmp");
    std::fs::write(&tmp, pid.to_string()).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// What a failed create must take back.
struct Undo {
    dir: PathBuf,
    cgroup: Option<cgroup_demo::Cgroup>,
    pid: Option<i32>,
}

impl Undo {
    fn disarm(&mut self) {
        self.cgroup = None;
        self.pid = None;
        self.dir = PathBuf::new();
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let pid = nix::unistd::Pid::from_raw(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(pid, None);
        }
        if let Some(cgroup) = &self.cgroup {
            let _ = cgroups::remove(cgroup);
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
