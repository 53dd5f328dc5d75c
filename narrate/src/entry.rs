//! The `main` every lesson binary shares: the common flags, the explain
//! stream, the Ctrl-C clean-up, one-line errors and the exit status.

use anyhow::Context as _;

use crate::Steps;

/// Flags every lesson binary takes; `#[command(flatten)]` them.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Options {
    /// Print each step as the equivalent shell command or syscall.
    #[arg(long, global = true)]
    pub explain: bool,
    /// Wait for Enter between steps.
    #[arg(long, global = true)]
    pub pause: bool,
}

/// Runs a lesson binary's body and exits with its status: 1 and a one-line
/// `program: error` on failure, 128 + signal when interrupted.
pub fn main(
    program: &str,
    options: Options,
    body: impl FnOnce(&mut Steps) -> anyhow::Result<i32>,
) -> ! {
    crate::init(options.explain);
    let mut steps = Steps::new(options.pause);
    let code = crate::install_signal_handlers()
        .context("installing the Ctrl-C handler")
        .and_then(|()| body(&mut steps))
        .unwrap_or_else(|e| {
            eprintln!("{program}: {e:#}");
            1
        });
    crate::exit(code)
}
