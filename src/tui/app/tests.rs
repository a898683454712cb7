//! The dashboard state driven by scripted events and keys, drawn on
//! ratatui's `TestBackend`; the helpers here serve the other tui tests too.

use super::*;
use crate::protocol::{ClientId, ParamView, Request, ToggleClass};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyModifiers};
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

pub fn techniques(dropout_on: bool) -> Vec<TechniqueView> {
    vec![
        TechniqueView {
            name: "dropout".into(),
            enabled: dropout_on,
            class: ToggleClass::Structural,
            params: vec![ParamView {
                name: "rate".into(),
                value: "0.5".into(),
                range: "0 ..= 0.95".into(),
                help: "share of hidden units dropped".into(),
            }],
            status: "rate 0.5".into(),
        },
        TechniqueView {
            name: "early_stopping".into(),
            enabled: true,
            class: ToggleClass::Live,
            params: vec![
                ParamView {
                    name: "patience".into(),
                    value: "5".into(),
                    range: "1 ..= 100".into(),
                    help: "epochs without improvement".into(),
                },
                ParamView { name: "mode".into(), value: "min".into(), range: "min | max".into(), help: String::new() },
            ],
            status: "patience 0/5, best epoch 3".into(),
        },
    ]
}

pub fn step(step: u64) -> StepRecord {
    let loss = 2.0 * (-(step as f32) / 20.0).exp() + 0.05;
    StepRecord {
        step,
        epoch: (step as usize - 1) / 10 + 1,
        loss,
        objective: None,
        acc: Some(1.0 - loss / 2.1),
        lr: 0.01,
        samples_per_sec: 12345.0,
        wall_time: step as f64 * 0.1,
        grad_norms: vec![
            ("layer0.weight".into(), 0.05 / step as f32),
            ("layer0.bias".into(), 0.01),
            ("layer1.weight".into(), 0.2),
            ("layer1.bias".into(), 0.02),
        ],
        saturation: vec![(0, 0.12)],
        metrics: vec![("dropout.kept".into(), 0.5)],
    }
}

/// The scripted run of the tests: started, two techniques, 50 steps, 5
/// epochs, a marker and a log line.
pub fn scripted() -> App {
    let mut app = App::new("digits-mlp", true);
    app.apply(RunEvent::Started(Started {
        run_dir: "runs/digits-mlp-20240101-000000".into(),
        device: "cpu".into(),
        epochs: 5,
        steps_per_epoch: 10,
        parameters: 12_345,
        ..Started::default()
    }));
    app.apply(RunEvent::Techniques { techniques: techniques(true) });
    for s in 1..=50u64 {
        app.apply(RunEvent::Step(step(s)));
        if s == 30 {
            app.apply(RunEvent::Marker { step: 30, label: "dropout off".into() });
        }
        if s % 10 == 0 {
            let e = s as usize / 10;
            app.apply(RunEvent::Epoch(EpochRecord {
                step: s,
                epoch: e,
                loss: step(s).loss,
                val_loss: step(s).loss * 1.1,
                val_acc: Some(0.5 + 0.08 * e as f32),
                lr: 0.01,
                samples_per_sec: 12000.0,
                wall_time: s as f64 * 0.1,
                eta_secs: (50 - s) as f64 * 0.1,
            }));
        }
    }
    app.apply(RunEvent::log("checkpoint written at step 50"));
    app
}

pub fn render(app: &App, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| app.draw(f)).unwrap();
    t.backend().buffer().clone()
}

