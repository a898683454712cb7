//! Snapshots of the whole dashboard at 80x24 and 120x40: running, paused,
//! a technique switched off, the help overlay, finished, and the NO_COLOR
//! rendering with its styles. Review a changed snapshot by eye
//! (`cargo insta review`, or read the `.snap.new` file) before accepting it.

use super::app::tests::{render, scripted, techniques, text};
use super::app::App;
use crate::protocol::{RunEvent, RunState, StopReason};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn snapshot_both(name: &str, app: &App) {
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), text(&render(app, w, h)));
    }
}

#[test]
fn running() {
    snapshot_both("running", &scripted());
}

#[test]
fn paused() {
    let mut app = scripted();
    app.apply(RunEvent::State { step: 50, state: RunState::Paused });
    snapshot_both("paused", &app);
}

#[test]
fn toggled_off() {
    let mut app = scripted();
    app.apply(RunEvent::Marker { step: 50, label: "dropout off".into() });
    app.apply(RunEvent::Techniques { techniques: techniques(false) });
    snapshot_both("toggled", &app);
}

#[test]
fn help() {
    let mut app = scripted();
    app.on_key(KeyEvent::new(KeyCode::Char('?'), KeyModifiers::NONE));
    snapshot_both("help", &app);
}

#[test]
fn finished() {
    let mut app = scripted();
    app.apply(RunEvent::Finished {
        step: 50,
        epoch: 5,
        reason: StopReason::Completed,
        run_dir: "runs/digits-mlp-20240101-000000".into(),
        error: None,
    });
    snapshot_both("finished", &app);
}

/// The plain theme's cells, styles included: nothing but the defaults.
#[test]
fn no_color() {
    let app = scripted();
    for (w, h) in SIZES {
        insta::assert_debug_snapshot!(format!("no_color_{w}x{h}"), render(&app, w, h));
    }
}
