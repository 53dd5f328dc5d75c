//! Docker's `json-file` log driver: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`, written by
//! the monitor and read by `logs`. With `--log-opt max-size` the monitor
//! rotates it (`log` → `log.1` → … up to `max-file` files, as Docker
//! does) and `logs` reads the rotated files oldest first.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::options::{LogConfig, LogDriver, Rotation};

use crate::{Error, Result};

/// One log record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// Splits a stream's output into lines, holding a partial last line until
/// its newline (or [`Writer::flush_partial`]) arrives.
#[derive(Debug)]
pub struct Writer {
    /// `None` for `--log-driver none`: output goes to attached clients only.
    file: Option<File>,
    path: PathBuf,
    rotation: Option<Rotation>,
    /// Bytes in the current file.
    size: u64,
    partial: [Vec<u8>; 2],
}

/// The `n`th rotated file beside `path` (`log.1` is the newest).
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl Writer {
    pub fn open(path: &Path) -> Result<Self> {
        Self::open_with(path, &LogConfig::default())
    }

    /// A writer per the container's `LogConfig` (checked at create).
    pub fn open_with(path: &Path, config: &LogConfig) -> Result<Self> {
        let file = match config.driver {
            LogDriver::None => None,
            LogDriver::JsonFile => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::io(path, e))?,
            ),
        };
        let size = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Ok(Writer {
            file,
            path: path.to_path_buf(),
            rotation: config.rotation()?,
            size,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// Queues one record in `out` (written with one `write` per chunk of
    /// output), first writing out the queue and rotating when the record
    /// would take the file past `max-size`: a record never spans files.
    fn push(&mut self, out: &mut Vec<u8>, record: &[u8]) {
        if let Some(r) = self.rotation {
            let used = self.size + out.len() as u64;
            if used > 0 && used + record.len() as u64 > r.max_size {
                self.flush(out);
                self.rotate(r.max_file);
            }
        }
        out.extend_from_slice(record);
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        if let Some(file) = &mut self.file {
            if file.write_all(out).is_ok() {
                self.size += out.len() as u64;
            } else {
                // A full disk may have taken part of the queue: cut it off,
                // so the log holds whole records only (and the next record
                // does not glue onto a torn one).
                let _ = file.set_len(self.size);
            }
        }
        out.clear();
    }

    /// `log.N-1` → `log.N` … `log` → `log.1`, then a new `log`; with one
    /// file, the log is just truncated.
    fn rotate(&mut self, max_file: u32) {
        if max_file > 1 {
            let _ = std::fs::remove_file(rotated(&self.path, max_file - 1));
            for n in (1..max_file - 1).rev() {
                let _ = std::fs::rename(rotated(&self.path, n), rotated(&self.path, n + 1));
            }
            let _ = std::fs::rename(&self.path, rotated(&self.path, 1));
        }
        let reopened = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(&self.path);
        if let Ok(file) = reopened {
            self.file = Some(file);
            self.size = 0;
        }
    }

    /// `stream` 0 is stdout, 1 stderr. The lines of one chunk of output
    /// share its arrival time. They are cut from the held bytes by offset,
    /// and the rest moved once: taking them off the front one by one moved
    /// the whole remainder for every line, which capped a chatty
    /// container's log at a few tens of MB/s.
    pub fn write(&mut self, stream: usize, bytes: &[u8]) {
        let time = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
        let mut held = std::mem::take(&mut self.partial[stream]);
        held.extend_from_slice(bytes);
        let mut out = Vec::with_capacity(held.len() + held.len() / 2);
        let mut start = 0;
        while let Some(n) = held[start..].iter().position(|&b| b == b'\n') {
            let end = start + n + 1;
            self.push(&mut out, &record(stream, &held[start..end], &time));
            start = end;
        }
        held.drain(..start);
        // A runaway line without a newline is cut, as Docker does at 16 KiB.
        if held.len() >= 16 * 1024 {
            self.push(&mut out, &record(stream, &held, &time));
            held.clear();
        }
        self.partial[stream] = held;
        self.flush(&mut out);
    }

    /// Writes what is left of unfinished lines (the container ended).
    pub fn flush_partial(&mut self) {
        for stream in 0..2 {
            let line = std::mem::take(&mut self.partial[stream]);
            if !line.is_empty() {
                let mut out = Vec::new();
                let time = humantime::format_rfc3339_nanos(SystemTime::now()).to_string();
                self.push(&mut out, &record(stream, &line, &time));
                self.flush(&mut out);
            }
        }
    }
}

fn record(stream: usize, line: &[u8], time: &str) -> Vec<u8> {
    let entry = Entry {
        log: String::from_utf8_lossy(line).into_owned(),
        stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
        time: time.to_string(),
    };
    let mut bytes = serde_json::to_vec(&entry).unwrap_or_default();
    bytes.push(b'\n');
    bytes
}

/// Which records `logs` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// `--tail N`: only the last N.
    pub tail: Option<usize>,
    /// `--since`: only records at or after this time.
    pub since: Option<SystemTime>,
}

/// Reads the complete records from `offset`; returns them and the offset
/// after the last complete line (for `-f` to continue from).
pub fn read(path: &Path, offset: u64) -> Result<(Vec<Entry>, u64)> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), offset)),
        Err(e) => return Err(Error::io(path, e)),
    };
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut entries = Vec::new();
    let mut position = offset;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        position += n as u64;
        if let Ok(entry) = serde_json::from_str::<Entry>(&line) {
            entries.push(entry);
        }
    }
    Ok((entries, position))
}

