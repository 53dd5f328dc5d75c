//! Docker's `json-file` log driver: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`, written by
//! the monitor and read by `logs`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

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
    file: File,
    partial: [Vec<u8>; 2],
}

impl Writer {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Writer {
            file,
            partial: [Vec::new(), Vec::new()],
        })
    }

    /// `stream` 0 is stdout, 1 stderr.
    pub fn write(&mut self, stream: usize, bytes: &[u8]) {
        let buffer = &mut self.partial[stream];
        buffer.extend_from_slice(bytes);
        let mut out = Vec::new();
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            out.extend(record(stream, &line));
        }
        // A runaway line without a newline is cut, as Docker does at 16 KiB.
        if buffer.len() >= 16 * 1024 {
            let line: Vec<u8> = std::mem::take(buffer);
            out.extend(record(stream, &line));
        }
        let _ = self.file.write_all(&out);
    }

    /// Writes what is left of unfinished lines (the container ended).
    pub fn flush_partial(&mut self) {
        for stream in 0..2 {
            let line = std::mem::take(&mut self.partial[stream]);
            if !line.is_empty() {
                let _ = self.file.write_all(&record(stream, &line));
            }
        }
    }
}

fn record(stream: usize, line: &[u8]) -> Vec<u8> {
    let entry = Entry {
        log: String::from_utf8_lossy(line).into_owned(),
        stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
        time: humantime::format_rfc3339_nanos(SystemTime::now()).to_string(),
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
    let mut reader = BufReader::new(file);
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
        .map_err(|_| Error::Usage(format!("invalid value for \"since\": {text}")))
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
}
