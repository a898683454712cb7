//! A run folder's records as the series an export draws and tabulates:
//! the logged steps, the epoch ends, the last confusion matrix and the
//! markers, read from `metrics.jsonl` and `events.jsonl` through the
//! protocol's types (the records the dashboard was given, at full length,
//! not the dashboard's bounded copies).
//!
//! A resumed run logs again from its checkpoint's step: a record at or
//! before one already read starts the timeline over from there, as the run
//! itself did, so every step appears once.

use std::path::Path;

use crate::protocol::{ConfusionRecord, EpochRecord, EventReader, FrameError, RunEvent, StepRecord, StopReason};

/// What an export shows of one run.
#[derive(Clone, Debug, Default)]
pub struct RunSeries {
    /// The run folder's name.
    pub name: String,
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
    /// The latest epoch end's validation confusion matrix (classification).
    pub confusion: Option<ConfusionRecord>,
    /// Where a command took effect: `(step, label)`.
    pub markers: Vec<(u64, String)>,
    pub stop: Option<StopReason>,
}

impl RunSeries {
    /// Reads the run folder `dir`; the error names the folder or the file
    /// and line at fault, and what a run folder holds.
    pub fn read(dir: &Path) -> Result<RunSeries, String> {
        let shown = dir.display();
        if !dir.is_dir() {
            let what = if dir.exists() { "not a folder" } else { "no such folder" };
            return Err(format!("{shown}: {what} (expected a run folder, e.g. runs/NAME-DATE)"));
        }
        let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("{shown}: not a run folder (expected its metrics.jsonl, written by `traintop run`)")
            }
            _ => format!("{shown}/metrics.jsonl: {e}"),
        })?;
        let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default();
        let name = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()));
        let mut series = RunSeries { name: name.unwrap_or_else(|| "run".into()), ..RunSeries::default() };
        for event in records(&metrics).map_err(|e| format!("{shown}/metrics.jsonl: {e}"))? {
            series.add(event);
        }
        for event in records(&events).map_err(|e| format!("{shown}/events.jsonl: {e}"))? {
            series.add(event);
        }
        if series.steps.is_empty() && series.epochs.is_empty() {
            return Err(format!("{shown}: the run recorded no steps yet, so there is nothing to export"));
        }
        Ok(series)
    }

    fn add(&mut self, event: RunEvent) {
        match event {
            RunEvent::Step(s) => {
                self.steps.retain(|o| o.step < s.step);
                self.steps.push(s);
            }
            RunEvent::Epoch(e) => {
                self.epochs.retain(|o| o.epoch < e.epoch);
                self.epochs.push(e);
            }
            RunEvent::Confusion(c) => self.confusion = Some(c),
            RunEvent::Marker { step, label } => self.markers.push((step, label)),
            RunEvent::Finished { reason, .. } => self.stop = Some(reason),
            _ => {}
        }
    }

    /// The parameters with gradient norms, in the order the run reported them.
    pub fn parameters(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (name, _) in self.steps.iter().flat_map(|s| &s.grad_norms) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// `parameter`'s gradient norm at each logged step that has it.
    pub fn gradient(&self, parameter: &str) -> Vec<(f64, f64)> {
        let at = |s: &StepRecord| s.grad_norms.iter().find(|(n, _)| n == parameter).map(|(_, v)| f64::from(*v));
        self.steps.iter().filter_map(|s| Some((s.step as f64, at(s)?))).collect()
    }
}

/// A file's events; lines cut short or unreadable (a run that died
/// mid-line) are skipped, another protocol major version is refused.
fn records(text: &str) -> Result<Vec<RunEvent>, String> {
    let mut out = Vec::new();
    for record in EventReader::new(text.as_bytes()) {
        match record {
            Ok(r) => out.push(r.event),
            Err(e @ FrameError::Version { .. }) => return Err(e.to_string()),
            Err(_) => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(step: u64, loss: f32) -> RunEvent {
        RunEvent::Step(StepRecord {
            step,
            epoch: 1,
            loss,
            objective: None,
            acc: None,
            lr: 0.1,
            samples_per_sec: 1.0,
            wall_time: 0.0,
            grad_norms: vec![("w".into(), loss)],
            saturation: vec![],
            metrics: vec![],
        })
    }

    #[test]
    fn a_resume_replaces_the_steps_it_trains_again() {
        let mut s = RunSeries::default();
        for (n, loss) in [(10, 1.0), (20, 0.9), (30, 0.8), (20, 0.7), (30, 0.6)] {
            s.add(step(n, loss));
        }
        let steps: Vec<_> = s.steps.iter().map(|r| (r.step, r.loss)).collect();
        assert_eq!(steps, [(10, 1.0), (20, 0.7), (30, 0.6)]);
        assert_eq!(s.parameters(), ["w"]);
        assert_eq!(s.gradient("w").len(), 3);
    }

    #[test]
    fn folders_that_are_not_runs_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let e = RunSeries::read(&tmp.path().join("nope")).unwrap_err();
        assert!(e.contains("nope: no such folder (expected a run folder"), "{e}");
        let e = RunSeries::read(tmp.path()).unwrap_err();
        assert!(e.contains("not a run folder (expected its metrics.jsonl"), "{e}");
        std::fs::write(tmp.path().join("metrics.jsonl"), "{\"time\":1.0,\"event\":\"ste").unwrap();
        let e = RunSeries::read(tmp.path()).unwrap_err();
        assert!(e.ends_with("no steps yet, so there is nothing to export"), "{e}");
    }
}