pub fn text(buf: &Buffer) -> String {
    let a = buf.area;
    let mut s = String::new();
    for y in a.top()..a.bottom() {
        for x in a.left()..a.right() {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

fn key(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(c: KeyCode) -> KeyEvent {
    KeyEvent::new(c, KeyModifiers::NONE)
}

#[test]
fn renders_the_scripted_run_at_80x24_and_120x40() {
    let app = scripted();
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&render(&app, w, h));
        for needle in [
            "digits-mlp",
            "running",
            "cpu",
            "dropout",
            "early_stopping",
            "[on ]",
            "dropout off",
            "loss",
            "acc",
            "epoch 5/5",
        ] {
            assert!(s.contains(needle), "{w}x{h}: no `{needle}` in\n{s}");
        }
    }
    let big = text(&render(&app, 120, 40));
    for needle in ["grad", "layer1.weight", "checkpoint written", "12,345"] {
        assert!(big.contains(needle), "no `{needle}` in\n{big}");
    }
}

#[test]
fn shows_paused_and_off() {
    let mut app = scripted();
    app.apply(RunEvent::State { step: 0, state: RunState::Paused });
    app.apply(RunEvent::Techniques { techniques: techniques(false) });
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("PAUSED") || s.contains("paused"), "{s}");
    assert!(s.contains("[off]"), "{s}");
}

#[test]
fn marker_label_on_the_loss_chart() {
    let app = scripted();
    let buf = render(&app, 120, 40);
    let s = text(&buf);
    // The chart's top rows, not just the log, carry the label.
    let chart_rows: String = s.lines().skip(2).take(6).collect();
    assert!(chart_rows.contains("dropout off"), "{s}");
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = scripted();
    assert_eq!(app.on_key(key('?')), vec![]);
    for (w, h) in [(80, 24), (120, 40)] {
        let s = text(&render(&app, w, h));
        for needle in ["pause / resume", "Ctrl+C", "log scale", "learning rate"] {
            assert!(s.contains(needle), "{w}x{h}: no `{needle}` in\n{s}");
        }
    }
    app.on_key(code(KeyCode::Esc));
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn no_color_render_has_only_default_styles() {
    let mut app = scripted();
    app.on_key(key('j'));
    for (w, h) in [(80, 24), (120, 40)] {
        for overlay in [Overlay::None, Overlay::Help, Overlay::ConfirmQuit] {
            app.overlay = overlay;
            let buf = render(&app, w, h);
            for cell in buf.content() {
                assert_eq!(cell.fg, Color::Reset);
                assert_eq!(cell.bg, Color::Reset);
                assert_eq!(cell.modifier, Modifier::empty());
            }
        }
    }
}

#[test]
fn colored_render_shows_the_same_panels() {
    let mut app = scripted();
    app.theme = Theme::new(false);
    let buf = render(&app, 80, 24);
    let s = text(&buf);
    for needle in ["digits-mlp", "[on ]", "dropout off", "gradients", "events"] {
        assert!(s.contains(needle), "no `{needle}` in\n{s}");
    }
    // NO_COLOR in the test environment makes this theme plain too.
    if app.theme.is_colored() {
        assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
    }
}

#[test]
fn tiny_terminals_do_not_panic() {
    let mut app = scripted();
    for (w, h) in [(20, 5), (1, 1), (0, 0), (39, 11), (40, 12), (60, 15), (79, 23)] {
        let s = text(&render(&app, w, h));
        if (w, h) == (20, 5) {
            assert!(s.contains("too small"), "{s}");
        }
    }
    app.on_key(key('e'));
    app.on_key(key('?'));
    for (w, h) in [(20, 5), (45, 13)] {
        render(&app, w, h);
    }
}

#[test]
fn pause_resume_follows_state() {
    let mut app = scripted();
    assert_eq!(app.on_key(key('p')), vec![RunCommand::Pause]);
    app.apply(RunEvent::State { step: 0, state: RunState::Paused });
    assert_eq!(app.on_key(key('n')), vec![RunCommand::StepOnce]);
    assert_eq!(app.on_key(key('p')), vec![RunCommand::Resume]);
    app.apply(RunEvent::State { step: 0, state: RunState::Running });
    assert_eq!(app.on_key(key('n')), vec![]);
    assert_eq!(app.on_key(key('c')), vec![RunCommand::Checkpoint]);
}

#[test]
fn space_toggles_with_negated_flag() {
    let mut app = scripted();
    assert_eq!(app.on_key(key(' ')), vec![RunCommand::Toggle { technique: "dropout".into(), enabled: false }]);
    app.on_key(code(KeyCode::Down));
    assert_eq!(app.on_key(key('t')), vec![RunCommand::Toggle { technique: "early_stopping".into(), enabled: false }]);
    app.apply(RunEvent::Techniques { techniques: techniques(false) });
    app.on_key(key('k'));
    assert_eq!(app.on_key(key(' ')), vec![RunCommand::Toggle { technique: "dropout".into(), enabled: true }]);
}

#[test]
fn editor_rejects_out_of_range_and_sends_valid() {
    let mut app = scripted();
    assert_eq!(app.on_key(key('e')), vec![]);
    assert_eq!(app.input_mode(), InputMode::Editor);
    for c in "1.5".chars() {
        assert_eq!(app.on_key(key(c)), vec![]);
    }
    assert_eq!(app.on_key(code(KeyCode::Enter)), vec![]);
    assert_eq!(app.input_mode(), InputMode::Editor);
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("outside"), "{s}");
    app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    for c in "0.25".chars() {
        app.on_key(key(c));
    }
    assert_eq!(
        app.on_key(code(KeyCode::Enter)),
        vec![RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "0.25".into() }]
    );
    assert_eq!(app.overlay, Overlay::None);
    // Esc cancels without a command.
    app.on_key(key('e'));
    app.on_key(key('9'));
    assert_eq!(app.on_key(code(KeyCode::Esc)), vec![]);
    assert_eq!(app.overlay, Overlay::None);
}

