//! `traintop fork RUN --at STEP --set ...`: the fork is an exact continuation
//! (it equals the parent stopped at that step and resumed with the same
//! change, to 1e-6), it is marked as a fork, and steps without a checkpoint
//! are refused naming the ones there are.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{run, run_dir, stderr, summary, train};
use traintop::train::checkpoint;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let dest = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &dest);
        } else {
            std::fs::copy(&path, &dest).unwrap();
        }
    }
}

fn states(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let mut states = checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap().states;
    states.sort_by(|a, b| a.0.cmp(&b.0));
    states.into_iter().map(|(n, _, v)| (n, v)).collect()
}

fn assert_same_states(a: &Path, b: &Path) {
    let (x, y) = (states(a), states(b));
    assert_eq!(x.iter().map(|p| &p.0).collect::<Vec<_>>(), y.iter().map(|p| &p.0).collect::<Vec<_>>());
    for ((name, u), (_, v)) in x.iter().zip(&y) {
        for (i, (p, q)) in u.iter().zip(v).enumerate() {
            assert!((p - q).abs() <= 1e-6 * p.abs().max(1.0), "{name}[{i}]: {p} vs {q}");
        }
    }
}

/// The training losses logged after `step`.
fn losses_after(dir: &Path, step: u64) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["event"] == "step" && v["step"].as_u64().unwrap() > step)
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

/// A fork with `sets`, and the parent's copy resumed with the same `sets`.
fn fork_and_resume(parent: &Path, at: &str, sets: &[&str]) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("forks");
    let mut args = vec!["fork", parent.to_str().unwrap(), "--at", at, "--headless", "--quiet"];
    args.extend(["--out", out.to_str().unwrap()]);
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let fork = run_dir(&out);
    let copy = tmp.path().join("resumed");
    copy_dir(parent, &copy);
    let mut args = vec!["resume", copy.to_str().unwrap(), "--headless", "--quiet"];
    for s in sets {
        args.extend(["--set", s]);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    (tmp, fork, copy)
}

#[test]
fn a_fork_equals_the_parent_stopped_there_and_resumed_with_or_without_the_change() {
    // Dropout draws masks: equality covers the random position too.
    let (_p, parent, _) = train("digits.toml", &["--set", "run.epochs=2", "--set", "technique.dropout.rate=0.2"]);
    let step = checkpoint::load(&parent.join("checkpoints/last.safetensors")).unwrap().position.step;
    for sets in [&["technique.dropout.enabled=true", "run.epochs=4"][..], &["run.epochs=4"][..]] {
        let (_tmp, fork, resumed) = fork_and_resume(&parent, "last", sets);
        assert_eq!(summary(&fork)["epochs_run"], 4, "{sets:?}");
        assert_same_states(&fork, &resumed);
        let (f, r) = (losses_after(&fork, step), losses_after(&resumed, step));
        assert!(!f.is_empty() && f.len() == r.len(), "{sets:?}");
        for ((s, a), (_, b)) in f.iter().zip(&r) {
            assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{sets:?} step {s}: {a} vs {b}");
        }
        // Marked as a fork of the parent at that step.
        let info: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fork.join("fork.json")).unwrap()).unwrap();
        assert_eq!(info["step"], step);
        assert_eq!(info["checkpoint"], "last");
        assert!(info["parent"].as_str().unwrap().ends_with(parent.file_name().unwrap().to_str().unwrap()));
        assert_eq!(info["set"], serde_json::json!(sets));
        let events = std::fs::read_to_string(fork.join("events.jsonl")).unwrap();
        assert!(events.contains(&format!("at step {step} (last checkpoint)")), "{events}");
        assert!(fork.file_name().unwrap().to_str().unwrap().starts_with("digits-fork-"));
    }
    // The same checkpoint named by its step.
    let (_tmp, by_step, resumed) = fork_and_resume(&parent, &step.to_string(), &["run.epochs=3"]);
    assert_same_states(&by_step, &resumed);
}

#[test]
fn a_step_without_a_checkpoint_or_a_change_that_cannot_be_made_is_refused() {
    let (_p, parent, _) = train("iris.toml", &["--set", "run.epochs=2"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().to_str().unwrap();
    let p = parent.to_str().unwrap();
    let o = run(&["fork", p, "--at", "7", "--headless", "--out", out, "--set", "technique.input_norm.enabled=false"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--at 7:") && err.contains("keeps checkpoints at step") && err.contains("(last)"), "{err}");
    let o = run(&["fork", p, "--at", "last", "--headless", "--out", out, "--set", "model.hidden=[3]"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("model.hidden"), "{}", stderr(&o));
    let o = run(&["fork", out, "--at", "last", "--headless"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a run folder"), "{}", stderr(&o));
    assert_eq!(std::fs::read_dir(out).unwrap().count(), 0, "no folder was left behind");
}
