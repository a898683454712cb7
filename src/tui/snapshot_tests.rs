//! Snapshots of the whole dashboard at 80x24 and 120x40: running, paused,
//! a technique switched off, the help overlay, finished, the divergence
//! banner, and the NO_COLOR
//! rendering with its styles. Review a changed snapshot by eye
//! (`cargo insta review`, or read the `.snap.new` file) before accepting it.

use super::app::tests::{render, scripted, techniques, text};
use super::app::App;
use crate::protocol::{RunEvent, RunState, StopReason};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

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

/// Rolled back and paused after a divergence: the banner with its fixes.
#[test]
fn diverged() {
    let app = super::app::fixes::tests::diverged(Some(false));
    snapshot_both("diverged", &app);
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("diverged at step 56: back at step 40, paused"), "{s}");
    assert!(s.contains("h  halve the learning rate (0.010 -> 0.005) and resume"), "{s}");
    assert!(s.contains("g  switch grad_clip on and resume") && s.contains("p  resume as is"), "{s}");
}

/// The plain theme's cells, styles included: nothing but the defaults.
#[test]
fn no_color() {
    let app = scripted();
    for (w, h) in SIZES {
        insta::assert_debug_snapshot!(format!("no_color_{w}x{h}"), render(&app, w, h));
    }
}

/// A finished run's folder: 100 steps (twice the scripted run's) of a loss
/// that falls more slowly, as `traintop run` writes it.
fn baseline_folder(dir: &std::path::Path) {
    use super::app::tests::step;
    use crate::protocol::framing::encode;
    use crate::protocol::{ConnectionMessage, EpochRecord, Hello, Record, RecordRef};
    let line = |time: f64, event: RunEvent| String::from_utf8(encode(&Record { time, event })).unwrap();
    let hello = RecordRef { time: 0.0, event: &ConnectionMessage::Hello(Hello::ours()) };
    let mut metrics = String::from_utf8(encode(&hello)).unwrap();
    for s in 1..=100u64 {
        let mut r = step(s);
        r.loss = 1.6 * (-(s as f32) / 60.0).exp() + 0.3;
        r.acc = Some(0.9 - r.loss / 2.5);
        metrics.push_str(&line(s as f64, RunEvent::Step(r.clone())));
        if s % 10 == 0 {
            let e = EpochRecord {
                step: s,
                epoch: s as usize / 10,
                loss: r.loss,
                val_loss: r.loss,
                val_acc: r.acc,
                lr: 0.01,
                samples_per_sec: 1.0,
                wall_time: s as f64,
                eta_secs: 0.0,
            };
            metrics.push_str(&line(s as f64 + 0.5, RunEvent::Epoch(e)));
        }
    }
    std::fs::write(dir.join("metrics.jsonl"), metrics).unwrap();
}

fn with_baseline() -> (App, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo-no-bn");
    std::fs::create_dir(&dir).unwrap();
    baseline_folder(&dir);
    let mut app = scripted();
    app.set_baseline(Some(super::load_baseline(&dir).unwrap()));
    (app, tmp)
}

#[test]
fn baseline_behind_the_live_curves() {
    let (app, _tmp) = with_baseline();
    snapshot_both("baseline", &app);
    let s = text(&render(&app, 120, 40));
    // Its bars and its name in both charts' legends; the x axis runs to the
    // baseline's last step.
    assert_eq!(s.matches("▄ base demo-no-bn").count(), 2, "{s}");
    assert!(s.matches('▄').count() > 40 && s.contains("100"), "{s}");
}

#[test]
fn b_hides_and_shows_the_baseline() {
    let (mut app, _tmp) = with_baseline();
    let b = KeyEvent::new(KeyCode::Char('b'), KeyModifiers::NONE);
    app.on_key(b);
    let hidden = text(&render(&app, 120, 40));
    assert!(!hidden.contains("base demo-no-bn"), "{hidden}");
    assert!(hidden.contains("baseline demo-no-bn hidden"), "{hidden}");
    let mut plain = scripted();
    plain.notice = app.notice.clone();
    assert_eq!(hidden, text(&render(&plain, 120, 40)));
    app.on_key(b);
    assert!(text(&render(&app, 120, 40)).contains("▄ base demo-no-bn"));
    let mut none = scripted();
    none.on_key(b);
    assert!(text(&render(&none, 120, 40)).contains("no baseline: start with --baseline"));
}

/// The digits' ten classes, mostly right, 4 often taken for 9.
fn digits_confusion() -> crate::protocol::ConfusionRecord {
    let counts = (0..10u64)
        .map(|t| {
            (0..10u64)
                .map(|p| match (t, p) {
                    (4, 4) => 20,
                    (4, 9) => 16,
                    (t, p) if t == p => 34 + t % 3,
                    (t, p) if (t + p) % 7 == 0 => 1,
                    _ => 0,
                })
                .collect()
        })
        .collect();
    crate::protocol::ConfusionRecord { step: 50, epoch: 5, classes: (0..10).map(|c| c.to_string()).collect(), counts }
}

