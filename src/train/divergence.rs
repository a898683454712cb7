//! The divergence rule: when a run's loss has blown up.
//!
//! A step diverged when its loss is not finite (at once), or, once the
//! warm-up is over, when the smoothed loss (an exponential moving average
//! over about ten steps) is both more than `run.divergence_factor` times the
//! lowest smoothed loss seen since the rule last started over, and above the
//! loss of a model that learned nothing (the [`baseline`]: predicting the
//! training split's class frequencies, or its mean target). The rule starts
//! over at a run's start, a resume, a rollback, and any steering change
//! (learning rate, technique switch or parameter, a live fork and its keep),
//! since each may move the loss to another level on purpose. The warm-up
//! (`run.divergence_warmup` steps) lets the smoothed loss settle before it
//! is judged.
//!
//! Smoothing keeps one noisy batch late in training (a loss of 0.3 against
//! a best of 0.005) from counting, and the baseline keeps a change of level
//! far below it (batch norm switched on late in a run: 0.001 to 0.05) from
//! counting, while a blow-up, which is orders of magnitude, passes both in a
//! step or two.

use std::fmt;

use crate::data::Dataset;
use crate::format::fmt_sci;

/// The weight of the newest loss in the smoothed loss.
const SMOOTHING: f64 = 0.1;

/// What a step's loss says about the run.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    Healthy,
    /// Above the factor during the warm-up: not judged yet, but not a good
    /// state to keep either.
    Suspect,
    Diverged(Cause),
}

/// Why a step counts as diverged.
#[derive(Clone, Debug, PartialEq)]
pub enum Cause {
    NotFinite { loss: f32 },
    BlowUp { loss: f32, smoothed: f64, best: f64, factor: f64, baseline: f64 },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::NotFinite { loss } => write!(f, "loss is {loss}"),
            Cause::BlowUp { loss, smoothed, best, factor, baseline } => write!(
                f,
                "smoothed loss {} is over {factor}x its best ({}) and over the learned-nothing loss ({}); step loss {}",
                fmt_sci(*smoothed),
                fmt_sci(*best),
                fmt_sci(*baseline),
                fmt_sci(*loss as f64)
            ),
        }
    }
}

/// The loss of a model that learned nothing but the targets' distribution:
/// the entropy of the class frequencies (cross-entropy), or the targets'
/// variance (mean squared error).
pub fn baseline(train: &Dataset) -> f64 {
    let n = train.len().max(1) as f64;
    if train.n_classes == 0 {
        let mean = train.targets.iter().map(|&t| t as f64).sum::<f64>() / n;
        return train.targets.iter().map(|&t| (t as f64 - mean).powi(2)).sum::<f64>() / n;
    }
    let mut counts = vec![0usize; train.n_classes];
    for &t in &train.targets {
        if let Some(c) = counts.get_mut(t as usize) {
            *c += 1;
        }
    }
    counts.iter().filter(|&&c| c > 0).map(|&c| c as f64 / n).map(|p| -p * p.ln()).sum()
}

/// The rule's running figures.
#[derive(Clone, Debug)]
pub struct Detector {
    factor: f64,
    warmup: u64,
    /// [`baseline`]: a loss below it has not diverged.
    baseline: f64,
    smoothed: Option<f64>,
    best: f64,
    /// Steps seen since the rule last started over.
    seen: u64,
}

impl Detector {
    pub fn new(factor: f64, warmup: usize, baseline: f64) -> Self {
        Self { factor, warmup: warmup as u64, baseline, smoothed: None, best: f64::INFINITY, seen: 0 }
    }

    /// Starts over: the next losses set a new level.
    pub fn restart(&mut self) {
        *self = Self::new(self.factor, self.warmup as usize, self.baseline);
    }

