//! Plugins that fail in ways no `catch_unwind` can catch, loaded from a real
//! fixture cdylib (`tests/fixtures/plugins/faulty`): one that segfaults or
//! aborts takes the run's server down, and its supervisor records the crash;
//! one that never returns from a hook is reported as stalled, and a stop
//! (SIGTERM, or a client's `stop`) still ends the run at its last checkpoint.
//! Either way the folder resumes without the plugin.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};

use common::cli::{config, stderr, stdout, summary};
use common::plugins::{fixture, install};
use common::procs;
use common::served::{poll, records, script, wait_exit, Conn, Place};
use serde_json::{json, Value};

/// The `--set`s that load the faulty fixture from `plugins` with `fault`,
/// in epoch 3 (after two epochs' checkpoints: `checkpoint_secs = 0`).
fn faulty_sets(place: &Place, fault: &str) -> Vec<String> {
    let plugins = place.tmp.path().join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    install(&fixture("faulty"), &plugins, "fixture_faulty");
    let keys = [
        format!("plugins.dirs=[{:?}]", plugins.display().to_string()),
        "technique.fixture_faulty.enabled=true".into(),
        format!("technique.fixture_faulty.fault={fault}"),
        "technique.fixture_faulty.epoch=3".into(),
        "run.checkpoint_secs=0".into(),
        "run.epochs=20".into(),
    ];
    keys.into_iter().flat_map(|k| ["--set".to_string(), k]).collect()
}

/// `traintop run digits.toml --detach` with `sets`; the run folder it prints.
fn detach(place: &Place, sets: &[String]) -> PathBuf {
    let cfg = config("digits.toml");
    let o = place
        .bin()
        .args(["run", cfg.to_str().unwrap(), "--detach", "--out", place.out().to_str().unwrap()])
        .args(sets)
        .output()
        .unwrap();
    assert!(o.status.success(), "run --detach: {}{}", stdout(&o), stderr(&o));
    PathBuf::from(stdout(&o).lines().next().expect("the folder first").trim())
}

/// The folder's summary, once there is one.
fn wait_summary(run: &Path) -> Value {
    poll("summary.json", || run.join("summary.json").exists().then(|| summary(run)))
}

/// `resume RUN --drop-technique fixture_faulty` trains to the end.
fn resumes_without_the_plugin(place: &Place, run: &Path) {
    let o = place
        .bin()
        .args(["resume", run.to_str().unwrap(), "--headless", "--quiet", "--drop-technique", "fixture_faulty"])
        .args(["--set", "run.epochs=4"])
        .output()
        .unwrap();
    assert!(o.status.success(), "resume without the plugin: {}", stderr(&o));
    assert_eq!(summary(run)["stop_reason"], "completed", "{}", stderr(&o));
}

#[test]
fn a_plugin_that_crashes_the_server_leaves_a_summary_and_a_finished_record() {
    for (fault, signal) in [("segv", "SIGSEGV"), ("abort", "SIGABRT")] {
        let place = Place::new();
        let run = detach(&place, &faulty_sets(&place, fault));
        let s = wait_summary(&run);
        assert_eq!(s["stop_reason"], "crashed", "{fault}: {s}");
        assert_eq!(s["signal"], signal, "{fault}: {s}");
        assert_eq!(s["hook"], "fixture_faulty.batch_end", "{fault}: {s}");
        assert!(s["steps"].as_u64().unwrap() > 0, "{fault}: the steps the logs reached: {s}");
        let last = records(&run, "events.jsonl").pop().unwrap();
        assert_eq!(last["event"], "finished", "{fault}: {last}");
        assert_eq!(last["reason"], "crashed", "{fault}: {last}");
        assert!(last["error"].as_str().unwrap().contains(signal), "{fault}: {last}");
        let mine = place.tmp.path().display().to_string();
        poll("the supervisor to exit", || procs::traintops(&mine).is_empty().then_some(()));
        resumes_without_the_plugin(&place, &run);
    }
}

/// A run training in the process the user started has no supervisor: its
/// crash witness records the crash, and `ls` lists the run as crashed with
/// the resume command that leaves the plugin out.
#[test]
fn a_headless_run_killed_by_a_plugin_is_recorded_and_listed_as_crashed() {
    let place = Place::new();
    let cfg = config("digits.toml");
    let o = place
        .bin()
        .args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", place.out().to_str().unwrap()])
        .args(faulty_sets(&place, "segv"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), None, "died of the signal: {}", stderr(&o));
    let run = common::cli::run_dir(&place.out());
    let s = wait_summary(&run);
    assert_eq!(s["stop_reason"], "crashed", "{s}");
    assert_eq!(s["hook"], "fixture_faulty.batch_end", "{s}");
    let last = records(&run, "events.jsonl").pop().unwrap();
    assert_eq!(last["event"], "finished", "{last}");
    let list = place.ls();
    let entry = &list.as_array().unwrap()[0];
    assert_eq!(entry["state"], "crashed", "{entry}");
    let hint = entry["resume"].as_str().unwrap();
    assert!(hint.contains("--drop-technique fixture_faulty"), "{hint}");
    let mine = place.tmp.path().display().to_string();
    poll("the witness to exit", || procs::traintops(&mine).is_empty().then_some(()));
    resumes_without_the_plugin(&place, &run);
    assert!(place.ls().as_array().unwrap().is_empty(), "resumed to the end, the run leaves the list");
}

