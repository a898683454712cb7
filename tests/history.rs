//! The history of finished runs: two real iris runs trained into a folder
//! of their own (their out dir recorded in a private state folder), then
//! `traintop ls --all` lists them with their figures, filters them by name
//! and by config value, sorts them and prints JSON; a broken folder beside
//! them is listed as unreadable with its reason. Under tmux, `top` shows
//! them in its history view and Enter opens `view` of one, then of two
//! marked ones.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::cli::{bin, config, stderr, stdout};
use common::served::{self, Place};
use common::tmux::Tmux;

/// `traintop` with its state, sockets and working folder in `place`.
fn traintop(place: &Path) -> Command {
    let mut c = bin();
    c.env("XDG_STATE_HOME", place.join("state")).env("TRAINTOP_SOCKET_DIR", place.join("sock")).current_dir(place);
    c
}

/// Trains iris for 3 epochs into `out` with `sets`; returns its folder.
fn train(place: &Path, out: &Path, sets: &[&str]) -> PathBuf {
    let before: Vec<PathBuf> =
        std::fs::read_dir(out).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    let cfg = config("iris.toml");
    let mut c = traintop(place);
    c.args(["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.to_str().unwrap()]);
    c.args(["--set", "run.epochs=3"]);
    for s in sets {
        c.args(["--set", s]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "iris: {}", stderr(&o));
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(out).unwrap().map(|e| e.unwrap().path()).filter(|p| !before.contains(p)).collect();
    assert_eq!(dirs.len(), 1, "one new run folder: {dirs:?}");
    dirs[0].clone()
}

fn ls_all(place: &Path, args: &[&str]) -> String {
    let o = traintop(place).args(["ls", "--all"]).args(args).output().unwrap();
    assert!(o.status.success(), "ls --all {args:?}: {}", stderr(&o));
    stdout(&o)
}

fn name(dir: &Path) -> String {
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn ls_all_lists_filters_sorts_and_prints_finished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let (place, out) = (tmp.path(), tmp.path().join("out"));
    let slow = train(place, &out, &["optimizer.lr=0.001"]);
    let fast = train(place, &out, &["optimizer.lr=0.05"]);
    let index = std::fs::read_to_string(place.join("state/traintop/out_dirs")).unwrap();
    assert_eq!(index.lines().count(), 1, "the out dir, recorded once: {index}");
    let broken = out.join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::write(broken.join("config.toml"), "[run\n").unwrap();

    let text = ls_all(place, &[]);
    let line =
        |dir: &Path| text.lines().find(|l| l.contains(&name(dir))).unwrap_or_else(|| panic!("{text}")).to_string();
    for dir in [&slow, &fast] {
        let l = line(dir);
        assert!(
            l.contains("completed") && l.contains("val_acc 0.") && (l.contains("ago") || l.contains("just now")),
            "{l}"
        );
    }
    assert!(line(&broken).contains("unreadable"), "{text}");
    assert!(text.contains("broken/config.toml: expected a run's TOML config"), "the reason: {text}");

    // Two runs started in one second: one folder's name is the other's and `-2`.
    let only = |text: &str, dir: &Path| {
        let rows: Vec<&str> = text.lines().skip(1).collect();
        rows.len() == 1 && rows[0].ends_with(&*dir.to_string_lossy())
    };
    let longer = if name(&fast).len() >= name(&slow).len() { &fast } else { &slow };
    assert!(only(&ls_all(place, &["--filter", &name(longer)]), longer), "by folder name");
    let by_lr = ls_all(place, &["--where", "optimizer.lr=0.05"]);
    assert!(only(&by_lr, &fast), "{by_lr}");
    let by_lr = ls_all(place, &["--where", "optimizer.lr=0.001", out.to_str().unwrap()]);
    assert!(only(&by_lr, &slow), "explicit folders too: {by_lr}");
    let named = ls_all(place, &["--filter", "IRIS"]);
    assert_eq!(named.lines().count(), 3, "by the run's name, any case: {named}");

    let json: serde_json::Value = serde_json::from_str(&ls_all(place, &["--json", "--sort", "best"])).unwrap();
    let runs = json.as_array().unwrap();
    assert_eq!(runs.len(), 3, "{json}");
    let best: Vec<f64> = runs.iter().filter_map(|r| r["best"]["value"].as_f64()).collect();
    assert_eq!(best.len(), 2);
    assert!(best[0] >= best[1], "best first: {json}");
    assert_eq!(runs[2]["state"], "unreadable", "no figure last: {json}");
    assert_eq!(runs[0]["changes"], 0);
    assert!(runs[0]["duration_secs"].as_f64().is_some() && runs[0]["started"].as_f64().is_some());

    let o = traintop(place).args(["ls", "--all", "--sort", "size"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected one of: name, folder, best"), "{}", stderr(&o));
}

/// top's history view listing `dir` finished, with its figure.
fn lists_finished(screen: &str, dir: &Path) -> bool {
    let short = &name(dir)[..10];
    screen.contains("history")
        && screen.lines().any(|l| l.contains(short) && l.contains("completed") && l.contains("val_acc"))
}

#[test]
fn top_shows_finished_runs_and_enter_opens_their_view() {
    if !served::terminals_ready() {
        return;
    }
    let place = Place::new();
    let out = place.out();
    let a = train(place.tmp.path(), &out, &[]);
    let b = train(place.tmp.path(), &out, &["optimizer.lr=0.05"]);
    let top = format!("top --out {}", common::tmux::shell_quote(out.to_str().unwrap()));
    let term = Tmux::start(80, 24, &format!("{}; sleep 60", place.shell(&top)));
    let timeout = Duration::from_secs(30);
    term.wait_until("top's live list pointing at the history", timeout, |s| s.contains("h history (2)"));
    term.send_keys(&["h"]);
    term.wait_until("the history with both runs", timeout, |s| lists_finished(s, &a) && lists_finished(s, &b));

    // The newest first: b is selected.
    term.send_keys(&["Enter"]);
    term.wait_until("b's view", timeout, |s| s.contains(&name(&b)) && !s.contains("traintop top"));
    term.send_keys(&["q"]);
    term.wait_until("the history again", timeout, |s| lists_finished(s, &a));

    term.send_keys(&["Space", "j", "Space"]);
    term.wait_until("two marked", timeout, |s| s.contains("compare the marked"));
    term.send_keys(&["Enter"]);
    term.wait_until("the comparison of both", timeout, |s| s.contains("traintop view · 2 runs"));
    term.send_keys(&["q"]);
    term.wait_until("the history again", timeout, |s| lists_finished(s, &b));
    term.send_keys(&["q"]);
}
