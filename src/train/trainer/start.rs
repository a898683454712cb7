//! The start of a run (or a resume): what it is, the techniques as they
//! are, the plugins' run-start hook, and the first good state to go back to.

use super::loop_state::LoopState;
use super::{Channels, Trainer};
use crate::plugin::PluginEvent;
use crate::protocol::{RunEvent, Started};
use crate::train::divergence::{self, Detector};

impl Trainer {
    pub(super) fn start(&mut self, ch: &mut Channels) -> LoopState {
        let run = &self.config.run;
        let started = Started {
            run_dir: self.run_dir.path.display().to_string(),
            device: self.session.backend.to_string(),
            epochs: run.epochs,
            steps_per_epoch: self.train.len().div_ceil(run.batch_size),
            parameters: self.parameter_count(),
            epoch: self.position.epoch,
            step: self.position.step,
            resumed: self.position.step > 0,
            train_rows: self.train.len(),
            validation_rows: self.validation.len(),
            hint: self.config.run.hint.clone(),
        };
        self.note(ch, RunEvent::Started(started));
        for event in std::mem::take(&mut self.opening) {
            self.note(ch, event);
        }
        self.send_train_data();
        self.dispatch(PluginEvent::RunStart { epoch: self.position.epoch as u64 });
        self.plugin_logs(ch);
        self.publish_techniques(ch);
        let (factor, warmup) = (self.config.run.divergence_factor, self.config.run.divergence_warmup);
        let detector = Detector::new(factor, warmup, divergence::baseline(&self.train));
        LoopState::new(self.position.epoch, detector, self.snapshot(None))
    }

    /// Trainable values in the model.
    fn parameter_count(&self) -> usize {
        let names = self.session.parameter_names().iter();
        let shapes = names.filter_map(|n| self.session.store.shape(n));
        shapes.map(|s| s.iter().map(|d| d.resolve(0)).product::<usize>()).sum()
    }
}