/// Every record of a rotated log, oldest file first; returns them and
/// where [`Follower`] goes on from in the current file.
pub fn read_all(path: &Path, max_file: u32) -> Result<(Vec<Entry>, Follower)> {
    let mut entries = Vec::new();
    for n in (1..max_file.max(1)).rev() {
        entries.extend(read(&rotated(path, n), 0)?.0);
    }
    let (current, offset) = read(path, 0)?;
    entries.extend(current);
    Ok((
        entries,
        Follower {
            path: path.to_path_buf(),
            offset,
            inode: inode(path),
            max_file,
        },
    ))
}

fn inode(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.ino())
}

/// `logs -f` across rotations: when the file under the name is a new one,
/// the rest of the old one (now `log.1`) comes first.
#[derive(Debug, Clone)]
pub struct Follower {
    path: PathBuf,
    offset: u64,
    inode: u64,
    max_file: u32,
}

impl Follower {
    pub fn read_new(&mut self) -> Result<Vec<Entry>> {
        let now = inode(&self.path);
        let mut entries = Vec::new();
        if now != self.inode && self.inode != 0 {
            // The file we were reading may have moved more than one place.
            let moved = (1..self.max_file).find(|n| inode(&rotated(&self.path, *n)) == self.inode);
            if let Some(n) = moved {
                entries.extend(read(&rotated(&self.path, n), self.offset)?.0);
                for newer in (1..n).rev() {
                    entries.extend(read(&rotated(&self.path, newer), 0)?.0);
                }
            }
            self.offset = 0;
        }
        self.inode = now;
        let (current, next) = read(&self.path, self.offset)?;
        self.offset = next;
        entries.extend(current);
        Ok(entries)
    }
}

impl Filter {
    pub fn apply(&self, mut entries: Vec<Entry>) -> Vec<Entry> {
        if let Some(since) = self.since {
            entries.retain(|e| humantime::parse_rfc3339_weak(&e.time).is_ok_and(|t| t >= since));
        }
        if let Some(n) = self.tail {
            let skip = entries.len().saturating_sub(n);
            entries.drain(..skip);
        }
        entries
    }
}

/// `--since` as Docker takes it: an RFC 3339 time, a Unix timestamp, or a
/// duration before now (`10m`, `1h30m`).
pub fn parse_since(text: &str) -> Result<SystemTime> {
    if let Ok(t) = humantime::parse_rfc3339_weak(text) {
        return Ok(t);
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Ok(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs_f64(secs));
    }
    humantime::parse_duration(text)
        .map(|d| SystemTime::now() - d)
        .map_err(|_| Error::Since(text.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_partials_held() {
        let path = std::env::temp_dir().join(format!("logs-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut w = Writer::open(&path).unwrap();
        w.write(0, b"one\ntw");
        w.write(1, b"err\n");
        w.write(0, b"o\nthree");
        w.flush_partial();
        let (entries, end) = read(&path, 0).unwrap();
        let logs: Vec<(&str, &str)> = entries
            .iter()
            .map(|e| (e.log.as_str(), e.stream.as_str()))
            .collect();
        assert_eq!(
            logs,
            [
                ("one\n", "stdout"),
                ("err\n", "stderr"),
                ("two\n", "stdout"),
                ("three", "stdout")
            ]
        );
        assert_eq!(end, std::fs::metadata(&path).unwrap().len());
        let tail = Filter {
            tail: Some(1),
            since: None,
        };
        assert_eq!(tail.apply(entries)[0].log, "three");
        std::fs::remove_file(&path).unwrap();
        assert!(parse_since("10m").is_ok());
        assert!(parse_since("2024-01-01T00:00:00Z").is_ok());
        assert!(parse_since("yesterday-ish").is_err());
    }

    #[test]
    fn rotation_keeps_every_whole_record_in_order() {
        let dir = std::env::temp_dir().join(format!("logs-rot-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c-json.log");
        let config = LogConfig::parse(None, &["max-size=1k,max-file=3".into()]).unwrap();
        let mut w = Writer::open_with(&path, &config).unwrap();
        for i in 0..20 {
            w.write(0, format!("line {i:03} {}\n", "x".repeat(40)).as_bytes());
        }
        assert!(rotated(&path, 2).exists() && !rotated(&path, 3).exists());
        for n in [0, 1, 2] {
            let file = if n == 0 {
                path.clone()
            } else {
                rotated(&path, n)
            };
            assert!(std::fs::metadata(&file).unwrap().len() <= 1024);
        }
        let (entries, mut follower) = read_all(&path, 3).unwrap();
        let numbers: Vec<u32> = entries
            .iter()
            .map(|e| e.log[5..8].parse().unwrap())
            .collect();
        let first = numbers[0];
        assert_eq!(numbers, (first..20).collect::<Vec<_>>());
        // A rotation while following: the old file's tail comes first.
        for i in 20..40 {
            w.write(0, format!("line {i:03} {}\n", "x".repeat(40)).as_bytes());
        }
        let more: Vec<u32> = follower
            .read_new()
            .unwrap()
            .iter()
            .map(|e| e.log[5..8].parse().unwrap())
            .collect();
        assert_eq!(more.first(), Some(&20));
        std::fs::remove_dir_all(&dir).unwrap();
        let none = LogConfig::parse(Some("none"), &[]).unwrap();
        let mut w = Writer::open_with(&dir.join("none.log"), &none).unwrap();
        w.write(0, b"lost\n");
        assert!(!dir.join("none.log").exists());
    }
}
