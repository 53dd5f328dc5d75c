//! The runner of every test binary with tests that need something this
//! machine may lack (root, a cgroup v1 host…). libtest cannot mark a test
//! ignored once it has started, so such a test would either fail on a
//! laptop or print "skipped" and count as passed. These binaries run on
//! `libtest-mimic` instead (`harness = false`, [`main!`](crate::main)):
//! a test that cannot run calls [`skip`], which fails it under CI and
//! otherwise reports it *ignored*, with the reason, in the runner's own
//! summary.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use libtest_mimic::{Arguments, Completion, Conclusion, Failed, Trial};

/// The one rule for "is this CI": `CI` set to anything but empty, `0` or
/// `false` (`.ci/run` and the cgroup v2 lane set `CI=true`).
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Why a test did not run; the panic payload [`skip`] unwinds with.
#[derive(Debug)]
struct Skip(String);

/// Stops the running test because this machine cannot run it. Under CI
/// that is a failure (CI must run every test); elsewhere the test shows as
/// ignored. Outside [`main!`](crate::main)'s runner it is a failure too.
pub fn skip(reason: impl Into<String>) -> ! {
    let reason = reason.into();
    if is_ci() {
        panic!("cannot run here ({reason}), and CI=true forbids skipping");
    }
    panic::panic_any(Skip(reason))
}

/// One test of a [`main!`](crate::main) binary.
pub fn trial(name: &str, test: fn()) -> Trial {
    checked_trial(name, move || {
        test();
        Ok(())
    })
}

/// A trial whose body may also fail by returning an error (and, like any,
/// by panicking, or be skipped by [`skip`]).
pub fn checked_trial(
    name: impl Into<String>,
    test: impl FnOnce() -> Result<(), Failed> + Send + 'static,
) -> Trial {
    Trial::ignorable_test(name, move || {
        match panic::catch_unwind(AssertUnwindSafe(test)) {
            Ok(result) => result.map(|()| Completion::Completed),
            Err(payload) => match payload.downcast::<Skip>() {
                Ok(skip) => Ok(Completion::ignored_with(skip.0)),
                Err(payload) => Err(Failed::from(panic_message(&*payload))),
            },
        }
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panicked".into())
}

/// Runs `trials` with the command line's filters and exits with the
/// runner's code.
pub fn run(trials: Vec<Trial>) -> ! {
    run_with(&Arguments::from_args(), trials).exit()
}

/// Runs `trials` with `args`. A [`skip`] prints no panic message; other
/// panics do.
pub fn run_with(args: &Arguments, trials: Vec<Trial>) -> Conclusion {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Skip>().is_none() {
                default(info);
            }
        }));
    });
    libtest_mimic::run(args, trials)
}

/// `fn main` of a test binary: `testkit::main![test_a, test_b];` runs the
/// listed `fn()`s as tests (the target has `harness = false`).
#[macro_export]
macro_rules! main {
    ($($test:ident),* $(,)?) => {
        fn main() {
            $crate::harness::run(vec![
                $($crate::harness::trial(stringify!($test), $test)),*
            ])
        }
    };
}
