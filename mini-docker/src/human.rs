//! Sizes and times the way the Docker CLI prints them (go-units).

use std::time::{Duration, SystemTime};

/// `4.26MB`: decimal units, three significant digits.
pub fn size(bytes: u64) -> String {
    let (value, unit) = decimal(bytes);
    format!("{}{unit}", significant(value, 3))
}

/// `bytes` in the largest decimal unit (go-units' scale) that keeps the
/// value at least 1: `(4.26, "MB")`.
pub fn decimal(bytes: u64) -> (f64, &'static str) {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    (value, UNITS[unit])
}

/// `%.3g` without the exponent form (values here are below 1000).
fn significant(value: f64, digits: i32) -> String {
    if value == 0.0 {
        return "0".into();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// `2 hours ago`, `About a minute ago`, `Less than a second ago`.
pub fn since(then: SystemTime) -> String {
    let elapsed = SystemTime::now()
        .duration_since(then)
        .unwrap_or(Duration::ZERO);
    format!("{} ago", duration(elapsed))
}

/// `45 seconds`, `About an hour`: the `Up …` of `ps`.
pub fn duration(d: Duration) -> String {
    let seconds = d.as_secs();
    let minutes = seconds / 60;
    let hours = (d.as_secs_f64() / 3600.0 + 0.5) as u64;
    match () {
        _ if seconds < 1 => "Less than a second".into(),
        _ if seconds == 1 => "1 second".into(),
        _ if seconds < 60 => format!("{seconds} seconds"),
        _ if minutes == 1 => "About a minute".into(),
        _ if minutes < 60 => format!("{minutes} minutes"),
        _ if hours == 1 => "About an hour".into(),
        _ if hours < 48 => format!("{hours} hours"),
        _ if hours < 24 * 7 * 2 => format!("{} days", hours / 24),
        _ if hours < 24 * 30 * 2 => format!("{} weeks", hours / 24 / 7),
        _ if hours < 24 * 365 * 2 => format!("{} months", hours / 24 / 30),
        _ => format!("{} years", hours / 24 / 365),
    }
}

/// RFC 3339 with nanoseconds, UTC: what image configs carry.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_nanos(t).to_string()
}

/// `2024-01-02 03:04:05 +0000 UTC`: how Docker's `--format` prints times.
pub fn docker_time(t: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(t).to_string();
    format!("{} +0000 UTC", text.trim_end_matches('Z').replace('T', " "))
}

pub fn parse_rfc3339(text: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z').split('+').next()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_like_docker() {
        assert_eq!(size(0), "0B");
        assert_eq!(size(999), "999B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(1_200), "1.2kB");
        assert_eq!(size(12_345_678), "12.3MB");
        assert_eq!(size(123_456_789), "123MB");
    }

    #[test]
    fn durations_like_docker() {
        assert_eq!(duration(Duration::from_millis(300)), "Less than a second");
        assert_eq!(duration(Duration::from_secs(45)), "45 seconds");
        assert_eq!(duration(Duration::from_secs(90)), "About a minute");
        assert_eq!(duration(Duration::from_secs(3 * 3600)), "3 hours");
        assert_eq!(duration(Duration::from_secs(3 * 86400)), "3 days");
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_rfc3339(&rfc3339(t)), Some(t));
        assert!(parse_rfc3339("2024-01-02T03:04:05.123456789Z").is_some());
    }
}
