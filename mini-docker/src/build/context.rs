//! The build context: a directory (read in place, `.dockerignore` applied
//! as sources are looked up) or a tar stream on stdin (`-`), unpacked to a
//! temporary directory first; and the Dockerfile, from the context, from a
//! path outside it (`-f`), or from stdin (`-f -`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::ignore::{self, Ignore};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unable to prepare context: path {0:?} not found")]
    NoContext(String),
    #[error("unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {0}: no such file or directory")]
    NoDockerfile(String),
    #[error("the Dockerfile ({0}) cannot be empty")]
    Empty(String),
    #[error("invalid argument: can't use stdin for both build context and dockerfile")]
    StdinTwice,
    #[error("error reading .dockerignore: {0}")]
    Ignore(#[from] ignore::Error),
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("error checking context: {0}")]
    Tar(String),
}

fn io(path: &Path, error: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Where the context comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Dir(PathBuf),
    /// A tar archive (optionally compressed) on stdin.
    Stdin,
}

/// A ready context: its root directory and ignore rules, the Dockerfile's
/// text and the name errors call it by.
#[derive(Debug)]
pub struct Context {
    pub root: PathBuf,
    pub ignore: Ignore,
    pub dockerfile: String,
    pub dockerfile_name: String,
    /// A directory unpacked from stdin, removed on drop.
    temporary: Option<PathBuf>,
}

impl Drop for Context {
    fn drop(&mut self) {
        if let Some(dir) = &self.temporary {
            let _ = fs::remove_dir_all(dir);
        }
    }
}

/// Unpacks a context tar (plain, gzip, bzip2 or xz, as Docker accepts)
/// into `dir`.
fn unpack(input: impl Read + 'static, dir: &Path) -> Result<(), Error> {
    let reader = super::transfer::decompress(input).map_err(|e| Error::Tar(e.to_string()))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.unpack(dir).map_err(|e| Error::Tar(e.to_string()))
}

impl Context {
    /// `source` with `-f` as given (`None`: `Dockerfile` in the context;
    /// `-`: stdin). `scratch` holds an unpacked stdin context.
    pub fn open(source: &Source, file: Option<&str>, scratch: &Path) -> Result<Context, Error> {
        let (root, temporary) = match source {
            Source::Dir(dir) => {
                if !dir.is_dir() {
                    return Err(Error::NoContext(dir.display().to_string()));
                }
                (dir.clone(), None)
            }
            Source::Stdin => {
                if file == Some("-") {
                    return Err(Error::StdinTwice);
                }
                fs::create_dir_all(scratch).map_err(|e| io(scratch, e))?;
                if let Err(e) = unpack(std::io::stdin(), scratch) {
                    let _ = fs::remove_dir_all(scratch);
                    return Err(e);
                }
                (scratch.to_path_buf(), Some(scratch.to_path_buf()))
            }
        };
        let mut context = Context {
            root,
            ignore: Ignore::default(),
            dockerfile: String::new(),
            dockerfile_name: "Dockerfile".into(),
            temporary,
        };
        let ignore_path = context.root.join(".dockerignore");
        if let Ok(text) = fs::read_to_string(&ignore_path) {
            context.ignore = Ignore::parse(&text)?;
        }
        let (text, name) = match file {
            Some("-") => {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .map_err(|e| io(Path::new("stdin"), e))?;
                (text, "Dockerfile".to_string())
            }
            Some(path) => {
                // Relative to the working directory, as Docker's CLI reads
                // it; for a stdin context, inside the archive.
                let full = match (source, Path::new(path).is_absolute()) {
                    (Source::Stdin, _) => context.root.join(path),
                    _ => PathBuf::from(path),
                };
                let text = fs::read_to_string(&full)
                    .map_err(|_| Error::NoDockerfile(absolute(&full).display().to_string()))?;
                let name = Path::new(path)
                    .file_name()
                    .map_or(path.to_string(), |n| n.to_string_lossy().into_owned());
                (text, name)
            }
            None => {
                let default = context.root.join("Dockerfile");
                let lower = context.root.join("dockerfile");
                let path = if default.exists() || !lower.exists() {
                    default
                } else {
                    lower
                };
                let text = fs::read_to_string(&path)
                    .map_err(|_| Error::NoDockerfile(absolute(&path).display().to_string()))?;
                let name = path
                    .file_name()
                    .map_or("Dockerfile".into(), |n| n.to_string_lossy().into_owned());
                (text, name)
            }
        };
        if text.is_empty() {
            return Err(Error::Empty(name));
        }
        context.dockerfile = text;
        context.dockerfile_name = name;
        Ok(context)
    }

    /// A context path (relative; `..` cannot leave the root) with its
    /// symlinks resolved inside the context, as Docker resolves a source,
    /// and whether `.dockerignore` leaves it out.
    pub fn path(&self, rel: &str) -> (PathBuf, String, bool) {
        let clean = crate::gopath::clean_relative(rel);
        let excluded = self.ignore.excluded(&clean);
        (in_root(&self.root, &clean), clean, excluded)
    }

    /// Every included path under the root, relative, sorted (for globs).
    pub fn walk(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                let excluded = self.ignore.excluded(&rel);
                if is_dir && (!excluded || self.ignore.has_exceptions()) {
                    stack.push(rel.clone());
                }
                if !excluded {
                    out.push(rel);
                }
            }
        }
        out.sort();
        out
    }
}

/// `rel` under `root`, every symlink on the way resolved as if `root` were
/// `/`: an absolute target starts again at `root`, `..` stops there, so a
/// link in the context cannot reach the host's files.
pub fn in_root(root: &Path, rel: &str) -> PathBuf {
    let mut done: Vec<String> = Vec::new();
    let mut todo: Vec<String> = rel.split('/').rev().map(String::from).collect();
    let mut hops = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let candidate = root.join(done.join("/")).join(&part);
        match fs::read_link(&candidate) {
            Ok(target) if hops < 40 => {
                hops += 1;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(target.split('/').rev().map(String::from));
            }
            _ => done.push(part),
        }
    }
    root.join(done.join("/"))
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_or(path.to_path_buf(), |d| d.join(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_context() {
        let root = std::env::temp_dir().join(format!("md-ctx-{}", std::process::id()));
        fs::create_dir_all(root.join("dir")).unwrap();
        fs::write(root.join("dir/f"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../etc", root.join("dir/up")).unwrap();
        std::os::unix::fs::symlink("dir", root.join("rel")).unwrap();
        assert_eq!(in_root(&root, "abs"), root.join("etc/passwd"));
        assert_eq!(in_root(&root, "dir/up/hosts"), root.join("etc/hosts"));
        assert_eq!(in_root(&root, "rel/f"), root.join("dir/f"));
        assert_eq!(in_root(&root, "../../x"), root.join("x"));
        fs::remove_dir_all(&root).unwrap();
    }
}
