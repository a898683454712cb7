//! Runs that outlive their terminal, in real terminals under tmux: killing
//! the tmux server (a dropped ssh connection) leaves the run training and no
//! process spinning; `attach` in a new terminal shows the live run, steers
//! it, detaches with `d` and stops it with `s`; two dashboards see the same
//! run, and one that stops reading costs the trainer nothing. Skipped (with
//! a notice) only where tmux is not installed.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cli::{config, summary};
use common::procs;
use common::screen::{child_of, header_state, header_step};
use common::served::{self, poll, records, server_pid, stop_server, Place};
use common::tmux::{self, shell_quote, Tmux};

const TIMEOUT: Duration = Duration::from_secs(30);

fn q(p: &Path) -> String {
    shell_quote(p.to_str().unwrap())
}

fn skip() -> bool {
    !served::terminals_ready()
}

fn metrics_lines(run: &Path) -> usize {
    std::fs::read_to_string(run.join("metrics.jsonl")).map(|t| t.lines().count()).unwrap_or(0)
}

/// Every live process this test started, but `except` and the run's
/// supervisor (which only waits for the server, to record a crash).
fn others(place: &Place, except: u32) -> Vec<u32> {
    let supervisor = |p: &u32| {
        let cmd = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
        cmd.split(|&b| b == 0).any(|a| a == b"--supervise")
    };
    procs::traintops(&place.tmp.path().display().to_string())
        .into_iter()
        .filter(|p| *p != except && !supervisor(p))
        .collect()
}

#[test]
fn killing_the_terminal_mid_run_and_after_it_leaves_nothing_spinning() {
    if skip() {
        return;
    }
    // Mid-run.
    let place = Place::new();
    let out = place.out();
    let term = Tmux::start(
        100,
        30,
        &place.shell(&format!("run {} --out {} --set run.epochs=100000", q(&config("digits.toml")), q(&out))),
    );
    term.wait_until("a step count above 0", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    let run = place.wait_run();
    let server = server_pid(&run);
    term.kill_server();
    let gone = Instant::now();
    poll("the dashboard to leave", || others(&place, server).is_empty().then_some(()));
    let left_after = gone.elapsed();
    assert!(left_after < Duration::from_secs(2), "the dashboard left {left_after:?} after its terminal");
    let before = metrics_lines(&run);
    let shares = procs::cpu_shares(&[server], Duration::from_secs(5));
    assert!(metrics_lines(&run) > before, "metrics.jsonl grows after the terminal is gone");
    eprintln!("the trainer's share of a core with its terminal gone: {shares:?}");
    assert!(others(&place, server).is_empty(), "only the trainer is left: {:?}", others(&place, server));
    let detached = records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "detached");
    assert!(detached.is_some(), "events.jsonl records the dashboard detaching");
    stop_server(&run);
    assert_eq!(summary(&run)["stop_reason"], "user");
    // The supervisor exits just after it reaps the server: a moment later
    // than the server's own end, which is all stop_server waits for.
    poll("everything to exit", || procs::traintops(&place.tmp.path().display().to_string()).is_empty().then_some(()));

    // After the run finished (the dashboard waits for q on the final state).
    let place = Place::new();
    let out = place.out();
    let term = Tmux::start(
        100,
        30,
        &place.shell(&format!("run {} --out {} --set run.epochs=3", q(&config("digits.toml")), q(&out))),
    );
    term.wait_until("the finished state", TIMEOUT, |s| header_state(s).is_some_and(|h| h.starts_with("finished")));
    let mine = procs::traintops(&place.tmp.path().display().to_string());
    assert!(!mine.is_empty(), "the dashboard waits for q");
    let shares = procs::cpu_shares(&mine, Duration::from_secs(1));
    assert!(shares.iter().all(|(_, s)| *s < 0.05), "an idle finished dashboard: {shares:?}");
    term.kill_server();
    let gone = Instant::now();
    poll("every process to exit", || {
        procs::traintops(&place.tmp.path().display().to_string()).is_empty().then_some(())
    });
    assert!(gone.elapsed() < Duration::from_secs(2), "left {:?} after the terminal", gone.elapsed());
}

