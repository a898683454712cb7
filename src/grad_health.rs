//! Gradient health: whether a step's gradient norms say the gradients are
//! vanishing or exploding, with the figures that show it. Judged the same
//! way by the dashboard (a flag on the gradients panel) and the headless
//! line log (a warning line); imports only the formatting.

use std::fmt;

use crate::format::fmt_sci;

/// What is wrong with the gradients, with the figures that show it.
#[derive(Clone, Debug, PartialEq)]
pub enum GradFlag {
    Vanishing(String),
    Exploding(String),
}

impl fmt::Display for GradFlag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradFlag::Vanishing(why) => write!(f, "VANISHING: {why}"),
            GradFlag::Exploding(why) => write!(f, "EXPLODING: {why}"),
        }
    }
}

/// `layer<N>.weight`: a weight matrix of the MLP itself (not a technique's).
fn is_model_weight(name: &str) -> bool {
    name.strip_prefix("layer")
        .and_then(|rest| rest.strip_suffix(".weight"))
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
}

/// Judges one step's norms. Exploding wins over vanishing: it ends runs.
/// The vanishing thresholds (1e-7 absolute, 1e-3 first to last) are
/// multiplied by `slack`: a flag already shown stays until the figures are
/// clearly healthy, not just over the line.
fn judge(norms: &[(String, f32)], slack: f32) -> Option<GradFlag> {
    if let Some((n, v)) = norms.iter().find(|(_, v)| !v.is_finite() || *v > 1e3) {
        return Some(GradFlag::Exploding(format!("{n} = {}", fmt_sci(*v as f64))));
    }
    // Only the model's weight matrices count for vanishing: a bias in front of
    // batch norm has an exactly zero gradient by design.
    let model_weights: Vec<&(String, f32)> = norms.iter().filter(|(n, _)| is_model_weight(n)).collect();
    if let Some((n, v)) = model_weights.iter().find(|(_, v)| *v < 1e-7 * slack) {
        return Some(GradFlag::Vanishing(format!("{n} = {}", fmt_sci(*v as f64))));
    }
    // The first and last layers' weights; other parameter names (plugins)
    // only count when no name says "weight".
    let weights: Vec<&(String, f32)> = if model_weights.len() >= 2 {
        model_weights
    } else {
        norms.iter().filter(|(n, _)| n.contains("weight")).collect()
    };
    let pool: Vec<&(String, f32)> = if weights.len() >= 2 { weights } else { norms.iter().collect() };
    if let (Some(first), Some(last)) = (pool.first(), pool.last()) {
        if pool.len() >= 2 && first.1 < 1e-3 * slack * last.1 {
            return Some(GradFlag::Vanishing(format!(
                "{} {} < 1e-3 × {} {}",
                first.0,
                fmt_sci(first.1 as f64),
                last.0,
                fmt_sci(last.1 as f64)
            )));
        }
    }
    None
}

/// Whether going from `before` to `now` deserves a warning: a new flag, or
/// vanishing turning into exploding (which ends runs). A flag that stays is
/// said once.
pub fn worth_warning<'a>(before: Option<&GradFlag>, now: Option<&'a GradFlag>) -> Option<&'a GradFlag> {
    match (before, now) {
        (None, Some(flag)) | (Some(GradFlag::Vanishing(_)), Some(flag @ GradFlag::Exploding(_))) => Some(flag),
        _ => None,
    }
}

/// Logged steps a vanishing flag (or health after a flag) must last before
/// the watch says so. A converged run's first-layer gradient hovers around
/// the 1e-3 ratio and would flip the flag every few steps; one said change
/// per real change is what a reader can act on.
pub const SETTLE_STEPS: u32 = 5;

/// How far past the vanishing thresholds the figures must get before a
/// shown vanishing flag is taken back.
const LEAVE_SLACK: f32 = 10.0;

/// The flag as shown to people: [`judge`] with hysteresis. Exploding shows
/// at once (it ends runs); vanishing, and the return to health, only after
/// [`SETTLE_STEPS`] steps in a row, and a shown vanishing flag leaves only
/// once the figures clear its thresholds tenfold. The dashboard's gradients panel and the
/// headless line log keep one each, so both say the same thing.
#[derive(Clone, Debug, Default)]
pub struct GradWatch {
    shown: Option<GradFlag>,
    /// A different state seen lately, and for how many steps in a row.
    pending: Option<GradFlag>,
    streak: u32,
}

/// Healthy, vanishing and exploding, whatever the figures.
fn same_kind(a: Option<&GradFlag>, b: Option<&GradFlag>) -> bool {
    let kind = |f: Option<&GradFlag>| match f {
        None => 0,
        Some(GradFlag::Vanishing(_)) => 1,
        Some(GradFlag::Exploding(_)) => 2,
    };
    kind(a) == kind(b)
}

