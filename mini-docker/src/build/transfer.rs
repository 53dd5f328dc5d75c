//! `COPY` and `ADD`: the sources (context paths and globs, a stage's or
//! an image's files, URLs, local archives), Docker's destination rules,
//! the content hash the cache keys on (content, mode, ownership; never
//! the mtime), and the layer tarball the step commits.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::context::Context;
use super::ignore;
use super::rootfs::RootView;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("file not found in build context or excluded by .dockerignore: stat {0}: file does not exist")]
    NotFound(String),
    #[error("stat {0}: file does not exist")]
    NotInImage(String),
    #[error("no source files were specified")]
    NoSources,
    #[error("forbidden path outside the build context: {0} ()")]
    Outside(String),
    #[error("When using {0} with more than one source file, the destination must be a directory and end with a /")]
    NotADirectory(&'static str),
    #[error("{0}")]
    Download(String),
    #[error("{}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{0}")]
    Chown(String),
}

fn io(path: &Path, error: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Where an entry's bytes come from.
#[derive(Debug, Clone)]
enum Body {
    Dir,
    File(PathBuf),
    Link(PathBuf),
    /// A downloaded or heredoc file, already in memory.
    Bytes(Vec<u8>),
    /// A local archive to extract at the entry's path.
    Archive(PathBuf),
}

/// One path to write into the layer.
#[derive(Debug, Clone)]
struct Entry {
    /// In the image, relative to `/`.
    dest: String,
    body: Body,
    mode: u32,
    mtime: u64,
}

/// A planned `COPY`/`ADD`: what to write, and the hash of its sources.
#[derive(Debug)]
pub struct Plan {
    entries: Vec<Entry>,
    /// Directories above the destination, to create (or copy up).
    parents: Vec<(String, u32, u32, u32)>,
    pub uid: u32,
    pub gid: u32,
    /// `file:…`, `dir:…` or `multi:…`, as in Docker's history.
    pub source_hash: String,
}

/// Where the sources are read from.
#[derive(Debug)]
pub enum Origin<'a> {
    Context(&'a Context),
    Image(RootView),
}

/// What a source is, before expansion into entries.
struct Source {
    /// The name used when it lands in a directory.
    base: String,
    path: PathBuf,
    meta: fs::Metadata,
    /// `COPY --from` reads nested paths through the layers.
    view_rel: Option<String>,
}

fn has_glob(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// Docker's refusal of a source that climbs above the root it is read
/// from (the context, or the `--from` stage): `..` is resolved from the
/// root (a leading `/` is the root too), never silently dropped. The
/// path is shown as Docker shows it, without a leading `/` or `./`.
fn check_inside(src: &str) -> Result<(), Error> {
    let mut depth = 0usize;
    for part in src.split('/') {
        match part {
            "" | "." => {}
            ".." if depth == 0 => {
                let shown = src.strip_prefix('/').unwrap_or(src);
                let shown = shown.strip_prefix("./").unwrap_or(shown);
                return Err(Error::Outside(shown.to_string()));
            }
            ".." => depth -= 1,
            _ => depth += 1,
        }
    }
    Ok(())
}

/// Docker's "is this an archive ADD extracts": a tar, possibly gzip,
/// bzip2 or xz compressed.
pub fn is_archive(path: &Path) -> bool {
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let Ok(reader) = decompress(file) else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut reader = reader.take(512);
    let mut got = 0;
    while got < 512 {
        match reader.read(&mut head[got..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    got == 512 && &head[257..262] == b"ustar"
}

/// A reader that undoes gzip, bzip2 or xz (by their magic bytes).
pub fn decompress(input: impl Read + 'static) -> std::io::Result<Box<dyn Read>> {
    let mut reader = BufReader::new(input);
    let head = reader.fill_buf()?.to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::read::BzDecoder::new(reader))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        let mut out = Vec::new();
        lzma_rs::xz_decompress(&mut reader, &mut out)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))?;
        Box::new(std::io::Cursor::new(out))
    } else {
        Box::new(reader)
    })
}

/// `--chown user[:group]`: names looked up in the image's files.
pub fn chown_ids(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), Error> {
    let (user, grp) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let find = |file: &str, name: &str, field: usize| -> Option<(u32, Option<u32>)> {
        file.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.len() > 3.min(field + 1) && f[0] == name)
            .and_then(|f| {
                Some((
                    f.get(2)?.parse().ok()?,
                    f.get(3).and_then(|g| g.parse().ok()),
                ))
            })
    };
    let (uid, primary) = match user.parse::<u32>() {
        Ok(n) => (n, None),
        Err(_) => find(passwd, user, 3)
            .ok_or_else(|| Error::Chown(format!("unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}")))?,
    };
    let gid = match grp {
        None => primary.unwrap_or(uid),
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => find(group, g, 2).map(|(id, _)| id).ok_or_else(|| {
                Error::Chown(format!("unable to convert uid/gid chown string to host mapping: can't find gid for group {g}: no such group: {g}"))
            })?,
        },
    };
    Ok((uid, gid))
}

