//! Lesson 4, narrated: overlayfs and image layers.

mod scratch;
mod tours;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(version, about = "Lesson 4: the overlay filesystem and image layers")]
struct Cli {
    #[command(flatten)]
    options: narrate::Options,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read, create, modify (copy-up), delete (whiteout), replace a
    /// directory (opaque), rename — and what each leaves in the upper dir.
    Tour,
    /// Two containers on one lower layer, each with its own upper.
    Share,
    /// Three lower layers stacked: which file wins.
    Layers,
    /// `docker diff` of an upper dir.
    Diff {
        upper: PathBuf,
        /// Lower layers, top first (to tell added from changed).
        #[arg(long = "lower")]
        lowers: Vec<PathBuf>,
    },
    /// Remove what runs killed with SIGKILL left (scratch dirs and mounts).
    Clean,
    /// The price of copy-on-write: the first write to a big lower file.
    CowCost {
        /// Size of the lower file.
        #[arg(long, default_value = "256m", value_parser = parse_size)]
        size: u64,
    },
}

fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, shift) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 10),
        Some('m') => (&t[..t.len() - 1], 20),
        Some('g') => (&t[..t.len() - 1], 30),
        _ => (t.as_str(), 0),
    };
    digits
        .parse::<u64>()
        .map(|n| n << shift)
        .map_err(|_| format!("invalid size '{text}' (try 256m or 1g)"))
}

fn main() {
    let cli = Cli::parse();
    narrate::main("overlay-demo", cli.options, |steps| match cli.command {
        Command::Tour => tours::tour(steps),
        Command::Share => tours::share(steps),
        Command::Layers => tours::layers(steps),
        Command::Diff { upper, lowers } => tours::diff(&upper, &lowers),
        Command::CowCost { size } => tours::cow_cost(steps, size),
        Command::Clean => scratch::clean(),
    })
}