/// A run that ends by its own hand leaves its witness nothing to write.
#[test]
fn a_completed_run_leaves_no_crash_record() {
    let place = Place::new();
    let cfg = config("iris.toml");
    let o = place
        .bin()
        .args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", place.out().to_str().unwrap()])
        .args(["--set", "run.epochs=2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let run = common::cli::run_dir(&place.out());
    let mine = place.tmp.path().display().to_string();
    poll("the witness to exit", || procs::traintops(&mine).is_empty().then_some(()));
    assert_eq!(summary(&run)["stop_reason"], "completed");
    assert_eq!(records(&run, "events.jsonl").iter().filter(|e| e["event"] == "finished").count(), 1);
}

#[test]
fn the_dashboards_run_records_a_crash_too() {
    if !common::served::terminals_ready() {
        return;
    }
    let place = Place::new();
    let q = |s: &str| common::tmux::shell_quote(s);
    let sets: Vec<String> = faulty_sets(&place, "segv").iter().map(|a| q(a)).collect();
    let cfg = config("digits.toml");
    let line =
        format!("run {} --out {} {}", q(cfg.to_str().unwrap()), q(place.out().to_str().unwrap()), sets.join(" "));
    let term = common::tmux::Tmux::start(100, 30, &place.shell(&line));
    let run =
        poll("a run folder", || std::fs::read_dir(place.out()).ok()?.flatten().map(|e| e.path()).find(|p| p.is_dir()));
    let s = wait_summary(&run);
    assert_eq!(s["stop_reason"], "crashed", "{s}");
    assert_eq!(s["hook"], "fixture_faulty.batch_end", "{s}");
    drop(term);
}

/// `traintop run digits.toml --headless` with `sets` and a 2 s hook limit.
fn start_hanging(place: &Place) -> Child {
    let cfg = config("digits.toml");
    let mut c = place.bin();
    c.env("TRAINTOP_HOOK_LIMIT_SECS", "2")
        .args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", place.out().to_str().unwrap()])
        .args(faulty_sets(place, "hang"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c.spawn().unwrap()
}

/// Waits until `ls` lists the run as stalled in the fixture's hook.
fn wait_stalled(place: &Place) -> Value {
    let entry = poll("ls to show the run stalled", || {
        let list = place.ls();
        list.as_array()?.iter().find(|e| e["state"] == "stalled").cloned()
    });
    let note = entry["note"].as_str().unwrap_or_default();
    assert!(note.contains("stalled in fixture_faulty.batch_end"), "{entry}");
    assert_eq!(entry["status"]["stalled"], "fixture_faulty.batch_end", "{entry}");
    entry
}

/// What a stop of a hung run leaves: exit 1, the summary naming the hook,
/// the stall and `finished` in the log, a `last` to resume from.
fn check_stopped_while_hung(place: &Place, child: &mut Child) {
    let code = wait_exit(child);
    assert_eq!(code, 1, "a run stopped while a hook hung exits 1");
    let run = common::cli::run_dir(&place.out());
    let s = summary(&run);
    assert_eq!(s["stop_reason"], "user", "{s}");
    assert_eq!(s["hook"], "fixture_faulty.batch_end", "{s}");
    assert!(s["error"].as_str().unwrap().contains("stopped while fixture_faulty.batch_end hung"), "{s}");
    let events = records(&run, "events.jsonl");
    assert!(events.iter().any(|e| e["message"].as_str().is_some_and(|m| m.contains("stalled in"))), "{events:?}");
    assert_eq!(events.last().unwrap()["event"], "finished");
    assert!(run.join("checkpoints/last.safetensors").exists());
    resumes_without_the_plugin(place, &run);
}

#[test]
fn a_hanging_hook_is_reported_stalled_and_sigterm_still_stops_the_run() {
    let place = Place::new();
    let mut child = start_hanging(&place);
    wait_stalled(&place);
    procs::signal(child.id(), "TERM");
    check_stopped_while_hung(&place, &mut child);
}

#[test]
fn a_clients_stop_ends_a_run_stalled_in_a_hook() {
    let place = Place::new();
    let mut child = start_hanging(&place);
    let entry = wait_stalled(&place);
    let mut conn = Conn::connect(Path::new(entry["socket"].as_str().unwrap()));
    conn.handshake(script("tests"), false);
    // What an attached dashboard shows in its events panel.
    conn.wait_for("the stall", |v| {
        v["event"] == "log" && v["message"].as_str().is_some_and(|m| m.contains("stalled in fixture_faulty.batch_end"))
    });
    conn.send(&json!({ "from": script("tests"), "command": "stop" }));
    let finished = conn.wait_for("finished", |v| v["event"] == "finished");
    assert!(finished["error"].as_str().unwrap().contains("hung"), "{finished}");
    check_stopped_while_hung(&place, &mut child);
}

/// A crash is told to the user's `[notify] command` (the process whose
/// config named one is gone; the supervisor reads the user's config file).
#[test]
fn a_crash_is_told_to_the_users_notify_command() {
    let place = Place::new();
    let home = place.tmp.path().join("xdg");
    std::fs::create_dir_all(home.join("traintop")).unwrap();
    let got = place.tmp.path().join("told.jsonl");
    let command = format!("[notify]\ncommand = \"cat >> '{}'\"\n", got.display());
    std::fs::write(home.join("traintop").join("config.toml"), command).unwrap();
    let cfg = common::cli::config("digits.toml");
    let o = place
        .bin()
        .env("XDG_CONFIG_HOME", &home)
        .args(["run", cfg.to_str().unwrap(), "--detach", "--out", place.out().to_str().unwrap()])
        .args(faulty_sets(&place, "segv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let told: Value = poll("the notify command's line", || {
        let text = std::fs::read_to_string(&got).ok()?;
        serde_json::from_str(text.lines().next()?).ok()
    });
    assert_eq!(told["event"], "finished");
    assert_eq!(told["reason"], "crashed");
    assert!(told["error"].as_str().unwrap().contains("SIGSEGV"), "{told}");
}
