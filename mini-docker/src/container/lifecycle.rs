//! What the lifecycle commands do to a container that a monitor may be
//! supervising: its effective state, signals, stop, pause, removal.
//!
//! The state file is the monitor's word; a monitor that no longer exists
//! (SIGKILLed, or the machine rebooted) cannot have updated it, so a
//! container whose file says "running" without a live monitor is shown as
//! `dead`, and removal cleans what such a monitor left (its cgroup).

use std::path::Path;
use std::time::{Duration, Instant};

use cgroup_demo::{Cgroup, Driver};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::dir::Containers;
use super::record::{Container, MountKind, Runtime, State};
#[cfg(test)]
use super::status::Status;
use crate::events::Action;
use crate::volume::Volumes;
use crate::{Error, Result};

/// Why a lifecycle command refused (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("Invalid signal: {0}")]
    InvalidSignal(String),
    #[error("Cannot kill container: {name}: Container {id} is not running")]
    CannotKill { name: String, id: String },
    /// By ID, as Docker words it.
    #[error("Container {0} is not running")]
    NotRunning(String),
    #[error("Container {0} is already paused")]
    AlreadyPaused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("You cannot remove a running container {0}. Stop the container before attempting removal or force remove")]
    RemoveRunning(String),
    /// A second monitor for a container that has one (by short ID).
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    /// `--network`/`--ipc`/`--pid`/`--uts container:KEY` of a stopped one.
    #[error("cannot join {what} of a non running container: {key}")]
    JoinNotRunning { what: String, key: String },
}

/// The state as it really is: the recorded one, corrected for a dead monitor.
pub fn effective(runtime: &Runtime) -> State {
    let mut state = runtime.state.clone();
    if state.status.is_live() && !runtime.monitor_alive() {
        state.monitor_lost();
    }
    state
}

/// Whether the container's process is there to receive signals.
pub fn is_running(runtime: &Runtime) -> bool {
    let state = effective(runtime);
    state.status.can_kill() && state.pid > 0
}

/// The container's cgroup (it may not exist).
pub fn cgroup(c: &Container) -> Result<Cgroup> {
    let parent = if c.host_config.cgroup_parent.is_empty() {
        "mini-docker"
    } else {
        &c.host_config.cgroup_parent
    };
    Ok(Driver::for_host()?.open(Path::new(parent).join(&c.id)))
}

/// Docker's signal names: `KILL`, `SIGKILL`, `9`.
pub fn parse_signal(text: &str) -> Result<Signal> {
    let upper = text.to_ascii_uppercase();
    if let Ok(n) = upper.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| LifecycleError::InvalidSignal(text.into()).into());
    }
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse()
        .map_err(|_| LifecycleError::InvalidSignal(text.into()).into())
}

/// `kill -s SIGNAL`: marks the container as stopped by the user (no
/// restart) and signals its first process.
pub fn signal(containers: &Containers, c: &Container, sig: Signal) -> Result<()> {
    let runtime = containers.runtime(&c.id)?;
    if !is_running(&runtime) {
        return Err(LifecycleError::CannotKill {
            name: c.name.trim_start_matches('/').into(),
            id: c.id.clone(),
        }
        .into());
    }
    containers.update(&c.id, |r| r.stopped_by_user = true)?;
    if runtime.state.paused() && sig == Signal::SIGKILL {
        let _ = cgroup(c)?.freeze(false);
    }
    tracing::info!(target: "explain", "kill -{} {}", sig.as_str().trim_start_matches("SIG"), runtime.state.pid);
    // Recorded first: the monitor records the `die` this signal may cause
    // as soon as it reaps, and Docker's order is kill, then die.
    containers.record(Action::Kill, c, &[("signal", (sig as i32).to_string())]);
    kill(Pid::from_raw(runtime.state.pid), sig)
        .map_err(|e| Error::System(chroot_demo::Error::sys("kill", e)))?;
    Ok(())
}

