//! `$ROOT/containers/`: one directory per container, found by ID, unique ID
//! prefix or name. Creation and renaming hold the directory's lock, so two
//! concurrent `run --name x` cannot both win; each container's state has a
//! lock of its own, shared by the monitor and the lifecycle commands.

use std::fs::{self, File, OpenOptions};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{de::DeserializeOwned, Serialize};

use super::record::{Container, Runtime};
use crate::{Error, Result};

/// Why a container's name or ID prefix was refused (Docker's messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    Invalid(String),
    /// `name` with Docker's leading slash.
    #[error("Conflict. The container name \"{name}\" is already in use by container \"{holder}\". You have to remove (or rename) that container to be able to reuse that name.")]
    InUse { name: String, holder: String },
    #[error("multiple containers found with provided prefix: {0}")]
    Ambiguous(String),
}

/// The containers of one store, and where their runtime files live.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
    run: PathBuf,
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct Locked(#[allow(dead_code)] Flock<File>);

/// Docker's rule for names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Containers {
    pub fn open(root: &Path, run: &Path) -> Result<Self> {
        let dir = root.join("containers");
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        fs::create_dir_all(run).map_err(|e| Error::io(run, e))?;
        let containers = Containers {
            dir,
            run: run.to_path_buf(),
        };
        containers.sweep();
        Ok(containers)
    }

    /// A create or a removal that was killed half-way leaves `.new-PID-ID`
    /// or `.rm-PID-ID`; once PID is gone they are garbage.
    fn sweep(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = name
                .strip_prefix(".new-")
                .or_else(|| name.strip_prefix(".rm-"))
            else {
                continue;
            };
            let pid = rest.split('-').next().and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The store these containers belong to (`$ROOT`).
    pub fn store_root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The monitor's attach socket. Short, because a socket path must fit
    /// in 108 bytes.
    pub fn socket(&self, id: &str) -> PathBuf {
        self.run.join(format!("{}.sock", &id[..12.min(id.len())]))
    }

    /// The run root (`$RUN`): runtime state and caches that a reboot wipes.
    pub fn run_root(&self) -> &Path {
        self.run.parent().unwrap_or(&self.run)
    }

    /// The run root's event log (`events`), shared by every command and
    /// monitor using this run root.
    pub fn events(&self) -> crate::events::Log {
        crate::events::Log::in_run_root(self.run_root())
    }

    /// Records a container event (best effort).
    pub fn record(&self, action: crate::events::Action, c: &Container, extra: &[(&str, String)]) {
        self.events()
            .record(&crate::events::Event::container(action, c, extra));
    }

    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join(format!("{id}-json.log"))
    }

    /// Creates a container directory atomically: `build` fills a temporary
    /// directory, which is renamed into place under the lock once the name
    /// is known to be free. A failed `build` leaves nothing behind.
    pub fn create(
        &self,
        name: Option<&str>,
        build: impl FnOnce(&str, &Path) -> Result<Container>,
    ) -> Result<Container> {
        if let Some(name) = name {
            if !valid_name(name) {
                return Err(NameError::Invalid(name.into()).into());
            }
        }
        let id = random_id();
        let tmp = self.dir.join(format!(".new-{}-{id}", std::process::id()));
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let built = build(&id, &tmp).and_then(|mut container| {
            let _lock = self.lock_all()?;
            self.ensure_name_index()?;
            container.name = match name {
                Some(n) => format!("/{n}"),
                None => loop {
                    let candidate = format!("/{}", random_name());
                    if self.holder(&candidate).is_none() {
                        break candidate;
                    }
                },
            };
            if let Some(holder) = self.holder(&container.name) {
                return Err(NameError::InUse {
                    name: container.name.clone(),
                    holder: holder.id.clone(),
                }
                .into());
            }
            write_json(&tmp.join("config.json"), &container)?;
            write_json(&tmp.join("state.json"), &Runtime::default())?;
            // Indexed first: should the rename fail, the entry names a
            // container that does not exist, which reads as free.
            self.index_name(&container)?;
            fs::rename(&tmp, self.dir(&id)).map_err(|e| Error::io(&tmp, e))?;
            self.record(crate::events::Action::Create, &container, &[]);
            Ok(container)
        });
        if built.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        built
    }

    /// Every container, oldest first.
    pub fn list(&self) -> Result<Vec<Container>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name();
            if name.to_string_lossy().starts_with('.') {
                continue;
            }
            match read_json::<Container>(&entry.path().join("config.json")) {
                Ok(c) => out.push(c),
                // Removed while we looked: not there any more.
                Err(Error::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => {}
                // One damaged record breaks only itself.
                Err(e) if crate::damage::is_damage(&e) => {
                    crate::damage::report(&entry.path().join("config.json"), &e);
                }
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created));
        Ok(out)
    }

    /// A container by full ID, name (with or without the `/`), or unique ID
    /// prefix, as Docker looks them up.
    pub fn find(&self, key: &str) -> Result<Container> {
        // A full ID (what the monitor and scripts pass) is read directly.
        if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            if let Ok(c) = read_json::<Container>(&self.dir(key).join("config.json")) {
                return Ok(c);
            }
        }
        if let Some(c) = self.holder(key) {
            return Ok(c);
        }
        let all = self.list()?;
        let name = format!("/{}", key.trim_start_matches('/'));
        if let Some(c) = all.iter().find(|c| c.id == key || c.name == name) {
            return Ok(c.clone());
        }
        let matches: Vec<&Container> = if key.is_empty() {
            Vec::new()
        } else {
            all.iter().filter(|c| c.id.starts_with(key)).collect()
        };
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NotFound(format!("No such container: {key}"))),
            _ => Err(NameError::Ambiguous(key.into()).into()),
        }
    }

    /// The full ID of the one container whose ID starts with `key` and
    /// whose `config.json` is damaged (for `rm -f`).
    pub fn damaged(&self, key: &str) -> Option<String> {
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let found: Vec<String> = fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(key))
            .filter(|name| {
                read_json::<Container>(&self.dir(name).join("config.json"))
                    .is_err_and(|e| crate::damage::is_damage(&e))
            })
            .collect();
        match found.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        }
    }

    /// Writes the container's config; a new name (`rename`, under the lock
    /// of the set) goes into the name index.
    pub fn save_config(&self, container: &Container) -> Result<()> {
        write_json(&self.dir(&container.id).join("config.json"), container)?;
        self.index_name(container)
    }

    /// The name index, `.names/NAME` holding the ID of the container that
    /// took NAME: creating a container and finding one by name read one
    /// small file there, not every container's config (a start must not
    /// cost more with every container there is). An entry is a hint,
    /// checked against the holder's config: a removed or renamed container
    /// leaves a stale one, which reads as free.
    fn names(&self) -> PathBuf {
        self.dir.join(".names")
    }

    /// The container holding `name` (with or without the `/`), by the index.
    fn holder(&self, name: &str) -> Option<Container> {
        let name = name.trim_start_matches('/');
        if !valid_name(name) {
            return None;
        }
        let id = fs::read_to_string(self.names().join(name)).ok()?;
        let c: Container = read_json(&self.dir(id.trim()).join("config.json")).ok()?;
        (c.name.trim_start_matches('/') == name).then_some(c)
    }

    /// Points the index's entry for the container's name at it (a store
    /// without an index gets one at its next `create`).
    fn index_name(&self, c: &Container) -> Result<()> {
        let names = self.names();
        let entry = names.join(c.name.trim_start_matches('/'));
        if !names.is_dir() || fs::read_to_string(&entry).is_ok_and(|id| id == c.id) {
            return Ok(());
        }
        write_atomic(&entry, c.id.as_bytes())
    }

    /// Builds the index from every container, once: a store written before
    /// the index existed. Under the lock of the set.
    fn ensure_name_index(&self) -> Result<()> {
        let names = self.names();
        if names.is_dir() {
            return Ok(());
        }
        let tmp = self.dir.join(".names.tmp");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        for c in self.list()? {
            let entry = tmp.join(c.name.trim_start_matches('/'));
            fs::write(&entry, &c.id).map_err(|e| Error::io(&entry, e))?;
        }
        fs::rename(&tmp, &names).map_err(|e| Error::io(&names, e))
    }

    pub fn runtime(&self, id: &str) -> Result<Runtime> {
        read_json(&self.dir(id).join("state.json"))
    }

    /// Read-modify-write of `state.json` under the container's lock.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Runtime)) -> Result<Runtime> {
        let _lock = self.lock(id)?;
        let mut runtime = self.runtime(id)?;
        change(&mut runtime);
        write_json(&self.dir(id).join("state.json"), &runtime)?;
        Ok(runtime)
    }

    /// The container's own lock (state changes, start, removal).
    pub fn lock(&self, id: &str) -> Result<Locked> {
        lock_file(&self.dir(id).join(".lock"))
    }

    /// The lock for names and the set of containers.
    pub fn lock_all(&self) -> Result<Locked> {
        lock_file(&self.dir.join(".lock"))
    }

    /// Deletes the container's directory (after everything it used is
    /// released) and its socket.
    pub fn remove_dir(&self, id: &str) -> Result<()> {
        let _ = fs::remove_file(self.socket(id));
        let dir = self.dir(id);
        // Its name's index entry, if it still points here.
        if let Ok(c) = read_json::<Container>(&dir.join("config.json")) {
            let entry = self.names().join(c.name.trim_start_matches('/'));
            if fs::read_to_string(&entry).is_ok_and(|holder| holder == id) {
                let _ = fs::remove_file(entry);
            }
        }
        // Renamed first, so a half-removed directory is never listed.
        let doomed = self.dir.join(format!(".rm-{}-{id}", std::process::id()));
        match fs::rename(&dir, &doomed) {
            Ok(()) => fs::remove_dir_all(&doomed).map_err(|e| Error::io(&doomed, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(&dir, e)),
        }
    }
}

