//! One batch: gather it, train one step, have its loss judged by the
//! divergence watch (`divergence.rs`), report it (every `log_every` steps
//! and at the epoch's last batch), and notice stop requests from the
//! techniques.

use super::loop_state::LoopState;
use super::{Channels, Flow, Trainer};
use crate::data::{gather, Batches};
use crate::plugin::PluginEvent;
use crate::protocol::{RunEvent, StepRecord};

impl Trainer {
    pub(super) fn train_batch(
        &mut self,
        ch: &mut Channels,
        state: &mut LoopState,
        order: &Batches,
    ) -> anyhow::Result<Flow> {
        let epoch = self.position.epoch + 1;
        let idx = order.get(self.position.batch_in_epoch).expect("batch index in range");
        let n = idx.len();
        // Batches go into recycled buffers: no fresh allocation per step.
        let mut x = self.session.buffer(n * self.train.n_features);
        let mut y = self.session.buffer(n * self.session.spec.outputs);
        gather(&self.train, idx, &mut x, &mut y);
        // Logged steps also read back the gradient-health figures.
        let logged = (self.position.step + 1).is_multiple_of(self.config.run.log_every as u64)
            || self.position.batch_in_epoch + 1 == order.len();
        self.plugins.set_step(self.position.step);
        self.dispatch(PluginEvent::BatchStart { epoch: epoch as u64 });
        let stats = self.session.train_step(x, y, n, self.position.lr, logged, &mut self.plugins)?;
        self.plugins.record_metrics(&stats.metrics);
        self.dispatch(PluginEvent::BatchEnd { epoch: epoch as u64, loss: stats.loss as f64 });
        self.position.step += 1;
        self.position.batch_in_epoch += 1;
        state.samples += n;
        state.epoch_loss += stats.loss as f64;
        state.epoch_batches += 1;
        state.last_loss = Some(stats.loss);
        let judged = self.watch_loss(ch, state, stats.loss)?;
        if judged != Flow::Continue {
            return Ok(judged);
        }
        if logged {
            let record = StepRecord {
                step: self.position.step,
                epoch,
                loss: stats.loss,
                objective: stats.objective,
                acc: stats.correct.map(|c| c / n as f32),
                lr: self.position.lr,
                samples_per_sec: state.samples_per_sec(),
                wall_time: self.run_dir.elapsed_secs(),
                grad_norms: stats.grad_norms,
                saturation: stats.saturation,
                metrics: stats.metrics,
            };
            self.emit(ch, RunEvent::Step(record))?;
        }
        Ok(self.stop_requested(ch).map_or(Flow::Continue, Flow::Stop))
    }
}
