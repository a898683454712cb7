//! End-to-end runs of the real binary: shipped configs, bad input, run folders,
//! resume, checkpoints under kill, and signals.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cli::{bin, config, repo, run, run_dir, sets, stderr, stdout, summary, train};
use traintop::train::checkpoint;

#[test]
fn digits_reaches_095_validation_accuracy() {
    let (_tmp, dir, out) = train("digits.toml", &[]);
    let s = summary(&dir);
    let acc = s["final_val_acc"].as_f64().unwrap();
    assert!(acc >= 0.95, "val_acc {acc}\n{}", stdout(&out));
    assert!(stdout(&out).contains("val_loss="), "progress lines name val_loss");
}

#[test]
fn every_shipped_config_runs_and_writes_a_complete_summary() {
    for entry in std::fs::read_dir(repo().join("configs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        // The demo is long by design (tests/demo.rs checks its story).
        let extra: &[&str] = if name == "demo.toml" { &["--set", "run.epochs=2"] } else { &[] };
        let (_tmp, dir, _) = train(&name, extra);
        let s = summary(&dir);
        for key in [
            "stop_reason",
            "epochs_run",
            "best_epoch",
            "best_val_loss",
            "final_val_loss",
            "final_val_acc",
            "samples_per_sec",
        ] {
            assert!(!s[key].is_null(), "{name}: summary.json lacks {key}: {s}");
        }
        for file in [
            "config.toml",
            "metrics.jsonl",
            "events.jsonl",
            "checkpoints/last.safetensors",
            "checkpoints/best.safetensors",
        ] {
            assert!(dir.join(file).exists(), "{name}: missing {file}");
        }
    }
}

#[test]
fn bench_prints_json_with_samples_per_sec() {
    let o = run(&["bench", "--layers", "784,256,10", "--batch", "128", "--steps", "20", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(v["samples_per_sec"].as_f64().unwrap() > 0.0);
}

#[test]
fn invalid_configs_fail_with_their_message_and_exit_2() {
    let fixtures = repo().join("tests/fixtures/bad_configs");
    let expected = std::fs::read_to_string(fixtures.join("EXPECTED.txt")).unwrap();
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#') && l.contains(" => ")) {
        let (file, substring) = line.split_once(" => ").unwrap();
        let o = run(&["run", fixtures.join(file).to_str().unwrap(), "--headless"]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        assert!(stderr(&o).contains(substring), "{file}: expected {substring:?} in {}", stderr(&o));
        checked += 1;
    }
    assert!(checked >= 8);
}

#[test]
fn missing_config_and_bad_overrides_exit_2() {
    let o = run(&["run", "no/such/config.toml", "--headless"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no/such/config.toml"), "{}", stderr(&o));
    let digits = config("digits.toml");
    for (set, field) in [
        ("model.hidden=[64,0]", "model.hidden[1]"),
        ("model.activation=gelu", "model.activation"),
        ("run.epochs=abc", "run.epochs"),
    ] {
        let o = run(&["run", digits.to_str().unwrap(), "--headless", "--set", set]);
        assert_eq!(o.status.code(), Some(2), "{set}");
        assert!(stderr(&o).contains(field), "{set}: {}", stderr(&o));
    }
}

#[test]
fn csv_with_a_bad_row_names_its_line() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("bad.csv");
    std::fs::write(&csv, "a,b,label\n1,2,0\n3,oops,1\n").unwrap();
    let cfg = tmp.path().join("bad.toml");
    std::fs::write(&cfg, "[data]\npath = \"bad.csv\"\n").unwrap();
    let o = run(&["run", cfg.to_str().unwrap(), "--headless", "--out", tmp.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.csv:3"), "{}", stderr(&o));
}

fn read_params(dir: &Path) -> Vec<(String, Vec<f32>)> {
    let mut states = checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap().states;
    states.sort_by(|a, b| a.0.cmp(&b.0));
    states.into_iter().map(|(n, _, v)| (n, v)).collect()
}

#[test]
fn stopped_and_resumed_run_equals_uninterrupted_run() {
    // Dropout draws masks too, so equivalence covers the random stream.
    let extra =
        ["--set", "run.epochs=4", "--set", "technique.dropout.enabled=true", "--set", "technique.dropout.rate=0.2"];
    let (_a, straight, _) = train("digits.toml", &extra);
    let (_b, stopped, _) = train(
        "digits.toml",
        &["--set", "run.epochs=2", "--set", "technique.dropout.enabled=true", "--set", "technique.dropout.rate=0.2"],
    );
    assert_eq!(summary(&stopped)["epochs_run"], 2);
    let o = run(&["resume", stopped.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&stopped)["epochs_run"], 4);
    let (a, b) = (read_params(&straight), read_params(&stopped));
    assert_eq!(a.iter().map(|p| &p.0).collect::<Vec<_>>(), b.iter().map(|p| &p.0).collect::<Vec<_>>());
    for ((name, x), (_, y)) in a.iter().zip(&b) {
        for (i, (u, v)) in x.iter().zip(y).enumerate() {
            assert!((u - v).abs() <= 1e-5 * u.abs().max(1.0), "{name}[{i}]: {u} vs {v}");
        }
    }
}

#[test]
fn corrupt_or_truncated_checkpoint_is_refused() {
    let (_t, dir, _) = train("iris.toml", &["--set", "run.epochs=2"]);
    let last = dir.join("checkpoints/last.safetensors");
    let bytes = std::fs::read(&last).unwrap();
    std::fs::write(&last, &bytes[..bytes.len() / 2]).unwrap();
    let o = run(&["resume", dir.to_str().unwrap(), "--headless"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("last.safetensors") && stderr(&o).contains("not a valid traintop checkpoint"),
        "{}",
        stderr(&o)
    );
    std::fs::write(&last, b"garbage").unwrap();
    let o = run(&["resume", dir.to_str().unwrap(), "--headless"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_checkpoint_that_does_not_fit_the_config_is_refused() {
    let (_t, dir, _) = train("iris.toml", &["--set", "run.epochs=1"]);
    let resume =
        |set: &str| run(&["resume", dir.to_str().unwrap(), "--headless", "--set", "run.epochs=2", "--set", set]);
    for (set, key) in [
        ("model.hidden=[8]", "model.hidden"),
        ("optimizer.kind=momentum", "optimizer.kind"),
        ("run.seed=99", "run.seed"),
    ] {
        let o = resume(set);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains(&format!("--set {set}: {key}: cannot change when resuming")), "{}", stderr(&o));
    }
    // Tensors of another shape, found even when the config was edited by hand.
    let cfg = dir.join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("hidden = [16]", "hidden = [8]")).unwrap();
    let o = run(&["resume", dir.to_str().unwrap(), "--headless", "--set", "run.epochs=2"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("`layer0.bias` has shape [16]") && stderr(&o).contains("expects [8]"),
        "{}",
        stderr(&o)
    );
}

/// Waits until `f` holds or the deadline passes.
fn wait_for(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn long_run(out: &Path) -> std::process::Child {
    bin()
        .args([
            "run",
            config("digits.toml").to_str().unwrap(),
            "--headless",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--set",
            "run.epochs=100000",
            // A checkpoint at every epoch end, as the tests below need.
            "--set",
            "run.checkpoint_secs=0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn kill_during_checkpointing_leaves_a_loadable_checkpoint() {
    // Every epoch rewrites `last`; SIGKILL lands at arbitrary points of that,
    // and the file at the final path must always be a whole checkpoint.
    for attempt in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let mut child = long_run(tmp.path());
        let last = || {
            std::fs::read_dir(tmp.path())
                .ok()
                .and_then(|mut d| d.find_map(|e| e.ok()))
                .map(|e| e.path().join("checkpoints/last.safetensors"))
        };
        assert!(wait_for(Duration::from_secs(30), || last().is_some_and(|p| p.exists())), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(37 * attempt + 5));
        child.kill().unwrap();
        child.wait().unwrap();
        let loaded = checkpoint::load(&last().unwrap());
        assert!(loaded.is_ok(), "attempt {attempt}: {:?}", loaded.err());
    }
}

#[test]
fn sigint_stops_gracefully_with_summary_and_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let child = long_run(tmp.path());
    let pid = child.id();
    let has_epoch = || {
        std::fs::read_dir(tmp.path())
            .ok()
            .and_then(|mut d| d.find_map(|e| e.ok()))
            .is_some_and(|e| e.path().join("checkpoints/last.safetensors").exists())
    };
    assert!(wait_for(Duration::from_secs(30), has_epoch));
    let status = std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let dir = run_dir(tmp.path());
    assert_eq!(summary(&dir)["stop_reason"], "user");
    assert!(checkpoint::load(&dir.join("checkpoints/last.safetensors")).is_ok());
}

#[test]
fn early_stopping_counts_patience_across_a_resume() {
    let (_a, straight, _) = train("early-stopping.toml", &[]);
    let (_b, stopped, _) = train("early-stopping.toml", &["--set", "run.epochs=8"]);
    assert_eq!(summary(&stopped)["epochs_run"], 8);
    let o = run(&["resume", stopped.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=300"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (summary(&straight), summary(&stopped));
    assert_eq!(a["stop_reason"], "early_stopping");
    assert_eq!(b["stop_reason"], "early_stopping");
    assert_eq!(a["epochs_run"], b["epochs_run"], "patience went on where it stopped");
    assert_eq!(a["best_epoch"], b["best_epoch"]);
    let (pa, pb) = (read_params(&straight), read_params(&stopped));
    for ((name, x), (_, y)) in pa.iter().zip(&pb) {
        for (u, v) in x.iter().zip(y) {
            assert!((u - v).abs() <= 1e-5 * u.abs().max(1.0) || (u.is_nan() && v.is_nan()), "{name}: {u} vs {v}");
        }
    }
}

/// With checkpoints on a long interval, none is written while training, and
/// the stop at the end writes both: `last` at the end, `best` as it was at
/// the best epoch (kept in memory until then).
#[test]
fn checkpoints_on_an_interval_are_written_at_the_stop() {
    let (_t, dir, _) = train("digits.toml", &sets(&["run.epochs=4", "run.checkpoint_secs=3600"]));
    let s = summary(&dir);
    let last = checkpoint::load(&dir.join("checkpoints/last.safetensors")).unwrap();
    assert_eq!(last.position.epoch, 4);
    let best = checkpoint::load(&dir.join("checkpoints/best.safetensors")).unwrap();
    assert_eq!(best.position.best_epoch.map(|e| e as u64), s["best_epoch"].as_u64());
    assert_eq!(Some(best.position.epoch), best.position.best_epoch, "best holds its own epoch's weights");
}