/// What `plan` needs to know.
#[derive(Debug)]
pub struct Request<'a> {
    pub name: &'static str,
    pub sources: &'a [String],
    /// Absolute, cleaned (WORKDIR applied), with its trailing slash kept.
    pub dest: &'a str,
    pub add: bool,
    pub ids: (u32, u32),
    pub chmod: Option<u32>,
    /// Heredoc bodies by name (`COPY <<EOF /f`).
    pub heredocs: &'a [(String, String)],
}

/// Resolves the sources and the destination into entries.
pub fn plan(origin: &Origin, target: &RootView, req: &Request) -> Result<Plan, Error> {
    let dest_is_dir_syntax = req.dest.ends_with('/') || req.dest.ends_with("/.");
    let dest = crate::gopath::clean_relative(req.dest);
    let mut sources: Vec<Source> = Vec::new();
    let mut extra: Vec<(String, Body, u32)> = Vec::new();
    for src in req.sources {
        if let Some(name) = src
            .strip_prefix("<<")
            .map(|n| n.trim_start_matches('-').trim_matches(['"', '\'']))
        {
            if let Some((_, body)) = req.heredocs.iter().find(|(h, _)| h == name) {
                extra.push((
                    name.to_string(),
                    Body::Bytes(body.clone().into_bytes()),
                    0o644,
                ));
                continue;
            }
        }
        if req.add && (src.starts_with("http://") || src.starts_with("https://")) {
            let bytes = download(src)?;
            let base = src
                .split(['?', '#'])
                .next()
                .unwrap_or(src)
                .rsplit('/')
                .find(|s| !s.is_empty())
                .unwrap_or("download")
                .to_string();
            extra.push((base, Body::Bytes(bytes), 0o600));
            continue;
        }
        match origin {
            Origin::Context(ctx) => {
                let candidates: Vec<String> = if has_glob(src) {
                    // Docker matches the pattern against the context's
                    // paths as written: one with `..` matches nothing.
                    if src.split('/').any(|p| p == "..") {
                        continue;
                    }
                    let re = ignore::glob_regex(&crate::gopath::clean_relative(src))
                        .map_err(|_| Error::NoSources)?;
                    ctx.walk().into_iter().filter(|p| re.is_match(p)).collect()
                } else {
                    check_inside(src)?;
                    let (_, clean, excluded) = ctx.path(src);
                    if excluded {
                        return Err(Error::NotFound(clean));
                    }
                    vec![clean]
                };
                for rel in candidates {
                    let (path, clean, _) = ctx.path(&rel);
                    let meta = fs::metadata(&path).map_err(|_| Error::NotFound(clean.clone()))?;
                    let base = base_name(&clean);
                    sources.push(Source {
                        base,
                        path,
                        meta,
                        view_rel: None,
                    });
                }
            }
            Origin::Image(view) => {
                check_inside(src)?;
                let clean = crate::gopath::clean_relative(src);
                let (path, meta) = view
                    .lookup(&clean)
                    .ok_or_else(|| Error::NotInImage(clean.clone()))?;
                let base = base_name(&clean);
                sources.push(Source {
                    base,
                    path,
                    meta,
                    view_rel: Some(clean),
                });
            }
        }
    }
    let count = sources.len() + extra.len();
    if count == 0 {
        return Err(Error::NoSources);
    }
    let dest_meta = target.lookup(&dest).map(|(_, m)| m);
    let dest_exists_dir = dest_meta.as_ref().is_some_and(|m| m.is_dir());
    let multiple = count > 1 || sources.iter().any(|s| has_glob(&s.base));
    if count > 1 && !dest_is_dir_syntax && !dest_exists_dir {
        return Err(Error::NotADirectory(req.name));
    }
    let into_dir = dest_is_dir_syntax || dest_exists_dir || multiple;
    let mut entries = Vec::new();
    let mut hasher = Sha256::new();
    let join = |a: &str, b: &str| {
        if a.is_empty() {
            b.to_string()
        } else if b.is_empty() {
            a.to_string()
        } else {
            format!("{a}/{b}")
        }
    };
    let mut kinds = Vec::new();
    for s in &sources {
        let archive = req.add && s.meta.is_file() && is_archive(&s.path);
        if s.meta.is_dir() {
            kinds.push("dir");
            // A directory's contents land in the destination.
            hash_line(&mut hasher, "", &s.meta, None);
            walk(origin, s, &dest, &mut entries, &mut hasher)?;
        } else if archive {
            kinds.push("file");
            hash_file(&mut hasher, &s.base, &s.meta, &s.path)?;
            entries.push(Entry {
                dest: dest.clone(),
                body: Body::Archive(s.path.clone()),
                mode: 0o755,
                mtime: 0,
            });
        } else {
            kinds.push("file");
            let target_path = if into_dir {
                join(&dest, &s.base)
            } else {
                dest.clone()
            };
            hash_file(&mut hasher, &s.base, &s.meta, &s.path)?;
            entries.push(entry_for(&s.path, &s.meta, target_path)?);
        }
    }
    for (base, body, mode) in extra {
        kinds.push("file");
        let target_path = if into_dir {
            join(&dest, &base)
        } else {
            dest.clone()
        };
        if let Body::Bytes(b) = &body {
            hasher.update(base.as_bytes());
            hasher.update(Sha256::digest(b));
        }
        entries.push(Entry {
            dest: target_path,
            body,
            mode: 0o100000 | mode,
            mtime: 0,
        });
    }
    if let Some(mode) = req.chmod {
        for e in &mut entries {
            if !matches!(e.body, Body::Link(_) | Body::Archive(_)) {
                e.mode = (e.mode & !0o7777) | mode;
            }
        }
        hasher.update(format!("chmod {mode:o}"));
    }
    let prefix = match kinds.as_slice() {
        [k] => *k,
        _ => "multi",
    };
    let source_hash = format!("{prefix}:{:x}", hasher.finalize());
    // The destination's ancestors (and the destination directory itself
    // when files go into it), existing ones copied up as they are.
    let mut parents = Vec::new();
    let mut top = if into_dir
        || sources.iter().any(|s| s.meta.is_dir())
        || entries.iter().any(|e| matches!(e.body, Body::Archive(_)))
    {
        dest.clone()
    } else {
        Path::new(&dest)
            .parent()
            .map_or(String::new(), |p| p.to_string_lossy().into_owned())
    };
    while !top.is_empty() {
        let (mode, uid, gid) = match target.lookup(&top) {
            Some((_, m)) if m.is_dir() => (m.mode() & 0o7777, m.uid(), m.gid()),
            _ => (0o755, req.ids.0, req.ids.1),
        };
        parents.push((top.clone(), mode, uid, gid));
        top = Path::new(&top)
            .parent()
            .map_or(String::new(), |p| p.to_string_lossy().into_owned());
    }
    parents.reverse();
    Ok(Plan {
        entries,
        parents,
        uid: req.ids.0,
        gid: req.ids.1,
        source_hash,
    })
}