#[test]
fn learning_rate_editor() {
    let mut app = scripted();
    app.on_key(KeyEvent::new(KeyCode::Char('L'), KeyModifiers::SHIFT));
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("learning rate"), "{s}");
    for c in "0.001".chars() {
        app.on_key(key(c));
    }
    assert_eq!(app.on_key(code(KeyCode::Enter)), vec![RunCommand::SetLearningRate { lr: 0.001 }]);
}

#[test]
fn quit_asks_while_training_and_not_after() {
    let mut app = scripted();
    assert_eq!(app.on_key(key('q')), vec![]);
    assert!(!app.should_quit());
    assert!(text(&render(&app, 80, 24)).contains("y/n"));
    assert_eq!(app.on_key(key('n')), vec![]);
    assert!(!app.should_quit());
    app.on_key(key('q'));
    assert_eq!(app.on_key(key('y')), vec![RunCommand::Stop]);
    assert!(app.should_quit());

    let mut done = scripted();
    done.apply(RunEvent::Finished {
        step: 50,
        epoch: 5,
        reason: StopReason::Completed,
        run_dir: "runs/x".into(),
        error: None,
    });
    assert_eq!(done.on_key(key('q')), vec![]);
    assert!(done.should_quit());
}

#[test]
fn ctrl_c_stops_and_stays_open() {
    let mut app = scripted();
    let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
    assert_eq!(app.on_key(ctrl_c), vec![RunCommand::Stop]);
    assert!(!app.should_quit());
    assert!(text(&render(&app, 80, 24)).contains("stopping"));
    app.apply(RunEvent::Finished {
        step: 50,
        epoch: 5,
        reason: StopReason::User,
        run_dir: "runs/x".into(),
        error: None,
    });
    assert!(!app.should_quit());
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("finished"), "{s}");
    assert_eq!(app.on_key(key('p')), vec![]);
    assert_eq!(app.on_key(key('q')), vec![]);
    assert!(app.should_quit());
}

#[test]
fn dirty_flag_tracks_changes() {
    let mut app = scripted();
    assert!(app.is_dirty());
    app.mark_drawn();
    assert!(!app.is_dirty());
    app.on_key(key('x'));
    assert!(!app.is_dirty(), "an unmapped key changes nothing");
    app.on_key(key('l'));
    assert!(app.is_dirty());
    app.mark_drawn();
    app.apply(RunEvent::log("hello"));
    assert!(app.is_dirty());
}

#[test]
fn vanishing_gradients_are_flagged() {
    let mut app = scripted();
    let settle = crate::grad_health::SETTLE_STEPS as u64;
    for n in 51..51 + settle {
        let s = text(&render(&app, 120, 40));
        assert!(!s.contains("VANISHING"), "flagged before it lasted {settle} steps: {s}");
        let mut r = step(n);
        r.grad_norms[0].1 = 1e-6;
        app.apply(RunEvent::Step(r));
    }
    let s = text(&render(&app, 120, 40));
    assert!(s.contains("VANISHING"), "{s}");
    let mut r = step(51 + settle);
    r.grad_norms[2].1 = f32::NAN;
    app.apply(RunEvent::Step(r));
    let s = text(&render(&app, 120, 40));
    assert!(s.contains("EXPLODING"), "{s}");
}

/// Text from outside the process (a client's declared name, a plugin's
/// message) reaches the events panel with its control characters shown,
/// never sent to the terminal as escape sequences.
#[test]
fn outside_text_reaches_the_events_panel_escaped() {
    let mut app = scripted();
    app.apply(RunEvent::Attached {
        client: ClientId::Script { name: "evil\u{1b}[2J\u{1b}]0;x\u{7}".into() },
        read_only: false,
        says: None,
    });
    app.apply(RunEvent::log("p \u{1b}[31m\u{9b}2J".to_string()));
    let buf = render(&app, 120, 40);
    let cells: String = buf.content().iter().map(|c| c.symbol()).collect();
    assert!(!cells.contains(['\u{1b}', '\u{7}', '\u{9b}']), "a control character reached the screen");
    let s = text(&buf);
    assert!(s.contains(r"evil\x1b[2J\x1b]0;x\x07"), "{s}");
    assert!(s.contains(r"p \x1b[31m\u{9b}2J"), "{s}");
}

/// Esc closes the confusion matrix first; only with nothing open does it
/// detach (it used to detach at once, the matrix still open).
#[test]
fn esc_closes_the_confusion_matrix_before_it_detaches() {
    let mut app = scripted();
    app.set_attached(true, false);
    app.on_key(key('C'));
    assert!(app.view.confusion);
    app.on_key(code(KeyCode::Esc));
    assert!(!app.view.confusion, "Esc closes the matrix");
    assert!(!app.should_quit() && !app.detached(), "and stays attached");
    app.on_key(code(KeyCode::Esc));
    assert!(app.should_quit() && app.detached(), "a second Esc detaches");
}

