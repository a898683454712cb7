//! What a fork or a start that goes wrong leaves behind: a `fork` the
//! resume refuses leaves no new folder, a `run --detach` that cannot serve
//! leaves no folder, a live fork's branch B holds its folder's lock while
//! the fork lives, and `keep B` without B's folder is refused (the run
//! goes on with the fork, not as "kept b").

mod common;

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use common::cli::{config, run, stderr, train};
use common::served::{records, script, socket, wait_exit, Conn, Place};
use serde_json::json;

/// The folders under `out` (hidden ones aside).
fn folders(out: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> =
        std::fs::read_dir(out).map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect()).unwrap_or_default();
    found.retain(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'));
    found
}

/// Whether some process holds `dir`'s run.lock.
fn locked(dir: &Path) -> bool {
    let file = File::open(dir.join("run.lock")).expect("run.lock");
    matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
}

#[test]
fn a_fork_the_resume_refuses_leaves_no_folder() {
    let (out, parent, _) = train("digits.toml", &["--set", "run.epochs=2"]);
    let args = ["fork", parent.to_str().unwrap(), "--at", "last", "--set", "technique.dropout.rate=5", "--headless"];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("technique.dropout.rate=5"), "{}", stderr(&o));
    assert_eq!(folders(out.path()), vec![parent], "the refused fork's folder is gone");
}

#[test]
fn a_detached_run_that_cannot_serve_leaves_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, "").unwrap();
    let out = tmp.path().join("out");
    let cfg = config("digits.toml");
    let o = common::cli::bin()
        .env("TRAINTOP_SOCKET_DIR", not_a_dir.join("sockets"))
        .args(["run", cfg.to_str().unwrap(), "--detach", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("cannot serve the run"), "{}", stderr(&o));
    assert_eq!(folders(&out), Vec::<PathBuf>::new(), "no empty run folder");
}

#[test]
fn branch_b_is_locked_while_the_fork_lives_and_keep_b_without_its_folder_is_refused() {
    let place = Place::new();
    let mut child = place.start_headless("digits.toml", &["--set", "run.epochs=100000"]);
    let run_dir = place.wait_run();
    let mut conn = Conn::connect(&socket(&run_dir));
    conn.handshake(script("tests"), false);
    conn.wait_for("a step", |e| e["event"] == "step");
    conn.send(&json!({ "from": script("tests"), "command": "fork", "technique": "dropout", "enabled": true }));
    let started = conn.wait_for("the fork", |e| e["event"] == "fork_started");
    let b = PathBuf::from(started["branch_dir"].as_str().unwrap());
    assert!(locked(&b), "branch B's folder is locked by the run that trains it");

    std::fs::remove_dir_all(&b).unwrap();
    conn.send(&json!({ "from": script("tests"), "command": "keep", "branch": "b" }));
    let answer = conn.wait_for("the keep's answer", |e| {
        e["event"] == "rejected" || (e["event"] == "fork_ended" && e["kept"] == "b")
    });
    assert_eq!(answer["event"], "rejected", "keep B without B's folder: {answer}");
    conn.wait_for("a step after it", |e| e["event"] == "step");
    conn.send(&json!({ "from": script("tests"), "command": "stop" }));
    assert_eq!(wait_exit(&mut child), 0, "the run goes on and stops cleanly");
    let kept_b = records(&run_dir, "events.jsonl").into_iter().any(|e| e["event"] == "fork_ended" && e["kept"] == "b");
    assert!(!kept_b, "no \"kept b\" in the event log");
}