impl GradWatch {
    /// Judges one step's norms; returns the flag to warn about when the
    /// shown state just became worth a warning ([`worth_warning`]).
    pub fn observe(&mut self, norms: &[(String, f32)]) -> Option<GradFlag> {
        let slack = if matches!(self.shown, Some(GradFlag::Vanishing(_))) { LEAVE_SLACK } else { 1.0 };
        let now = judge(norms, slack);
        if same_kind(now.as_ref(), self.shown.as_ref()) {
            // Still the same: keep the figures current, forget any blip.
            self.shown = now;
            self.pending = None;
            self.streak = 0;
            return None;
        }
        if same_kind(now.as_ref(), self.pending.as_ref()) && self.streak > 0 {
            self.streak += 1;
        } else {
            self.streak = 1;
        }
        self.pending = now.clone();
        let exploding = matches!(now, Some(GradFlag::Exploding(_)));
        if !exploding && self.streak < SETTLE_STEPS {
            return None;
        }
        let warning = worth_warning(self.shown.as_ref(), now.as_ref()).cloned();
        self.shown = now;
        self.pending = None;
        self.streak = 0;
        warning
    }

    /// The flag as it stands for people.
    pub fn shown(&self) -> Option<&GradFlag> {
        self.shown.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norms(v: &[(&str, f32)]) -> Vec<(String, f32)> {
        v.iter().map(|(n, x)| (n.to_string(), *x)).collect()
    }

    #[test]
    fn flags() {
        let healthy = norms(&[("layer0.weight", 0.01), ("layer0.bias", 0.001), ("layer1.weight", 0.1)]);
        assert_eq!(judge(&healthy, 1.0), None);
        let ratio = norms(&[("layer0.weight", 1e-5), ("layer1.weight", 0.1)]);
        assert!(matches!(judge(&ratio, 1.0), Some(GradFlag::Vanishing(_))));
        let tiny = norms(&[("layer0.weight", 1e-8), ("layer0.bias", 1.0)]);
        assert!(matches!(judge(&tiny, 1.0), Some(GradFlag::Vanishing(_))));
        // A bias in front of batch norm gets no gradient by design.
        let bias_before_bn = norms(&[("layer0.weight", 1.0), ("layer0.bias", 1e-9), ("batch_norm.layer0.bias", 0.1)]);
        assert_eq!(judge(&bias_before_bn, 1.0), None);
        let big = norms(&[("layer0.weight", 1e-9), ("layer1.weight", 2e3)]);
        assert!(matches!(judge(&big, 1.0), Some(GradFlag::Exploding(_))));
        let nan = norms(&[("layer0.weight", f32::NAN)]);
        assert!(matches!(judge(&nan, 1.0), Some(GradFlag::Exploding(_))));
    }

    #[test]
    fn warnings_once_per_flag_and_when_it_gets_worse() {
        let vanishing = GradFlag::Vanishing("a".into());
        let exploding = GradFlag::Exploding("b".into());
        assert_eq!(worth_warning(None, Some(&vanishing)), Some(&vanishing));
        assert_eq!(worth_warning(Some(&vanishing), Some(&vanishing)), None);
        assert_eq!(worth_warning(Some(&vanishing), Some(&exploding)), Some(&exploding));
        assert_eq!(worth_warning(Some(&exploding), Some(&vanishing)), None);
        assert_eq!(worth_warning(Some(&exploding), None), None);
    }

    fn watch(w: &mut GradWatch, first_weight: f32) -> Option<GradFlag> {
        w.observe(&norms(&[("layer0.weight", first_weight), ("layer1.weight", 0.1)]))
    }

    #[test]
    fn a_flapping_flag_is_never_said() {
        let mut w = GradWatch::default();
        let warnings = (0..1000).filter_map(|i| watch(&mut w, if i % 3 == 0 { 1e-5 } else { 0.05 })).count();
        assert_eq!(warnings, 0);
        assert_eq!(w.shown(), None);
    }

    #[test]
    fn a_lasting_flag_is_said_once_after_it_settles_and_health_comes_back_quietly() {
        let mut w = GradWatch::default();
        let said = (0..50).filter(|_| watch(&mut w, 1e-5).is_some()).count();
        assert_eq!(said, 1);
        assert!(matches!(w.shown(), Some(GradFlag::Vanishing(_))));
        for _ in 0..SETTLE_STEPS - 1 {
            assert!(watch(&mut w, 0.05).is_none());
            assert!(w.shown().is_some(), "health needs to settle too");
        }
        assert!(watch(&mut w, 0.05).is_none(), "health is not a warning");
        assert_eq!(w.shown(), None);
    }

    #[test]
    fn exploding_is_said_at_once() {
        let mut w = GradWatch::default();
        assert!(matches!(watch(&mut w, f32::NAN), Some(GradFlag::Exploding(_))));
        assert!(watch(&mut w, f32::NAN).is_none());
    }
}
