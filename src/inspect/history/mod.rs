//! The history: finished runs (and dead ones) read from their folders, for
//! `traintop ls --all` and `top`'s history view. Where runs are looked for
//! (`index`): the out dirs recorded as runs start, and `./runs`, the default
//! out dir, in the current folder; or folders named on the command line.
//! Which folders are runs (`scan`), what one says (`past_run`, `figures`),
//! and which to show in what order (`query`); `cache` keeps finished runs
//! read once for a screen that rereads them.

mod cache;
mod figures;
pub mod index;
mod past_run;
mod query;
mod scan;

use std::path::PathBuf;

pub use cache::Cache;
pub use figures::Figure;
pub use past_run::PastRun;
pub use query::{parse_where, Query, SortKey};

/// The folders looked in when none are named: `./runs` (if there is one)
/// and every out dir recorded.
pub fn default_sources() -> Vec<PathBuf> {
    let here = std::env::current_dir().ok().map(|d| d.join("runs")).filter(|d| d.is_dir());
    let mut sources: Vec<PathBuf> = here.into_iter().collect();
    for dir in index::recorded() {
        if !sources.contains(&dir) {
            sources.push(dir);
        }
    }
    sources
}

/// The run folders in `sources`.
pub fn run_folders(sources: &[PathBuf]) -> Vec<PathBuf> {
    scan::run_folders(sources)
}

/// Every run folder in `sources`, read.
pub fn read_all(sources: &[PathBuf]) -> Vec<PastRun> {
    run_folders(sources).iter().map(|d| past_run::read(d)).collect()
}

/// One run folder, read.
pub fn read(dir: &std::path::Path) -> PastRun {
    past_run::read(dir)
}
