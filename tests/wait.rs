//! `traintop wait RUN` blocks while a run trains and exits with its
//! outcome: 0 completed, 3 diverged, 1 stopped before the end, 2 no such run.

mod common;

use std::process::Stdio;
use std::time::Instant;

use common::served::Place;

fn wait(place: &Place, what: &str) -> (i32, String, String) {
    let o = place.bin().args(["wait", what]).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn wait_returns_when_the_run_ends_with_its_outcome() {
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=40", "--set", "run.name=waited"]);
    let started = Instant::now();
    // By the run's name, while it trains.
    let (code, out, err) = wait(&place, "waited");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("completed at step"), "{out}");
    let summary = std::fs::read_to_string(run.join("summary.json")).expect("the run had ended when wait returned");
    assert!(summary.contains("\"completed\""));
    assert!(started.elapsed().as_secs_f64() > 0.1);
    // A finished folder answers at once.
    assert_eq!(wait(&place, run.to_str().unwrap()).0, 0);

    let diverged = place.detach(&[
        "--set",
        "optimizer.kind=sgd",
        "--set",
        "optimizer.lr=1e30",
        "--set",
        "run.epochs=2",
        "--set",
        "run.on_divergence=stop",
    ]);
    let (code, _, err) = wait(&place, diverged.to_str().unwrap());
    assert_eq!(code, 3, "a diverged run: {err}");
    assert!(err.contains("diverged at step"), "{err}");

    let stopped = place.detach(&["--set", "run.epochs=100000"]);
    let server = common::served::server_pid(&stopped);
    let waiter = place
        .bin()
        .args(["wait", stopped.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(common::procs::alive(waiter.id()), "wait waits while the run trains");
    common::procs::signal(server, "TERM");
    let o = waiter.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let (code, _, err) = wait(&place, stopped.to_str().unwrap());
    assert_eq!(code, 1, "stopped before the end: {err}");
    assert!(err.contains(": user at step"), "{err}");

    let (code, _, err) = wait(&place, "no-such-run");
    assert_eq!(code, 2, "{err}");
}
