//! The embedded default run: the vanishing-gradient story, and the keys it
//! tells the user to press doing what it says.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::{mpsc, Arc};

use common::cli::{repo, run, run_dir, stderr, stdout};
use traintop::cli::run::EMBEDDED_CONFIG;
use traintop::config::{ConfigSource, RunConfig};
use traintop::data::{self, split};
use traintop::protocol::{ClientId, Request, RunCommand, RunEvent};
use traintop::train::run_dir::RunDir;
use traintop::train::trainer::Channels;
use traintop::train::Trainer;

fn demo_config(overrides: &[&str]) -> RunConfig {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    RunConfig::from_str(EMBEDDED_CONFIG, ConfigSource::embedded(repo().join("configs")), &overrides).unwrap()
}

#[test]
fn the_demo_lasts_long_enough_to_steer_and_says_what_to_press() {
    let c = demo_config(&[]);
    assert_eq!(c.run.name, "demo");
    assert_eq!(c.model.activation.name(), "sigmoid");
    assert!(c.model.hidden.len() >= 8);
    assert_eq!(c.techniques[0].name, "batch_norm", "selected first in the dashboard");
    assert!(!c.techniques[0].enabled);
    assert!(c.run.hint.contains("space") && c.run.hint.contains("batch_norm"), "{}", c.run.hint);
    // This net trains at about 100k samples/s on a 2-core CPU (112k
    // measured headless), so the run lasts about two minutes.
    let rows_per_epoch = 1437;
    assert!(c.run.epochs * rows_per_epoch >= 100_000 * 100, "{} epochs", c.run.epochs);
}

/// Validation accuracy per epoch of the demo, with `script` sent at steps.
fn demo_run(epochs: usize, script: &[(u64, RunCommand)]) -> Vec<f32> {
    let cfg = demo_config(&[&format!("run.epochs={epochs}")]);
    let full = data::load(&cfg.data_spec()).unwrap();
    let s = split(&full, cfg.data.validation, cfg.run.seed);
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = RunDir::create(tmp.path(), "demo", &cfg.to_toml_string()).unwrap();
    let (plugins, _) = traintop::plugin::setup(&cfg).unwrap();
    let mut trainer = Trainer::new(cfg, s.train, s.validation, run_dir, plugins, None);
    let (tx, rx) = mpsc::channel();
    let mut accs = vec![];
    let mut on_event = |e: RunEvent| match &e {
        RunEvent::Step(r) => {
            for (step, c) in script {
                if *step == r.step {
                    tx.send(Request::new(ClientId::Script { name: "demo".into() }, c.clone())).unwrap();
                }
            }
        }
        RunEvent::Epoch(r) => accs.push(r.val_acc.unwrap()),
        _ => {}
    };
    let mut ch = Channels { events: &mut on_event, commands: Some(rx), stop: Arc::new(AtomicBool::new(false)) };
    trainer.run(&mut ch).unwrap();
    accs
}

#[test]
fn switching_batch_norm_on_mid_run_rescues_the_demo() {
    // 90 steps an epoch: batch_norm goes on after epoch 4 (log_every = 10).
    let toggled = demo_run(10, &[(360, RunCommand::Toggle { technique: "batch_norm".into(), enabled: true })]);
    assert!(toggled[3] < 0.25, "stuck before the toggle: {toggled:?}");
    assert!(toggled[9] > 0.8, "learns after it: {toggled:?}");
    let untouched = demo_run(10, &[]);
    assert!(untouched.iter().all(|&a| a < 0.25), "stuck without it: {untouched:?}");
}

#[test]
fn no_arguments_runs_the_demo() {
    let tmp = tempfile::tempdir().unwrap();
    let o = run(&["run", "--headless", "--quiet", "--set", "run.epochs=1", "--out", tmp.path().to_str().unwrap()]);
    assert!(o.status.success(), "{}\n{}", stderr(&o), stdout(&o));
    let dir = run_dir(tmp.path());
    assert!(dir.file_name().unwrap().to_string_lossy().starts_with("demo-"), "{}", dir.display());
    let config = std::fs::read_to_string(dir.join("config.toml")).unwrap();
    assert!(config.contains("activation = \"sigmoid\""), "{config}");
    let o = run(&["--help"]);
    assert!(stdout(&o).contains("configs/demo.toml"), "{}", stdout(&o));
}
