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

/// The resumed server's peak memory (VmHWM, KiB), read once it trains.
fn resumed_peak_kib(place: &common::served::Place, run: &std::path::Path) -> u64 {
    use common::served::{poll, wait_exit};
    let before = std::fs::metadata(run.join("metrics.jsonl")).unwrap().len();
    let mut child = place
        .bin()
        .args(["resume", run.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=100000"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Training again: the history has been served into the fan-out.
    poll("the resumed run's steps", || {
        (std::fs::metadata(run.join("metrics.jsonl")).ok()?.len() > before + 10_000).then_some(())
    });
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
    let kib = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    common::procs::signal(child.id(), "TERM");
    wait_exit(&mut child);
    kib
}

#[test]
fn a_resume_streams_a_long_history_instead_of_loading_it() {
    let place = common::served::Place::new();
    let out = place.out();
    let cfg = common::cli::config("digits.toml");
    let o = common::cli::run(&[
        "run",
        cfg.to_str().unwrap(),
        "--headless",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "run.epochs=1",
    ]);
    assert!(o.status.success(), "{}", common::cli::stderr(&o));
    let run = common::cli::run_dir(&out);
    let small = resumed_peak_kib(&place, &run);
    // About 150 MB of step records, as a long run leaves.
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let step = metrics.lines().find(|l| l.contains("\"event\":\"step\"")).expect("a step record").to_string();
    let mut long = String::with_capacity(150 << 20);
    while long.len() < 150 << 20 {
        long.push_str(&step);
        long.push('\n');
    }
    long.push_str(&metrics);
    std::fs::write(run.join("metrics.jsonl"), long).unwrap();
    let large = resumed_peak_kib(&place, &run);
    eprintln!("peak: {small} KiB short, {large} KiB long");
    assert!(large < small + 64 * 1024, "peak {large} KiB over a 150 MB history, {small} KiB over a short one");
}
