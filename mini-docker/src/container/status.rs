//! A container's status and the legal moves between statuses, in one
//! place. The record keeps one [`Status`]; Docker's `Running`, `Paused`,
//! `Restarting` and `Dead` booleans are derived from it when `inspect`
//! prints the state (see [`super::record::State`]), so they can never
//! disagree with it.
//!
//! ```text
//!            start                 pause
//!  created ─────────▶ running ◀──────────▶ paused
//!     ▲                │   ▲     unpause
//!     │ start failed   │   │ restarted
//!     │ (first time)   ▼   │
//!     └─────────── exited / restarting
//!
//!  running, paused, restarting ──(monitor gone)──▶ dead
//! ```

use serde::{Deserialize, Serialize};

/// Docker's `State.Status`, spelled as Docker spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or its first start failed).
    #[default]
    Created,
    Running,
    /// Frozen by `pause`; its processes still exist.
    Paused,
    /// Exited, and the restart policy will start it again.
    Restarting,
    Exited,
    /// Its monitor is gone while it was live: nothing supervises it.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// A monitor supervises it (`ps` without `-a` lists it).
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }

    /// Docker's `State.Running`: the process exists (frozen or not).
    pub fn has_process(self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }

    /// It ended and will not come back by itself (`wait` returns).
    pub fn is_finished(self) -> bool {
        matches!(self, Status::Exited | Status::Dead)
    }

    /// `start` launches a monitor for it: it has no process (a restarting
    /// one's monitor still refuses a second monitor; a running one is left
    /// alone, as Docker does).
    pub fn can_start(self) -> bool {
        !self.has_process()
    }

    /// `kill`/`stop` reach a process.
    pub fn can_kill(self) -> bool {
        self.has_process()
    }

    pub fn can_pause(self) -> bool {
        self == Status::Running
    }

    pub fn can_unpause(self) -> bool {
        self == Status::Paused
    }

    /// `exec` joins a running, unfrozen process.
    pub fn can_exec(self) -> bool {
        self == Status::Running
    }

    /// `rm` without `-f`.
    pub fn can_delete(self) -> bool {
        !self.is_live()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Status; 6] = [
        Status::Created,
        Status::Restarting,
        Status::Running,
        Status::Paused,
        Status::Exited,
        Status::Dead,
    ];

    #[test]
    fn spelled_as_docker_spells_it() {
        for s in ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(
                serde_json::from_value::<Status>(s.as_str().into()).unwrap(),
                s
            );
        }
    }

    #[test]
    fn transitions_are_docker_s() {
        use Status::*;
        let allowed = |f: fn(Status) -> bool| ALL.into_iter().filter(|s| f(*s)).collect::<Vec<_>>();
        assert_eq!(
            allowed(Status::can_start),
            [Created, Restarting, Exited, Dead]
        );
        assert_eq!(allowed(Status::can_kill), [Running, Paused]);
        assert_eq!(allowed(Status::can_pause), [Running]);
        assert_eq!(allowed(Status::can_unpause), [Paused]);
        assert_eq!(allowed(Status::can_exec), [Running]);
        assert_eq!(allowed(Status::can_delete), [Created, Exited, Dead]);
        assert_eq!(allowed(Status::is_finished), [Exited, Dead]);
    }
}
