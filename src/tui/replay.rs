//! Rebuilding the dashboard state of a finished (or dead) run from its run
//! folder files, for `traintop view RUN_DIR`. The files are turned back into
//! the same `Event`s the trainer sends live, so the charts, the log and the
//! header come out exactly as they would have at the end of the live run.
//!
//! The file formats are read leniently: an unreadable line is counted and
//! reported in the event log, never fatal, because the last line of a run
//! that died may be cut short.

use serde_json::Value;

use super::app::{App, LogKind};
use crate::train::events::{EpochRecord, Event, RunState, StepRecord, StopReason};

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key)?.as_f64()
}

/// A float field that the writer may have turned into `null` (NaN).
fn float(v: &Value, key: &str) -> f32 {
    num(v, key).map(|x| x as f32).unwrap_or(f32::NAN)
}

fn uint(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

fn pairs<K>(v: &Value, key: &str, k: impl Fn(&Value) -> Option<K>) -> Vec<(K, f32)> {
    v.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    let value = p.get(1).map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)?;
                    Some((k(p.first()?)?, value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn step_record(v: &Value) -> StepRecord {
    StepRecord {
        kind: "step",
        step: uint(v, "step"),
        epoch: uint(v, "epoch") as usize,
        loss: float(v, "loss"),
        objective: num(v, "objective").map(|x| x as f32),
        acc: num(v, "acc").map(|x| x as f32),
        lr: float(v, "lr"),
        samples_per_sec: num(v, "samples_per_sec").unwrap_or(0.0),
        wall_time: num(v, "wall_time").unwrap_or(0.0),
        grad_norms: pairs(v, "grad_norms", |k| k.as_str().map(str::to_string)),
        saturation: pairs(v, "saturation", |k| k.as_u64().map(|x| x as usize)),
        metrics: pairs(v, "metrics", |k| k.as_str().map(str::to_string)),
    }
}

fn epoch_record(v: &Value) -> EpochRecord {
    EpochRecord {
        kind: "epoch",
        step: uint(v, "step"),
        epoch: uint(v, "epoch") as usize,
        loss: float(v, "loss"),
        val_loss: float(v, "val_loss"),
        val_acc: num(v, "val_acc").map(|x| x as f32),
        lr: float(v, "lr"),
        samples_per_sec: num(v, "samples_per_sec").unwrap_or(0.0),
        wall_time: num(v, "wall_time").unwrap_or(0.0),
        // The run is over: nothing left to wait for.
        eta_secs: 0.0,
    }
}

/// The text between `key: "` and the next quote in a `Command`'s `Debug`
/// form, which is how `events.jsonl` records commands.
fn debug_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let start = text.find(&format!("{key}: \""))? + key.len() + 3;
    let rest = &text[start..];
    Some(&rest[..rest.find('"')?])
}

/// A short label for a recorded command, and whether it gets a marker on
/// the loss chart. Toggles and parameter changes are only requests here: the
/// `toggle` and `set_param` events that follow when the trainer accepted them
/// carry their markers. The labels are the ones the trainer's live `Marker`s
/// use.
pub fn command_label(debug: &str) -> (String, bool) {
    let d = debug.trim();
    if let Some(lr) = d.strip_prefix("SetLearningRate(").and_then(|r| r.strip_suffix(')')) {
        return (format!("lr={lr}"), true);
    }
    if d.starts_with("Toggle") {
        if let Some(t) = debug_field(d, "technique") {
            let on = if d.contains("enabled: true") { "on" } else { "off" };
            return (format!("requested: {t} {on}"), false);
        }
    }
    if d.starts_with("SetParam") {
        if let (Some(t), Some(p), Some(v)) =
            (debug_field(d, "technique"), debug_field(d, "param"), debug_field(d, "value"))
        {
            return (format!("requested: {t}.{p}={v}"), false);
        }
    }
    let word = match d {
        "Pause" => "pause",
        "Resume" => "resume",
        "StepOnce" => "step once",
        "Stop" => "stop",
        "Checkpoint" => "checkpoint",
        other => other,
    };
    (word.to_string(), false)
}

/// A marker at `step`, or only a log line when the step is unknown.
fn marker(app: &mut App, step: Option<u64>, label: String) {
    match step {
        Some(step) => app.apply(Event::Marker { step, label }),
        None => app.push_log(None, label, LogKind::Marker),
    }
}

fn stop_reason(s: &str) -> Option<StopReason> {
    Some(match s {
        "completed" => StopReason::Completed,
        "early_stopping" => StopReason::EarlyStopping,
        "user" => StopReason::User,
        "diverged" => StopReason::Diverged,
        "error" => StopReason::Error,
        _ => return None,
    })
}

/// Rebuilds the dashboard of a finished run from the text of its
/// `metrics.jsonl` and `events.jsonl`.
pub fn app_from_metrics(title: &str, metrics_jsonl_text: &str, events_jsonl_text: &str) -> App {
    build(title, title, metrics_jsonl_text, events_jsonl_text)
}

/// As [`app_from_metrics`], with the run folder's path for the header.
pub fn build(title: &str, run_dir: &str, metrics: &str, events: &str) -> App {
    let mut app = App::new(title, false);
    app.replay = true;
    let mut bad = 0usize;
    let parse = |text: &str, bad: &mut usize| -> Vec<Value> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| match serde_json::from_str::<Value>(l) {
                Ok(v) if v.is_object() => Some(v),
                _ => {
                    *bad += 1;
                    None
                }
            })
            .collect()
    };
    let metrics = parse(metrics, &mut bad);
    let events = parse(events, &mut bad);
    let kind = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();

    // `Started` needs figures the files only hold implicitly: the epoch
    // count and the steps of one epoch.
    let epoch_steps: Vec<(u64, u64)> =
        metrics.iter().filter(|m| kind(m, "kind") == "epoch").map(|m| (uint(m, "epoch"), uint(m, "step"))).collect();
    let max_epoch = metrics.iter().map(|m| uint(m, "epoch")).max().unwrap_or(0);
    let max_step = metrics.iter().map(|m| uint(m, "step")).max().unwrap_or(0);
    let steps_per_epoch = match epoch_steps.first() {
        Some(&(e, s)) if e > 0 => s / e,
        _ if max_epoch > 0 => max_step.div_ceil(max_epoch),
        _ => 0,
    };
    let start = events.iter().find(|e| matches!(kind(e, "event").as_str(), "run_start" | "run_resumed"));
    app.apply(Event::Started {
        run_dir: run_dir.to_string(),
        device: start.map(|e| kind(e, "device")).filter(|d| !d.is_empty()).unwrap_or_else(|| "?".into()),
        epochs: max_epoch as usize,
        steps_per_epoch: steps_per_epoch as usize,
        parameters: start.map(|e| uint(e, "parameters")).unwrap_or(0) as usize,
    });
    // The live log starts with the same line; the replay says where from.
    app.log.clear();

    for m in &metrics {
        match kind(m, "kind").as_str() {
            "step" => app.apply(Event::Step(step_record(m))),
            "epoch" => app.apply(Event::Epoch(epoch_record(m))),
            _ => bad += 1,
        }
    }

    let mut finished = false;
    for e in &events {
        let step = e.get("step").and_then(Value::as_u64);
        match kind(e, "event").as_str() {
            "command" => {
                let (label, marks) = command_label(&kind(e, "command"));
                if marks {
                    marker(&mut app, step, label);
                } else {
                    app.push_log(step, label, LogKind::State);
                }
            }
            "toggle" => {
                let on = e.get("enabled").and_then(Value::as_bool).unwrap_or(false);
                let label = format!("{} {}", kind(e, "technique"), if on { "on" } else { "off" });
                marker(&mut app, step, label);
            }
            "set_param" => {
                let label = format!("{}.{}={}", kind(e, "technique"), kind(e, "param"), kind(e, "value"));
                marker(&mut app, step, label);
            }
            "plugin" | "warning" | "rejected" => {
                let warn = kind(e, "event") != "plugin";
                let level = if warn { LogKind::Warn } else { LogKind::Info };
                app.push_log(step, kind(e, "message"), level);
            }
            "rebuild" => {
                let ms = num(e, "rebuild_ms").unwrap_or(f64::NAN);
                app.push_log(step, format!("graph rebuilt in {ms:.1} ms ({})", kind(e, "reason")), LogKind::Info);
            }
            "stop_requested" => app.push_log(step, format!("stop requested by {}", kind(e, "reason")), LogKind::State),
            "run_start" => app.push_log(step, format!("run started on {}", kind(e, "device")), LogKind::State),
            "run_resumed" => app.push_log(step, "run resumed".into(), LogKind::State),
            "diverged" => app.push_log(step, format!("diverged: loss {}", kind(e, "loss")), LogKind::Warn),
            "run_end" => {
                let reason = stop_reason(&kind(e, "stop_reason")).unwrap_or(StopReason::Error);
                app.apply(Event::Finished { reason, run_dir: run_dir.to_string() });
                finished = true;
            }
            other => {
                let mut fields = e.as_object().cloned().unwrap_or_default();
                fields.remove("event");
                fields.remove("time");
                fields.remove("step");
                let text =
                    if fields.is_empty() { other.to_string() } else { format!("{other} {}", Value::Object(fields)) };
                app.push_log(step, text, LogKind::Info);
            }
        }
    }
    if !finished {
        app.push_log(None, "no run_end in events.jsonl: the run is still going or died".into(), LogKind::Warn);
        app.apply(Event::State(RunState::Finished));
    }
    if bad > 0 {
        app.push_log(None, format!("{bad} unreadable lines skipped"), LogKind::Warn);
    }
    app.notice = Some("viewing a finished run: q quits".into());
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::{render, step, text};

    fn metrics_text() -> String {
        let mut s = String::new();
        for i in 1..=20u64 {
            s.push_str(&serde_json::to_string(&step(i)).unwrap());
            s.push('\n');
            if i % 10 == 0 {
                let e = EpochRecord {
                    kind: "epoch",
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
                s.push_str(&serde_json::to_string(&e).unwrap());
                s.push('\n');
            }
        }
        s.push_str("{\"kind\":\"step\",\"step\":2"); // cut short by a crash
        s
    }

    const EVENTS: &str = r#"{"time":1.0,"event":"run_start","epoch":0,"step":0,"parameters":99,"device":"cpu"}
{"time":2.0,"event":"command","command":"Pause","step":5}
{"time":3.0,"event":"command","command":"Toggle { technique: \"dropout\", enabled: false }","step":12}
{"time":3.0,"event":"rebuild","reason":"dropout off","rebuild_ms":12.5,"step":12}
{"time":3.0,"event":"toggle","technique":"dropout","enabled":false,"step":12}
{"time":3.5,"event":"rejected","message":"rejected: dropout: rate: 2 is outside 0 ..= 0.95"}
{"time":4.0,"event":"command","command":"SetLearningRate(0.005)","step":15}
{"time":5.0,"event":"run_end","stop_reason":"completed","epoch":2,"step":20}
"#;

    #[test]
    fn labels() {
        assert_eq!(command_label("Pause"), ("pause".into(), false));
        assert_eq!(
            command_label("SetParam { technique: \"dropout\", param: \"rate\", value: \"0.3\" }"),
            ("requested: dropout.rate=0.3".into(), false)
        );
        assert_eq!(command_label("Toggle { technique: \"bn\", enabled: true }"), ("requested: bn on".into(), false));
        assert_eq!(command_label("SetLearningRate(0.5)"), ("lr=0.5".into(), true));
    }

    #[test]
    fn rebuilds_a_finished_run() {
        let app = app_from_metrics("digits", &metrics_text(), EVENTS);
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
            "pause",
            "unreadable",
            "rejected",
            "epoch 2/2",
            "100%",
        ] {
            assert!(s.contains(needle), "no `{needle}` in\n{s}");
        }
    }

    #[test]
    fn commands_are_refused_and_q_quits() {
        use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
        let mut app = app_from_metrics("x", &metrics_text(), "");
        let k = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(app.on_key(k('p')), None);
        assert_eq!(app.on_key(k('s')), None);
        assert_eq!(app.on_key(k('q')), None);
        assert!(app.should_quit());
    }

    #[test]
    fn empty_files_give_an_empty_dashboard() {
        let app = app_from_metrics("x", "", "");
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("waiting for the first step"), "{s}");
    }
}
