//! Divergence after steering, with the real binary over its socket: a live
//! fork and a keep start the divergence rule's warm-up over, as a toggle
//! does, so a converged run whose loss moves to a new level on purpose is
//! not judged diverged; a rollback keeps the steering changes made since
//! its snapshot unless they caused the blow-up, and says which.

mod common;

use common::served::{records, script, socket, wait_exit, Conn, Place};
use serde_json::{json, Value};

/// Deep sigmoid with batch norm: converges to a low loss within a few epochs,
/// and dropout switched on then moves it far above that best.
const CONVERGING: &[&str] =
    &["--set", "run.epochs=20000", "--set", "technique.batch_norm.enabled=true", "--set", "run.log_every=1"];

/// Waits for a step record at or past `step`.
fn wait_step(conn: &mut Conn, step: u64) -> Value {
    conn.wait_for(&format!("step {step}"), |e| e["event"] == "step" && e["step"].as_u64() >= Some(step))
}

fn command(conn: &mut Conn, body: Value) {
    let mut request = json!({ "from": script("tests") });
    request.as_object_mut().unwrap().extend(body.as_object().unwrap().clone());
    conn.send(&request);
}

/// The `diverged` records of a run folder.
fn divergences(run: &std::path::Path) -> Vec<Value> {
    records(run, "events.jsonl").into_iter().filter(|e| e["event"] == "diverged").collect()
}

#[test]
fn a_fork_and_a_keep_restart_the_warm_up_on_a_converged_run() {
    let place = Place::new();
    let mut child = place.start_headless("deep-sigmoid.toml", CONVERGING);
    let run = place.wait_run();
    let mut conn = Conn::connect(&socket(&run));
    conn.handshake(script("tests"), false);
    // Converged: well past the first epochs' fall.
    wait_step(&mut conn, 1500);
    command(&mut conn, json!({ "command": "fork", "technique": "dropout", "enabled": true }));
    conn.wait_for("the fork", |e| e["event"] == "fork_started");
    let at = wait_step(&mut conn, 0)["step"].as_u64().unwrap();
    command(&mut conn, json!({ "command": "keep", "branch": "a" }));
    conn.wait_for("the keep", |e| e["event"] == "fork_ended");
    // Well past the warm-up: the new level is judged against itself.
    wait_step(&mut conn, at + 300);
    command(&mut conn, json!({ "command": "stop" }));
    assert_eq!(wait_exit(&mut child), 0, "a run that steered is stopped by the user, not diverged");
    assert_eq!(common::cli::summary(&run)["stop_reason"], "user");
    assert!(divergences(&run).is_empty(), "{:?}", divergences(&run));
}

/// The latest `techniques` record's switch for `name`.
fn enabled(run: &std::path::Path, name: &str) -> Option<bool> {
    let said = records(run, "events.jsonl").into_iter().rev().find(|e| e["event"] == "techniques")?;
    said["techniques"].as_array()?.iter().find(|t| t["name"] == name)?["enabled"].as_bool()
}

#[test]
fn a_rollback_keeps_the_fix_made_at_the_banner_and_undoes_a_raised_rate() {
    let place = Place::new();
    let sets = [
        "optimizer.kind=sgd",
        "optimizer.lr=4",
        "run.epochs=100",
        "run.on_divergence=pause",
        "technique.grad_clip.enabled=false",
    ];
    let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", *s]).collect();
    let mut child = place.start_headless("spirals.toml", &args);
    let run = place.wait_run();
    let mut conn = Conn::connect(&socket(&run));
    conn.handshake(script("tests"), false);
    let first = conn.wait_for("the first rollback", |e| e["event"] == "rolled_back");
    assert_eq!(first["paused"], true, "{first}");
    // At the banner: grad_clip on (the fix), then a rate far too high.
    command(&mut conn, json!({ "command": "toggle", "technique": "grad_clip", "enabled": true }));
    command(&mut conn, json!({ "command": "set_learning_rate", "lr": 1e6 }));
    command(&mut conn, json!({ "command": "resume" }));
    // Said as the state is put back, before the rollback's own record.
    let said = conn.wait_for("what the rollback kept", |e| {
        e["event"] == "log" && e["message"].as_str().is_some_and(|m| m.starts_with("rollback kept"))
    });
    let message = said["message"].as_str().unwrap();
    assert!(message.contains("kept the steering changes grad_clip"), "{message}");
    assert!(message.contains("undid lr 4 -> 1000000"), "{message}");
    let second = conn.wait_for("the second rollback", |e| e["event"] == "rolled_back");
    assert_eq!(second["lr"], 4.0, "the raised rate is undone: {second}");
    command(&mut conn, json!({ "command": "stop" }));
    assert_eq!(wait_exit(&mut child), 0);
    assert_eq!(enabled(&run, "grad_clip"), Some(true), "the rollback kept grad_clip on");
}
