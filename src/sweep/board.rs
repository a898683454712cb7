//! The leaderboard: variants ranked by their runs' latest validation figure
//! (accuracy where the runs report one, else loss), with mean, standard
//! deviation and 95% interval over seeds; and each varied key's main effect,
//! the mean difference between runs with a value and runs with the key's
//! first value, pooled over the other keys, with its interval. Live runs
//! count with their latest epoch, so the board moves while the sweep trains.

use super::manifest::Manifest;
use super::probe::{Probe, TaskState};
use super::stats::{Difference, Spread};
use crate::protocol::ValMetric;

/// `metric`'s value in a run's latest epoch.
fn value_of(metric: ValMetric, p: &Probe) -> Option<f64> {
    let last = p.last?;
    match metric {
        ValMetric::ValAcc => last.val_acc,
        ValMetric::ValLoss => Some(last.val_loss).filter(|v| v.is_finite()),
    }
}

/// One variant's line.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantRow {
    pub label: String,
    pub variant: Vec<usize>,
    /// Indices of its tasks in the manifest.
    pub tasks: Vec<usize>,
    pub done: usize,
    pub running: usize,
    /// Over the runs with a figure so far.
    pub spread: Option<Spread>,
}

/// A varied key's effect: `value` against the key's first value.
#[derive(Clone, Debug, PartialEq)]
pub struct Effect {
    pub key: String,
    pub value: String,
    pub baseline: String,
    pub diff: Difference,
    pub runs: (usize, usize),
}

impl Effect {
    /// "helped", "hurt" or "unclear" (the interval holds zero).
    pub fn verdict(&self, metric: ValMetric) -> &'static str {
        match (self.diff.clear(), (self.diff.diff > 0.0) == metric.higher_is_better()) {
            (false, _) => "unclear",
            (true, true) => "helped",
            (true, false) => "hurt",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    pub metric: ValMetric,
    pub rows: Vec<VariantRow>,
    pub effects: Vec<Effect>,
}

/// The board of `m` from its tasks' probes (same order as `m.tasks`).
pub fn board(m: &Manifest, probes: &[Probe]) -> Board {
    let metric = if probes.iter().any(|p| p.last.is_some_and(|l| l.val_acc.is_some())) {
        ValMetric::ValAcc
    } else {
        ValMetric::ValLoss
    };
    let figure = |i: usize| probes.get(i).and_then(|p| value_of(metric, p));
    let mut rows: Vec<VariantRow> = super::grid::variants(&m.axes)
        .into_iter()
        .map(|variant| {
            let tasks: Vec<usize> = (0..m.tasks.len()).filter(|&i| m.tasks[i].variant == variant).collect();
            let count = |s: TaskState| tasks.iter().filter(|&&i| probes.get(i).is_some_and(|p| p.state == s)).count();
            let values: Vec<f64> = tasks.iter().filter_map(|&i| figure(i)).collect();
            VariantRow {
                label: super::grid::label(&m.axes, &variant),
                done: count(TaskState::Done),
                running: count(TaskState::Running),
                spread: Spread::of(&values),
                variant,
                tasks,
            }
        })
        .collect();
    let key = |r: &VariantRow| r.spread.map(|s| if metric.higher_is_better() { -s.mean } else { s.mean });
    rows.sort_by(|a, b| match (key(a), key(b)) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (a, b) => b.is_some().cmp(&a.is_some()),
    });
    let effects = effects(m, &figure);
    Board { metric, rows, effects }
}

/// Each varied key's main effect: every value against the key's first.
fn effects(m: &Manifest, figure: &dyn Fn(usize) -> Option<f64>) -> Vec<Effect> {
    let mut effects = Vec::new();
    for (axis_index, axis) in m.axes.iter().enumerate() {
        let group = |value: usize| -> Vec<f64> {
            (0..m.tasks.len()).filter(|&i| m.tasks[i].variant[axis_index] == value).filter_map(figure).collect()
        };
        let base = group(0);
        for value in 1..axis.values.len() {
            if let (Some(a), Some(b)) = (Spread::of(&base), Spread::of(&group(value))) {
                effects.push(Effect {
                    key: axis.short_key().into(),
                    value: axis.values[value].clone(),
                    baseline: axis.values[0].clone(),
                    diff: Difference::between(&a, &b),
                    runs: (a.n, b.n),
                });
            }
        }
    }
    effects
}

/// A figure with four decimals; an interval as `[low, high]` ("n/a" for one run).
pub fn interval(low: f64, high: f64) -> String {
    if low.is_finite() && high.is_finite() {
        format!("[{low:.4}, {high:.4}]")
    } else {
        "n/a (one run)".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::Axis;
    use crate::sweep::manifest::Launcher;
    use crate::sweep::probe::EpochPoint;

    fn probe(state: TaskState, acc: f64) -> Probe {
        let last = Some(EpochPoint { epoch: 3, val_loss: 1.0 - acc, val_acc: Some(acc) });
        Probe { out: "/x".into(), state, run_dir: None, pid: None, stop_reason: None, epochs: 3, last, curve: vec![] }
    }

    #[test]
    fn variants_rank_by_mean_and_the_effect_says_what_helped() {
        let axes = vec![
            Axis::parse("technique.batch_norm.enabled=false,true").unwrap(),
            Axis::parse("optimizer.lr=0.1,0.2").unwrap(),
        ];
        let mut m = Manifest::new("d", "/c".into(), vec![], axes, Launcher::Local { jobs: 1, per_gpu: None });
        m.add_seeds(std::path::Path::new("/s"), &[1, 2, 3]);
        // variant order: (f,0.1) (f,0.2) (t,0.1) (t,0.2), per seed
        let accs = [0.10, 0.12, 0.95, 0.97, 0.11, 0.10, 0.96, 0.96, 0.09, 0.11, 0.97, 0.95];
        let probes: Vec<Probe> = accs.iter().map(|&a| probe(TaskState::Done, a)).collect();
        let b = board(&m, &probes);
        assert_eq!(b.metric, ValMetric::ValAcc);
        assert!(b.rows[0].label.starts_with("batch_norm.enabled=true"));
        assert!(b.rows[3].label.starts_with("batch_norm.enabled=false"));
        assert_eq!(b.rows[0].done, 3);
        let bn = &b.effects[0];
        assert_eq!((bn.key.as_str(), bn.value.as_str(), bn.runs), ("batch_norm.enabled", "true", (6, 6)));
        assert_eq!(bn.verdict(b.metric), "helped");
        assert_eq!(b.effects[1].verdict(b.metric), "unclear");
    }
}
