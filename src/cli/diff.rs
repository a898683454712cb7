//! `traintop diff RUN_A RUN_B`: config differences, technique changes made
//! while training, and summary figures side by side.

use std::path::{Path, PathBuf};

use super::ExitError;
use crate::inspect::diff::{compare, RunFacts};

/// `traintop diff`'s arguments.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    run_a: PathBuf,
    run_b: PathBuf,
    #[arg(long)]
    json: bool,
}

impl DiffArgs {
    /// `traintop diff`.
    pub fn call(self) -> Result<(), ExitError> {
        diff(&self.run_a, &self.run_b, self.json)
    }
}

/// Prints what differs between the run folders `a` and `b`.
pub fn diff(a: &Path, b: &Path, json: bool) -> Result<(), ExitError> {
    let fa = RunFacts::read(a).map_err(ExitError::input)?;
    let fb = RunFacts::read(b).map_err(ExitError::input)?;
    let c = compare(&fa, &fb);
    if json {
        println!("{}", serde_json::to_string_pretty(&c).expect("comparison serializes"));
    } else {
        // Technique names, config values and notes come from the run folders.
        print!("{}", crate::format::clean_lines(&c.to_text()));
    }
    Ok(())
}