fn entry_for(path: &Path, meta: &fs::Metadata, dest: String) -> Result<Entry, Error> {
    let ft = meta.file_type();
    let body = if ft.is_symlink() {
        Body::Link(fs::read_link(path).map_err(|e| io(path, e))?)
    } else if ft.is_dir() {
        Body::Dir
    } else {
        Body::File(path.to_path_buf())
    };
    Ok(Entry {
        dest,
        body,
        mode: meta.mode(),
        mtime: meta.mtime().max(0) as u64,
    })
}

fn hash_line(h: &mut Sha256, rel: &str, meta: &fs::Metadata, link: Option<&Path>) {
    h.update(format!("{rel}\0{:o}\0", meta.mode()).as_bytes());
    if let Some(l) = link {
        h.update(l.as_os_str().as_encoded_bytes());
    }
    h.update(b"\n");
}

fn hash_file(h: &mut Sha256, rel: &str, meta: &fs::Metadata, path: &Path) -> Result<(), Error> {
    if meta.file_type().is_symlink() {
        let link = fs::read_link(path).map_err(|e| io(path, e))?;
        hash_line(h, rel, meta, Some(&link));
        return Ok(());
    }
    hash_line(h, rel, meta, None);
    if meta.is_file() {
        let mut file = fs::File::open(path).map_err(|e| io(path, e))?;
        let mut content = Sha256::new();
        std::io::copy(&mut file, &mut content).map_err(|e| io(path, e))?;
        h.update(content.finalize());
    }
    Ok(())
}

