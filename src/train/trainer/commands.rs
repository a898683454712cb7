//! The batch boundary: the stop signal and the clients' commands. Each
//! command is answered (accepted or rejected, naming its sender) and takes
//! effect here, between two batches. While paused the trainer waits here,
//! looking for commands a few times a second.

use std::sync::atomic::Ordering;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use super::loop_state::LoopState;
use super::steering::Steered;
use super::{Channels, Flow, Trainer};
use crate::plugin::PluginEvent;
use crate::protocol::{Request, RunCommand, RunEvent, RunState, StopReason, ToggleClass};
use crate::train::run_dir::LAST_CHECKPOINT;

/// How long a paused trainer waits for a command before looking at the stop
/// signal again.
const PAUSED_POLL: Duration = Duration::from_millis(100);

impl Trainer {
    /// Handles what is waiting; returns when the next batch may train (or
    /// the run must stop).
    pub(super) fn at_batch_boundary(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<Flow> {
        self.step_branch(ch, state)?;
        loop {
            if ch.stop.load(Ordering::SeqCst) {
                return Ok(Flow::Stop(StopReason::User));
            }
            match next_request(ch, state) {
                Some(request) => {
                    if let Flow::Stop(reason) = self.handle(ch, state, request)? {
                        return Ok(Flow::Stop(reason));
                    }
                }
                None if !state.paused => return Ok(Flow::Continue),
                None if state.steps_asked > 0 => {
                    state.steps_asked -= 1;
                    return Ok(Flow::Continue);
                }
                None => {}
            }
        }
    }

    /// Carries out one request.
    fn handle(&mut self, ch: &mut Channels, state: &mut LoopState, request: Request) -> anyhow::Result<Flow> {
        let step = self.position.step;
        let epoch = self.position.epoch as u64 + 1;
        let accepted = RunEvent::Accepted { step, request: request.clone() };
        // A steering change (a switch, which may rebuild the graph, a
        // parameter, the rate, a live fork or the keep that ends it) may move
        // the loss to another level: the divergence rule takes the new one.
        if matches!(
            request.command,
            RunCommand::Toggle { .. }
                | RunCommand::SetParam { .. }
                | RunCommand::SetLearningRate { .. }
                | RunCommand::Fork { .. }
                | RunCommand::Keep { .. }
        ) {
            state.detector.restart();
        }
        match request.command {
            RunCommand::Pause => {
                state.pause();
                self.dispatch(PluginEvent::Paused { epoch });
                self.note(ch, accepted);
                self.note(ch, RunEvent::State { step, state: RunState::Paused });
            }
            RunCommand::Resume => {
                state.resume();
                self.dispatch(PluginEvent::Resumed { epoch });
                self.note(ch, accepted);
                self.note(ch, RunEvent::State { step, state: RunState::Running });
            }
            RunCommand::StepOnce => {
                // Each press is a step of its own; while running there is
                // nothing to add.
                if state.paused {
                    state.steps_asked = state.steps_asked.saturating_add(1);
                }
                self.note(ch, accepted);
            }
            RunCommand::Stop => {
                self.note(ch, accepted);
                return Ok(Flow::Stop(StopReason::User));
            }
            RunCommand::Checkpoint => {
                self.save(LAST_CHECKPOINT)?;
                self.note(ch, accepted);
                self.note(ch, RunEvent::log(format!("checkpoint written at step {step}")));
            }
            RunCommand::Toggle { .. } | RunCommand::SetParam { .. } => self.apply_technique_command(ch, state, request),
            RunCommand::Fork { .. } => self.fork(ch, state, request)?,
            RunCommand::Keep { .. } => self.keep(ch, state, request)?,
            RunCommand::SetLearningRate { lr } if lr.is_finite() && lr > 0.0 => {
                state.steered(step, Steered::Lr { from: self.position.lr, to: lr });
                self.position.lr = lr;
                self.note(ch, accepted);
                self.note(ch, RunEvent::log(format!("learning rate set to {lr}")));
                self.note(ch, RunEvent::Marker { step, label: request.marker(format!("lr={lr}")) });
            }
            RunCommand::SetLearningRate { lr } => {
                let reason = format!("learning rate {lr}: expected a finite number above 0");
                self.note(ch, RunEvent::Rejected { step, request, reason });
            }
            RunCommand::Unknown => {
                let reason = "unknown command (sent by a newer traintop?)".to_string();
                self.note(ch, RunEvent::Rejected { step, request, reason });
            }
        }
        Ok(Flow::Continue)
    }

    /// Applies a toggle or parameter change.
    fn apply_technique_command(&mut self, ch: &mut Channels, state: &mut LoopState, request: Request) {
        let step = self.position.step;
        let (technique, result) = match &request.command {
            RunCommand::Toggle { technique, enabled } => {
                (technique.clone(), self.plugins.set_enabled(technique, *enabled, &mut self.session.store))
            }
            RunCommand::SetParam { technique, param, value } => {
                (technique.clone(), self.plugins.set_param(technique, param, value))
            }
            _ => return,
        };
        match result {
            Ok(needs_rebuild) => {
                state.steered(step, Steered::Technique(technique.clone()));
                let label = request.command.label();
                let marker = request.marker(label.clone());
                self.note(ch, RunEvent::Accepted { step, request });
                if needs_rebuild {
                    self.rebuild(ch, &label);
                }
                // A data technique computes its statistics from the training
                // split: again when it is switched on or its settings change.
                let data_technique =
                    self.plugins.is_active(&technique) && self.plugins.class_of(&technique) == Some(ToggleClass::Data);
                if data_technique {
                    self.send_train_data();
                }
                self.note(ch, RunEvent::Marker { step, label: marker });
            }
            Err(e) => self.note(ch, RunEvent::Rejected { step, request, reason: e.to_string() }),
        }
        self.plugin_logs(ch);
        self.publish_techniques(ch);
    }
}

/// The next request, if any: waited for while paused, taken if queued
/// otherwise. A paused run whose clients are all gone carries on, since
/// nobody could resume it.
fn next_request(ch: &Channels, state: &mut LoopState) -> Option<Request> {
    let rx = ch.commands.as_ref()?;
    if !state.paused || state.steps_asked > 0 {
        return rx.try_recv().ok();
    }
    match rx.recv_timeout(PAUSED_POLL) {
        Ok(request) => Some(request),
        Err(RecvTimeoutError::Timeout) => None,
        Err(RecvTimeoutError::Disconnected) => {
            state.resume();
            None
        }
    }
}
