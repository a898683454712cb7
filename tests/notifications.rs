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
