//! The headless line log: one line per logged step and per epoch, with the same
//! field names as `metrics.jsonl`, for pipes, CI logs and `--headless`.

use std::io::Write;

use crate::train::{Event, RunState};

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

    pub fn handle(&mut self, event: &Event) {
        let mut out = std::io::stdout().lock();
        let _ = match event {
            Event::Started { run_dir, device, epochs, steps_per_epoch, parameters } => {
                self.epochs = *epochs;
                writeln!(
                    out,
                    "run {run_dir} on {device}: {parameters} parameters, {epochs} epochs of {steps_per_epoch} steps"
                )
            }
            Event::Step(r) if !self.quiet_steps => writeln!(
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
            Event::Step(_) => Ok(()),
            Event::Epoch(r) => writeln!(
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
            Event::State(RunState::Paused) => writeln!(out, "paused"),
            Event::State(s) => writeln!(out, "{}", format!("{s:?}").to_lowercase()),
            Event::Log(line) => writeln!(std::io::stderr(), "{line}"),
            Event::Marker { step, label } => writeln!(out, "step {step}: {label}"),
            Event::Techniques(list) => {
                let on: Vec<&str> = list.iter().filter(|t| t.enabled).map(|t| t.name.as_str()).collect();
                writeln!(out, "techniques on: {}", if on.is_empty() { "none".to_string() } else { on.join(", ") })
            }
            Event::Finished { reason, run_dir } => writeln!(out, "finished ({}): {run_dir}", reason.as_str()),
        };
        let _ = out.flush();
    }
}
