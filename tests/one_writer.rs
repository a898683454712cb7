//! One writer per run folder: a run holds an OS lock on its folder's
//! `run.lock` for its whole life, so a second `resume` (or a second server)
//! of a live run is refused naming the live pid, and `ls` and `attach` take
//! a run's liveness from that lock: a live run whose socket file was deleted
//! (a /tmp cleaner) is never reported dead.

mod common;

use std::path::Path;

use common::procs;
use common::served::{poll, records, wait_exit, Place};

/// A run long enough to be live throughout, with a checkpoint every epoch
/// (so that there is one a resume could continue from).
const LONG: &[&str] = &["--set", "run.epochs=100000", "--set", "run.checkpoint_secs=0"];

fn hellos(run: &Path) -> usize {
    records(run, "events.jsonl").iter().filter(|e| e["event"] == "hello").count()
}

#[test]
fn resume_of_a_live_run_is_refused_naming_its_pid() {
    let place = Place::new();
    let mut live = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    poll("a checkpoint", || run.join("checkpoints/last.safetensors").exists().then_some(()));
    let server = std::fs::read_to_string(run.join("server.json")).unwrap();
    let before = hellos(&run);
    for extra in [&[][..], &["--server"][..]] {
        let o = place
            .bin()
            .args(["resume", run.to_str().unwrap(), "--headless", "--quiet"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "a second writer was not refused: {err}");
        assert!(err.contains(&format!("pid {}", live.id())), "names the live pid: {err}");
        assert_eq!(hellos(&run), before, "the refused resume wrote to the folder");
        assert_eq!(std::fs::read_to_string(run.join("server.json")).unwrap(), server, "server.json was replaced");
    }
    assert!(procs::alive(live.id()), "the live run goes on");
    procs::signal(live.id(), "TERM");
    assert_eq!(wait_exit(&mut live), 0);
    // Once it has stopped, the folder is free again.
    let mut resumed = place
        .bin()
        .args(["resume", run.to_str().unwrap(), "--headless", "--quiet", "--set", "run.epochs=100000"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    poll("the resumed run to start", || (hellos(&run) > before).then_some(()));
    procs::signal(resumed.id(), "TERM");
    assert_eq!(wait_exit(&mut resumed), 0);
}

#[test]
fn a_live_run_whose_socket_was_deleted_is_not_called_dead() {
    let place = Place::new();
    let mut live = place.start_headless("digits.toml", LONG);
    let run = place.wait_run();
    let ls = place.ls();
    let entry = &ls.as_array().unwrap()[0];
    let socket = Path::new(entry["socket"].as_str().unwrap()).to_path_buf();
    poll("the run to be listed live", || (place.ls()[0]["state"] == "running").then_some(()));
    std::fs::remove_file(&socket).unwrap();
    let ls = place.ls();
    let entry = &ls.as_array().unwrap()[0];
    assert_ne!(entry["state"], "dead", "{entry}");
    assert!(entry.get("resume").is_none(), "offers to resume a live run: {entry}");
    let o = place.bin().arg("ls").output().unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(!table.contains("dead") && !table.contains("traintop resume"), "{table}");
    assert!(table.contains("socket"), "says what is wrong: {table}");
    let o = place.bin().args(["attach", run.to_str().unwrap()]).stdin(std::process::Stdio::null()).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(!err.contains("dead") && err.contains("socket"), "{err}");
    assert!(procs::alive(live.id()));
    procs::signal(live.id(), "TERM");
    assert_eq!(wait_exit(&mut live), 0);
}
