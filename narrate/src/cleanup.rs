//! Clean-up that runs on every exit path.
//!
//! A [`Cleanup`] runs its action when dropped (normal return, `?`, panic
//! unwinding). Ctrl-C does not unwind, so every live action is also kept in a
//! process-wide registry that the signal thread started by
//! [`install_signal_handlers`] drains, newest first, before exiting.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

type Action = Box<dyn FnOnce() + Send>;

static REGISTRY: Mutex<Vec<(u64, Action)>> = Mutex::new(Vec::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static FOREGROUND: AtomicBool = AtomicBool::new(false);
static TERMINATING: AtomicBool = AtomicBool::new(false);
/// Set inside the signal handler itself, before the clean-up thread wakes:
/// an error the interruption causes on the main thread (a worker killed by
/// the same Ctrl-C breaks a pipe) must not win the race to `exit`.
static PENDING: AtomicBool = AtomicBool::new(false);

/// While alive, Ctrl-C belongs to an interactive child (a shell in the
/// rootfs): the terminal delivers SIGINT to the child too, and the child
/// decides what it means, so the narrator must not tear everything down.
/// SIGTERM and SIGHUP still clean up.
#[derive(Debug)]
pub struct ForegroundChild(());

impl ForegroundChild {
    pub fn enter() -> Self {
        FOREGROUND.store(true, Ordering::SeqCst);
        ForegroundChild(())
    }
}

impl Drop for ForegroundChild {
    fn drop(&mut self) {
        FOREGROUND.store(false, Ordering::SeqCst);
    }
}

/// A registered clean-up action; it runs exactly once, on drop or on a signal.
#[derive(Debug)]
#[must_use = "dropping a Cleanup runs it immediately"]
pub struct Cleanup {
    id: u64,
}

impl Cleanup {
    pub fn new(action: impl FnOnce() + Send + 'static) -> Self {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        lock().push((id, Box::new(action)));
        Cleanup { id }
    }

    /// Forgets the action without running it (the resource was handed over).
    pub fn dismiss(self) {
        take(self.id);
        std::mem::forget(self);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(action) = take(self.id) {
            action();
        }
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<(u64, Action)>> {
    // A panic inside an action must not disable the remaining clean-ups.
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn take(id: u64) -> Option<Action> {
    let mut registry = lock();
    let index = registry.iter().position(|(i, _)| *i == id)?;
    Some(registry.remove(index).1)
}

/// Runs every registered action, newest first.
fn run_all() {
    while let Some((_, action)) = lock().pop() {
        action();
    }
}

/// On SIGINT, SIGTERM or SIGHUP: run every pending clean-up, then exit with
/// 128 + the signal number, as a shell reports a command killed by it.
///
/// SIGPIPE stays ignored (Rust's default) so that `demo | head` makes the
/// next write fail and unwind through the [`Cleanup`] guards; the panic hook
/// installed here keeps that expected failure quiet.
pub fn install_signal_handlers() -> std::io::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.contains("Broken pipe") {
            default_hook(info);
        }
    }));
    for signal in [SIGINT, SIGTERM, SIGHUP] {
        // SAFETY: the action only loads and stores atomics, which is
        // async-signal-safe.
        unsafe {
            signal_hook::low_level::register(signal, move || {
                if !(signal == SIGINT && FOREGROUND.load(Ordering::SeqCst)) {
                    PENDING.store(true, Ordering::SeqCst);
                }
            })?;
        }
    }
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])?;
    std::thread::Builder::new()
        .name("cleanup-on-signal".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGINT && FOREGROUND.load(Ordering::SeqCst) {
                    continue;
                }
                TERMINATING.store(true, Ordering::SeqCst);
                eprintln!("\ninterrupted: cleaning up");
                run_all();
                std::process::exit(128 + signal);
            }
        })?;
    Ok(())
}

/// Ends the process with `code`, unless a signal is already being handled:
/// then the signal thread finishes its clean-up and exits with 128 + signal,
/// so the status tells the caller what really happened.
pub fn exit(code: i32) -> ! {
    // A signal just arrived: give its clean-up thread a moment to take over.
    let mut waited = 0;
    while PENDING.load(Ordering::SeqCst) && !TERMINATING.load(Ordering::SeqCst) && waited < 100 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
    }
    if TERMINATING.load(Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn runs_once_on_drop_and_not_after_dismiss() {
        let count = Arc::new(AtomicU64::new(0));
        let c = count.clone();
        drop(Cleanup::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        }));
        assert_eq!(count.load(Ordering::SeqCst), 1);
        let c = count.clone();
        Cleanup::new(move || {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .dismiss();
        run_all();
        assert_eq!(count.load(Ordering::SeqCst), 1);
    }
}
