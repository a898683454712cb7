//! When checkpoints are written. `last` every `run.checkpoint_secs` seconds,
//! checked at each batch boundary, and at every stop; `best` is taken in
//! memory when validation improves and written with the next `last`. With
//! `checkpoint_secs = 0` both are written at every epoch end.
//!
//! Writing (and fsyncing) at every epoch end cost a small model's run a third
//! of its speed: digits has 45 batches per epoch. A crash that kills the
//! process loses at most the interval plus the batch under way; a stop of any
//! kind (the user, a signal, a hang-up, early stopping, the last epoch, an
//! error) writes both first, so it loses nothing.

use std::time::Instant;

use super::loop_state::LoopState;
use super::Trainer;
use crate::train::checkpoint::{self, CheckpointError};
use crate::train::run_dir::{BEST_CHECKPOINT, LAST_CHECKPOINT};
use crate::train::techniques;

impl Trainer {
    /// Keeps the current weights as `best` (validation just improved).
    pub(super) fn keep_best(&mut self, state: &mut LoopState) -> Result<(), CheckpointError> {
        if self.config.run.checkpoint_secs == 0.0 {
            return self.save(BEST_CHECKPOINT);
        }
        let mut position = self.position.clone();
        position.techniques = techniques::snapshot(&self.plugins);
        position.run_id.clone_from(&self.run_dir.id);
        state.pending_best = Some((self.session.store.clone(), position));
        Ok(())
    }

    /// Writes the checkpoints when the interval has passed (or, with an
    /// interval of 0, at an epoch end).
    pub(super) fn checkpoint_if_due(&mut self, state: &mut LoopState, epoch_end: bool) -> Result<(), CheckpointError> {
        let every = self.config.run.checkpoint_secs;
        let due = if every == 0.0 { epoch_end } else { state.last_checkpoint.elapsed().as_secs_f64() >= every };
        if due {
            self.write_checkpoints(state)
        } else {
            Ok(())
        }
    }

    /// Writes a pending `best`, then `last` (a diverged run has been put
    /// back to its last good state first, so `last` is always finite).
    /// The logs go to disk first: a checkpoint never stands ahead of the
    /// records it covers, so a `kill -9` right after it leaves no hole in
    /// `metrics.jsonl` before the step a resume continues from.
    pub(super) fn write_checkpoints(&mut self, state: &mut LoopState) -> Result<(), CheckpointError> {
        self.run_dir
            .sync()
            .map_err(|error| CheckpointError::Logs { path: self.run_dir.file(LAST_CHECKPOINT), error })?;
        if let Some((store, position)) = state.pending_best.take() {
            checkpoint::save(&self.run_dir.file(BEST_CHECKPOINT), &store, &position)?;
        }
        self.save(LAST_CHECKPOINT)?;
        state.last_checkpoint = Instant::now();
        Ok(())
    }
}
