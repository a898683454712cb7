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