/// A source directory's contents, recursively, in name order.
fn walk(
    origin: &Origin,
    s: &Source,
    dest: &str,
    entries: &mut Vec<Entry>,
    h: &mut Sha256,
) -> Result<(), Error> {
    let mut stack: Vec<String> = vec![String::new()];
    while let Some(rel) = stack.pop() {
        let children: Vec<(String, PathBuf, fs::Metadata)> = match (origin, &s.view_rel) {
            (Origin::Image(view), Some(base)) => view
                .list(&crate::gopath::clean_relative(&format!("{base}/{rel}")))
                .into_iter()
                .map(|(n, (p, m))| (n, p, m))
                .collect(),
            (Origin::Context(ctx), _) => {
                let dir = s.path.join(&rel);
                let mut v: Vec<_> = fs::read_dir(&dir)
                    .map_err(|e| io(&dir, e))?
                    .flatten()
                    .filter_map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let meta = e.metadata().ok()?;
                        Some((name, e.path(), meta))
                    })
                    .filter(|(name, path, _)| {
                        let ctx_rel = path
                            .strip_prefix(&ctx.root)
                            .map_or(name.clone(), |p| p.to_string_lossy().into_owned());
                        !ctx.ignore.excluded(&ctx_rel)
                    })
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            }
            _ => Vec::new(),
        };
        let mut subdirs = Vec::new();
        for (name, path, meta) in children {
            let child = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let target = if dest.is_empty() {
                child.clone()
            } else {
                format!("{dest}/{child}")
            };
            hash_file(h, &child, &meta, &path)?;
            if meta.is_dir() {
                subdirs.push(child.clone());
            }
            entries.push(entry_for(&path, &meta, target)?);
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// `ADD URL`: fetched whole (tests use a loopback server only).
fn download(url: &str) -> Result<Vec<u8>, Error> {
    let fail = |e: String| Error::Download(format!("failed to GET {url} with status {e}"));
    let response = ureq::get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => fail(format!("{code}")),
        other => Error::Download(format!("Get \"{url}\": {other}")),
    })?;
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Download(e.to_string()))?;
    Ok(bytes)
}

impl Plan {
    /// Writes the layer tarball.
    pub fn write_layer(&self, out: impl Write) -> Result<(), Error> {
        let tmp = Path::new("layer.tar");
        let mut builder = tar::Builder::new(out);
        builder.follow_symlinks(false);
        let header =
            |kind: tar::EntryType, mode: u32, uid: u32, gid: u32, size: u64, mtime: u64| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_mode(mode & 0o7777);
                h.set_uid(uid.into());
                h.set_gid(gid.into());
                h.set_size(size);
                h.set_mtime(mtime);
                h
            };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for (dir, mode, uid, gid) in &self.parents {
            let mut h = header(tar::EntryType::Directory, *mode, *uid, *gid, 0, now);
            builder
                .append_data(&mut h, format!("{dir}/"), std::io::empty())
                .map_err(|e| io(tmp, e))?;
        }
        for e in &self.entries {
            let (uid, gid) = (self.uid, self.gid);
            match &e.body {
                Body::Dir => {
                    let mut h = header(tar::EntryType::Directory, e.mode, uid, gid, 0, e.mtime);
                    builder.append_data(&mut h, format!("{}/", e.dest), std::io::empty())
                }
                Body::File(path) => {
                    let file = fs::File::open(path).map_err(|err| io(path, err))?;
                    let size = file.metadata().map_err(|err| io(path, err))?.len();
                    let mut h = header(tar::EntryType::Regular, e.mode, uid, gid, size, e.mtime);
                    builder.append_data(&mut h, &e.dest, file)
                }
                Body::Bytes(bytes) => {
                    let mut h = header(
                        tar::EntryType::Regular,
                        e.mode,
                        uid,
                        gid,
                        bytes.len() as u64,
                        now,
                    );
                    builder.append_data(&mut h, &e.dest, &bytes[..])
                }
                Body::Link(target) => {
                    let mut h = header(tar::EntryType::Symlink, 0o777, uid, gid, 0, e.mtime);
                    builder.append_link(&mut h, &e.dest, target)
                }
                Body::Archive(path) => {
                    // The archive's own entries, re-rooted at the destination
                    // (their owners and modes kept, as Docker extracts them).
                    let file = fs::File::open(path).map_err(|err| io(path, err))?;
                    let reader = decompress(file).map_err(|err| io(path, err))?;
                    let mut archive = tar::Archive::new(reader);
                    for entry in archive.entries().map_err(|err| io(path, err))? {
                        let mut entry = entry.map_err(|err| io(path, err))?;
                        let name = entry
                            .path()
                            .map_err(|err| io(path, err))?
                            .to_string_lossy()
                            .into_owned();
                        let name = crate::gopath::clean_relative(&name);
                        if name.is_empty() {
                            continue;
                        }
                        let full = if e.dest.is_empty() {
                            name
                        } else {
                            format!("{}/{name}", e.dest)
                        };
                        let mut h = entry.header().clone();
                        let link = entry
                            .link_name()
                            .map_err(|err| io(path, err))?
                            .map(|l| l.into_owned());
                        let result = match (h.entry_type(), link) {
                            (tar::EntryType::Link, Some(l)) => {
                                let l = crate::gopath::clean_relative(&l.to_string_lossy());
                                let l = if e.dest.is_empty() {
                                    l
                                } else {
                                    format!("{}/{l}", e.dest)
                                };
                                builder.append_link(&mut h, &full, l)
                            }
                            (tar::EntryType::Symlink, Some(l)) => {
                                builder.append_link(&mut h, &full, l)
                            }
                            _ => {
                                let mut data = Vec::new();
                                entry.read_to_end(&mut data).map_err(|err| io(path, err))?;
                                builder.append_data(&mut h, &full, &data[..])
                            }
                        };
                        result.map_err(|err| io(path, err))?;
                    }
                    Ok(())
                }
            }
            .map_err(|err| io(tmp, err))?;
        }
        builder
            .into_inner()
            .and_then(|mut w| w.flush())
            .map_err(|e| io(tmp, e))
    }
}

