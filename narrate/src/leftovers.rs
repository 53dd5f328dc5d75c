//! What a demo killed with SIGKILL (no handler runs) leaves behind is named
//! after its PID (`cgroup-demo-1234`, `nd1234br0`); a later `clean` finds
//! it by that name once the PID is gone.

/// Whether `name` is `<prefix><pid>…` for a PID that no longer runs.
pub fn left_by_dead_run(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u32>() {
        Ok(pid) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_names_of_dead_runs_only() {
        let me = std::process::id();
        assert!(!left_by_dead_run(
            &format!("cgroup-demo-{me}"),
            "cgroup-demo-"
        ));
        assert!(left_by_dead_run("cgroup-demo-999999999", "cgroup-demo-"));
        assert!(left_by_dead_run("nd999999999br0", "nd"));
        assert!(!left_by_dead_run("cgroup-demo-x", "cgroup-demo-"));
        assert!(!left_by_dead_run("other-999999999", "cgroup-demo-"));
    }
}
