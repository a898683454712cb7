//! What `top` knows of past runs: the history's folders (or `top --out
//! DIR`'s) read on a thread of their own every few seconds, finished runs
//! kept from one read to the next (`history::Cache`); the rows of `top`'s
//! history view, and the last figures of the dead runs in its live list.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::ls_all::{best_text, now};
use crate::format::{ago, duration};
use crate::inspect::history::{self, Cache, PastRun};
use crate::tui::top::TopRow;
use crate::tui::top_history::PastRow;

/// How often the folders are read again.
const EVERY: Duration = Duration::from_secs(3);
/// The most past runs the view lists (the newest).
const MAX_ROWS: usize = 200;

/// The runs read, by folder.
pub type PastRuns = Arc<Mutex<BTreeMap<PathBuf, PastRun>>>;

/// Reads `sources` (none: the history's own) now and then every [`EVERY`],
/// with the folders `extra` names (dead runs of the live list).
pub fn poll(sources: Vec<PathBuf>, extra: impl Fn() -> Vec<PathBuf> + Send + 'static) -> PastRuns {
    let runs: PastRuns = Arc::default();
    let shared = Arc::clone(&runs);
    let _ = std::thread::Builder::new().name("top-history".into()).spawn(move || {
        let mut cache = Cache::default();
        loop {
            let sources = if sources.is_empty() { history::default_sources() } else { sources.clone() };
            let mut dirs = history::run_folders(&sources);
            let more: Vec<PathBuf> = extra().into_iter().filter(|d| !dirs.contains(d)).collect();
            dirs.extend(more);
            let read: BTreeMap<PathBuf, PastRun> = dirs.iter().map(|d| (d.clone(), cache.read(d))).collect();
            *shared.lock().unwrap_or_else(|e| e.into_inner()) = read;
            std::thread::sleep(EVERY);
        }
    });
    runs
}

/// The history view's rows: the runs not in the live list (`live`: their
/// folders), newest first.
pub fn rows(runs: &PastRuns, live: &[String]) -> Vec<PastRow> {
    let runs = runs.lock().unwrap_or_else(|e| e.into_inner());
    let mut past: Vec<&PastRun> =
        runs.values().filter(|r| r.state != "running" && !live.contains(&r.run_dir.display().to_string())).collect();
    past.sort_by(|a, b| b.started.unwrap_or(0.0).total_cmp(&a.started.unwrap_or(0.0)));
    let now = now();
    past.into_iter().take(MAX_ROWS).map(|r| row(r, now)).collect()
}

fn row(r: &PastRun, now: f64) -> PastRow {
    PastRow {
        name: r.folder_name(),
        state: r.state.clone(),
        best: best_text(r),
        changes: r.changes,
        duration: r.duration_secs.map_or_else(|| "-".into(), duration),
        when: r.started.map_or_else(|| "-".into(), |t| ago(t, now)),
        run_dir: r.run_dir.display().to_string(),
    }
}

/// A live-list row whose server gave nothing (a dead run): where its
/// folder says it stood.
pub fn fill_dead(row: &mut TopRow, runs: &PastRuns) {
    let runs = runs.lock().unwrap_or_else(|e| e.into_inner());
    let Some(r) = runs.get(&PathBuf::from(&row.run_dir)) else { return };
    row.epoch = r.epoch;
    row.epochs = r.epochs;
    row.step = r.step;
    row.loss = r.loss.map(|l| l as f32);
}