#[test]
fn attach_from_a_new_terminal_steers_detaches_and_stops() {
    if skip() {
        return;
    }
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=100000"]);
    let server = server_pid(&run);
    let listed = poll("ls to show the run training", || {
        let l = place.ls();
        (l[0]["state"] == "running").then_some(l)
    });
    assert_eq!(listed[0]["status"]["clients"], 0, "{listed}");

    let started = Instant::now();
    // The pane stays a while after attach exits, to show what it printed.
    let term = Tmux::start(120, 40, &format!("{}; sleep 60", place.shell("attach")));
    term.wait_until("the live step", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    let shown_after = started.elapsed();
    eprintln!("attach showed the live step {shown_after:?} after starting");
    assert!(shown_after < Duration::from_secs(2) + tmux::POLL * 3, "live within 2 s: {shown_after:?}");
    let client = child_of(term.pane_pid().unwrap()).expect("the attach process");
    assert_eq!(place.ls()[0]["status"]["clients"], 1);

    // A toggle from this client takes effect and is logged with its pid.
    term.send_keys(&["t"]);
    let accepted = poll("the toggle in events.jsonl", || {
        records(&run, "events.jsonl").into_iter().find(|e| e["event"] == "accepted" && e["command"] == "toggle")
    });
    assert_eq!(accepted["from"]["kind"], "local", "{accepted}");
    assert_eq!(accepted["from"]["pid"], client, "{accepted}");
    let technique = accepted["technique"].as_str().unwrap().to_string();
    term.wait_until("the technique switched on", TIMEOUT, |s| s.contains(&format!("[on ] {technique}")));
    term.wait_until("the marker naming the client", TIMEOUT, |s| s.contains(&format!("pid {client}")));

    // d: the dashboard leaves, the run goes on.
    term.send_keys(&["d"]);
    poll("the attach process to exit", || (!procs::alive(client)).then_some(()));
    term.wait_until("the detach message", TIMEOUT, |s| s.contains("detached; the run goes on"));
    let before = metrics_lines(&run);
    poll("the run to go on", || (metrics_lines(&run) > before).then_some(()));
    assert!(procs::alive(server));
    poll("ls to show no client", || (place.ls()[0]["status"]["clients"] == 0).then_some(()));

    drop(term);

    // s: stops the run (summary "user", checkpoints written).
    let term = Tmux::start(120, 40, &place.shell(&format!("attach {}", q(&run))));
    term.wait_until("the live step", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    term.send_keys(&["s"]);
    term.wait_until("the stop question", TIMEOUT, |s| s.contains("Stop the run"));
    term.send_keys(&["y"]);
    poll("the summary", || run.join("summary.json").exists().then_some(()));
    assert_eq!(summary(&run)["stop_reason"], "user");
    assert!(run.join("checkpoints/last.safetensors").exists());
    term.wait_until("the finished state", TIMEOUT, |s| header_state(s).is_some_and(|h| h.starts_with("finished")));
    poll("the server to exit", || (!procs::alive(server)).then_some(()));
    assert_eq!(place.ls(), serde_json::json!([]), "a finished run leaves the list");
    term.send_keys(&["q"]);
    let path = place.tmp.path().display().to_string();
    poll("the dashboard to exit", || procs::traintops(&path).is_empty().then_some(()));
}

/// Training speed over a window: samples per second between the first and
/// last step record written in it.
fn rate_over(run: &Path, window: Duration, batch: f64) -> f64 {
    let read = || {
        poll("a step record", || {
            let s = records(run, "metrics.jsonl").into_iter().rev().find(|r| r["event"] == "step")?;
            Some((s["step"].as_f64()?, s["wall_time"].as_f64()?))
        })
    };
    let (s0, t0) = read();
    std::thread::sleep(window);
    let (s1, t1) = read();
    (s1 - s0) * batch / (t1 - t0)
}

#[test]
fn two_clients_see_the_same_run_and_a_stopped_one_costs_nothing() {
    if skip() {
        return;
    }
    let place = Place::new();
    let run = place.detach(&["--set", "run.epochs=100000"]);
    let a = Tmux::start(100, 30, &place.shell("attach"));
    let b = Tmux::start(100, 30, &place.shell("attach --read-only"));
    for t in [&a, &b] {
        t.wait_until("the live step", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    }
    a.send_keys(&["p"]);
    let paused = |t: &Tmux| {
        t.wait_for("paused", TIMEOUT, |s| {
            (header_state(s).as_deref() == Some("paused")).then(|| header_step(s)).flatten()
        })
    };
    let (sa, sb) = (paused(&a), paused(&b));
    assert_eq!(sa, sb, "both show the same step");
    a.send_keys(&["p"]);
    b.wait_until("running again", TIMEOUT, |s| header_state(s).as_deref() == Some("running"));

    let window = Duration::from_secs(5);
    let baseline = rate_over(&run, window, 32.0);
    let client_a = child_of(a.pane_pid().unwrap()).unwrap();
    procs::signal(client_a, "STOP");
    let stopped_at = Instant::now();
    let step_b = header_step(&b.capture()).unwrap();
    let with_stopped = rate_over(&run, Duration::from_secs(8), 32.0);
    b.wait_until("the other client to keep updating", TIMEOUT, |s| header_step(s).is_some_and(|n| n > step_b));
    while stopped_at.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    procs::signal(client_a, "CONT");
    let change = (with_stopped - baseline) / baseline;
    eprintln!(
        "samples/s with both clients reading {baseline:.0}, with one stopped {with_stopped:.0} ({:+.1}%)",
        100.0 * change
    );
    // The figure against the goal (< 5%) is printed above and measured side
    // by side by benches/attach_overhead.sh: on a shared machine a timed
    // bound would flake. What a test can show: the other client kept
    // updating, and the stopped one catches up.
    let step_now = header_step(&b.capture()).unwrap();
    a.wait_until("the resumed client to resync to the live step", TIMEOUT, |s| {
        header_step(s).is_some_and(|n| n >= step_now)
    });
    stop_server(&run);
}

/// Esc over the confusion matrix closes the matrix, not the dashboard; a
/// second Esc detaches and the run trains on.
#[test]
fn esc_closes_the_confusion_matrix_first_then_detaches() {
    if skip() {
        return;
    }
    const MATRIX: &str = "columns predicted";
    let place = Place::new();
    let out = place.out();
    let line = format!("run {} --out {} --set run.epochs=100000", q(&config("iris.toml")), q(&out));
    let term = Tmux::start(100, 30, &place.shell(&line));
    term.wait_until("a step count above 0", TIMEOUT, |s| header_step(s).is_some_and(|n| n > 0));
    let run = place.wait_run();
    term.send_keys(&["C"]);
    term.wait_until("the confusion matrix", TIMEOUT, |s| s.contains(MATRIX));
    term.send_keys(&["Escape"]);
    let screen = term.wait_until("the matrix to close", TIMEOUT, |s| !s.contains(MATRIX));
    assert!(header_state(&screen).is_some(), "the dashboard is still up:\n{screen}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(header_state(&term.capture()).is_some(), "the dashboard stays after one Esc:\n{}", term.last_capture());
    term.send_keys(&["Escape"]);
    term.wait_until("the dashboard to detach", TIMEOUT, |s| s.contains("traintop attach "));
    assert!(procs::alive(server_pid(&run)), "the run trains on");
    stop_server(&run);
    assert_eq!(summary(&run)["stop_reason"], "user");
}
