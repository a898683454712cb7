//! Rebuilding the dashboard of a finished (or dead) run from its run folder,
//! for `traintop view RUN_DIR`. `events.jsonl` and `metrics.jsonl` hold the
//! run protocol's records, the very values the live dashboard was given, so
//! they are read back through the same types and folded in by the same
//! [`App::apply`], in the order they happened (their time stamps).
//!
//! Lines that cannot be read are counted and reported in the event log,
//! never fatal, because the last line of a run that died may be cut short.
//! A file from another protocol major version is refused.

use super::app::App;
use super::baseline::Baseline;
use super::state::{LogKind, Source};
use crate::protocol::{EventReader, FrameError, Record, RunEvent, RunState, Started};

/// The records of one file, in order; bad lines are counted in `bad`.
fn records(name: &str, text: &str, bad: &mut usize) -> Result<Vec<Record>, String> {
    let mut out = Vec::new();
    for record in EventReader::new(text.as_bytes()) {
        match record {
            Ok(r) => out.push(r),
            Err(e @ FrameError::Version { .. }) => return Err(format!("{name}: {e}")),
            Err(_) => *bad += 1,
        }
    }
    Ok(out)
}

/// A `Started` from the metrics alone, for a folder whose `events.jsonl` is
/// missing or lost its first lines: the epoch count and the steps of one
/// epoch are implicit in the step and epoch records.
fn started_from_metrics(run_dir: &str, metrics: &[Record]) -> Started {
    let (mut max_epoch, mut max_step, mut first_epoch) = (0usize, 0u64, None);
    for r in metrics {
        match &r.event {
            RunEvent::Step(s) => (max_epoch, max_step) = (max_epoch.max(s.epoch), max_step.max(s.step)),
            RunEvent::Epoch(e) => {
                (max_epoch, max_step) = (max_epoch.max(e.epoch), max_step.max(e.step));
                first_epoch = first_epoch.or(Some((e.epoch, e.step)));
            }
            _ => {}
        }
    }
    let steps_per_epoch = match first_epoch {
        Some((e, s)) if e > 0 => s as usize / e,
        _ if max_epoch > 0 => max_step.div_ceil(max_epoch as u64) as usize,
        _ => 0,
    };
    Started { run_dir: run_dir.into(), device: "?".into(), epochs: max_epoch, steps_per_epoch, ..Started::default() }
}

/// Rebuilds the dashboard of a finished run from the text of its
/// `metrics.jsonl` and `events.jsonl`.
pub fn app_from_metrics(title: &str, metrics_jsonl_text: &str, events_jsonl_text: &str) -> Result<App, String> {
    build(title, title, metrics_jsonl_text, events_jsonl_text)
}

/// Replays the run folder `dir` (its `metrics.jsonl` and `events.jsonl`);
/// the error names the folder, and the file and line at fault.
pub fn from_dir(title: &str, dir: &std::path::Path) -> Result<App, String> {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap_or_default();
    let (metrics, events) = (read("metrics.jsonl"), read("events.jsonl"));
    if metrics.is_empty() && events.is_empty() {
        return Err(format!("{}: no metrics.jsonl or events.jsonl", dir.display()));
    }
    build(title, &dir.display().to_string(), &metrics, &events).map_err(|e| format!("{}/{e}", dir.display()))
}

/// The run folder `dir` replayed for its curves, to pin behind a live run;
/// the error names the folder and what is wrong with it.
pub fn load_baseline(dir: &std::path::Path) -> Result<Baseline, String> {
    let shown = dir.display();
    if !dir.is_dir() {
        let what = if dir.exists() { "not a folder" } else { "no such folder" };
        return Err(format!("--baseline {shown}: {what} (expected a run folder, e.g. runs/NAME-DATE)"));
    }
    let name = dir.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
    let app = from_dir(&name, dir).map_err(|e| format!("--baseline {e}"))?;
    let charts = app.charts;
    if charts.train_loss.is_empty() && charts.val_loss.is_empty() {
        return Err(format!("--baseline {shown}: the run recorded no steps, so it has no curves to show"));
    }
    Ok(Baseline::new(name, charts))
}

