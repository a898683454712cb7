//! `traintop view RUN_A RUN_B ...`: what differs between the runs' configs
//! (read here, from each folder's `config.toml`), handed to the dashboard's
//! comparison screen with the folders.

use std::path::PathBuf;

use super::ExitError;
use crate::inspect::diff::{varying_keys, RunFacts};
use crate::tui::{view_runs, RunToCompare, MAX_RUNS};

pub fn compare(dirs: &[PathBuf], no_color: bool, mouse: bool) -> Result<(), ExitError> {
    if dirs.len() > MAX_RUNS {
        return Err(ExitError::input(format!("at most {MAX_RUNS} runs can be overlaid, got {}", dirs.len())));
    }
    let facts = dirs.iter().map(|d| RunFacts::read(d)).collect::<Result<Vec<_>, _>>().map_err(ExitError::input)?;
    let configs: Vec<_> = facts.iter().map(|f| &f.config).collect();
    let keys = varying_keys(&configs);
    let runs: Vec<RunToCompare> = dirs
        .iter()
        .zip(&facts)
        .map(|(dir, f)| RunToCompare {
            dir: dir.clone(),
            name: f.name.clone(),
            differences: keys
                .iter()
                .map(|k| {
                    let short = k.strip_prefix("technique.").unwrap_or(k);
                    format!("{short}={}", f.config.get(k).map_or("-", String::as_str))
                })
                .collect(),
        })
        .collect();
    view_runs(&runs, no_color, mouse).map_err(|e| ExitError::input(e.to_string()))
}
