//! What the trainer does about divergence (the rule is in
//! `crate::train::divergence`): a snapshot of the whole state every
//! `run.snapshot_every` steps, kept once the next step's loss passes the
//! rule, and, when a step diverges, what `run.on_divergence` says: stop with
//! that good state as the run's end (so `last` is finite), go back to it
//! with half the learning rate (up to `run.max_rollbacks` times), or go back
//! and pause for a person to choose (the dashboard's default).
//!
//! A snapshot is a copy of the state store in memory, as `best` already
//! is: weights, optimizer moments and technique state, with the position
//! and the techniques' settings; no disk, no checksum.

use super::loop_state::{Divergence, LoopState, Snapshot};
use super::{Channels, Flow, Trainer};
use crate::config::OnDivergence;
use crate::protocol::{RunEvent, RunState, StopReason};
use crate::train::divergence::{Cause, Verdict};
use crate::train::techniques;
use traintop_plugin_abi::EventKind;

impl Trainer {
    /// The state as it is now.
    pub(super) fn snapshot(&self, loss: Option<f32>) -> Snapshot {
        let mut position = self.position.clone();
        position.techniques = techniques::snapshot(&self.plugins);
        position.run_id.clone_from(&self.run_dir.id);
        Snapshot { store: self.session.store.clone(), position, loss }
    }

    /// At a batch boundary: a candidate snapshot when one is due.
    pub(super) fn snapshot_if_due(&mut self, state: &mut LoopState) {
        let since = self.position.step.saturating_sub(state.good.position.step);
        if state.candidate.is_none() && since >= self.config.run.snapshot_every as u64 {
            state.candidate = Some(self.snapshot(None));
        }
    }

    /// Judges a step's loss; a healthy one makes the candidate the good state.
    pub(super) fn watch_loss(&mut self, ch: &mut Channels, state: &mut LoopState, loss: f32) -> anyhow::Result<Flow> {
        match state.detector.observe(loss) {
            Verdict::Healthy => {
                if let Some(mut kept) = state.candidate.take() {
                    kept.loss = Some(loss);
                    state.good = kept;
                }
                Ok(Flow::Continue)
            }
            Verdict::Suspect => {
                state.candidate = None;
                Ok(Flow::Continue)
            }
            Verdict::Diverged(cause) => self.diverged(ch, state, loss, cause),
        }
    }

    /// What the policy says to do about a divergence at this step.
    fn diverged(&mut self, ch: &mut Channels, state: &mut LoopState, loss: f32, cause: Cause) -> anyhow::Result<Flow> {
        let (step, cause) = (self.position.step, cause.to_string());
        self.note(ch, RunEvent::Diverged { step, loss, cause: cause.clone() });
        // Pausing needs someone who can send a command.
        let policy = match self.config.run.on_divergence.unwrap_or(OnDivergence::Stop) {
            OnDivergence::Pause if ch.commands.is_none() => OnDivergence::Stop,
            policy => policy,
        };
        let lr = self.position.lr;
        match policy {
            OnDivergence::Rollback if state.rollbacks < self.config.run.max_rollbacks => {
                self.roll_back(ch, state, cause, lr / 2.0, false);
            }
            OnDivergence::Pause => self.roll_back(ch, state, cause, lr, true),
            OnDivergence::Rollback | OnDivergence::Stop => {
                self.restore(ch, state);
                state.diverged = Some(Divergence { step, cause });
                return Ok(Flow::Stop(StopReason::Diverged));
            }
        }
        Ok(Flow::Rewind)
    }

    /// Goes back to the good state with learning rate `lr`, and says so;
    /// `pause` then waits for a command.
    fn roll_back(&mut self, ch: &mut Channels, state: &mut LoopState, cause: String, lr: f32, pause: bool) {
        let step = self.position.step;
        self.restore(ch, state);
        self.position.lr = lr;
        state.rollbacks += 1;
        let to_step = self.position.step;
        let attempt = state.rollbacks;
        self.note(ch, RunEvent::RolledBack { step, to_step, cause, lr, attempt, paused: pause });
        if pause {
            state.pause();
            self.dispatch(EventKind::Paused, self.position.epoch as u64 + 1, f64::NAN, f64::NAN);
            self.note(ch, RunEvent::State { step: to_step, state: RunState::Paused });
        }
    }

    /// Puts the good state back: techniques' settings (rebuilding the
    /// graphs when a switch changed), tensors, position. The rule starts
    /// over; a `best` taken after the good state belongs to the abandoned
    /// stretch and is dropped unwritten.
    fn restore(&mut self, ch: &mut Channels, state: &mut LoopState) {
        let good = state.good.clone();
        let rebuild = match techniques::reapply(&mut self.plugins, &good.position.techniques, &mut self.session.store) {
            Ok(rebuild) => rebuild,
            Err(e) => {
                self.note(ch, RunEvent::log(format!("warning: rollback: {e}")));
                true
            }
        };
        self.session.store = good.store;
        self.position = good.position;
        if rebuild {
            self.rebuild(ch, "rollback");
        }
        self.plugins.set_step(self.position.step);
        self.plugin_logs(ch);
        self.publish_techniques(ch);
        state.last_loss = good.loss;
        state.candidate = None;
        state.detector.restart();
        if state.pending_best.as_ref().is_some_and(|(_, p)| p.step > self.position.step) {
            state.pending_best = None;
        }
    }
}
