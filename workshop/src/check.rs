//! How the tests call a step and report on it. A step changes the process
//! that runs it — its root, its namespaces, its cgroup — so the tests run
//! most steps in a child process ([`in_child`]), and an unfinished step
//! (`todo!()`) fails with a message saying which file to write
//! ([`not_done`]) rather than a bare panic.

use std::any::Any;
use std::io::{Read as _, Write as _};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What a test of `step` says when the step panics: for a `todo!()`,
/// where to write it and how to check again. The skeletons' `todo!()`s
/// start with their step (`step1: …`), so a step that calls an earlier,
/// unfinished one points at the earlier one.
pub fn not_done(step: &str, payload: &(dyn Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into());
    let todo =
        message
            .strip_prefix("not yet implemented: ")
            .map(|todo| match todo.split_once(": ") {
                Some((own, rest)) if own.starts_with("step") && !own.contains(' ') => (own, rest),
                _ => (step, todo),
            });
    match todo {
        Some((step, todo)) => format!(
            "{step} is not done yet: {todo}\n  write it in workshop/src/learner/{step}.rs, then run \
             `cargo test -p workshop --features learner --test {step}` again (workshop/README.md has hints)"
        ),
        None if message == "not yet implemented" => format!(
            "{step} is not done yet: fill in the todo!() in workshop/src/learner/{step}.rs"
        ),
        None => format!("{step} panicked: {message}"),
    }
}

/// Calls `f` (a step's function, in the test's own process), turning a
/// panic into [`not_done`]'s message.
pub fn attempt<T>(step: &str, f: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => value,
        Err(payload) => panic!("{}", not_done(step, payload.as_ref())),
    }
}

/// Runs `body` in a forked child and returns what it returned: `Err`
/// carries the child's message (a failed check, a step's error, or
/// [`not_done`] for a panic) back to the test. A child that dies by a
/// signal is an error too.
pub fn in_child(step: &str, body: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let (mut reader, mut writer) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let child = chroot_demo::process::spawn(move || {
        let message = match catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(())) => return 0,
            Ok(Err(message)) => message,
            Err(payload) => not_done(step, payload.as_ref()),
        };
        let _ = writer.write_all(message.as_bytes());
        1
    })
    .map_err(|e| e.to_string())?;
    let mut message = String::new();
    let _ = reader.read_to_string(&mut message);
    let exit = chroot_demo::process::wait(child).map_err(|e| e.to_string())?;
    match exit {
        chroot_demo::process::Exit::Code(0) => Ok(()),
        _ if !message.is_empty() => Err(message),
        other => Err(format!("{step}: the child process ended with {other:?}")),
    }
}

/// `Err(message)` unless `condition`: a check inside [`in_child`].
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), String> {
    if condition {
        Ok(())
    } else {
        Err(message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_todo_says_where_to_write_it() {
        let payload: Box<dyn Any + Send> =
            Box::new(String::from("not yet implemented: chroot into rootfs"));
        let text = not_done("step1", payload.as_ref());
        assert!(
            text.starts_with("step1 is not done yet: chroot into rootfs\n"),
            "{text}"
        );
        assert!(text.contains("workshop/src/learner/step1.rs"), "{text}");
        assert!(text.contains("--features learner --test step1"), "{text}");
        let other: Box<dyn Any + Send> = Box::new("index out of bounds");
        assert_eq!(
            not_done("step2", other.as_ref()),
            "step2 panicked: index out of bounds"
        );
    }

    #[test]
    fn a_child_reports_back() {
        assert_eq!(in_child("step0", || Ok(())), Ok(()));
        assert_eq!(
            in_child("step0", || Err("wrong".into())),
            Err("wrong".to_string())
        );
        let todo = in_child("step0", || -> Result<(), String> { todo!("the work") });
        assert!(todo
            .unwrap_err()
            .starts_with("step0 is not done yet: the work\n"));
        // Step 2 calling an unfinished step 1 points at step 1.
        let earlier = in_child("step2", || -> Result<(), String> { todo!("step1: chroot") });
        let earlier = earlier.unwrap_err();
        assert!(
            earlier.starts_with("step1 is not done yet: chroot\n"),
            "{earlier}"
        );
        assert!(earlier.contains("learner/step1.rs"), "{earlier}");
    }
}