    /// Judges one step's loss.
    pub fn observe(&mut self, loss: f32) -> Verdict {
        if !loss.is_finite() {
            return Verdict::Diverged(Cause::NotFinite { loss });
        }
        let smoothed = match self.smoothed {
            Some(s) => s + SMOOTHING * (loss as f64 - s),
            None => loss as f64,
        };
        self.smoothed = Some(smoothed);
        self.best = self.best.min(smoothed);
        self.seen += 1;
        if smoothed <= self.factor * self.best || smoothed <= self.baseline {
            Verdict::Healthy
        } else if self.seen <= self.warmup {
            Verdict::Suspect
        } else {
            let (best, factor, baseline) = (self.best, self.factor, self.baseline);
            Verdict::Diverged(Cause::BlowUp { loss, smoothed, best, factor, baseline })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(d: &mut Detector, losses: &[f32]) -> Vec<Verdict> {
        losses.iter().map(|&l| d.observe(l)).collect()
    }

    #[test]
    fn a_falling_noisy_loss_is_healthy() {
        let mut d = Detector::new(10.0, 5, 2.3);
        let losses: Vec<f32> = (0..2000).map(|i| 2.3 * 0.997f32.powi(i) + if i % 7 == 0 { 0.3 } else { 0.0 }).collect();
        assert!(verdicts(&mut d, &losses).iter().all(|v| *v == Verdict::Healthy));
    }

    #[test]
    fn a_blow_up_is_caught_after_the_warm_up() {
        let mut d = Detector::new(10.0, 3, 2.3);
        let v = verdicts(&mut d, &[2.3, 2.2, 1e6, 1e6, 1e6]);
        assert_eq!(v[..2], [Verdict::Healthy, Verdict::Healthy]);
        assert_eq!(v[2], Verdict::Suspect, "inside the warm-up");
        match &v[3] {
            Verdict::Diverged(Cause::BlowUp { best, factor, .. }) => assert_eq!((*best as f32, *factor), (2.29, 10.0)),
            other => panic!("{other:?}"),
        }
        assert_eq!(v[3].to_string_cause(), "smoothed loss 1.90e5 is over 10x its best (2.29) and over the learned-nothing loss (2.30); step loss 1.00e6");
    }

    #[test]
    fn a_non_finite_loss_diverges_at_once() {
        let mut d = Detector::new(10.0, 100, 2.3);
        assert_eq!(d.observe(f32::NAN).to_string_cause(), "loss is NaN");
        assert_eq!(d.observe(f32::INFINITY), Verdict::Diverged(Cause::NotFinite { loss: f32::INFINITY }));
    }

    #[test]
    fn restarting_takes_the_new_level() {
        let mut d = Detector::new(10.0, 0, 0.1);
        verdicts(&mut d, &[0.01; 50]);
        assert!(matches!(d.observe(0.5), Verdict::Healthy), "one noisy batch is smoothed away");
        assert!(verdicts(&mut d, &[0.5; 30]).iter().any(|v| matches!(v, Verdict::Diverged(_))));
        d.restart();
        assert!(verdicts(&mut d, &[0.5; 30]).iter().all(|v| *v == Verdict::Healthy), "dropout switched on");
    }

    #[test]
    fn a_new_level_below_the_baseline_is_no_divergence() {
        // Batch norm switched on late in a run: 0.001 to 0.3, far below chance.
        let mut d = Detector::new(10.0, 0, 2.3);
        let losses: Vec<f32> = [0.001; 50].into_iter().chain([0.3; 100]).collect();
        assert!(verdicts(&mut d, &losses).iter().all(|v| *v == Verdict::Healthy));
        assert!(matches!(d.observe(1e4), Verdict::Diverged(_)), "a blow-up still passes both");
    }

    #[test]
    fn the_baseline_is_what_a_model_that_learned_nothing_scores() {
        let mut ds = Dataset {
            features: vec![0.0; 4],
            targets: vec![0.0, 1.0, 0.0, 1.0],
            n_features: 1,
            n_classes: 2,
            feature_names: vec!["a".into()],
            encoding: crate::data::Encoding::numeric("label", &["a".into()]),
            source: "toy".into(),
        };
        assert!((baseline(&ds) - std::f64::consts::LN_2).abs() < 1e-12, "two even classes: ln 2");
        ds.targets = vec![1.0; 4];
        assert_eq!(baseline(&ds), 0.0, "one class: nothing to learn");
        ds.n_classes = 0;
        ds.targets = vec![1.0, 3.0, 1.0, 3.0];
        assert_eq!(baseline(&ds), 1.0, "regression: the targets' variance");
    }

    impl Verdict {
        fn to_string_cause(&self) -> String {
            match self {
                Verdict::Diverged(c) => c.to_string(),
                _ => String::new(),
            }
        }
    }
}
