//! Command-line subcommands.

pub mod bench;