/// `--chmod=755`.
pub fn parse_chmod(text: &str) -> Option<u32> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777)
}

/// The last component of a cleaned source path (empty for the root).
fn base_name(clean: &str) -> String {
    Path::new(clean)
        .file_name()
        .map_or(String::new(), |b| b.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_names_resolve_in_the_images_files() {
        let passwd = "root:x:0:0::/:/bin/sh\nnobody:x:65534:65533::/:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(chown_ids("nobody", passwd, group).unwrap(), (65534, 65533));
        assert_eq!(
            chown_ids("nobody:staff", passwd, group).unwrap(),
            (65534, 50)
        );
        assert_eq!(chown_ids("1000", passwd, group).unwrap(), (1000, 1000));
        assert_eq!(chown_ids("1000:7", passwd, group).unwrap(), (1000, 7));
        assert!(chown_ids("ghost", passwd, group).is_err());
        assert!(chown_ids("root:ghosts", passwd, group).is_err());
    }

    #[test]
    fn chmod_is_octal() {
        assert_eq!(parse_chmod("755"), Some(0o755));
        assert_eq!(parse_chmod("9"), None);
        assert_eq!(parse_chmod("77777"), None);
    }

    #[test]
    fn sources_may_not_climb_above_the_root() {
        for ok in ["a", "/a", "sub/../a", "./a/./b", "/"] {
            assert!(check_inside(ok).is_ok(), "{ok}");
        }
        for (bad, shown) in [
            ("../env.sh", "../env.sh"),
            ("./../env.sh", "../env.sh"),
            ("/../env.sh", "../env.sh"),
            ("sub/../../env.sh", "sub/../../env.sh"),
            ("..", ".."),
        ] {
            assert_eq!(
                check_inside(bad).unwrap_err().to_string(),
                format!("forbidden path outside the build context: {shown} ()")
            );
        }
    }

    #[test]
    fn archives_are_recognised_by_content() {
        let dir = std::env::temp_dir().join(format!("md-archive-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let mut builder = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, "x", &b"hi"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let plain = dir.join("a.tar");
        fs::write(&plain, &tar).unwrap();
        let gz = dir.join("a.tar.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&tar).unwrap();
        fs::write(&gz, enc.finish().unwrap()).unwrap();
        let bz = dir.join("a.tar.bz2");
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        enc.write_all(&tar).unwrap();
        fs::write(&bz, enc.finish().unwrap()).unwrap();
        let xz = dir.join("a.tar.xz");
        let mut out = Vec::new();
        lzma_rs::xz_compress(&mut &tar[..], &mut out).unwrap();
        fs::write(&xz, out).unwrap();
        let text = dir.join("a.txt");
        fs::write(&text, "not an archive").unwrap();
        for p in [&plain, &gz, &bz, &xz] {
            assert!(is_archive(p), "{}", p.display());
        }
        assert!(!is_archive(&text));
        fs::remove_dir_all(&dir).unwrap();
    }
}
