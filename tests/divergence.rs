//! Divergence end to end with the real binary: a finite blow-up and a NaN
//! are caught, a diverged run exits 3 and leaves a finite `last` that
//! resumes, `on_divergence = "rollback"` recovers with a halved rate, and
//! the dashboard (under tmux) pauses at a banner whose keys fix the run.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::cli::{config, run, run_dir, sets, stderr, stdout, summary};
use common::served::records;
use traintop::train::checkpoint;

/// Runs `config_name` headless with `--set`s into a fresh folder, whatever
/// its exit code.
fn train_any(config_name: &str, keys: &[&str]) -> (tempfile::TempDir, PathBuf, Output) {
    let out = tempfile::tempdir().unwrap();
    let cfg = config(config_name);
    let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.path().to_str().unwrap()];
    args.extend(sets(keys));
    let o = run(&args);
    let dir = run_dir(out.path());
    (out, dir, o)
}

/// A diverged run: exit 3, `diverged` in the summary, the cause in the
/// error, and a `last` that loads (checksums, finite values) at the step
/// the summary names.
fn assert_diverged(dir: &Path, o: &Output) -> serde_json::Value {
    assert_eq!(o.status.code(), Some(3), "{}\n{}", stderr(o), stdout(o));
    let s = summary(dir);
    assert_eq!(s["stop_reason"], "diverged", "{s}");
    assert!(stderr(o).contains("the run diverged at step"), "{}", stderr(o));
    let last = checkpoint::load(&dir.join("checkpoints/last.safetensors")).expect("a finite, valid last");
    assert!(last.states.iter().all(|(_, _, v)| v.iter().all(|x| x.is_finite())));
    assert_eq!(Some(last.position.step), s["steps"].as_u64(), "last holds the state the summary describes");
    assert!(last.position.step < s["diverged_at"].as_u64().unwrap(), "{s}");
    s
}

fn resume(dir: &Path, keys: &[&str]) -> Output {
    let mut args = vec!["resume", dir.to_str().unwrap(), "--headless", "--quiet"];
    args.extend(sets(keys));
    run(&args)
}

