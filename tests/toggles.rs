//! Switching techniques while training, through the trainer's command
//! interface (the one the dashboard uses): changes apply at the next batch
//! boundary, weights and optimizer state carry over, the change is logged, and
//! the loss does not jump.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::Arc;

use common::cli::config;
use common::plugins::host_with;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use traintop::config::RunConfig;
use traintop::data::{self, split};
use traintop::engine::{Activation, Backend, MlpSpec, NoHooks, Objective, Optimizer, Session};
use traintop::protocol::{ClientId, Request, RunCommand, RunEvent};
use traintop::train::run_dir::RunDir;
use traintop::train::trainer::Channels;
use traintop::train::Trainer;

/// Runs digits in-process; `script` maps a step number to commands sent when
/// that step's record arrives (so they apply before the next step). Returns
/// the per-step losses, the events and the run folder.
fn scripted_run(script: &[(u64, RunCommand)], extra: &[&str]) -> (Vec<(u64, f32)>, Vec<RunEvent>, tempfile::TempDir) {
    let mut overrides =
        vec!["run.epochs=6".to_string(), "run.log_every=1".to_string(), "run.batch_size=64".to_string()];
    overrides.extend(extra.iter().map(|s| s.to_string()));
    let cfg = RunConfig::from_file(&config("digits.toml"), &overrides).unwrap();
    let full = data::load(&cfg.data_spec()).unwrap();
    let s = split(&full, cfg.data.validation, cfg.run.seed);
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = RunDir::create(tmp.path(), "toggles", &cfg.to_toml_string()).unwrap();
    let (plugins, _) = traintop::plugin::setup(&cfg).unwrap();
    let mut trainer = Trainer::new(cfg, s.train, s.validation, run_dir, plugins, None);
    let (tx, rx) = mpsc::channel();
    let mut losses = vec![];
    let mut events = vec![];
    let mut on_event = |e: RunEvent| {
        if let RunEvent::Step(r) = &e {
            losses.push((r.step, r.loss));
            for (step, c) in script {
                if *step == r.step {
                    tx.send(Request::new(ClientId::Script { name: "toggles".into() }, c.clone())).unwrap();
                }
            }
        }
        events.push(e);
    };
    let mut ch = Channels { events: &mut on_event, commands: Some(rx), stop: Arc::new(AtomicBool::new(false)) };
    trainer.run(&mut ch).unwrap();
    (losses, events, tmp)
}

fn toggle(technique: &str, enabled: bool) -> RunCommand {
    RunCommand::Toggle { technique: technique.into(), enabled }
}

#[test]
fn toggles_apply_at_the_next_batch_boundary_and_are_logged() {
    let script = [
        (20, toggle("dropout", true)),
        (40, RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "0.2".into() }),
        (50, toggle("dropout", false)),
        (60, toggle("batch_norm", true)),
        (80, toggle("batch_norm", false)),
        (85, RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "7".into() }),
    ];
    let (losses, events, tmp) = scripted_run(&script, &[]);
    let markers: Vec<(u64, String)> = events
        .iter()
        .filter_map(|e| if let RunEvent::Marker { step, label } = e { Some((*step, label.clone())) } else { None })
        .collect();
    assert_eq!(
        markers,
        vec![
            (20, "dropout on · toggles".to_string()),
            (40, "dropout.rate=0.2 · toggles".into()),
            (50, "dropout off · toggles".into()),
            (60, "batch_norm on · toggles".into()),
            (80, "batch_norm off · toggles".into())
        ],
        "each change applies right after the step it was sent at, marked with its client"
    );
    assert!(losses.iter().all(|(_, l)| l.is_finite()));
    let dir = std::fs::read_dir(tmp.path()).unwrap().next().unwrap().unwrap().path();
    let log = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let toggles: Vec<_> = entries.iter().filter(|e| e["event"] == "accepted" && e["command"] == "toggle").collect();
    assert_eq!(toggles.len(), 4);
    assert_eq!(toggles[0]["technique"], "dropout");
    assert_eq!(toggles[0]["step"], 20);
    assert_eq!(toggles[0]["from"]["name"], "toggles", "the sender is recorded");
    let rebuilds: Vec<_> = entries.iter().filter(|e| e["event"] == "rebuild").collect();
    assert!(rebuilds.len() >= 4 && rebuilds.iter().all(|r| r["rebuild_ms"].as_f64().unwrap() > 0.0), "{rebuilds:?}");
    assert!(entries.iter().any(|e| e["event"] == "accepted" && e["command"] == "set_param" && e["value"] == "0.2"));
    // An out-of-range value is rejected, logged, and changes nothing.
    assert!(entries.iter().any(|e| e["event"] == "rejected" && e["reason"].as_str().unwrap().contains("0 ..= 0.95")));
}

