//! What a long run leaves in its folder and what a resume costs: the
//! techniques record is written when the techniques changed, not every
//! epoch, and a resume of a folder with a long history answers at once.

mod common;

use common::cli::train;
use common::served::records;
use serde_json::Value;

/// The `techniques` records of a run folder's events, timestamps dropped.
fn technique_records(run: &std::path::Path) -> Vec<Value> {
    records(run, "events.jsonl")
        .into_iter()
        .filter(|e| e["event"] == "techniques")
        .map(|mut e| {
            e.as_object_mut().unwrap().remove("time");
            e
        })
        .collect()
}

#[test]
fn the_techniques_record_is_written_only_when_something_changed() {
    let (_out, run, _) = train("digits.toml", &["--set", "run.epochs=12", "--set", "technique.dropout.rate=0.2"]);
    let said = technique_records(&run);
    assert!(!said.is_empty(), "the run's start says its techniques");
    for pair in said.windows(2) {
        assert_ne!(pair[0], pair[1], "a techniques record that repeats the one before");
    }
    assert!(said.len() < 12, "{} techniques records over 12 epochs", said.len());
}
