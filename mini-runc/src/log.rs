//! runc's logging conventions: `--log FILE` (default stderr) and
//! `--log-format text|json`. containerd's shim passes `--log log.json
//! --log-format json` and shows its user the `msg` of the last `error`
//! line when a command fails; conmon and Docker show stderr.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::OnceLock;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug)]
struct Sink {
    file: Option<PathBuf>,
    format: Format,
    debug: bool,
}

static SINK: OnceLock<Sink> = OnceLock::new();

/// Sets the destination once, from the global flags. With `--debug`, the
/// explain stream of the lesson libraries (every mount, clone and cgroup
/// write as its shell equivalent) goes to the log as `debug` lines.
pub fn init(file: Option<PathBuf>, format: Format, debug: bool) {
    let _ = SINK.set(Sink {
        file,
        format,
        debug,
    });
    if debug {
        use tracing_subscriber::layer::SubscriberExt as _;
        let subscriber = tracing_subscriber::registry().with(Explain);
        let _ = tracing::subscriber::set_global_default(subscriber);
    }
}

/// Writes `message` at `level` to the log.
pub fn write(level: &str, message: &str) {
    let sink = SINK.get_or_init(|| Sink {
        file: None,
        format: Format::Text,
        debug: false,
    });
    if level == "debug" && !sink.debug {
        return;
    }
    let time = humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string();
    let line = match sink.format {
        Format::Json => {
            serde_json::json!({"level": level, "msg": message, "time": time}).to_string() + "\n"
        }
        Format::Text => format!("time=\"{time}\" level={level} msg={message:?}\n"),
    };
    let written = sink.file.as_ref().is_some_and(|path| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .is_ok()
    });
    if !written {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

pub fn warn(message: &str) {
    write("warning", message);
}

pub fn error(message: &str) {
    write("error", message);
}

/// The `explain` events as `debug` log lines.
struct Explain;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Explain {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        write("debug", &message.0);
    }
}
