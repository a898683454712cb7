//! `summary.json`: how a run ended, in a few figures, written however it
//! ended (a trainer that panicked still leaves one saying "error").

use std::path::Path;

use serde::Serialize;

use super::run_dir::SUMMARY_FILE;
use crate::protocol::StopReason;
use crate::run_files::write_atomically;

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub stop_reason: StopReason,
    pub epochs_run: usize,
    pub steps: u64,
    pub best_epoch: Option<usize>,
    pub best_val_loss: Option<f32>,
    pub final_loss: Option<f32>,
    pub final_val_loss: Option<f32>,
    pub final_val_acc: Option<f32>,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    pub device: String,
    pub run_dir: String,
    /// A diverged run: the step it diverged at (`steps` is where its last
    /// good state, and so `last`, stands) and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diverged_at: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergence: Option<String>,
    /// Times the run went back to a good state after a divergence.
    #[serde(skip_serializing_if = "is_zero")]
    pub rollbacks: usize,
    /// A run that ended in an error (`stop_reason = "error"`): what failed,
    /// on which file (a full disk during a checkpoint, say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The summary of a run whose trainer panicked: only the reason is known.
#[derive(Serialize)]
struct Panicked<'a> {
    stop_reason: StopReason,
    error: &'a str,
}

/// Writes the summary of a run whose trainer panicked (best effort: the run
/// is already failing, and the error reaches the user anyway).
pub fn write_panicked(run_dir: &Path, error: &str) {
    let summary = Panicked { stop_reason: StopReason::Error, error };
    if let Ok(text) = serde_json::to_string_pretty(&summary) {
        let _ = write_atomically(&run_dir.join(SUMMARY_FILE), text.as_bytes());
    }
}

/// The summary of a run that ended without its trainer's say: a server that
/// died by a signal (written by its supervisor), or one stopped while a
/// plugin hook hung. The figures are what the logs had reached.
#[derive(Serialize)]
pub struct Abandoned<'a> {
    pub stop_reason: StopReason,
    pub epochs_run: usize,
    pub steps: u64,
    pub run_dir: String,
    /// The signal the server died of (`SIGSEGV`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<&'a str>,
    /// The plugin hook under way (`technique.hook`), where known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<&'a str>,
    pub error: &'a str,
}

impl Abandoned<'_> {
    /// Writes `summary.json` and appends the `finished` record to
    /// `events.jsonl` (for a server that can no longer do it itself).
    pub fn write_with_record(&self, run_dir: &Path) -> std::io::Result<()> {
        self.write(run_dir)?;
        let finished = self.finished();
        let log = crate::run_files::open_append(&run_dir.join("events.jsonl"))?;
        use std::io::Write;
        (&log).write_all(&crate::protocol::framing::encode(&crate::protocol::RecordRef::now(&finished)))?;
        // The process that ran the run is gone, and with it the command its
        // config named: the user's config file's command is told.
        let command = crate::config::user_notify_command().ok().flatten();
        let name = run_dir.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
        if let Some(n) = super::notify::Notifier::new(command.as_deref(), &name, run_dir) {
            n.see(&finished);
        }
        Ok(())
    }

    /// Writes `summary.json` only.
    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        write_atomically(&run_dir.join(SUMMARY_FILE), text.as_bytes())
    }

    /// The `finished` event that goes with it.
    pub fn finished(&self) -> crate::protocol::RunEvent {
        crate::protocol::RunEvent::Finished {
            step: self.steps,
            epoch: self.epochs_run,
            reason: self.stop_reason,
            run_dir: self.run_dir.clone(),
            error: Some(self.error.to_string()),
        }
    }
}

/// The last step and epoch `metrics.jsonl` records (0, 0 when none).
pub fn last_logged(run_dir: &Path) -> (u64, usize) {
    use crate::protocol::{EventReader, RunEvent};
    let Ok(file) = std::fs::File::open(run_dir.join("metrics.jsonl")) else { return (0, 0) };
    EventReader::new(std::io::BufReader::new(file)).filter_map(Result::ok).fold((0, 0), |at, r| match r.event {
        RunEvent::Step(s) => (s.step, s.epoch),
        RunEvent::Epoch(e) => (e.step, e.epoch),
        _ => at,
    })
}
