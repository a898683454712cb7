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
use super::steering::{self, Steer, Steered};
use super::{Channels, Flow, Trainer};
use crate::config::OnDivergence;
use crate::plugin::PluginEvent;
use crate::protocol::{RunEvent, RunState, StopReason, ToggleClass};
use crate::train::divergence::{Cause, Verdict};
use crate::train::techniques;

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
                    state.adopt(kept);
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
        match policy {
            OnDivergence::Rollback if state.rollbacks < self.config.run.max_rollbacks => {
                self.roll_back(ch, state, cause, 0.5, false);
            }
            OnDivergence::Pause => self.roll_back(ch, state, cause, 1.0, true),
            OnDivergence::Rollback | OnDivergence::Stop => {
                self.restore(ch, state);
                state.diverged = Some(Divergence { step, cause });
                return Ok(Flow::Stop(StopReason::Diverged));
            }
        }
        Ok(Flow::Rewind)
    }

    /// Goes back to the good state with the learning rate it goes on with
    /// times `factor`, and says so; `pause` then waits for a command.
    fn roll_back(&mut self, ch: &mut Channels, state: &mut LoopState, cause: String, factor: f32, pause: bool) {
        let step = self.position.step;
        self.restore(ch, state);
        self.position.lr *= factor;
        let lr = self.position.lr;
        state.rollbacks += 1;
        state.answering = true;
        let to_step = self.position.step;
        let attempt = state.rollbacks;
        self.note(ch, RunEvent::RolledBack { step, to_step, cause, lr, attempt, paused: pause });
        if pause {
            state.pause();
            self.dispatch(PluginEvent::Paused { epoch: self.position.epoch as u64 + 1 });
            self.note(ch, RunEvent::State { step: to_step, state: RunState::Paused });
        }
    }

    /// Puts the good state back: tensors, position and techniques'
    /// settings (rebuilding the graphs when a switch changed); then the
    /// steering changes made since that a rollback keeps (`steering.rs`),
    /// saying which it kept and which it undid. The rule starts over; a
    /// `best` taken after the good state belongs to the abandoned stretch
    /// and is dropped unwritten.
    fn restore(&mut self, ch: &mut Channels, state: &mut LoopState) {
        let good = state.good.clone();
        let (now, now_lr) = (techniques::snapshot(&self.plugins), self.position.lr);
        let changes = std::mem::take(&mut state.steering);
        let blamed = steering::blamed(&changes, self.position.step, self.config.run.divergence_warmup as u64);
        let mut rebuild = self.put_back(ch, &good.position.techniques);
        self.session.store = good.store;
        self.position = good.position;
        rebuild |= self.keep_steering(ch, &changes, &blamed, &now, now_lr);
        if rebuild {
            self.rebuild(ch, "rollback");
        }
        // A data technique kept on computes its statistics again, as when switched on.
        let data = |t: &&str| self.plugins.is_active(t) && self.plugins.class_of(t) == Some(ToggleClass::Data);
        if kept_techniques(&changes, &blamed).iter().any(data) {
            self.send_train_data();
        }
        self.plugins.set_step(self.position.step);
        self.say_kept(ch, &changes, &blamed);
        // What was kept is part of what is tried from here: not judged again.
        let to = self.position.step;
        let kept = changes.into_iter().zip(&blamed).filter(|(_, b)| !**b);
        state.steering = kept.map(|(c, _)| Steer { step: to, answer: true, ..c }).collect();
        self.plugin_logs(ch);
        self.publish_techniques(ch);
        state.last_loss = good.loss;
        state.candidate = None;
        state.detector.restart();
        if state.pending_best.as_ref().is_some_and(|(_, p)| p.step > self.position.step) {
            state.pending_best = None;
        }
    }

    /// On the good state just put back: the kept changes' technique
    /// settings (`now` is how they were at the blow-up) and the rate in force
    /// (`now_lr`, with earlier rollbacks' halvings), or the rate before a
    /// raise that caused the blow-up. True when the graphs must be rebuilt.
    fn keep_steering(
        &mut self,
        ch: &mut Channels,
        changes: &[Steer],
        blamed: &[bool],
        now: &serde_json::Value,
        now_lr: f32,
    ) -> bool {
        let kept = kept_techniques(changes, blamed);
        let rebuild = self.put_back(ch, &steering::settings(&self.position.techniques, now, &kept));
        let undone_raise = changes.iter().zip(blamed).find_map(|(c, b)| match c.what {
            Steered::Lr { from, .. } if *b => Some(from),
            _ => None,
        });
        self.position.lr = undone_raise.unwrap_or(now_lr);
        rebuild
    }

    /// Applies techniques' settings mid-run; true when the graphs must be
    /// rebuilt (also when a setting could not be applied, which is said).
    fn put_back(&mut self, ch: &mut Channels, settings: &serde_json::Value) -> bool {
        match techniques::reapply(&mut self.plugins, settings, &mut self.session.store) {
            Ok(rebuild) => rebuild,
            Err(e) => {
                self.note(ch, RunEvent::log(format!("warning: rollback: {e}")));
                true
            }
        }
    }

    /// The event log's word on the steering changes a rollback judged.
    fn say_kept(&mut self, ch: &mut Channels, changes: &[Steer], blamed: &[bool]) {
        if changes.is_empty() {
            return;
        }
        let list = |undo: bool| {
            let picked: Vec<String> =
                changes.iter().zip(blamed).filter(|(_, b)| **b == undo).map(|(c, _)| c.to_string()).collect();
            if picked.is_empty() {
                "nothing".to_string()
            } else {
                picked.join(", ")
            }
        };
        let message = format!("rollback kept the steering changes {}; undid {}", list(false), list(true));
        self.note(ch, RunEvent::log(message));
    }
}

/// The techniques whose changes a rollback keeps: changed, and never blamed.
fn kept_techniques<'a>(changes: &'a [Steer], blamed: &[bool]) -> Vec<&'a str> {
    let named = |want: bool| {
        changes.iter().zip(blamed).filter(move |(_, b)| **b == want).filter_map(|(c, _)| match &c.what {
            Steered::Technique(name) => Some(name.as_str()),
            Steered::Lr { .. } => None,
        })
    };
    let undone: Vec<&str> = named(true).collect();
    let mut kept: Vec<&str> = named(false).filter(|n| !undone.contains(n)).collect();
    kept.dedup();
    kept
}
