//! A wall clock that jumps back mid-run (an NTP step, `date -s`), through a
//! preloaded shim (tests/fixtures/clock) that turns CLOCK_REALTIME back an
//! hour when the test says so: durations (wall_time) come from the
//! monotonic clock and never read 0.0, and a resumed run's clients get its
//! history in the order it was written, not sorted by the jumped timestamps.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::cli::config;
use common::served::{self, poll, records, script, wait_exit, Conn, Place};

/// The shim, built into `dir`; `None` (with a notice) without a C compiler.
fn shim(dir: &Path) -> Option<PathBuf> {
    let source = common::cli::repo().join("tests/fixtures/clock/wall_clock_jump.c");
    let lib = dir.join("wall_clock_jump.so");
    let Ok(built) = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&source)
        .arg("-ldl")
        .status()
    else {
        eprintln!("skipping: no C compiler (cc) to build the clock shim");
        return None;
    };
    assert!(built.success(), "cc {}", source.display());
    Some(lib)
}

/// `traintop ARGS` with the shim preloaded, its jump armed by `flag`.
fn start(place: &Place, args: &[&str], lib: &Path, flag: &Path) -> Child {
    let mut c = place.bin();
    c.args(args).env("LD_PRELOAD", lib).env("TRAINTOP_TEST_CLOCK_JUMP", flag);
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    c.spawn().expect("traintop starts")
}

fn steps(run: &Path) -> Vec<serde_json::Value> {
    records(run, "metrics.jsonl").into_iter().filter(|r| r["event"] == "step").collect()
}

/// Trains until `n` more step records are on disk.
fn wait_steps(run: &Path, n: usize) {
    let from = steps(run).len();
    poll(&format!("{n} more steps"), || (steps(run).len() >= from + n).then_some(()));
}

#[test]
fn a_wall_clock_jump_neither_zeroes_durations_nor_reorders_the_history() {
    let place = Place::new();
    let Some(lib) = shim(place.tmp.path()) else { return };
    let flag = place.tmp.path().join("jump");
    let (cfg, out) = (config("digits.toml"), place.out());
    let args = ["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()];
    let long = ["--set", "run.epochs=100000", "--set", "run.log_every=1"];
    let mut child = start(&place, &[&args[..], &long].concat(), &lib, &flag);
    let run = place.wait_run();
    wait_steps(&run, 20);
    std::fs::write(&flag, "").unwrap();
    wait_steps(&run, 40);
    served::stop_server(&run);
    wait_exit(&mut child);

    let walls: Vec<f64> = steps(&run).iter().map(|r| r["wall_time"].as_f64().unwrap()).collect();
    assert!(walls.iter().all(|&w| w > 0.0), "a wall_time of 0 after the jump: {walls:?}");
    assert!(walls.windows(2).all(|w| w[0] <= w[1]), "wall_time went back: {walls:?}");

    // The resume serves the history as written: steps in order, although
    // the later ones carry timestamps an hour before the earlier ones.
    let written: Vec<u64> = steps(&run).iter().map(|r| r["step"].as_u64().unwrap()).collect();
    let dir = run.to_str().unwrap();
    let mut resumed = start(&place, &["resume", dir, "--headless", "--quiet"], &lib, &flag);
    let socket = poll("the resumed run's socket", || {
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("server.json")).ok()?).ok()?;
        Some(PathBuf::from(record["socket"].as_str()?)).filter(|s| s.exists())
    });
    let mut conn = Conn::connect(&socket);
    conn.handshake(script("tests"), true);
    // Up to the first live step, past the history.
    let mut seen = vec![];
    while seen.last() <= written.last() {
        let e = conn.wait_for("the history's steps", |e| e["event"] == "step");
        seen.push(e["step"].as_u64().unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "the history's steps out of order: {seen:?}");
    served::stop_server(&run);
    wait_exit(&mut resumed);
}
