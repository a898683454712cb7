//! What one run of the loop carries from step to step, beside the
//! checkpointed [`Position`](crate::train::checkpoint::Position): the
//! training clock, the pause, and the latest figures for the summary.

use std::time::Instant;

use crate::engine::StateStore;
use crate::train::checkpoint::Position;
use crate::train::clock::TrainingClock;

pub(super) struct LoopState {
    /// Training time, pauses excluded (samples/s, ETA).
    pub clock: TrainingClock,
    /// The epoch this run (or resume) started at, for the ETA.
    pub start_epoch: usize,
    /// Samples trained by this run (or resume).
    pub samples: usize,
    pub paused: bool,
    /// One batch asked for while paused.
    pub step_once: bool,
    /// The summed loss and batch count of the epoch under way.
    pub epoch_loss: f64,
    pub epoch_batches: usize,
    pub last_loss: Option<f32>,
    /// The last validation loss and accuracy.
    pub last_val: Option<(f32, Option<f32>)>,
    /// When the checkpoints were last written.
    pub last_checkpoint: Instant,
    /// The best weights so far and their position, not yet written.
    pub pending_best: Option<(StateStore, Position)>,
}

impl LoopState {
    pub fn new(start_epoch: usize) -> Self {
        Self {
            clock: TrainingClock::start(),
            start_epoch,
            samples: 0,
            paused: false,
            step_once: false,
            epoch_loss: 0.0,
            epoch_batches: 0,
            last_loss: None,
            last_val: None,
            last_checkpoint: Instant::now(),
            pending_best: None,
        }
    }

    pub fn begin_epoch(&mut self) {
        self.epoch_loss = 0.0;
        self.epoch_batches = 0;
    }

    pub fn pause(&mut self) {
        self.paused = true;
        self.clock.pause();
    }

    pub fn resume(&mut self) {
        self.paused = false;
        self.clock.resume();
    }

    /// Samples per second of training so far.
    pub fn samples_per_sec(&self) -> f64 {
        self.samples as f64 / self.clock.active_secs()
    }
}
