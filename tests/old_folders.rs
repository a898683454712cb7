//! Run folders written by older traintops still resume, or say how: one
//! written before float settings were checked against f32's range, whose
//! config says `lr = inf` and whose checkpoint stores the rate as `null`,
//! is refused naming the field and the remedy, and `--set optimizer.lr=...`
//! rescues it.

mod common;

use std::path::Path;

use common::cli::{run, stderr, train};
use traintop::engine::StateStore;
use traintop::train::checkpoint;

/// Makes `dir` what a run with `lr = inf` left before the range check: the
/// config names it and the checkpoint's metadata holds `"lr": null`.
fn as_written_with_an_infinite_rate(dir: &Path) {
    let config = dir.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text.lines().find(|l| l.starts_with("lr = ")).expect("an lr line").to_string();
    std::fs::write(&config, text.replace(&line, "lr = inf")).unwrap();
    let last = dir.join("checkpoints/last.safetensors");
    let loaded = checkpoint::load(&last).unwrap();
    let mut store = StateStore::new();
    for (name, shape, values) in loaded.states {
        store.insert(&name, shape, values);
    }
    let mut position = loaded.position;
    position.lr = f32::INFINITY;
    checkpoint::save(&last, &store, &position).unwrap();
}

#[test]
fn a_folder_with_an_infinite_rate_resumes_with_a_new_rate() {
    let (_out, dir, _) = train("digits.toml", &["--set", "run.epochs=1"]);
    as_written_with_an_infinite_rate(&dir);
    let d = dir.to_str().unwrap();
    let o = run(&["resume", d, "--headless", "--quiet", "--set", "run.epochs=2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("optimizer.lr"), "names the field: {e}");
    assert!(e.contains("--set optimizer.lr="), "names the remedy: {e}");

    let o = run(&["resume", d, "--headless", "--quiet", "--set", "run.epochs=2", "--set", "optimizer.lr=0.001"]);
    assert!(o.status.success(), "the override rescues it: {}", stderr(&o));
    assert_eq!(common::cli::summary(&dir)["epochs_run"], 2);
    assert_eq!(checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap().position.lr, 0.001);
}

#[test]
fn a_folder_with_an_infinite_rate_forks_with_a_new_rate() {
    let (out, dir, _) = train("digits.toml", &["--set", "run.epochs=1"]);
    as_written_with_an_infinite_rate(&dir);
    let d = dir.to_str().unwrap();
    let fork = |extra: &[&str]| {
        let args = ["fork", d, "--at", "last", "--headless", "--quiet", "--set", "run.epochs=2"];
        run(&[&args[..], extra].concat())
    };
    let o = fork(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--set optimizer.lr="), "names the remedy: {}", stderr(&o));

    let o = fork(&["--set", "optimizer.lr=0.001"]);
    assert!(o.status.success(), "the override rescues it: {}", stderr(&o));
    let forked = std::fs::read_dir(out.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir() && p != &dir && p.file_name().unwrap().to_string_lossy().contains("fork"))
        .expect("the fork's folder");
    assert_eq!(common::cli::summary(&forked)["stop_reason"], "completed");
    assert_eq!(checkpoint::load(&forked.join("checkpoints/last.safetensors")).unwrap().position.lr, 0.001);
}
