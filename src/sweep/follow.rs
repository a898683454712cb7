//! Following a sweep to its end: start what may start, read every run's
//! state, print each change, until every run is done, failed, or stopped;
//! on a stop request (Ctrl+C, SIGTERM), stop the runs, which keep their
//! checkpoints for `sweep resume`. Each task is started at most once per
//! follow, so a run that fails is not retried in a loop.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::board::board;
use super::launch::TaskLauncher;
use super::manifest::Manifest;
use super::probe::{Probe, TaskState};
use crate::format::clean;

/// How often the runs are read.
const EVERY: Duration = Duration::from_millis(500);

/// How following ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every run done.
    Done,
    /// Some ended without finishing (failed, stopped, cancelled): their tasks.
    Unfinished(Vec<usize>),
    /// Stopped on request.
    Stopped,
}

pub fn follow(
    dir: &Path,
    m: &mut Manifest,
    launcher: &mut dyn TaskLauncher,
    stop: &AtomicBool,
    say: &mut dyn FnMut(String),
) -> Result<(Outcome, Vec<Probe>), String> {
    let mut started = BTreeSet::new();
    let mut said: Vec<Option<TaskState>> = vec![None; m.tasks.len()];
    loop {
        let probes = launcher.probe(m, false);
        tell_changes(m, &probes, &mut said, say);
        if stop.load(Ordering::Relaxed) {
            say("stopping the sweep's runs (each keeps its checkpoints)".into());
            launcher.stop(m, &probes)?;
            return Ok((Outcome::Stopped, launcher.probe(m, false)));
        }
        let waiting: Vec<usize> = (0..m.tasks.len())
            .filter(|&i| probes[i].state.unfinished() && !launcher.queued(i) && !started.contains(&i))
            .collect();
        let room = launcher.free(m, &probes).min(waiting.len());
        if room > 0 {
            let batch = &waiting[..room];
            launcher.start(m, batch)?;
            started.extend(batch.iter().copied());
            m.save(dir)?;
            continue;
        }
        let running = probes.iter().any(|p| p.state == TaskState::Running);
        if waiting.is_empty() && !running && !launcher.in_flight(m, &probes) {
            let left: Vec<usize> = (0..m.tasks.len()).filter(|&i| probes[i].state != TaskState::Done).collect();
            let outcome = if left.is_empty() { Outcome::Done } else { Outcome::Unfinished(left) };
            return Ok((outcome, probes));
        }
        sleep_unless(stop, EVERY);
    }
}

/// One line per run whose state changed, with the leader so far.
fn tell_changes(m: &Manifest, probes: &[Probe], said: &mut [Option<TaskState>], say: &mut dyn FnMut(String)) {
    let mut changed = false;
    for (i, p) in probes.iter().enumerate() {
        if said[i] != Some(p.state) && !(said[i].is_none() && p.state == TaskState::Pending) {
            let figure = p.last.map_or(String::new(), |l| {
                format!(
                    " epoch {} val_loss {:.4}{}",
                    l.epoch,
                    l.val_loss,
                    l.val_acc.map_or(String::new(), |a| format!(" val_acc {a:.4}"))
                )
            });
            say(format!("{} seed {}: {}{figure}", clean(&m.label(&m.tasks[i])), m.tasks[i].seed, p.state.as_str()));
            changed = true;
        }
        said[i] = Some(p.state);
    }
    if changed {
        let b = board(m, probes);
        let done = probes.iter().filter(|p| p.state == TaskState::Done).count();
        if let Some((row, s)) = b.rows.first().and_then(|r| Some((r, r.spread?))) {
            say(format!(
                "  {done}/{} done; leading: {} {} {:.4} over {} run(s)",
                m.tasks.len(),
                clean(&row.label),
                b.metric.name(),
                s.mean,
                s.n
            ));
        }
    }
}

fn sleep_unless(stop: &AtomicBool, total: Duration) {
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    while waited < total && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
        waited += step;
    }
}
