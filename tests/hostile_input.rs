//! The reproducers of a hostile-user review, each as a test: damaged
//! checkpoints refused naming what is wrong, `resume --set` applied or
//! refused by name, models too large for the machine refused before
//! allocating, and run names that cannot leave the output folder.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{config, run, run_dir, stderr, summary, train};
use traintop::train::checkpoint;

const LAST: &str = "checkpoints/last.safetensors";

/// A finished two-epoch iris run.
fn iris(epochs: u32) -> (tempfile::TempDir, PathBuf) {
    let (t, dir, _) = train("iris.toml", &["--set", &format!("run.epochs={epochs}")]);
    (t, dir)
}

fn resume(dir: &Path, sets: &[&str]) -> std::process::Output {
    let mut args = vec!["resume", dir.to_str().unwrap(), "--headless", "--quiet"];
    for s in sets {
        args.extend(["--set", s]);
    }
    run(&args)
}

fn refused(o: &std::process::Output, wanted: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    for w in wanted {
        assert!(stderr(o).contains(w), "wanted {w:?} in: {}", stderr(o));
    }
}

#[test]
fn a_flipped_byte_in_tensor_data_is_refused_naming_the_tensor() {
    let (_t, dir, _) = train("digits.toml", &["--set", "run.epochs=2"]);
    let last = dir.join(LAST);
    let clean = std::fs::read(&last).unwrap();
    let mut bytes = clean.clone();
    let at = bytes.len() - 5000;
    bytes[at] ^= 0x01;
    std::fs::write(&last, &bytes).unwrap();
    let o = resume(&dir, &["run.epochs=3"]);
    refused(&o, &["last.safetensors", "checksum mismatch", "the file is damaged", "tensor "]);

    // Zeroed data: a whole tensor's bytes cleared.
    let mut zeroed = clean.clone();
    let n = zeroed.len();
    zeroed[n - 64..].fill(0);
    std::fs::write(&last, &zeroed).unwrap();
    refused(&resume(&dir, &["run.epochs=3"]), &["checksum mismatch"]);

    // The untouched file still resumes.
    std::fs::write(&last, &clean).unwrap();
    let o = resume(&dir, &["run.epochs=3"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Rewrites the checkpoint's position (with fresh, valid checksums: an edit
/// made on purpose, not damage).
fn edit_position(last: &Path, edit: impl FnOnce(&mut checkpoint::Position)) {
    let loaded = checkpoint::load(last).unwrap();
    let mut store = traintop::engine::StateStore::new();
    for (name, shape, values) in loaded.states {
        store.insert(&name, shape, values);
    }
    let mut position = loaded.position;
    edit(&mut position);
    checkpoint::save(last, &store, &position).unwrap();
}

#[test]
fn edited_metadata_is_refused() {
    let (_t, dir) = iris(2);
    let last = dir.join(LAST);
    let clean = std::fs::read(&last).unwrap();

    // Edited by hand in the header: the metadata checksum no longer matches.
    let text = String::from_utf8_lossy(&clean).into_owned();
    let lr_at = text.find("\\\"lr\\\":").expect("lr in the metadata");
    let mut bytes = clean.clone();
    bytes[lr_at + 7] = b'9';
    std::fs::write(&last, &bytes).unwrap();
    refused(&resume(&dir, &["run.epochs=3"]), &["metadata does not match its checksum"]);

    // Consistent checksums but an impossible learning rate.
    std::fs::write(&last, &clean).unwrap();
    edit_position(&last, |p| p.lr = -1.0);
    refused(&resume(&dir, &["run.epochs=3"]), &["lr = -1"]);

    // An epoch past the end of the run: no "completed after 0 steps".
    std::fs::write(&last, &clean).unwrap();
    edit_position(&last, |p| p.epoch = 50);
    refused(&resume(&dir, &["run.epochs=3"]), &["step 16 is fewer than 50 epochs"]);
    std::fs::write(&last, &clean).unwrap();
    edit_position(&last, |p| {
        p.epoch = 50;
        p.step = 10_000;
    });
    refused(&resume(&dir, &["run.epochs=3"]), &["run.epochs", "past the run's 3 epochs"]);

    // A finished run resumed without more epochs says how to go on.
    std::fs::write(&last, &clean).unwrap();
    refused(&resume(&dir, &[]), &["completed its 2 epochs", "--set run.epochs=N"]);
}

#[test]
fn a_checkpoint_from_another_run_is_refused() {
    let (_a, plain) = iris(2);
    let (_b, other, _) = train(
        "iris.toml",
        &["--set", "run.epochs=2", "--set", "technique.batch_norm.enabled=true", "--set", "model.hidden=[16]"],
    );
    std::fs::copy(other.join(LAST), plain.join(LAST)).unwrap();
    refused(&resume(&plain, &["run.epochs=3"]), &["belongs to another run"]);
}

#[test]
fn resume_applies_a_new_learning_rate_and_logs_it() {
    let (_t, dir) = iris(2);
    let o = resume(&dir, &["run.epochs=3", "optimizer.lr=0.5"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--set optimizer.lr=0.5 applies from step"), "{}", stderr(&o));
    let metrics = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
    let lrs: Vec<f64> = metrics
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "step")
        .map(|v| v["lr"].as_f64().unwrap())
        .collect();
    assert!((lrs[0] - 0.01).abs() < 1e-6, "the run started at the config's rate: {lrs:?}");
    assert_eq!(lrs.last().copied(), Some(0.5), "and went on at the new one");
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let command = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "override" && v["key"] == "optimizer.lr")
        .unwrap_or_else(|| panic!("no override logged:\n{events}"));
    assert_eq!(command["set"], "optimizer.lr=0.5");
    assert!(command["step"].as_u64().unwrap() > 0);
    assert_eq!(summary(&dir)["epochs_run"], 3);
}

#[test]
fn resume_refuses_what_cannot_change_naming_the_key() {
    let (_t, dir) = iris(1);
    for (set, key) in [
        ("optimizer.kind=sgd", "optimizer.kind"),
        ("model.hidden=[8]", "model.hidden"),
        ("run.seed=99", "run.seed"),
        ("data.validation=0.5", "data.validation"),
    ] {
        let o = resume(&dir, &["run.epochs=2", set]);
        refused(&o, &[&format!("--set {set}: {key}: cannot change when resuming")]);
    }
}

#[test]
fn models_too_large_are_refused_before_allocating() {
    let digits = config("digits.toml");
    let out = tempfile::tempdir().unwrap();
    let go = |set: &str| {
        run(&["run", digits.to_str().unwrap(), "--headless", "--out", out.path().to_str().unwrap(), "--set", set])
    };
    refused(&go("model.hidden=[9223372036854775807]"), &["model.hidden[0]", "above the limit"]);
    refused(&go("model.hidden=[100000000]"), &["model.hidden[0]", "above the limit"]);
    refused(
        &go("model.hidden=[65536, 65536]"),
        &["--set model.hidden=[65536, 65536]: model.hidden", "need about", "available"],
    );
    refused(&go("run.batch_size=18446744073709551615"), &["run.batch_size"]);
    // Nothing was started, so no half-made run folder is left behind.
    assert_eq!(
        std::fs::read_dir(out.path())
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
            .count(),
        0
    );

    let o = run(&["bench", "--batch", "18446744073709551615", "--steps", "1"]);
    refused(&o, &["--batch: must be at most"]);
    let o = run(&["bench", "--layers", "784,65536,65536,10", "--steps", "1", "--optimizer", "adam"]);
    refused(&o, &["need about", "available"]);
}

#[test]
fn run_names_cannot_leave_the_output_folder() {
    let digits = config("digits.toml");
    let out = tempfile::tempdir().unwrap();
    for (name, wanted) in [
        ("../../../tmp/x", "'/' is not allowed"),
        ("/tmp/abs", "'/' is not allowed"),
        ("..", "must not start with '.'"),
        (&"n".repeat(300), "is 300 bytes long, at most 200 allowed"),
    ] {
        let set = format!("run.name={name}");
        let o =
            run(&["run", digits.to_str().unwrap(), "--headless", "--out", out.path().to_str().unwrap(), "--set", &set]);
        refused(&o, &["run.name", wanted]);
    }
    assert_eq!(
        std::fs::read_dir(out.path())
            .unwrap()
            .filter(|e| !e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
            .count(),
        0
    );
    // A safe name makes one folder inside --out.
    let o = run(&[
        "run",
        digits.to_str().unwrap(),
        "--headless",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
        "--set",
        "run.name=ok.name_1",
        "--set",
        "run.epochs=1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(run_dir(out.path()).file_name().unwrap().to_string_lossy().starts_with("ok.name_1-"));
}

/// Settings the data cannot honour point at the config line that set them
/// (the file is fine; the config asks for what it lacks).
#[test]
fn data_settings_the_file_lacks_name_the_config_line() {
    let dir = tempfile::tempdir().unwrap();
    let wine = config("wine.toml");
    let text = std::fs::read_to_string(&wine).unwrap().replace(
        "path = \"../data/wine.csv\"",
        &format!("path = \"{}\"\ntarget = \"nosuch\"", wine.parent().unwrap().join("../data/wine.csv").display()),
    );
    let cfg = dir.path().join("wine.toml");
    std::fs::write(&cfg, &text).unwrap();
    let line = text.lines().position(|l| l.starts_with("target")).unwrap() + 1;
    let out = dir.path().join("out");
    let go = |extra: &[&str]| {
        let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--out", out.to_str().unwrap()];
        args.extend(extra);
        run(&args)
    };
    let at = format!("{}:{line}:", cfg.display());
    refused(&go(&[]), &[&at, "data.target", "no column named \"nosuch\"", "wine.csv"]);
    let o = go(&["--set", "data.target=\"label\"", "--set", "data.categorical=[\"colour\"]"]);
    refused(&o, &["--set data.categorical=[\"colour\"]: data.categorical", "\"colour\", which is not a column"]);
}
