//! Hooks: programs the bundle asks to run at points of the lifecycle, each
//! given the container's state on its stdin (the specification's
//! `prestart`, `createRuntime`, `createContainer`, `startContainer`,
//! `poststart`, `poststop`).

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs each hook in order with `state` on stdin; the first failure (a
/// non-zero exit, a timeout) stops the list and is the error.
pub fn run(stage: &str, hooks: Option<&Vec<Hook>>, state: &serde_json::Value) -> Result<()> {
    let state = state.to_string();
    for hook in hooks.into_iter().flatten() {
        run_one(stage, hook, &state)?;
    }
    Ok(())
}

fn run_one(stage: &str, hook: &Hook, state: &str) -> Result<()> {
    let path = hook.path();
    tracing::info!(target: "explain", "{} < state.json   # {stage} hook", path.display());
    let args = hook.args().clone().unwrap_or_default();
    let mut command = Command::new(path);
    if let Some((first, rest)) = args.split_first() {
        command.arg0(first).args(rest);
    }
    command
        .env_clear()
        .envs(
            hook.env()
                .iter()
                .flatten()
                .filter_map(|e| e.split_once('=')),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::null());
    let failed = |why: String| Error::State(format!("{stage} hook {}: {why}", path.display()));
    let mut child = command.spawn().map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state may close stdin early.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|&t| t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t as u64));
    loop {
        if let Some(status) = child.try_wait().map_err(|e| failed(e.to_string()))? {
            return if status.success() {
                Ok(())
            } else {
                Err(failed(format!("exited with {status}")))
            };
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(failed(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

use std::os::unix::process::CommandExt as _;

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(json: serde_json::Value) -> Vec<Hook> {
        vec![serde_json::from_value(json).unwrap()]
    }

    #[test]
    fn a_hook_reads_the_state_and_its_exit_code_counts() {
        let dir = std::env::temp_dir().join(format!("mini-runc-hook-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("state");
        let ok = hook(serde_json::json!({
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", out.display())]
        }));
        run("poststart", Some(&ok), &serde_json::json!({"id": "x"})).unwrap();
        assert_eq!(std::fs::read_to_string(&out).unwrap(), r#"{"id":"x"}"#);
        let bad = hook(serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}));
        let e = run("prestart", Some(&bad), &serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("prestart hook /bin/sh"), "{e}");
        let slow = hook(
            serde_json::json!({"path": "/bin/sh", "args": ["sh", "-c", "sleep 5"], "timeout": 1}),
        );
        let e = run("poststop", Some(&slow), &serde_json::json!({})).unwrap_err();
        assert!(e.to_string().contains("timed out"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