fn lock_file(path: &Path) -> Result<Locked> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map(Locked)
        .map_err(|(_, e)| Error::io(path, e.into()))
}

pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let mut text = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::Corrupt(format!("{}: {e}", path.display())))
}

/// Temporary file beside the target, then rename: readers never see half a
/// file. (No fsync: these files are rewritten on every state change and a
/// power loss is recovered like a killed monitor.)
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|e| Error::Corrupt(e.to_string()))?;
    write_atomic(path, &bytes)
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// 64 hex digits from the kernel's random source, like Docker's IDs.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // SAFETY: getrandom(2) fills the buffer we own; it never fails for 32
    // bytes once the pool is initialised.
    unsafe { libc::getrandom(bytes.as_mut_ptr().cast(), bytes.len(), 0) };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `adjective_scientist`, as Docker names containers.
fn random_name() -> String {
    const LEFT: &[&str] = &[
        "admiring", "bold", "brave", "clever", "eager", "elegant", "focused", "gallant", "happy",
        "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "sharp", "tender",
        "vibrant", "zealous",
    ];
    const RIGHT: &[&str] = &[
        "babbage", "curie", "dijkstra", "einstein", "euler", "gauss", "hopper", "hypatia",
        "kepler", "lamport", "liskov", "lovelace", "noether", "pike", "ritchie", "shannon",
        "thompson", "torvalds", "turing", "wozniak",
    ];
    let id = random_id();
    let n = u32::from_str_radix(&id[..8], 16).unwrap_or(0) as usize;
    format!(
        "{}_{}",
        LEFT[n % LEFT.len()],
        RIGHT[(n / LEFT.len()) % RIGHT.len()]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        assert!(valid_name("web-1.test_a"));
        assert!(!valid_name("-web"));
        assert!(!valid_name("a"));
        assert!(!valid_name("we b"));
        assert!(valid_name(&random_name()));
    }

    #[test]
    fn half_done_work_of_dead_processes_is_swept() {
        let root = std::env::temp_dir().join(format!("dir-sweep-{}", std::process::id()));
        let run = root.join("run");
        let containers = Containers::open(&root, &run).unwrap();
        let dead = root.join("containers/.new-999999999-abc");
        let alive = root.join(format!("containers/.rm-{}-def", std::process::id()));
        fs::create_dir_all(dead.join("upper")).unwrap();
        fs::create_dir_all(&alive).unwrap();
        drop(containers);
        Containers::open(&root, &run).unwrap();
        assert!(!dead.exists(), "a dead creator's directory is removed");
        assert!(alive.exists(), "a live process's work is left alone");
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn names_are_found_and_kept_unique_through_the_index() {
        let root = std::env::temp_dir().join(format!("dir-names-{}", std::process::id()));
        let containers = Containers::open(&root, &root.join("run")).unwrap();
        let create = |name: &str| {
            containers.create(Some(name), |id, _| {
                Ok(Container {
                    id: id.to_string(),
                    ..Default::default()
                })
            })
        };
        let a = create("aa").unwrap();
        assert_eq!(containers.find("aa").unwrap().id, a.id);
        assert_eq!(containers.find("/aa").unwrap().id, a.id);
        let conflict = create("aa").unwrap_err().to_string();
        assert!(conflict.contains(&a.id), "{conflict}");
        // A store from before the index: it is built at the next create.
        fs::remove_dir_all(root.join("containers/.names")).unwrap();
        assert_eq!(containers.find("aa").unwrap().id, a.id, "found by listing");
        let b = create("bb").unwrap();
        assert!(create("aa").is_err(), "the rebuilt index knows aa");
        // Renamed: the old name is free, the new one taken.
        let mut renamed = a.clone();
        renamed.name = "/cc".into();
        containers.save_config(&renamed).unwrap();
        assert_eq!(containers.find("cc").unwrap().id, a.id);
        assert!(create("cc").is_err());
        let a2 = create("aa").unwrap();
        assert_ne!(a2.id, a.id);
        // Removed: its entry goes with it.
        containers.remove_dir(&b.id).unwrap();
        assert!(matches!(containers.find("bb"), Err(Error::NotFound(_))));
        assert!(!root.join("containers/.names/bb").exists());
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn ids_are_64_hex_digits_and_differ() {
        let (a, b) = (random_id(), random_id());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
