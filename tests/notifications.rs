//! A dashboard rings the terminal's bell and asks for a desktop
//! notification (OSC 9 and OSC 777) when its run finishes, in a real
//! terminal: what the program wrote is recorded by tmux before tmux
//! interprets it.

mod common;

use std::time::Duration;

use common::served::Place;
use common::tmux::{self, Tmux};

#[test]
fn a_finished_run_rings_and_asks_for_a_desktop_notification() {
    if !tmux::available() {
        return;
    }
    let place = Place::new();
    let cfg = common::cli::config("digits.toml");
    let raw = place.tmp.path().join("terminal.raw");
    let term = Tmux::start(
        100,
        30,
        &format!(
            "{}; sleep 60",
            place.shell(&format!(
                "run {} --set run.epochs=1500 --set run.name=rung --out {}",
                cfg.display(),
                place.out().display()
            ))
        ),
    );
    term.record_output(&raw);
    term.wait_until("the dashboard to show the run finished", Duration::from_secs(60), |s| s.contains("finished"));
    let bytes = common::served::poll("the notification bytes", || {
        let text = std::fs::read(&raw).ok()?;
        let text = String::from_utf8_lossy(&text).into_owned();
        text.contains("\x1b]777;").then_some(text)
    });
    assert!(bytes.contains('\x07'), "a bell");
    assert!(
        bytes.contains("\x1b]9;traintop: rung: finished (completed) at step "),
        "OSC 9: {:?}",
        &bytes[bytes.len().saturating_sub(400)..]
    );
    assert!(bytes.contains("\x1b]777;notify;traintop;rung: finished (completed) at step "), "OSC 777");
    assert_eq!(bytes.matches("\x1b]9;").count(), 1, "one notification for one ending");
}

/// Polls `file` until it holds `lines` lines.
fn lines_of(file: &std::path::Path, lines: usize) -> Vec<serde_json::Value> {
    common::served::poll("the notify command's output", || {
        let text = std::fs::read_to_string(file).ok()?;
        (text.lines().count() >= lines).then(|| text.lines().map(|l| serde_json::from_str(l).unwrap()).collect())
    })
}

#[test]
fn the_notify_command_gets_the_ending_as_json_and_a_folder_cannot_name_one() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = std::fs::read_to_string(common::cli::config("digits.toml")).unwrap();
    let data = common::cli::repo().join("data").join("digits.csv");
    let text = text.replace("../data/digits.csv", data.to_str().unwrap());
    let got = d.join("got.jsonl");
    let cfg = d.join("notify.toml");
    std::fs::write(&cfg, format!("{text}\n[notify]\ncommand = \"cat >> '{}'\"\n", got.display())).unwrap();
    let out = d.join("out");
    let ran = common::cli::run(&[
        "run",
        cfg.to_str().unwrap(),
        "--headless",
        "--set",
        "run.epochs=2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ran.status.success(), "{}", common::cli::stderr(&ran));
    let events = lines_of(&got, 1);
    assert_eq!(events[0]["event"], "finished");
    assert_eq!(events[0]["reason"], "completed");
    let run = common::cli::run_dir(&out);
    assert_eq!(events[0]["run_dir"], run.to_str().unwrap());

    // A run folder's config naming a command is not obeyed; the user's own
    // config file is.
    let evil = d.join("evil");
    let folder_cfg = run.join("config.toml");
    let mut folder_text = std::fs::read_to_string(&folder_cfg).unwrap();
    folder_text.push_str(&format!("\n[notify]\ncommand = \"touch '{}'\"\n", evil.display()));
    std::fs::write(&folder_cfg, folder_text).unwrap();
    let home = d.join("xdg");
    std::fs::create_dir_all(home.join("traintop")).unwrap();
    let mine = d.join("mine.jsonl");
    std::fs::write(
        home.join("traintop").join("config.toml"),
        format!("[notify]\ncommand = \"cat >> '{}'\"\n", mine.display()),
    )
    .unwrap();
    let resumed = common::cli::bin()
        .env("XDG_CONFIG_HOME", &home)
        .args(["resume", run.to_str().unwrap(), "--headless", "--set", "run.epochs=3"])
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(lines_of(&mine, 1)[0]["reason"], "completed");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!evil.exists(), "a run folder's [notify] command ran");

    std::fs::write(home.join("traintop").join("config.toml"), "[notify]\ncomand = \"x\"\n").unwrap();
    let bad = common::cli::bin()
        .env("XDG_CONFIG_HOME", &home)
        .args(["run", cfg.to_str().unwrap(), "--headless", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("traintop/config.toml") && err.contains("comand"), "{err}");
}
