//! Steering changes since the last good state, and which of them a
//! rollback keeps. A rollback puts back the good state's weights; the
//! changes a person made since (a technique switched, a parameter set, the
//! learning rate) are kept on those weights, unless they caused the
//! blow-up. The rule for "caused", judged at the divergence:
//!
//! - a raised learning rate is undone (back to the rate before the raise);
//!   a lowered one is kept, since it cannot cause a blow-up;
//! - the last change before the blow-up, when it is a technique's switch or
//!   parameter, is undone when it came within two
//!   warm-ups (`run.divergence_warmup`) of it, since the rule cannot judge a
//!   new level before one warm-up has passed, so a blow-up a change caused
//!   shows from then on; unless it was made in answer to a divergence (after
//!   a rollback to this same good state, e.g. `g` at the dashboard's
//!   banner), since a fix being tried is not the cause;
//! - every other change is kept.
//!
//! The event log says which were kept and which undone. A live fork and
//! its keep start from a new good state (`live_fork.rs`), so a rollback
//! never reaches back past them.

use std::fmt;

/// One steering change.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Steer {
    pub step: u64,
    pub what: Steered,
    /// Made after a rollback to the same good state: a fix being tried.
    pub answer: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) enum Steered {
    Lr {
        from: f32,
        to: f32,
    },
    /// A switch or a parameter of this technique.
    Technique(String),
}

impl fmt::Display for Steer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.what {
            Steered::Lr { from, to } => write!(f, "lr {from} -> {to} (step {})", self.step),
            Steered::Technique(name) => write!(f, "{name} (step {})", self.step),
        }
    }
}

/// Which of `changes` (oldest first) caused a blow-up at step `at`: true
/// for each to undo.
pub(super) fn blamed(changes: &[Steer], at: u64, warmup: u64) -> Vec<bool> {
    let last = changes.len().checked_sub(1);
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let recent = Some(i) == last && at.saturating_sub(c.step) <= 2 * warmup && !c.answer;
            match c.what {
                Steered::Lr { from, to } => to > from,
                Steered::Technique(_) => recent,
            }
        })
        .collect()
}

/// The techniques' settings to go on with: the good state's, with each
/// kept technique's as it is now.
pub(super) fn settings(good: &serde_json::Value, now: &serde_json::Value, kept: &[&str]) -> serde_json::Value {
    let mut merged = good.clone();
    for entry in merged.as_array_mut().into_iter().flatten() {
        let name = entry["name"].as_str().unwrap_or_default().to_string();
        if kept.contains(&name.as_str()) {
            if let Some(current) = now.as_array().into_iter().flatten().find(|e| e["name"] == name.as_str()) {
                *entry = current.clone();
            }
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lr(step: u64, from: f32, to: f32) -> Steer {
        Steer { step, what: Steered::Lr { from, to }, answer: false }
    }

    fn switch(step: u64, name: &str, answer: bool) -> Steer {
        Steer { step, what: Steered::Technique(name.into()), answer }
    }

    #[test]
    fn a_raised_rate_and_a_recent_last_change_are_blamed() {
        let changes = [lr(100, 0.1, 1.0), switch(110, "dropout", false), switch(150, "l2", false)];
        assert_eq!(blamed(&changes, 160, 20), [true, false, true]);
        assert_eq!(blamed(&changes, 500, 20), [true, false, false], "long before the blow-up: kept");
        assert_eq!(blamed(&[lr(100, 1.0, 0.1)], 101, 20), [false], "a lowered rate is a fix");
    }

    #[test]
    fn a_change_made_in_answer_to_a_divergence_is_kept() {
        assert_eq!(blamed(&[switch(200, "grad_clip", true)], 205, 20), [false]);
    }

    #[test]
    fn kept_techniques_take_their_current_settings() {
        let good = serde_json::json!([{ "name": "a", "enabled": false }, { "name": "b", "enabled": false }]);
        let now = serde_json::json!([{ "name": "a", "enabled": true }, { "name": "b", "enabled": true }]);
        let merged = settings(&good, &now, &["a"]);
        assert_eq!(merged, serde_json::json!([{ "name": "a", "enabled": true }, { "name": "b", "enabled": false }]));
    }
}
