//! The divergence rule: when a run's loss has blown up.
//!
//! A step diverged when its loss is not finite (at once), or, once the
//! warm-up is over, when the smoothed loss (an exponential moving average
//! over about ten steps) is more than `run.divergence_factor` times the
//! lowest smoothed loss seen since the rule last started over. It starts
//! over at a run's start, a resume, a rollback, and any steering change
//! (learning rate, technique switch or parameter), since each may move the
//! loss to another level legitimately (dropout switched on raises it).
//! The warm-up (`run.divergence_warmup` steps) lets the smoothed loss settle
//! before it is judged.
//!
//! Smoothing keeps one noisy batch late in training (a loss of 0.3 against
//! a best of 0.005) from counting, while a blow-up, which is orders of
//! magnitude, moves the average past the factor in a step or two.

use std::fmt;

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
    BlowUp { loss: f32, smoothed: f64, best: f64, factor: f64 },
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::NotFinite { loss } => write!(f, "loss is {loss}"),
            Cause::BlowUp { loss, smoothed, best, factor } => write!(
                f,
                "smoothed loss {} is over {factor}x its best, {} (step loss {})",
                fmt_sci(*smoothed),
                fmt_sci(*best),
                fmt_sci(*loss as f64)
            ),
        }
    }
}

/// The rule's running figures.
#[derive(Clone, Debug)]
pub struct Detector {
    factor: f64,
    warmup: u64,
    smoothed: Option<f64>,
    best: f64,
    /// Steps seen since the rule last started over.
    seen: u64,
}

impl Detector {
    pub fn new(factor: f64, warmup: usize) -> Self {
        Self { factor, warmup: warmup as u64, smoothed: None, best: f64::INFINITY, seen: 0 }
    }

    /// Starts over: the next losses set a new level.
    pub fn restart(&mut self) {
        *self = Self::new(self.factor, self.warmup as usize);
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
        if smoothed <= self.factor * self.best {
            Verdict::Healthy
        } else if self.seen <= self.warmup {
            Verdict::Suspect
        } else {
            Verdict::Diverged(Cause::BlowUp { loss, smoothed, best: self.best, factor: self.factor })
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
        let mut d = Detector::new(10.0, 5);
        let losses: Vec<f32> = (0..2000).map(|i| 2.3 * 0.997f32.powi(i) + if i % 7 == 0 { 0.3 } else { 0.0 }).collect();
        assert!(verdicts(&mut d, &losses).iter().all(|v| *v == Verdict::Healthy));
    }

    #[test]
    fn a_blow_up_is_caught_after_the_warm_up() {
        let mut d = Detector::new(10.0, 3);
        let v = verdicts(&mut d, &[2.3, 2.2, 1e6, 1e6, 1e6]);
        assert_eq!(v[..2], [Verdict::Healthy, Verdict::Healthy]);
        assert_eq!(v[2], Verdict::Suspect, "inside the warm-up");
        match &v[3] {
            Verdict::Diverged(Cause::BlowUp { best, factor, .. }) => assert_eq!((*best as f32, *factor), (2.29, 10.0)),
            other => panic!("{other:?}"),
        }
        assert_eq!(v[3].to_string_cause(), "smoothed loss 1.90e5 is over 10x its best, 2.29 (step loss 1.00e6)");
    }

    #[test]
    fn a_non_finite_loss_diverges_at_once() {
        let mut d = Detector::new(10.0, 100);
        assert_eq!(d.observe(f32::NAN).to_string_cause(), "loss is NaN");
        assert_eq!(d.observe(f32::INFINITY), Verdict::Diverged(Cause::NotFinite { loss: f32::INFINITY }));
    }

    #[test]
    fn restarting_takes_the_new_level() {
        let mut d = Detector::new(10.0, 0);
        verdicts(&mut d, &[0.01; 50]);
        assert!(matches!(d.observe(0.5), Verdict::Healthy), "one noisy batch is smoothed away");
        assert!(verdicts(&mut d, &[0.5; 30]).iter().any(|v| matches!(v, Verdict::Diverged(_))));
        d.restart();
        assert!(verdicts(&mut d, &[0.5; 30]).iter().all(|v| *v == Verdict::Healthy), "dropout switched on");
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
