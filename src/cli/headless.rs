//! The headless line log: one line per logged step and per epoch, with the same
//! field names as `metrics.jsonl`, for pipes, CI logs and `--headless`.
//! Progress goes to stdout, warnings (plugin messages, refusals, gradient
//! health) to stderr, both through `line_pump` so that a reader that stops
//! reading never stops the trainer.

use super::line_pump::{LineSink, Stream};
use crate::format::{clean, duration};
use crate::grad_health::GradWatch;
use crate::protocol::RunEvent;

/// An event's words, as every reader tells it.
fn told(event: &RunEvent) -> String {
    event.describe().unwrap_or_default()
}

/// Turns events into lines.
pub struct LinePrinter {
    epochs: usize,
    quiet_steps: bool,
    /// The gradients' flag as shown, so that each is warned about once.
    grads: GradWatch,
}

impl LinePrinter {
    pub fn new(quiet_steps: bool) -> Self {
        Self { epochs: 0, quiet_steps, grads: GradWatch::default() }
    }

    /// Hands the event's lines to `sink`, which never waits for the reader.
    pub fn handle(&mut self, event: &RunEvent, sink: &LineSink) {
        for (stream, line) in self.lines(event) {
            sink.send(stream, clean(&line));
        }
    }

    /// The lines an event gives, and where each goes.
    pub fn lines(&mut self, event: &RunEvent) -> Vec<(Stream, String)> {
        let out = |s: String| vec![(Stream::Out, s)];
        let err = |s: String| vec![(Stream::Err, s)];
        match event {
            RunEvent::Started(s) => {
                self.epochs = s.epochs;
                out(format!(
                    "run {} on {}: {} parameters, {} epochs of {} steps",
                    s.run_dir, s.device, s.parameters, s.epochs, s.steps_per_epoch
                ))
            }
            RunEvent::Step(r) => {
                let mut lines = vec![];
                if !self.quiet_steps {
                    lines.push((
                        Stream::Out,
                        format!(
                            "epoch {}/{} step {} loss={:.4}{} lr={} samples/s={:.0}",
                            r.epoch,
                            self.epochs,
                            r.step,
                            r.loss,
                            r.acc.map(|a| format!(" acc={a:.4}")).unwrap_or_default(),
                            r.lr,
                            r.samples_per_sec
                        ),
                    ));
                }
                if !r.grad_norms.is_empty() {
                    if let Some(flag) = self.grads.observe(&r.grad_norms) {
                        lines.push((Stream::Err, format!("warning: step {}: gradients {flag}", r.step)));
                    }
                }
                lines
            }
            RunEvent::Epoch(r) => out(format!(
                "epoch {}/{} step {} loss={:.4} val_loss={:.4}{} samples/s={:.0} eta={}",
                r.epoch,
                self.epochs,
                r.step,
                r.loss,
                r.val_loss,
                r.val_acc.map(|a| format!(" val_acc={a:.4}")).unwrap_or_default(),
                r.samples_per_sec,
                duration(r.eta_secs)
            )),
            RunEvent::State { .. } | RunEvent::Finished { .. } => out(told(event)),
            RunEvent::Log { .. } | RunEvent::Rebuild { .. } | RunEvent::Rejected { .. } => err(told(event)),
            RunEvent::Marker { step, .. } => out(format!("step {step}: {}", told(event))),
            RunEvent::Techniques { techniques } => {
                let on: Vec<&str> = techniques.iter().filter(|t| t.enabled).map(|t| t.name.as_str()).collect();
                out(format!("techniques on: {}", if on.is_empty() { "none".to_string() } else { on.join(", ") }))
            }
            RunEvent::Diverged { step, .. } => err(format!("warning: step {step}: {}", told(event))),
            RunEvent::RolledBack { step, to_step, lr, attempt, paused, .. } => err(format!(
                "step {step}: rolled back to step {to_step} (rollback {attempt}) with lr={lr}{}",
                if *paused { "; paused" } else { "" }
            )),
            RunEvent::ForkStarted { step, change, branch_dir } => {
                out(format!("step {step}: forked; A ({change}) goes on here, B trains as before in {branch_dir}"))
            }
            RunEvent::ForkEnded { step, kept, other_dir } => {
                out(format!("step {step}: kept {}; the other branch's folder is {other_dir}", kept.letter()))
            }
            RunEvent::Branch { record } => match record.as_ref() {
                RunEvent::Epoch(e) => {
                    let acc = e.val_acc.map_or(String::new(), |a| format!(" val_acc={a:.4}"));
                    out(format!("  B epoch {} val_loss={:.4}{acc}", e.epoch, e.val_loss))
                }
                RunEvent::Finished { .. } => out(format!("  B {}", told(record))),
                _ => vec![],
            },
            // Said otherwise already (a marker, a state, the finish), or
            // nothing a line log needs.
            RunEvent::Accepted { .. }
            | RunEvent::StopRequested { .. }
            | RunEvent::Override { .. }
            | RunEvent::Confusion(_)
            | RunEvent::Attached { .. }
            | RunEvent::Detached { .. }
            | RunEvent::Refused { .. }
            | RunEvent::Unknown => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::StepRecord;

    fn step(step: u64, first_weight: f32) -> RunEvent {
        RunEvent::Step(StepRecord {
            step,
            epoch: 1,
            loss: 0.5,
            objective: None,
            acc: Some(0.75),
            lr: 0.01,
            samples_per_sec: 1000.0,
            wall_time: 1.0,
            grad_norms: vec![("layer0.weight".into(), first_weight), ("layer1.weight".into(), 0.1)],
            saturation: vec![],
            metrics: vec![],
        })
    }

    #[test]
    fn gradient_health_is_warned_about_once_per_flag() {
        let mut p = LinePrinter::new(true);
        assert!(p.lines(&step(1, 0.05)).is_empty(), "quiet and healthy: nothing");
        let settle = crate::grad_health::SETTLE_STEPS as u64;
        for s in 2..1 + settle {
            assert!(p.lines(&step(s, 1e-9)).is_empty(), "said only once it lasts");
        }
        let vanishing = p.lines(&step(1 + settle, 1e-9));
        assert_eq!(vanishing.len(), 1);
        assert_eq!(vanishing[0].0, Stream::Err);
        assert!(
            vanishing[0].1.starts_with(&format!("warning: step {}: gradients VANISHING", 1 + settle)),
            "{vanishing:?}"
        );
        assert!(p.lines(&step(2 + settle, 1e-9)).is_empty(), "the same flag is said once");
        let exploding = p.lines(&step(3 + settle, f32::NAN));
        assert!(exploding[0].1.contains("EXPLODING"), "{exploding:?}");
    }

    #[test]
    fn steps_print_their_figures_unless_quiet() {
        let mut p = LinePrinter::new(false);
        let lines = p.lines(&step(1, 0.05));
        assert_eq!(lines, vec![(Stream::Out, "epoch 1/0 step 1 loss=0.5000 acc=0.7500 lr=0.01 samples/s=1000".into())]);
    }
}
