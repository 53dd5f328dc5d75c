use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;

/// The tracing target whose events carry an equivalent shell command.
pub const EXPLAIN: &str = "explain";

/// Installs the global subscriber. With `explain` set, every event under the
/// [`EXPLAIN`] target is printed to stdout as `+ <command>`; stdout (not
/// stderr) so that the commands interleave correctly with the narration.
pub fn init(explain: bool) {
    let subscriber = Registry::default().with(ExplainLayer { enabled: explain });
    // A second call (tests) keeps the first subscriber; nothing to report.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

struct ExplainLayer {
    enabled: bool,
}

impl<S: Subscriber> Layer<S> for ExplainLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !self.enabled || event.metadata().target() != EXPLAIN {
            return;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "+ {}", message.0);
        let _ = out.flush();
    }
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        }
    }
}