#[test]
fn a_finite_blow_up_is_caught_and_the_run_resumes_from_a_finite_last() {
    // lr = 1000 trained to a finite val_loss of 1.5e12 and "completed" before.
    let (_t, dir, o) = train_any("digits.toml", &["optimizer.kind=sgd", "optimizer.lr=1000", "run.epochs=3"]);
    let s = assert_diverged(&dir, &o);
    assert!(s["divergence"].as_str().unwrap().contains("smoothed loss"), "{s}");
    let events = records(&dir, "events.jsonl");
    let diverged = events.iter().find(|e| e["event"] == "diverged").expect("a diverged event");
    assert!(diverged["loss"].as_f64().is_some_and(f64::is_finite), "a finite blow-up: {diverged}");

    let o = resume(&dir, &["optimizer.lr=0.05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir);
    assert_eq!(s["stop_reason"], "completed");
    assert!(s["final_val_acc"].as_f64().unwrap() > 0.5, "{s}");
}

#[test]
fn a_nan_exits_non_zero_and_writes_a_finite_last() {
    // lr = 1e30 was caught at step 2 before, but exited 0 with no checkpoint.
    let (_t, dir, o) = train_any("digits.toml", &["optimizer.lr=1e30", "run.epochs=2"]);
    let s = assert_diverged(&dir, &o);
    assert_eq!((s["diverged_at"].as_u64(), s["divergence"].as_str()), (Some(2), Some("loss is NaN")));
    assert_eq!(s["steps"], 0, "before the first checkpoint, `last` is the starting state");
}

#[test]
fn rollback_halves_the_rate_logs_each_attempt_and_completes() {
    let keys = ["optimizer.kind=sgd", "optimizer.lr=4", "run.epochs=4", "run.on_divergence=rollback"];
    let (_t, dir, o) = train_any("spirals.toml", &keys);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = summary(&dir);
    assert_eq!(s["stop_reason"], "completed", "{s}");
    let events = records(&dir, "events.jsonl");
    let rollbacks: Vec<_> = events.iter().filter(|e| e["event"] == "rolled_back").collect();
    let rates: Vec<f64> = rollbacks.iter().map(|e| e["lr"].as_f64().unwrap()).collect();
    assert_eq!(rates, [2.0, 1.0], "each attempt halves the rate: {rollbacks:?}");
    assert_eq!(s["rollbacks"], 2);
    for (i, e) in rollbacks.iter().enumerate() {
        assert_eq!(e["attempt"], i + 1);
        assert_eq!(e["paused"], false);
        assert!(e["to_step"].as_u64() < e["step"].as_u64(), "{e}");
    }
    assert_eq!(events.iter().filter(|e| e["event"] == "diverged").count(), 2);
    assert!(s["final_val_acc"].as_f64().unwrap() > 0.6, "recovered: {s}");
    let metrics = records(&dir, "metrics.jsonl");
    let last_step = metrics.iter().rev().find(|m| m["event"] == "step").unwrap();
    assert_eq!(last_step["lr"], 1.0, "it trains on with the halved rate");
}

#[test]
fn rollback_stops_as_diverged_beyond_its_limit() {
    let keys = ["optimizer.kind=sgd", "optimizer.lr=4", "run.epochs=4", "run.on_divergence=rollback"];
    let (_t, dir, o) = train_any("spirals.toml", &[&keys[..], &["run.max_rollbacks=1"]].concat());
    let s = assert_diverged(&dir, &o);
    assert_eq!(s["rollbacks"], 1, "{s}");
}

/// In a real terminal (tmux): the dashboard's run pauses at each divergence
/// with the banner; `h` halves the rate and resumes, `g` switches grad_clip
/// on and resumes, and the run completes.
#[test]
fn the_dashboard_pauses_at_the_banner_and_its_keys_fix_the_run() {
    use common::tmux::{self, shell_quote, Tmux};
    use std::time::Duration;
    if !tmux::available() {
        eprintln!("skipping: tmux is not installed");
        return;
    }
    common::plugins::plugin_path("grad_clip");
    const TIMEOUT: Duration = Duration::from_secs(30);
    let q = |p: &Path| shell_quote(p.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let (out, exit_file) = (tmp.path().join("out"), tmp.path().join("exit_code"));
    let command = format!(
        "env -u TRAINTOP_PLUGIN_PATH NO_COLOR=1 {bin} run {cfg} --out {out} --set optimizer.kind=sgd \
         --set optimizer.lr=4 --set run.epochs=4; echo $? >{exit}",
        bin = q(Path::new(env!("CARGO_BIN_EXE_traintop"))),
        cfg = q(&config("spirals.toml")),
        out = q(&out),
        exit = q(&exit_file),
    );
    let term = Tmux::start(100, 30, &command);
    let screen = term.wait_until("the banner", TIMEOUT, |s| s.contains("diverged at step 21: back at step 0, paused"));
    assert!(screen.contains("h  halve the learning rate (4.00 -> 2.00) and resume"), "{screen}");
    assert!(screen.contains("g  switch grad_clip on and resume") && screen.contains("[paused]"), "{screen}");
    term.send_keys(&["h"]);
    // Rate 2 trains a while, diverges again, and goes back to the snapshot
    // taken at step 100.
    term.wait_until("the second banner", TIMEOUT, |s| s.contains("(2.00 -> 1.00)") && s.contains("back at step 100"));
    term.send_keys(&["g"]);
    term.wait_until("the run to complete", TIMEOUT, |s| s.contains("[finished: completed]"));
    term.send_keys(&["q"]);
    let code =
        tmux::poll("the exit code", TIMEOUT, || std::fs::read_to_string(&exit_file).ok().filter(|s| s.ends_with('\n')));
    assert_eq!(code.trim(), "0");
    let dir = run_dir(&out);
    let events = records(&dir, "events.jsonl");
    let accepted: Vec<_> =
        events.iter().filter(|e| e["event"] == "accepted" && e["from"]["kind"] == "dashboard").collect();
    let commands: Vec<(&str, u64)> =
        accepted.iter().map(|e| (e["command"].as_str().unwrap(), e["step"].as_u64().unwrap())).collect();
    assert_eq!(
        commands,
        [("set_learning_rate", 0), ("resume", 0), ("toggle", 100), ("resume", 100)],
        "each fix, then resume, at the rolled-back step"
    );
    assert_eq!(accepted[0]["lr"], 2.0);
    assert_eq!(accepted[2]["technique"], "grad_clip");
    let paused: Vec<_> = events.iter().filter(|e| e["event"] == "rolled_back").map(|e| e["paused"].clone()).collect();
    assert_eq!(paused, [true, true]);
    assert_eq!(summary(&dir)["stop_reason"], "completed");
}

/// A rollback to a state taken before a technique was switched or retuned
/// puts the technique's settings back too, and says the graphs need a
/// rebuild when a switch changed.
#[test]
fn a_rollback_puts_the_techniques_settings_back() {
    use traintop::engine::StateStore;
    use traintop::train::techniques;
    let mut host = common::plugins::host_with("dropout", &[("rate", "0.2")], 3);
    let mut store = StateStore::new();
    let good = techniques::snapshot(&host);
    assert_eq!(techniques::reapply(&mut host, &good, &mut store), Ok(false), "nothing changed: no rebuild");
    host.set_enabled("dropout", false, &mut store).unwrap();
    host.set_param("dropout", "rate", "0.5").unwrap();
    assert_eq!(techniques::reapply(&mut host, &good, &mut store), Ok(true));
    assert!(host.is_active("dropout"));
    assert_eq!(host.param("dropout", "rate").as_deref(), Some("0.2"));
    assert_eq!(techniques::snapshot(&host), good);
}
