//! A headless run whose stdout nobody reads (a stalled ssh session, a pipe
//! into a paused program) still trains to its end: progress lines are
//! dropped and counted, never steps.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::cli::{bin, config, run_dir, summary};

#[test]
fn a_run_whose_stdout_is_never_read_still_finishes() {
    let out = tempfile::tempdir().unwrap();
    // 8 steps an epoch, a line each: some 4000 lines, far over a pipe's
    // 64 KiB buffer.
    let mut child = bin()
        .args(["run", config("iris.toml").to_str().unwrap(), "--headless", "--out", out.path().to_str().unwrap()])
        .args(["--set", "run.epochs=500", "--set", "run.log_every=1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The pipe is held open and never read.
    let _unread = child.stdout.take();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > Duration::from_secs(120) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    let dir = run_dir(out.path());
    assert!(
        dir.join("summary.json").exists(),
        "no summary.json after {:?}: the run stalled on its unread output (exited: {status:?})",
        start.elapsed()
    );
    assert_eq!(summary(&dir)["stop_reason"], "completed");
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the process ends too, with 0");
    // What could not be shown is counted in the run's events.
    let events = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    assert!(events.contains("progress lines dropped (output not read)"), "no drop count in events.jsonl");
}
