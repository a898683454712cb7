//! The end of an epoch: validate (with the confusion matrix, see
//! `confusion.rs`), keep `best` and `last` checkpoints (when
//! due, see `checkpoints.rs`),
//! report the epoch (with the ETA), and run the techniques' epoch hooks
//! (early stopping decides here).

use super::loop_state::LoopState;
use super::{Channels, Flow, Trainer};
use crate::plugin::PluginEvent;
use crate::protocol::{EpochRecord, RunEvent};

impl Trainer {
    pub(super) fn end_epoch(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<Flow> {
        let scored = if self.validation.is_empty() { None } else { Some(self.validate_with_confusion()?) };
        let val = scored.as_ref().map(|v| (v.loss, v.accuracy));
        self.position.epoch += 1;
        self.position.batch_in_epoch = 0;
        if let Some((val_loss, _)) = val {
            if self.position.best_val_loss.is_none_or(|b| val_loss < b) {
                self.position.best_val_loss = Some(val_loss);
                self.position.best_epoch = Some(self.position.epoch);
                self.keep_best(state)?;
            }
        }
        state.last_val = val;
        let record = self.epoch_record(state, val);
        self.emit(ch, RunEvent::Epoch(record))?;
        if let Some(counts) = scored.and_then(|v| v.counts) {
            let record = self.confusion_record(counts);
            self.emit(ch, RunEvent::Confusion(record))?;
        }
        // After the epoch's records, which the checkpoint covers.
        self.checkpoint_if_due(state, true)?;
        let epoch = self.position.epoch as u64;
        if let Some((val_loss, val_acc)) = val {
            self.dispatch(PluginEvent::ValidationEnd {
                epoch,
                val_loss: val_loss as f64,
                val_acc: val_acc.map(f64::from),
            });
        }
        self.dispatch(PluginEvent::EpochEnd { epoch });
        self.plugin_logs(ch);
        self.report_techniques(ch);
        Ok(self.stop_requested(ch).map_or(Flow::Continue, Flow::Stop))
    }

    /// The epoch's figures; the ETA extrapolates this run's epochs so far.
    fn epoch_record(&self, state: &LoopState, val: Option<(f32, Option<f32>)>) -> EpochRecord {
        let elapsed = state.clock.active_secs();
        let done = (self.position.epoch - state.start_epoch) as f64;
        let remaining = self.config.run.epochs.saturating_sub(self.position.epoch) as f64;
        EpochRecord {
            step: self.position.step,
            epoch: self.position.epoch,
            loss: (state.epoch_loss / state.epoch_batches.max(1) as f64) as f32,
            val_loss: val.map(|v| v.0).unwrap_or(f32::NAN),
            val_acc: val.and_then(|v| v.1),
            lr: self.position.lr,
            samples_per_sec: state.samples as f64 / elapsed.max(1e-9),
            wall_time: self.run_dir.elapsed_secs(),
            eta_secs: elapsed / done.max(1.0) * remaining,
        }
    }
}
