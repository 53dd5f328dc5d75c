//! Containers: what they run, the root filesystem they run in, the process
//! that supervises them, and the lifecycle commands built on those.
//!
//! # The path of `run`, from the command line to `execve`
//!
//! 1. `cli/containers.rs` (`run` → `create_container`): clap's flags become a
//!    [`create::Request`]; the image is found or pulled.
//! 2. [`create`]: every check, then the request resolved once into the
//!    record ([`record::Container`], `config.json`): the image's defaults
//!    ([`spec`]), mounts ([`mounts`]), [`network_mode`], [`restart`] policy,
//!    the process ([`record::ProcessSpec`]). Nothing later re-reads flags;
//!    `inspect` prints this record, with the live [`record::State`].
//! 3. `cli/containers.rs` (`start_container`) → [`monitor::launch`]: starts
//!    `mini-docker-monitor` in a session of its own and reads its start-up
//!    pipe ([`protocol`]) until the container runs or failed to start.
//! 4. [`monitor`] (`main` → `Monitor::supervise`): one start per run
//!    (`monitor/start.rs`): the cgroup and limits (`monitor/resources.rs`),
//!    `clone` into new namespaces (`ns_demo::spawn`), the network plugged
//!    in, then the go-ahead.
//! 5. [`child::run`], inside the namespaces: the filesystem ([`setup`]:
//!    overlay root, volumes, `/proc`, `/dev`, `pivot_root`), hostname,
//!    working directory, privileges dropped ([`security`]: capabilities,
//!    seccomp, user), `execve`. A failure goes back on the error pipe.
//! 6. `monitor/io.rs`: the container's output to the log ([`logs`]) and the
//!    attach clients (`cli/attach.rs` on the other end of the socket), until
//!    it exits; the exit recorded ([`record::State::exit`]), the restart
//!    policy asked, and everything given back (`Monitor::tear_down`).

pub mod cgroupfs;
pub mod child;
pub mod create;
pub mod devices;
pub mod dir;
pub mod dns;
pub mod files;
pub mod health;
pub mod lifecycle;
pub mod logs;
pub mod monitor;
pub mod mounts;
pub mod network_mode;
pub mod options;
pub mod protocol;
pub mod record;
pub mod restart;
pub mod rootfs;
pub mod scope;
pub mod security;
pub mod setup;
pub mod spec;
pub mod status;
pub mod wiring;
