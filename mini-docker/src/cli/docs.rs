//! Shell completions and man pages, generated from the clap definitions so
//! they never drift from the flags: `completion bash|zsh|fish` prints a
//! script, the hidden `manpages DIR` writes `mini-docker.1` and one page
//! per subcommand (`mini-docker-network-create.1`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use super::Cli;

#[derive(Args, Debug)]
pub struct CompletionArgs {
    /// The shell: bash, zsh, fish (elvish and powershell too).
    shell: Shell,
}

#[derive(Args, Debug)]
pub struct ManpagesArgs {
    /// Directory to write the pages to (created if missing).
    dir: PathBuf,
}

/// `completion SHELL`: the completion script on stdout.
pub fn completion(args: &CompletionArgs) -> anyhow::Result<i32> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "mini-docker", &mut out);
    out.flush()?;
    Ok(0)
}

/// `manpages DIR`: one page per command, written atomically.
pub fn manpages(args: &ManpagesArgs) -> anyhow::Result<i32> {
    std::fs::create_dir_all(&args.dir).with_context(|| args.dir.display().to_string())?;
    let mut command = Cli::command();
    command.build();
    let mut written = 0;
    render(&command, "mini-docker", &args.dir, &mut written)?;
    eprintln!("{written} man pages in {}", args.dir.display());
    Ok(0)
}

/// Writes the page of `command` as `NAME.1`, then its subcommands'.
fn render(
    command: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut usize,
) -> anyhow::Result<()> {
    // clap names are `&'static str` (without its "string" feature); a
    // one-shot command can leak these few.
    let page = command
        .clone()
        .name(&*Box::leak(name.to_string().into_boxed_str()));
    let mut bytes = Vec::new();
    clap_mangen::Man::new(page).render(&mut bytes)?;
    let path = dir.join(format!("{name}.1"));
    let tmp = dir.join(format!(".{name}.1.tmp"));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| path.display().to_string())?;
    *written += 1;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        render(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
