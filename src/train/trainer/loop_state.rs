//! What one run of the loop carries from step to step, beside the
//! checkpointed [`Position`](crate::train::checkpoint::Position): the
//! training clock, the pause, the latest figures for the summary, the
//! divergence watch (its rule and the last good state), and the other
//! branch of a live fork while there is one.

use std::path::Path;
use std::time::Instant;

use crate::engine::StateStore;
use crate::protocol::RunEvent;
use crate::train::checkpoint::Position;
use crate::train::clock::TrainingClock;
use crate::train::divergence::Detector;

use super::steering::{Steer, Steered};

/// The whole state at a batch boundary, kept in memory to go back to after
/// a divergence: every tensor (weights, optimizer moments, technique
/// state) and the position with the techniques' settings.
#[derive(Clone)]
pub(super) struct Snapshot {
    pub store: StateStore,
    pub position: Position,
    /// The loss its weights were measured at (the next step's).
    pub loss: Option<f32>,
}

/// How a divergence ended the run, for the summary.
pub(super) struct Divergence {
    pub step: u64,
    pub cause: String,
}

pub(super) struct LoopState {
    /// Training time, pauses excluded (samples/s, ETA).
    pub clock: TrainingClock,
    /// The epoch this run (or resume) started at, for the ETA.
    pub start_epoch: usize,
    /// Samples trained by this run (or resume).
    pub samples: usize,
    pub paused: bool,
    /// Single batches asked for while paused (`n` pressed this many times),
    /// not yet trained.
    pub steps_asked: u32,
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
    pub detector: Detector,
    /// The last state whose loss passed the divergence rule.
    pub good: Snapshot,
    /// A snapshot taken, waiting for its loss to be judged.
    pub candidate: Option<Snapshot>,
    /// Rollbacks so far (this run or resume).
    pub rollbacks: usize,
    pub diverged: Option<Divergence>,
    /// Branch B of a live fork (`live_fork.rs`), trained in step with this run.
    pub branch: Option<Box<dyn OtherBranch>>,
    /// Steering changes since `good`, oldest first (`steering.rs`).
    pub steering: Vec<Steer>,
    /// Rolled back to `good` already: changes now answer a divergence.
    pub answering: bool,
}

/// The other branch of a live fork, as the loop drives it (a trait, so the
/// loop's state need not know the trainer it holds).
pub trait OtherBranch {
    /// Its run folder.
    fn dir(&self) -> &Path;
    /// Trains until it reaches `step`; its records go to `out`. False when
    /// it stopped by itself (early stopping, divergence) and has finished.
    fn catch_up(&mut self, step: u64, out: &mut dyn FnMut(RunEvent)) -> anyhow::Result<bool>;
    /// Stops it gracefully: its checkpoints and summary are written.
    fn end(self: Box<Self>, out: &mut dyn FnMut(RunEvent)) -> anyhow::Result<()>;
}

impl LoopState {
    /// `good` is where the run starts: its first state to go back to.
    pub fn new(start_epoch: usize, detector: Detector, good: Snapshot) -> Self {
        Self {
            clock: TrainingClock::start(),
            start_epoch,
            samples: 0,
            paused: false,
            steps_asked: 0,
            epoch_loss: 0.0,
            epoch_batches: 0,
            last_loss: None,
            last_val: None,
            last_checkpoint: Instant::now(),
            pending_best: None,
            detector,
            good,
            candidate: None,
            rollbacks: 0,
            diverged: None,
            branch: None,
            steering: Vec::new(),
            answering: false,
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
        self.steps_asked = 0;
        self.clock.resume();
    }

    /// Notes a steering change made at `step`, for a rollback to judge.
    pub fn steered(&mut self, step: u64, what: Steered) {
        let answer = self.answering;
        self.steering.push(Steer { step, what, answer });
    }

    /// `kept` is the new good state: the changes it includes are no longer
    /// a rollback's to judge, and no divergence is being answered.
    pub fn adopt(&mut self, kept: Snapshot) {
        self.steering.retain(|c| c.step > kept.position.step);
        self.good = kept;
        self.answering = false;
    }

    /// Samples per second of training so far.
    pub fn samples_per_sec(&self) -> f64 {
        self.samples as f64 / self.clock.active_secs()
    }
}
