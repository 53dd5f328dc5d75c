//! Docker's human sizes: `64m`, `1g`, `512k`, `100` (bytes), `1.5g`.

use crate::{Error, Result};

/// Parses a size the way `docker run --memory` does: a number, optionally
/// with a binary unit `b`, `k`, `m`, `g`, `t`, `p` (any case, an optional
/// `i` and `b` after it: `64MiB`, `64mb`, `64m` are all 64 × 1024²).
pub fn parse_bytes(text: &str) -> Result<i64> {
    let invalid = || Error::Invalid(format!("invalid size: '{text}'"));
    let t = text.trim();
    let digits_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let value: f64 = number.parse().map_err(|_| invalid())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(invalid()),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(bytes as i64)
}

/// `--memory-swap`'s values: a size, or `-1` for unlimited.
pub fn parse_bytes_or_unlimited(text: &str) -> Result<i64> {
    if text.trim() == "-1" {
        Ok(-1)
    } else {
        parse_bytes(text)
    }
}

/// `64MiB`-style display for narration.
pub fn human(bytes: i64) -> String {
    const UNITS: [(&str, i64); 4] = [
        ("GiB", 1 << 30),
        ("MiB", 1 << 20),
        ("KiB", 1 << 10),
        ("B", 1),
    ];
    for (name, size) in UNITS {
        if bytes >= size && bytes % size == 0 || bytes >= size * 16 {
            let value = bytes as f64 / size as f64;
            return if value.fract() == 0.0 {
                format!("{value:.0}{name}")
            } else {
                format!("{value:.1}{name}")
            };
        }
    }
    format!("{bytes}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dockers_units() {
        assert_eq!(parse_bytes("64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("100").unwrap(), 100);
        assert_eq!(parse_bytes("512 kb").unwrap(), 512 << 10);
        assert!(parse_bytes("12x").is_err());
        assert!(parse_bytes("-5m").is_err());
        assert!(parse_bytes("").is_err());
        assert_eq!(parse_bytes_or_unlimited("-1").unwrap(), -1);
    }

    #[test]
    fn shows_sizes_for_people() {
        assert_eq!(human(64 << 20), "64MiB");
        assert_eq!(human(1 << 30), "1GiB");
        assert_eq!(human((64 << 20) + (512 << 10)), "64.5MiB");
        assert_eq!(human(100), "100B");
    }
}