/// As [`app_from_metrics`], with the run folder's path for the header.
pub fn build(title: &str, run_dir: &str, metrics: &str, events: &str) -> Result<App, String> {
    let mut app = App::new(title, false);
    app.link.source = Source::Replay;
    let mut bad = 0usize;
    let metrics = records("metrics.jsonl", metrics, &mut bad)?;
    let events = records("events.jsonl", events, &mut bad)?;
    if !events.iter().any(|r| matches!(r.event, RunEvent::Started(_))) {
        app.apply(RunEvent::Started(started_from_metrics(run_dir, &metrics)));
        app.log.clear();
    }
    // Both files are in time order; a stable sort interleaves them as the
    // run produced them (the dashboard saw steps and markers in this order).
    let mut all: Vec<Record> = events.into_iter().chain(metrics).collect();
    all.sort_by(|a, b| a.time.total_cmp(&b.time));
    let mut finished = false;
    for record in all {
        finished |= matches!(record.event, RunEvent::Finished { .. });
        app.apply(record.event);
    }
    // The header shows the folder as the user named it.
    if let Some(info) = app.info.as_mut() {
        info.run_dir = run_dir.to_string();
    }
    if !finished {
        app.push_log(None, "no finished record in events.jsonl: the run is still going or died".into(), LogKind::Warn);
        let step = app.progress.step;
        app.apply(RunEvent::State { step, state: RunState::Finished });
    }
    if bad > 0 {
        app.push_log(None, format!("{bad} unreadable lines skipped"), LogKind::Warn);
    }
    app.notice = Some("viewing a finished run: q quits".into());
    Ok(app)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::encode;
    use crate::protocol::{ConnectionMessage, EpochRecord, Hello, RecordRef, Request, RunCommand, StopReason};
    use crate::tui::app::tests::{render, step, text};

    fn line(time: f64, event: RunEvent) -> String {
        String::from_utf8(encode(&Record { time, event })).unwrap()
    }

    /// The hello at the top of each file, as the run folder writes it.
    fn hello_line() -> String {
        String::from_utf8(encode(&RecordRef { time: 0.0, event: &ConnectionMessage::Hello(Hello::ours()) })).unwrap()
    }

    fn metrics_text() -> String {
        let mut s = hello_line();
        for i in 1..=20u64 {
            s.push_str(&line(i as f64, RunEvent::Step(step(i))));
            if i % 10 == 0 {
                let e = EpochRecord {
                    step: i,
                    epoch: (i / 10) as usize,
                    loss: 0.5,
                    val_loss: f32::NAN,
                    val_acc: Some(0.9),
                    lr: 0.01,
                    samples_per_sec: 100.0,
                    wall_time: i as f64,
                    eta_secs: 3.0,
                };
                s.push_str(&line(i as f64 + 0.5, RunEvent::Epoch(e)));
            }
        }
        // The last line cut short by a crash.
        let last = line(21.0, RunEvent::Step(step(21)));
        s.push_str(&last[..last.len() / 2]);
        s
    }

    fn events_text() -> String {
        let toggle = RunCommand::Toggle { technique: "dropout".into(), enabled: false };
        let set = RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "2".into() };
        [
            hello_line(),
            line(
                0.5,
                RunEvent::Started(Started {
                    run_dir: "runs/x".into(),
                    device: "cpu".into(),
                    epochs: 2,
                    steps_per_epoch: 10,
                    parameters: 99,
                    ..Started::default()
                }),
            ),
            line(5.1, RunEvent::Accepted { step: 5, request: Request::dashboard(RunCommand::Pause) }),
            line(5.2, RunEvent::State { step: 5, state: RunState::Paused }),
            line(12.1, RunEvent::Accepted { step: 12, request: Request::dashboard(toggle) }),
            line(12.2, RunEvent::Rebuild { step: 12, reason: "dropout off".into(), rebuild_ms: 12.5 }),
            line(12.3, RunEvent::Marker { step: 12, label: "dropout off".into() }),
            line(
                12.4,
                RunEvent::Rejected {
                    step: 12,
                    request: Request::dashboard(set),
                    reason: "dropout: rate: 2 is outside 0 ..= 0.95".into(),
                },
            ),
            line(15.1, RunEvent::Marker { step: 15, label: "lr=0.005".into() }),
            "{\"time\":15.5,\"event\":\"from_the_future\",\"step\":15}\n".into(),
            line(
                25.0,
                RunEvent::Finished {
                    step: 20,
                    epoch: 2,
                    reason: StopReason::Completed,
                    run_dir: "runs/x".into(),
                    error: None,
                },
            ),
        ]
        .concat()
    }

    #[test]
    fn rebuilds_a_finished_run() {
        let app = app_from_metrics("digits", &metrics_text(), &events_text()).unwrap();
        assert!(app.is_finished());
        assert_eq!(app.progress.step, 20);
        assert_eq!(app.charts.train_loss.len(), 20);
        assert_eq!(app.charts.val_loss.len(), 0, "NaN val_loss is not plotted");
        assert_eq!(app.charts.val_acc.len(), 2);
        assert_eq!(app.charts.markers.len(), 2);
        assert_eq!(app.grads.norms.len(), 4);
        let s = text(&render(&app, 100, 30));
        for needle in [
            "digits",
            "finished: completed",
            "dropout off",
            "lr=0.005",
            "paused",
            "unreadable",
            "rejected",
            "epoch 2/2",
            "100%",
        ] {
            assert!(s.contains(needle), "no `{needle}` in\n{s}");
        }
    }

    #[test]
    fn another_major_version_is_refused() {
        let events =
            "{\"time\":1.0,\"event\":\"hello\",\"protocol\":{\"major\":99,\"minor\":0},\"program\":\"traintop 99\"}\n";
        let err = app_from_metrics("x", "", events).err().unwrap();
        assert!(err.starts_with("events.jsonl: line 1:") && err.contains("99.0"), "{err}");
    }

    #[test]
    fn commands_are_refused_and_q_quits() {
        use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut app = app_from_metrics("x", &metrics_text(), "").unwrap();
        let k = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(app.on_key(k('p')), vec![]);
        assert_eq!(app.on_key(k('s')), vec![]);
        assert_eq!(app.on_key(k('q')), vec![]);
        assert!(app.should_quit());
    }

    #[test]
    fn empty_files_give_an_empty_dashboard() {
        let app = app_from_metrics("x", "", "").unwrap();
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("waiting for the first step"), "{s}");
    }

    /// The end-to-end promise of the protocol: a short real run, watched by
    /// a dashboard the way `traintop run` feeds it, then its folder replayed
    /// the way `traintop view` reads it; both dashboards hold the same
    /// steps, markers, technique states, log and stop reason, and draw the
    /// same screen.
    #[test]
    fn run_then_view_shows_what_the_live_run_showed() {
        use crate::config::RunConfig;
        use crate::protocol::ClientId;
        use crate::train::run_dir::{RunDir, EVENTS_FILE, METRICS_FILE};
        use crate::train::trainer::Channels;
        use crate::train::Trainer;

        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let overrides = ["run.epochs=3", "run.log_every=5", "run.batch_size=128"].map(String::from);
        let cfg = RunConfig::from_file(&root.join("configs/digits.toml"), &overrides).unwrap();
        let full = crate::data::load(&cfg.data_spec()).unwrap();
        let split = crate::data::split(&full, cfg.data.validation, cfg.run.seed);
        let tmp = tempfile::tempdir().unwrap();
        let run_dir = RunDir::create(tmp.path(), "replay", &cfg.to_toml_string()).unwrap();
        let path = run_dir.path.clone();
        let (plugins, _) = crate::plugin::setup(&cfg).unwrap();
        let mut trainer = Trainer::new(cfg, split.train, split.validation, run_dir, plugins, None);

        let (tx, rx) = std::sync::mpsc::channel();
        let send = |c: RunCommand| tx.send(Request::new(ClientId::Script { name: "test".into() }, c)).unwrap();
        let mut live = App::new("replay", true);
        let mut on_event = |e: RunEvent| {
            if let RunEvent::Step(r) = &e {
                match r.step {
                    5 => send(RunCommand::Toggle { technique: "dropout".into(), enabled: true }),
                    10 => {
                        send(RunCommand::SetParam {
                            technique: "dropout".into(),
                            param: "rate".into(),
                            value: "7".into(),
                        });
                        send(RunCommand::Pause);
                        send(RunCommand::StepOnce);
                        send(RunCommand::Resume);
                    }
                    15 => send(RunCommand::SetLearningRate { lr: 0.02 }),
                    _ => {}
                }
            }
            live.apply(e);
        };
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut ch = Channels { events: &mut on_event, commands: Some(rx), stop };
        trainer.run(&mut ch).unwrap();

        let read = |f: &str| std::fs::read_to_string(path.join(f)).unwrap();
        let dir = path.display().to_string();
        let mut replayed = build("replay", &dir, &read(METRICS_FILE), &read(EVENTS_FILE)).unwrap();
        assert_eq!(replayed.finished, Some(StopReason::Completed));
        assert_eq!(replayed.finished, live.finished);
        assert_eq!(format!("{:?}", replayed.progress), format!("{:?}", live.progress));
        assert_eq!(replayed.charts.train_loss.points(), live.charts.train_loss.points());
        assert_eq!(replayed.charts.val_loss.points(), live.charts.val_loss.points());
        assert_eq!(replayed.charts.val_acc.points(), live.charts.val_acc.points());
        let markers: Vec<_> = live.charts.markers.iter().map(|(s, l)| (*s, l.as_str())).collect();
        // Markers name the client that asked (here a script).
        assert_eq!(markers, [(5, "dropout on · test"), (15, "lr=0.02 · test")]);
        assert_eq!(replayed.charts.markers, live.charts.markers);
        assert_eq!(replayed.techniques, live.techniques);
        // The last epoch's validation confusion matrix, 10 digits.
        let confusion = live.confusion.as_ref().expect("a confusion record");
        assert_eq!((confusion.epoch, confusion.classes.len()), (3, 10));
        assert_eq!(replayed.confusion, live.confusion);
        assert_eq!(replayed.log, live.log);
        assert!(
            live.log.iter().any(|l| l.text.starts_with("rejected:") && l.text.contains("rate: 7 is outside")),
            "{:?}",
            live.log
        );
        // The footer's notice is the one thing that differs on purpose.
        replayed.notice = live.notice.clone();
        replayed.theme = crate::tui::Theme::new(true);
        assert_eq!(text(&render(&replayed, 120, 40)), text(&render(&live, 120, 40)));
    }

    #[test]
    fn bad_baseline_folders_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let e = load_baseline(&missing).unwrap_err();
        assert!(e.starts_with("--baseline ") && e.contains("nope: no such folder"), "{e}");
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(load_baseline(&file).unwrap_err().contains("file: not a folder"));
        let e = load_baseline(tmp.path()).unwrap_err();
        assert!(e.ends_with("no metrics.jsonl or events.jsonl"), "{e}");
        std::fs::write(tmp.path().join("events.jsonl"), line(1.0, RunEvent::log("x"))).unwrap();
        let e = load_baseline(tmp.path()).unwrap_err();
        assert!(e.ends_with("the run recorded no steps, so it has no curves to show"), "{e}");
    }
}
