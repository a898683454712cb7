//! The headless line log: one line per logged step and per epoch, with the same
//! field names as `metrics.jsonl`, for pipes, CI logs and `--headless`.

use std::io::Write;

use crate::protocol::RunEvent;

/// Formats seconds as `1h02m`, `3m05s` or `12s`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() {
        return "?".into();
    }
    let s = secs.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Prints events as lines on stdout (progress) and stderr (warnings).
pub struct LinePrinter {
    epochs: usize,
    quiet_steps: bool,
}

impl LinePrinter {
    pub fn new(quiet_steps: bool) -> Self {
        Self { epochs: 0, quiet_steps }
    }

    pub fn handle(&mut self, event: &RunEvent) {
        let mut out = std::io::stdout().lock();
        let _ = match event {
            RunEvent::Started(s) => {
                self.epochs = s.epochs;
                writeln!(
                    out,
                    "run {} on {}: {} parameters, {} epochs of {} steps",
                    s.run_dir, s.device, s.parameters, s.epochs, s.steps_per_epoch
                )
            }
            RunEvent::Step(r) if !self.quiet_steps => writeln!(
                out,
                "epoch {}/{} step {} loss={:.4}{} lr={} samples/s={:.0}",
                r.epoch,
                self.epochs,
                r.step,
                r.loss,
                r.acc.map(|a| format!(" acc={a:.4}")).unwrap_or_default(),
                r.lr,
                r.samples_per_sec
            ),
            RunEvent::Epoch(r) => writeln!(
                out,
                "epoch {}/{} step {} loss={:.4} val_loss={:.4}{} samples/s={:.0} eta={}",
                r.epoch,
                self.epochs,
                r.step,
                r.loss,
                r.val_loss,
                r.val_acc.map(|a| format!(" val_acc={a:.4}")).unwrap_or_default(),
                r.samples_per_sec,
                duration(r.eta_secs)
            ),
            RunEvent::State { state, .. } => writeln!(out, "{}", state.as_str()),
            RunEvent::Log { message, .. } => writeln!(std::io::stderr(), "{message}"),
            RunEvent::Rebuild { reason, rebuild_ms, .. } => {
                writeln!(std::io::stderr(), "graph rebuilt in {rebuild_ms:.1} ms ({reason})")
            }
            RunEvent::Rejected { reason, .. } => writeln!(std::io::stderr(), "rejected: {reason}"),
            RunEvent::Marker { step, label } => writeln!(out, "step {step}: {label}"),
            RunEvent::Techniques { techniques } => {
                let on: Vec<&str> = techniques.iter().filter(|t| t.enabled).map(|t| t.name.as_str()).collect();
                writeln!(out, "techniques on: {}", if on.is_empty() { "none".to_string() } else { on.join(", ") })
            }
            RunEvent::Finished { reason, run_dir, .. } => writeln!(out, "finished ({}): {run_dir}", reason.as_str()),
            // Said otherwise already (a marker, a state, the finish), or
            // nothing a line log needs.
            RunEvent::Step(_)
            | RunEvent::Hello(_)
            | RunEvent::Accepted { .. }
            | RunEvent::StopRequested { .. }
            | RunEvent::Override { .. }
            | RunEvent::Diverged { .. }
            | RunEvent::Unknown => Ok(()),
        };
        let _ = out.flush();
    }
}
