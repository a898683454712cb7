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