#[test]
fn confusion_heat_map() {
    let mut app = scripted();
    let big_c = KeyEvent::new(KeyCode::Char('C'), KeyModifiers::SHIFT);
    app.on_key(big_c);
    assert!(text(&render(&app, 80, 24)).contains("none yet"), "shown before the first epoch's matrix");
    app.apply(RunEvent::Confusion(digits_confusion()));
    snapshot_both("confusion", &app);
    let s = text(&render(&app, 80, 24));
    // Row 4: 20 of 36 right (▓), 16 taken for 9 (▒); without color too.
    assert!(s.contains(" 4 ") && s.contains("▓▓20") && s.contains("▒▒16"), "{s}");
    app.on_key(big_c);
    assert!(!text(&render(&app, 80, 24)).contains("validation confusion"));
}

/// The scripted run forked at step 30 (A: dropout on), B's steps behind it.
fn forked() -> App {
    use super::app::tests::step;
    let mut app = scripted();
    let branch_dir = "runs/digits-mlp-fork-20240101-000100".to_string();
    app.apply(RunEvent::ForkStarted { step: 30, change: "dropout on".into(), branch_dir });
    for s in 31..=50u64 {
        let mut r = step(s);
        r.loss = 0.7 + 0.01 * (s - 30) as f32;
        r.acc = Some(0.6);
        app.apply(RunEvent::Branch { record: Box::new(RunEvent::Step(r)) });
    }
    app
}

#[test]
fn forked_with_branch_b_behind() {
    use crate::protocol::{ForkBranch, RunCommand};
    let mut app = forked();
    snapshot_both("forked", &app);
    let s = text(&render(&app, 120, 40));
    assert_eq!(s.matches("█ B as before").count(), 2, "B in both legends:\n{s}");
    assert!(s.contains("fork at step 30: A = dropout on (this run), B = as before · A/B keeps one"), "{s}");
    let key = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::SHIFT);
    assert_eq!(app.on_key(KeyEvent::new(KeyCode::Char('f'), KeyModifiers::NONE)), vec![], "one fork at a time");
    assert!(app.notice.as_deref().unwrap_or("").contains("already forked"));
    assert_eq!(app.on_key(key('A')), vec![RunCommand::Keep { branch: ForkBranch::A }]);
    app.apply(RunEvent::ForkEnded { step: 50, kept: ForkBranch::A, other_dir: "runs/b".into() });
    let s = text(&render(&app, 120, 40));
    assert!(s.contains("kept A; B is in runs/b") && !s.contains("A/B keeps one"), "{s}");
    assert!(s.contains("█ B as before"), "B's curve stays, frozen:\n{s}");
    assert_eq!(app.on_key(key('B')), vec![], "nothing to keep any more");
}

#[test]
fn f_forks_the_selected_technique() {
    use crate::protocol::RunCommand;
    let mut app = scripted();
    let f = KeyEvent::new(KeyCode::Char('f'), KeyModifiers::NONE);
    // dropout is selected and on: A switches it off.
    assert_eq!(app.on_key(f), vec![RunCommand::Fork { technique: "dropout".into(), enabled: false }]);
}

/// Reading the screen: eight layers' gradients scrolled a page (Tab, PgDn),
/// the events scrolled back (Tab, PgUp), the charts' cursor two notches
/// left of the newest step and zoomed to the last 100 steps.
#[test]
fn scrolled_panes_cursor_and_zoom() {
    let key = |c| KeyEvent::new(c, KeyModifiers::NONE);
    for (w, h) in SIZES {
        let mut app = scripted();
        let mut deep = super::app::tests::step(51);
        deep.grad_norms = (0..8)
            .flat_map(|l| [(format!("layer{l}.weight"), 0.1 / (l + 1) as f32), (format!("layer{l}.bias"), 0.01)])
            .collect();
        app.apply(RunEvent::Step(deep));
        for i in 0..30 {
            app.apply(RunEvent::log(format!("note {i}")));
        }
        render(&app, w, h);
        for k in [KeyCode::Tab, KeyCode::PageDown, KeyCode::Tab, KeyCode::PageUp, KeyCode::Left, KeyCode::Left] {
            app.on_key(key(k));
        }
        app.on_key(key(KeyCode::Char('z')));
        let screen = text(&render(&app, w, h));
        assert!(screen.contains("▸ events") && screen.contains("newer (End)"), "{screen}");
        assert!(screen.contains("step 49:") || screen.contains("step 50:"), "the cursor's readout:\n{screen}");
        insta::assert_snapshot!(format!("reading_{w}x{h}"), screen);
        // End follows the newest again; Esc hides the cursor.
        app.on_key(key(KeyCode::End));
        app.on_key(key(KeyCode::Esc));
        let screen = text(&render(&app, w, h));
        assert!(!screen.contains("newer (End)") && !screen.contains("step 49:"), "{screen}");
        assert!(!app.detached(), "Esc hid the cursor rather than detach");
    }
}
