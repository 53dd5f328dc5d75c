//! The `mini-docker` command line: Docker's commands, flags, columns and
//! exit codes.

mod cli;

fn main() {
    cli::main()
}