/// Waits until the monitor has finished with the container (recorded the
/// exit and cleaned up), up to `timeout`; true if it did.
pub fn wait_for_monitor(containers: &Containers, id: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if containers.runtime(id).map_or(true, |r| !r.monitor_alive()) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `stop`: the stop signal, then SIGKILL after `timeout`. A container that
/// is not running is left as it is.
pub fn stop(containers: &Containers, c: &Container, timeout: Duration) -> Result<()> {
    let runtime = containers.runtime(&c.id)?;
    if !is_running(&runtime) {
        containers.update(&c.id, |r| r.stopped_by_user = true)?;
        return Ok(());
    }
    if runtime.state.paused() {
        cgroup(c)?.freeze(false)?;
        containers.update(&c.id, |r| r.state.freeze(false))?;
    }
    let stop_signal = c
        .config
        .stop_signal
        .as_deref()
        .map(parse_signal)
        .transpose()?
        .unwrap_or(Signal::SIGTERM);
    let _ = signal(containers, c, stop_signal);
    if wait_for_monitor(containers, &c.id, timeout) {
        containers.record(Action::Stop, c, &[]);
        return Ok(());
    }
    let _ = signal(containers, c, Signal::SIGKILL);
    wait_for_monitor(containers, &c.id, Duration::from_secs(10));
    containers.record(Action::Stop, c, &[]);
    Ok(())
}

/// `pause`/`unpause`: the freezer (lesson 3).
pub fn freeze(containers: &Containers, c: &Container, frozen: bool) -> Result<()> {
    let runtime = containers.runtime(&c.id)?;
    let name = c.name.trim_start_matches('/');
    if !is_running(&runtime) {
        return Err(LifecycleError::NotRunning(c.id.clone()).into());
    }
    let status = runtime.state.status;
    if frozen && !status.can_pause() {
        return Err(LifecycleError::AlreadyPaused(name.into()).into());
    }
    if !frozen && !status.can_unpause() {
        return Err(LifecycleError::NotPaused(name.into()).into());
    }
    cgroup(c)?.freeze(frozen)?;
    containers.update(&c.id, |r| r.state.freeze(frozen))?;
    let action = if frozen {
        Action::Pause
    } else {
        Action::Unpause
    };
    containers.record(action, c, &[]);
    Ok(())
}

/// `rm [-f]`: a running container needs `force` (then it is killed).
/// Whatever a dead monitor left — its cgroup — is removed too.
pub fn remove(containers: &Containers, c: &Container, force: bool) -> Result<()> {
    // A `--rm` container's monitor may have removed it meanwhile; a
    // damaged state.json: nothing is known to run (`-f` only).
    let runtime = match containers.runtime(&c.id) {
        Err(_) if !containers.dir(&c.id).exists() => return Ok(()),
        Err(e) if force && crate::damage::is_damage(&e) => Runtime::default(),
        other => other?,
    };
    if !effective(&runtime).status.can_delete() {
        if !force {
            return Err(LifecycleError::RemoveRunning(c.id.clone()).into());
        }
        let _ = containers.update(&c.id, |r| r.stopped_by_user = true);
        if is_running(&runtime) {
            let _ = signal(containers, c, Signal::SIGKILL);
        }
    }
    if runtime.monitor_alive() && !wait_for_monitor(containers, &c.id, Duration::from_secs(10)) {
        kill(Pid::from_raw(runtime.monitor_pid), Signal::SIGKILL).ok();
    }
    let cg = cgroup(c)?;
    cg.destroy()?;
    cg.remove_parent_if_empty();
    // Addresses a killed monitor could not give back.
    let leftover = containers
        .runtime(&c.id)
        .map(|r| r.networks)
        .unwrap_or_default();
    if !leftover.is_empty() {
        if let Ok(networks) = crate::network::Networks::open(containers.store_root()) {
            for (name, endpoint) in &leftover {
                super::wiring::disconnect(&networks, name, endpoint, false);
            }
        }
    }
    // A `--rm` container's monitor may have removed it meanwhile: then
    // there is nothing left to lock or remove.
    if !containers.dir(&c.id).exists() {
        return Ok(());
    }
    let _lock = match containers.lock(&c.id) {
        Err(_) if !containers.dir(&c.id).exists() => return Ok(()),
        lock => lock?,
    };
    containers.remove_dir(&c.id)?;
    containers.record(Action::Destroy, c, &[]);
    Ok(())
}

/// `rm -f` of a container whose `config.json` is damaged: its monitor, if
/// its `state.json` still names a live one, is killed (the container dies
/// with it), then its directory goes. Its cgroup is named in the damaged
/// record, so a dead monitor's leftover one stays.
pub fn remove_damaged(containers: &Containers, id: &str) -> Result<()> {
    if let Ok(runtime) = containers.runtime(id) {
        if runtime.monitor_alive() {
            kill(Pid::from_raw(runtime.monitor_pid), Signal::SIGKILL).ok();
            wait_for_monitor(containers, id, Duration::from_secs(10));
        }
    }
    let _lock = containers.lock(id)?;
    containers.remove_dir(id)
}

/// `rm -v` and `--rm`: the container's anonymous volumes go with it,
/// unless another container still uses them (`--volumes-from`). Named
/// volumes always stay. Call after the container is removed.
pub fn remove_anonymous_volumes(volumes: &Volumes, containers: &Containers, c: &Container) {
    let in_use = super::mounts::volumes_in_use(containers).unwrap_or_default();
    for m in c.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        let anonymous = volumes.get(&m.name).is_ok_and(|v| v.anonymous());
        if anonymous && !in_use.contains_key(&m.name) {
            let _ = volumes.remove(&m.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_as_docker_takes_them() {
        assert_eq!(parse_signal("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse_signal("sigterm").unwrap(), Signal::SIGTERM);
        assert_eq!(parse_signal("9").unwrap(), Signal::SIGKILL);
        assert_eq!(
            parse_signal("NOPE").unwrap_err().to_string(),
            "Invalid signal: NOPE"
        );
        assert!(matches!(
            parse_signal("99"),
            Err(Error::Lifecycle(LifecycleError::InvalidSignal(_)))
        ));
    }

    #[test]
    fn a_running_state_without_its_monitor_is_dead() {
        let mut runtime = Runtime::default();
        runtime.state.start(1);
        runtime.monitor_pid = i32::MAX;
        let state = effective(&runtime);
        assert_eq!(state.status, Status::Dead);
        assert!(!state.running() && state.pid == 0);
        assert_eq!(effective(&Runtime::default()).status, Status::Created);
    }
}
