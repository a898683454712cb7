//! A run folder may come from anyone, and loading a plugin runs its code:
//! the commands that read a run folder (`evaluate`, `predict`, `resume`,
//! `fork`) load plugins only from the user's own folders, never from the
//! `[plugins] dirs` a folder's config names, unless `--trust-plugins DIR`
//! says so; `resume --drop-technique NAME` goes on without a technique whose
//! plugin is not there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cli::{bin, config, run_dir, sets, stderr, stdout};
use common::plugins::{fixture, install};

/// A finished iris run as someone might send it: its config names the
/// technique `fixture_marker` (switched off) and `[plugins] dirs =
/// ["plugins"]`, and that folder, inside the run folder, holds the plugin,
/// whose library constructor writes the file `TRAINTOP_FIXTURE_MARKER` names.
fn shipped(tmp: &Path) -> PathBuf {
    let build = tmp.join("build-plugins");
    std::fs::create_dir(&build).unwrap();
    install(&fixture("marker"), &build, "fixture_marker");
    let out = tmp.join("out");
    let iris = config("iris.toml");
    let dirs = format!("plugins.dirs=[{:?}]", build.display().to_string());
    let mut args = vec!["run", iris.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()];
    args.extend(sets(&[&dirs, "technique.fixture_marker.enabled=false", "run.epochs=2"]));
    let o = bin().args(&args).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = run_dir(&out);
    let inside = dir.join("plugins");
    std::fs::create_dir(&inside).unwrap();
    install(&fixture("marker"), &inside, "fixture_marker");
    std::fs::remove_dir_all(&build).unwrap();
    let path = dir.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let quoted = format!("{:?}", build.display().to_string());
    assert!(text.contains(&quoted), "the config names the plugin folder: {text}");
    std::fs::write(&path, text.replace(&quoted, "\"plugins\"")).unwrap();
    dir
}

/// `traintop ARGS` with the marker's file named.
fn go(mark: &Path, args: &[&str]) -> Output {
    bin().args(args).env("TRAINTOP_FIXTURE_MARKER", mark).output().unwrap()
}

#[test]
fn a_plugin_shipped_in_a_run_folder_is_never_loaded_unless_trusted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shipped(tmp.path());
    let d = dir.to_str().unwrap();
    let mark = tmp.path().join("loaded");
    let inside = dir.join("plugins");

    let o = go(&mark, &["evaluate", d]);
    assert!(!mark.exists(), "evaluate ran the run folder's plugin: {}", stderr(&o));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("fixture_marker"), "names the technique: {e}");
    assert!(e.contains(&format!("--trust-plugins {}", inside.display())), "names the remedy: {e}");
    assert!(e.contains("--drop-technique fixture_marker"), "and the other one: {e}");

    let data = common::cli::repo().join("data/iris.csv");
    let o = go(&mark, &["predict", d, "--data", data.to_str().unwrap(), "--out", "-"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!mark.exists(), "predict ran the run folder's plugin");

    let o = go(&mark, &["resume", d, "--headless", "--quiet", "--set", "run.epochs=3"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!mark.exists(), "resume ran the run folder's plugin");
    let o = go(&mark, &["fork", d, "--at", "last", "--headless", "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!mark.exists(), "fork ran the run folder's plugin");

    // Named on the command line, it loads.
    let o = go(&mark, &["evaluate", d, "--trust-plugins", inside.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(mark.exists(), "the trusted folder's plugin was not loaded");
    assert!(stdout(&o).contains("accuracy"), "{}", stdout(&o));
}

#[test]
fn resume_drop_technique_goes_on_without_it_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shipped(tmp.path());
    let d = dir.to_str().unwrap();
    let mark = tmp.path().join("loaded");
    let o = go(&mark, &["resume", d, "--headless", "--quiet", "--set", "run.epochs=3", "--drop-technique", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("no technique `nope`"), "{}", stderr(&o));
    let args = ["resume", d, "--headless", "--quiet", "--set", "run.epochs=3", "--drop-technique", "fixture_marker"];
    let o = go(&mark, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!mark.exists(), "the dropped technique's plugin was loaded");
    assert_eq!(common::cli::summary(&dir)["epochs_run"], 3);
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let note = events
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["event"] == "log" && e["message"].as_str().is_some_and(|m| m.contains("fixture_marker")))
        .unwrap_or_else(|| panic!("the drop is not in events.jsonl: {events}"));
    assert!(note["message"].as_str().unwrap().contains("dropped"), "{note}");
    let last = traintop::train::checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap();
    let names: Vec<&str> =
        last.position.techniques.as_array().unwrap().iter().filter_map(|t| t["name"].as_str()).collect();
    assert!(!names.contains(&"fixture_marker"), "{names:?}");
}

/// After one `resume --drop-technique`, the folder no longer names the
/// technique: plain resumes need neither the flag nor the plugin, and the
/// run keeps its id.
#[test]
fn a_dropped_technique_stays_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = shipped(tmp.path());
    let d = dir.to_str().unwrap();
    let mark = tmp.path().join("loaded");
    let id = traintop::train::run_dir::run_id(&std::fs::read_to_string(dir.join("config.toml")).unwrap());
    let args = ["resume", d, "--headless", "--quiet", "--set", "run.epochs=3", "--drop-technique", "fixture_marker"];
    let o = go(&mark, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = go(&mark, &["resume", d, "--headless", "--quiet", "--set", "run.epochs=4"]);
    assert!(o.status.success(), "a plain resume after the drop: {}", stderr(&o));
    assert!(!mark.exists(), "the dropped technique's plugin was loaded");
    assert_eq!(common::cli::summary(&dir)["epochs_run"], 4);
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(!config.contains("fixture_marker"), "{config}");
    assert_eq!(traintop::train::run_dir::run_id(&config), id, "the run keeps its id");
}
