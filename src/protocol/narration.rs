//! What events mean beyond their fields, said once for every reader: the
//! words an event is told in ([`RunEvent::describe`]: the dashboard's event
//! log, the headless line log and a fork's branch B all tell it so, each
//! adding only its own prefix), and how events move a run's status
//! ([`RunStatus::apply`]: the run server's, which `ls` and `top` show).

use super::connection::ConnectionMessage;
use super::event::{RunEvent, RunState, RunStatus};

/// Training losses a status keeps for its sparkline.
const RECENT_LOSSES: usize = 60;

impl ConnectionMessage {
    /// The message in words, for the ones a person is told (an error);
    /// `None` for a hello or a status, which only the program reads.
    pub fn describe(&self) -> Option<String> {
        match self {
            ConnectionMessage::Error { message } => Some(format!("the run says: {message}")),
            ConnectionMessage::Hello(_) | ConnectionMessage::Status(_) => None,
        }
    }
}

impl RunEvent {
    /// The event in words, for events that are told rather than charted;
    /// `None` for the rest (steps, epochs, hellos, ...).
    pub fn describe(&self) -> Option<String> {
        Some(match self {
            RunEvent::Marker { label, .. } => label.clone(),
            RunEvent::State { state, .. } => state.as_str().to_string(),
            RunEvent::Log { message, .. } => message.clone(),
            RunEvent::Rebuild { reason, rebuild_ms, .. } => format!("graph rebuilt in {rebuild_ms:.1} ms ({reason})"),
            RunEvent::Rejected { reason, .. } => format!("rejected: {reason}"),
            RunEvent::Override { set, .. } => format!("resume: --set {set}"),
            RunEvent::StopRequested { by, .. } => format!("stop requested by {by}"),
            RunEvent::Diverged { cause, .. } => format!("diverged: {cause}"),
            RunEvent::Finished { reason, run_dir, .. } => format!("finished ({}): {run_dir}", reason.as_str()),
            RunEvent::Attached { client, read_only, says } => {
                let how = if *read_only { " (read-only)" } else { "" };
                let says = says.as_ref().map(|s| format!(" (says \"{s}\")")).unwrap_or_default();
                format!("{client}{says} attached{how}")
            }
            RunEvent::Detached { client: Some(client), reason } => format!("{client} detached ({reason})"),
            RunEvent::Detached { client: None, reason } => format!("the run's terminal is gone ({reason}); it goes on"),
            RunEvent::Refused { peer, reason } => format!("refused {peer}: {reason}"),
            _ => return None,
        })
    }

    /// The training step the event happened at, for events that name one.
    pub fn step(&self) -> Option<u64> {
        match self {
            RunEvent::Step(r) => Some(r.step),
            RunEvent::Epoch(r) => Some(r.step),
            RunEvent::ForkStarted { step, .. }
            | RunEvent::ForkEnded { step, .. }
            | RunEvent::Marker { step, .. }
            | RunEvent::State { step, .. }
            | RunEvent::Rebuild { step, .. }
            | RunEvent::Accepted { step, .. }
            | RunEvent::Rejected { step, .. }
            | RunEvent::Override { step, .. }
            | RunEvent::StopRequested { step, .. }
            | RunEvent::Diverged { step, .. }
            | RunEvent::RolledBack { step, .. }
            | RunEvent::Finished { step, .. } => Some(*step),
            _ => None,
        }
    }
}

impl RunStatus {
    /// Folds one event into the status.
    pub fn apply(&mut self, event: &RunEvent) {
        match event {
            RunEvent::Started(s) => {
                self.state = Some(RunState::Running);
                self.finished = None;
                self.epochs = s.epochs;
                self.steps_per_epoch = s.steps_per_epoch;
                self.step = s.step;
                self.epoch = s.epoch;
            }
            RunEvent::Step(r) => {
                self.step = r.step;
                self.epoch = r.epoch;
                self.loss = Some(r.loss);
                self.samples_per_sec = r.samples_per_sec;
                if self.recent_loss.len() >= RECENT_LOSSES {
                    self.recent_loss.remove(0);
                }
                self.recent_loss.push(r.loss);
            }
            RunEvent::Epoch(r) => {
                self.step = r.step;
                self.epoch = r.epoch;
                self.val_loss = r.val_loss.is_finite().then_some(r.val_loss);
                self.val_acc = r.val_acc;
                self.samples_per_sec = r.samples_per_sec;
                self.eta_secs = r.eta_secs.is_finite().then_some(r.eta_secs);
            }
            RunEvent::State { state, .. } => self.state = Some(*state),
            RunEvent::Finished { reason, step, .. } => {
                self.state = Some(RunState::Finished);
                self.finished = Some(*reason);
                self.step = *step;
                self.eta_secs = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{StepRecord, StopReason};

    fn step(step: u64) -> RunEvent {
        RunEvent::Step(StepRecord {
            step,
            epoch: 1,
            loss: step as f32,
            objective: None,
            acc: None,
            lr: 0.1,
            samples_per_sec: 1.0,
            wall_time: 1.0,
            grad_norms: vec![],
            saturation: vec![],
            metrics: vec![],
        })
    }

    #[test]
    fn told_events_have_their_words_and_their_step() {
        let e = RunEvent::Rebuild { step: 7, reason: "dropout on".into(), rebuild_ms: 12.04 };
        assert_eq!(e.describe().as_deref(), Some("graph rebuilt in 12.0 ms (dropout on)"));
        assert_eq!(e.step(), Some(7));
        let e = RunEvent::Detached { client: None, reason: "SIGHUP".into() };
        assert_eq!(e.describe().as_deref(), Some("the run's terminal is gone (SIGHUP); it goes on"));
        assert_eq!(e.step(), None);
        assert_eq!(step(1).describe(), None, "charted, not told");
    }

    #[test]
    fn the_status_follows_steps_and_the_finish() {
        let mut status = RunStatus::default();
        for s in 1..=RECENT_LOSSES as u64 + 5 {
            status.apply(&step(s));
        }
        assert_eq!(status.recent_loss.len(), RECENT_LOSSES, "a sparkline's worth");
        assert_eq!(status.recent_loss[0], 6.0, "the oldest dropped first");
        let finished =
            RunEvent::Finished { step: 70, epoch: 2, reason: StopReason::User, run_dir: "runs/x".into(), error: None };
        status.apply(&finished);
        assert_eq!(
            (status.state, status.finished, status.step),
            (Some(RunState::Finished), Some(StopReason::User), 70)
        );
    }
}
