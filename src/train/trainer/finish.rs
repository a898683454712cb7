//! The end of a run, however it came: the techniques' stopping and run-end
//! hooks, the `last` checkpoint, final validation, `summary.json` and the
//! `finished` event.

use super::loop_state::LoopState;
use super::{Channels, Trainer};
use crate::plugin::PluginEvent;
use crate::protocol::{RunEvent, StopReason};
use crate::train::summary::Summary;

impl Trainer {
    /// `ended` is how the loop ended: a stop reason, or the error that
    /// ended it (the first error wins; the summary says "error").
    pub(super) fn finish(
        &mut self,
        ch: &mut Channels,
        mut state: LoopState,
        ended: anyhow::Result<StopReason>,
    ) -> anyhow::Result<Summary> {
        let (mut reason, mut failure) = match ended {
            Ok(reason) => (reason, None),
            Err(e) => (StopReason::Error, Some(e)),
        };
        // A live fork's branch B ends with the run (its own folder).
        if let Err(e) = self.end_fork(ch, &mut state) {
            failure = failure.or(Some(e));
        }
        let epoch = self.position.epoch as u64;
        if reason != StopReason::Completed {
            self.dispatch(PluginEvent::Stopping { epoch });
        }
        // `last` is where a resume continues: written before the techniques'
        // end (early stopping then puts back its best weights, which `best`
        // holds). A diverged run is back at its last good state by now.
        // Mid-epoch stops keep their batch position.
        let saved = self.write_checkpoints(&mut state);
        self.dispatch(PluginEvent::RunEnd { epoch });
        self.plugin_logs(ch);
        // The final figures describe the model the run ends with, which a
        // technique may just have replaced (early stopping's best weights).
        if reason != StopReason::Error && !self.validation.is_empty() && self.position.step > 0 {
            match self.validate() {
                Ok(v) => state.last_val = Some(v),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let (None, Err(e)) = (&failure, saved) {
            failure = Some(e.into());
        }
        if failure.is_some() {
            reason = StopReason::Error;
        }
        let mut summary = self.summary(&state, reason);
        summary.error = failure.as_ref().map(|e| format!("{e:#}"));
        let summary_written = self.run_dir.write_summary(&summary);
        let finished = RunEvent::Finished {
            step: self.position.step,
            epoch: self.position.epoch,
            reason,
            run_dir: self.run_dir.path.display().to_string(),
            error: failure.as_ref().map(|e| format!("{e:#}")),
        };
        self.note(ch, finished);
        match failure {
            Some(e) => Err(e),
            None => summary_written.map(|_| summary).map_err(Into::into),
        }
    }

    fn summary(&self, state: &LoopState, reason: StopReason) -> Summary {
        Summary {
            stop_reason: reason,
            epochs_run: self.position.epoch,
            steps: self.position.step,
            best_epoch: self.position.best_epoch,
            best_val_loss: self.position.best_val_loss,
            final_loss: state.last_loss,
            final_val_loss: state.last_val.map(|v| v.0),
            final_val_acc: state.last_val.and_then(|v| v.1),
            samples_per_sec: state.samples_per_sec(),
            wall_time: self.run_dir.elapsed_secs(),
            device: self.session.backend.to_string(),
            run_dir: self.run_dir.path.display().to_string(),
            diverged_at: state.diverged.as_ref().map(|d| d.step),
            divergence: state.diverged.as_ref().map(|d| d.cause.clone()),
            rollbacks: state.rollbacks,
            error: None,
        }
    }
}