#[test]
fn rebuild_keeps_weights_and_optimizer_state() {
    let spec = MlpSpec {
        inputs: 8,
        hidden: vec![16, 16],
        outputs: 3,
        activation: Activation::Relu,
        objective: Objective::Classification,
    };
    let adam = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    let mut session = Session::new(spec, adam, Backend::Cpu, &mut NoHooks, &mut ChaCha8Rng::seed_from_u64(1));
    let x: Vec<f32> = (0..32 * 8).map(|i| (i as f32 * 0.37).sin()).collect();
    let y: Vec<f32> = (0..32 * 3).map(|i| ((i % 3) == (i / 3) % 3) as u8 as f32).collect();
    for _ in 0..5 {
        session.train_step(x.clone(), y.clone(), 32, 1e-3, false, &mut NoHooks).unwrap();
    }
    let before: Vec<(String, Vec<f32>)> =
        session.store.names().map(|n| (n.to_string(), session.store.read(n).unwrap())).collect();
    let mut host = host_with("dropout", &[], 3);
    host.preset_enabled("dropout", false);
    host.set_enabled("dropout", true, &mut session.store).unwrap();
    session.rebuild(&mut host);
    for (name, values) in &before {
        assert_eq!(session.store.read(name).as_ref(), Ok(values), "{name} changed across the rebuild");
    }
    assert_eq!(session.adam_steps(), Some(5.0), "Adam's step counter carried over");
    session.train_step(x, y, 32, 1e-3, true, &mut host).unwrap();
    assert_eq!(session.adam_steps(), Some(6.0));
}

/// The loss of the first step after a toggle, against the same step of an
/// identical run without it (same weights, same batch): no spike.
fn loss_jump(technique: &str, at: u64, extra: &[&str]) -> f32 {
    let (plain, _, _) = scripted_run(&[], extra);
    let (toggled, _, _) = scripted_run(&[(at, toggle(technique, true))], extra);
    let before = plain.iter().find(|(s, _)| *s == at).unwrap().1;
    assert_eq!(before, toggled.iter().find(|(s, _)| *s == at).unwrap().1, "identical until the toggle");
    let control = plain.iter().find(|(s, _)| *s == at + 1).unwrap().1;
    let after = toggled.iter().find(|(s, _)| *s == at + 1).unwrap().1;
    (after - control).abs() / control
}

#[test]
fn switching_batch_norm_or_dropout_on_does_not_make_the_loss_jump() {
    // Batch norm starts as the identity on its first batch, wherever it is
    // switched on.
    for at in [20, 70] {
        let bn = loss_jump("batch_norm", at, &[]);
        assert!(bn < 1e-3, "batch norm at step {at}: loss changed by {:.3}%", bn * 100.0);
    }
    // Inverted dropout keeps each unit's expected output, so switching it on
    // mid-training moves the loss by dropout's own noise only. (On a converged
    // net any dropout raises the training loss: that is the technique, not the
    // toggle.)
    let dropout = loss_jump("dropout", 20, &["technique.dropout.rate=0.1"]);
    assert!(dropout < 0.10, "dropout: loss changed by {:.1}%", dropout * 100.0);
}

/// Switching a technique back on reuses the programs compiled the first time
/// (nothing is compiled again), and they train exactly as freshly compiled ones.
#[test]
fn toggling_back_reuses_the_compiled_programs() {
    let spec = MlpSpec {
        inputs: 8,
        hidden: vec![16, 16],
        outputs: 3,
        activation: Activation::Sigmoid,
        objective: Objective::Classification,
    };
    let x: Vec<f32> = (0..32 * 8).map(|i| (i as f32 * 0.37).sin()).collect();
    let y: Vec<f32> = (0..32 * 3).map(|i| ((i % 3) == (i / 3) % 3) as u8 as f32).collect();
    let mut host = host_with("batch_norm", &[], 3);
    let mut cached =
        Session::new(spec.clone(), Optimizer::Sgd, Backend::Cpu, &mut host, &mut ChaCha8Rng::seed_from_u64(1));
    assert_eq!(cached.reused_programs, 0, "a new session compiles its programs");
    for on in [false, true] {
        host.set_enabled("batch_norm", on, &mut cached.store).unwrap();
        cached.rebuild(&mut host);
        let expected = if on { 3 } else { 0 };
        assert_eq!(cached.reused_programs, expected, "batch norm {on}: programs reused");
    }
    // A session with the same state whose programs were compiled for it.
    let mut fresh = Session::new(spec, Optimizer::Sgd, Backend::Cpu, &mut host, &mut ChaCha8Rng::seed_from_u64(1));
    fresh.store = cached.store.clone();
    for _ in 0..3 {
        let a = cached.train_step(x.clone(), y.clone(), 32, 0.1, true, &mut host).unwrap();
        let b = fresh.train_step(x.clone(), y.clone(), 32, 0.1, true, &mut host).unwrap();
        assert_eq!(a, b, "cached and fresh programs train alike");
    }
}