#[test]
fn s_asks_before_it_stops_and_esc_says_no() {
    let mut app = scripted();
    assert_eq!(app.on_key(key('s')), vec![], "s asks first");
    assert!(text(&render(&app, 80, 24)).contains("Stop the run"));
    assert_eq!(app.on_key(code(KeyCode::Esc)), vec![]);
    assert!(!text(&render(&app, 80, 24)).contains("Stop the run"), "Esc closes the question");
    assert!(!app.should_quit() && !app.detached(), "and neither quits nor detaches");
    app.on_key(key('s'));
    assert_eq!(app.on_key(key('y')), vec![RunCommand::Stop]);
    assert!(!app.should_quit(), "the screen stays open to show the end");
}

#[test]
fn the_run_answers_each_command_in_the_footer_with_its_step_or_reason() {
    let mut app = scripted();
    let toggle = app.on_key(key(' ')).remove(0);
    assert!(text(&render(&app, 120, 40)).contains("requested: dropout off"));
    // Another client's command is not ours to acknowledge.
    let theirs = Request::new(ClientId::Dashboard, RunCommand::Pause);
    app.apply(RunEvent::Accepted { step: 51, request: theirs });
    assert!(text(&render(&app, 120, 40)).contains("requested: dropout off"));
    app.apply(RunEvent::Accepted { step: 52, request: Request::new(ClientId::Dashboard, toggle) });
    assert!(text(&render(&app, 120, 40)).contains("dropout off: applied at step 52"));

    app.on_key(key('L'));
    for c in "0.5".chars() {
        app.on_key(key(c));
    }
    let rate = app.on_key(code(KeyCode::Enter)).remove(0);
    app.apply(RunEvent::Accepted { step: 53, request: Request::new(ClientId::Dashboard, rate) });
    let screen = text(&render(&app, 120, 40));
    assert!(screen.contains("lr=0.5: applied at step 53"), "{screen}");
    assert!(screen.contains("lr 0.5"), "the header shows the new rate at once:\n{screen}");

    let pause = app.on_key(key('p')).remove(0);
    let reason = "the trainer is busy with a fork".to_string();
    app.apply(RunEvent::Rejected { step: 54, request: Request::new(ClientId::Dashboard, pause), reason });
    assert!(text(&render(&app, 120, 40)).contains("refused: the trainer is busy with a fork"));
}

#[test]
fn a_lost_link_says_reconnecting_and_never_that_the_run_stopped() {
    let mut app = scripted();
    app.set_attached(true, false);
    app.set_link(LinkState::Reconnecting(std::time::Duration::from_secs(4)));
    let screen = text(&render(&app, 80, 24));
    assert!(screen.contains("[connection lost, reconnecting 4s]"), "{screen}");
    app.set_link(LinkState::Up);
    app.receive(StreamItem::Connection(ConnectionMessage::Hello(crate::protocol::Hello::ours())));
    assert!(text(&render(&app, 120, 40)).contains("reconnected: caught up"));

    // Given up (the far side no longer serves the run): said, and the run
    // is not called stopped.
    app.set_link(LinkState::GaveUp("gpu1: no run named x".into()));
    app.on_disconnected();
    let screen = text(&render(&app, 120, 40));
    assert!(screen.contains("[connection lost]") && screen.contains("connection lost: gpu1"), "{screen}");
    assert!(!screen.contains("stopped without finishing") && !screen.contains("[finished"), "{screen}");
}

#[test]
fn the_mouse_scrolls_the_pane_under_it_and_clicks_select_or_read() {
    use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let mouse = |kind, column, row| MouseEvent { kind, column, row, modifiers: KeyModifiers::NONE };
    let mut app = scripted();
    for i in 0..40 {
        app.apply(RunEvent::log(format!("note {i}")));
    }
    render(&app, 120, 40);
    let areas = crate::tui::layout::areas(ratatui::layout::Rect::new(0, 0, 120, 40), true, 2).unwrap();
    let log = areas.log.unwrap();
    app.on_mouse(mouse(MouseEventKind::ScrollUp, log.x + 3, log.y + 3));
    let screen = text(&render(&app, 120, 40));
    assert!(screen.contains("▸ events ↓3 newer"), "the wheel scrolled the events back:\n{screen}");
    // The second technique (two rows each, under the border).
    let t = areas.techniques;
    app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), t.x + 4, t.y + 3));
    assert!(text(&render(&app, 120, 40)).contains("> [on ] early_stopping"));
    let loss = areas.loss;
    app.on_mouse(mouse(MouseEventKind::Down(MouseButton::Left), loss.x + loss.width - 3, loss.y + 5));
    let screen = text(&render(&app, 120, 40));
    let near_end = screen.contains("loss · step 49:") || screen.contains("loss · step 50:");
    assert!(near_end, "a click at the right end reads the newest steps:\n{screen}");
}
