//! The `traintop` command line: parse, run the subcommand, exit with its
//! code. The command tree is `cli/command.rs`, each subcommand's arguments
//! beside its handler in `cli/`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use traintop::cli::command::Cli;

fn main() -> ExitCode {
    // Before anything can panic: the one hook, which the terminal, the run
    // folder and the engine's guard register with (src/panic_policy.rs).
    traintop::panic_policy::install();
    traintop::cli::exit_code(Cli::parse().call())
}
