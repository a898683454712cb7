//! One model trained on two backends side by side: the same config, data,
//! plugins, seed and batches, driven through the session the way the trainer
//! drives it (plugins' init, training data and batch hooks), so that what one
//! backend computes can be compared with the other, step by step.
//!
//! The cases cover every activation, objective, optimizer and technique plugin
//! (each in its own small model) and every file in configs/.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use traintop::config::{ConfigSource, RunConfig};
use traintop::data::gather;
use traintop::engine::{Backend, EvalStats, ProgramReport, Session, StepStats, Transfers};
use traintop::plugin::PluginEvent;
use traintop::train::model::{model_spec, optimizer};
use traintop::train::{prepare, Launch, Prepared};

/// A config to train, by name.
pub struct Case {
    pub name: String,
    pub config: RunConfig,
}

/// What a few steps of training produced.
pub struct Trace {
    pub steps: Vec<StepStats>,
    pub states: BTreeMap<String, Vec<f32>>,
    pub eval: EvalStats,
    pub predictions: Vec<f32>,
    pub transfers: (Transfers, Transfers),
    pub reports: Vec<(&'static str, ProgramReport)>,
}

fn root() -> PathBuf {
    super::cli::repo()
}

/// A small model over a small data set, with the given model, optimizer and
/// technique tables.
fn small(name: &str, data: &str, activation: &str, optimizer: &str, techniques: &str) -> Case {
    let text = format!(
        "[run]\nname = \"{name}\"\nseed = 7\nbatch_size = 8\nepochs = 1\n\n\
         [data]\n{data}\n\n\
         [model]\nhidden = [6, 5]\nactivation = \"{activation}\"\n\n\
         [optimizer]\nkind = \"{optimizer}\"\nlr = 0.05\n\n{techniques}"
    );
    let config = RunConfig::from_str(&text, ConfigSource::embedded(root()), &[])
        .unwrap_or_else(|e| panic!("case {name}: {e}\n{text}"));
    Case { name: name.to_string(), config }
}

const BLOBS: &str = "path = \"synthetic:blobs\"\nsamples = 64\nfeatures = 5\nclasses = 3\nvalidation = 0.25";
const SINE: &str = "path = \"synthetic:sine\"\nsamples = 64\nvalidation = 0.25";

/// Every activation with each objective, every optimizer, every technique
/// plugin (grad_clip in both modes), each in a small model.
pub fn matrix() -> Vec<Case> {
    let technique =
        |name: &str, settings: &str| format!("[[technique]]\nname = \"{name}\"\nenabled = true\n{settings}\n");
    vec![
        small("relu-classification-sgd", BLOBS, "relu", "sgd", ""),
        small("sigmoid-regression-momentum", SINE, "sigmoid", "momentum", ""),
        small("tanh-classification-adam", BLOBS, "tanh", "adam", ""),
        small("relu-regression-adam", SINE, "relu", "adam", ""),
        small("sigmoid-classification-momentum", BLOBS, "sigmoid", "momentum", ""),
        small("tanh-regression-sgd", SINE, "tanh", "sgd", ""),
        small("batch_norm", BLOBS, "sigmoid", "sgd", &technique("batch_norm", "momentum = 0.8")),
        small("dropout", BLOBS, "relu", "adam", &technique("dropout", "rate = 0.3")),
        small("layer_norm", BLOBS, "tanh", "momentum", &technique("layer_norm", "")),
        small("grad_clip-norm", BLOBS, "relu", "sgd", &technique("grad_clip", "mode = \"norm\"\nmax_norm = 0.05")),
        small("grad_clip-value", SINE, "tanh", "adam", &technique("grad_clip", "mode = \"value\"\nmax_norm = 0.01")),
        small("l2", SINE, "relu", "momentum", &technique("l2", "lambda = 0.01")),
        small("input_norm", BLOBS, "sigmoid", "adam", &technique("input_norm", "")),
        small("xavier_init", BLOBS, "tanh", "sgd", &technique("xavier_init", "")),
        small("early_stopping", BLOBS, "relu", "adam", &technique("early_stopping", "patience = 2")),
    ]
}

/// Every config shipped in configs/, as a user would run it with `--set`s
/// `overrides` (a smaller batch keeps the reference backend quick).
pub fn shipped_configs(overrides: &[&str]) -> Vec<Case> {
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let config = RunConfig::from_file(&path, &overrides).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            Case { name: path.file_name().unwrap().to_string_lossy().into_owned(), config }
        })
        .collect()
}

/// The case prepared as `traintop run` prepares it (data split, plugins
/// loaded and set), in a run folder under `out`.
fn prepared(case: &Case, out: &Path) -> Prepared {
    let launch = Launch::New { config: Box::new(case.config.clone()), out_dir: out.to_path_buf() };
    prepare(launch, &mut |_| {}).unwrap_or_else(|e| panic!("case {}: {e}", case.name))
}

/// Compiles the case's train, monitored and eval programs for `backend`
/// without running them; what each is made of, at the config's batch size.
pub fn compile(case: &Case, backend: Backend) -> Vec<(&'static str, ProgramReport)> {
    let out = tempfile::tempdir().unwrap();
    let Prepared { config, train, mut plugins, .. } = prepared(case, out.path());
    let spec = model_spec(&config, &train);
    plugins.set_layers(spec.layer_count());
    let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
    let session = Session::new(spec, optimizer(&config), backend, &mut plugins, &mut rng);
    session.program_reports(config.run.batch_size).into_iter().collect()
}

/// Trains `steps` batches of the case on `backend` (monitored every other
/// step), then evaluates part of the validation split; reads every state back.
pub fn train(case: &Case, backend: Backend, steps: usize) -> Trace {
    let out = tempfile::tempdir().unwrap();
    let Prepared { config, train, validation, mut plugins, .. } = prepared(case, out.path());
    let spec = model_spec(&config, &train);
    plugins.set_layers(spec.layer_count());
    let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
    let mut session = Session::new(spec, optimizer(&config), backend, &mut plugins, &mut rng);
    plugins.dispatch(PluginEvent::InitParameters, &mut session.store);
    plugins.dispatch_train_data(&train.features, train.len(), train.n_features, &mut session.store);
    plugins.dispatch(PluginEvent::RunStart { epoch: 0 }, &mut session.store);
    let batch = config.run.batch_size.min(train.len());
    let lr = config.optimizer.lr as f32;
    let mut trace_steps = vec![];
    for step in 0..steps {
        let idx: Vec<usize> = (0..batch).map(|i| (step * batch + i) % train.len()).collect();
        let (mut x, mut y) = (vec![], vec![]);
        gather(&train, &idx, &mut x, &mut y);
        plugins.set_step(step as u64);
        plugins.dispatch(PluginEvent::BatchStart { epoch: 1 }, &mut session.store);
        let stats = session
            .train_step(x, y, batch, lr, step % 2 == 0, &mut plugins)
            .unwrap_or_else(|e| panic!("case {} on {backend}, step {step}: {e}", case.name));
        plugins.record_metrics(&stats.metrics);
        plugins.dispatch(PluginEvent::BatchEnd { epoch: 1, loss: stats.loss as f64 }, &mut session.store);
        trace_steps.push(stats);
    }
    // Two batches of the validation split, the second one short: enough to
    // test eval (and its last-batch size), cheap on the reference backend.
    let rows = validation.len().min(batch + batch / 2);
    let (mut x, mut y) = (vec![], vec![]);
    gather(&validation, &(0..rows).collect::<Vec<_>>(), &mut x, &mut y);
    let (eval, predictions) = session
        .evaluate_with_outputs(&x, &y, rows, batch, &mut plugins)
        .unwrap_or_else(|e| panic!("case {} on {backend}, eval: {e}", case.name));
    let names: Vec<String> = session.store.names().map(String::from).collect();
    let states = names
        .into_iter()
        .map(|n| {
            let v = session.store.read(&n).unwrap_or_else(|e| panic!("case {}: {e}", case.name));
            (n, v)
        })
        .collect();
    Trace {
        steps: trace_steps,
        states,
        eval,
        predictions,
        transfers: session.transfers(),
        reports: session.program_reports(batch).into_iter().collect(),
    }
}

/// `a` and `b` agree element by element to `rel` of the element's size plus
/// the tensor's mean size: a value near zero in a tensor of larger values
/// (an Adam moment, a gradient entry) is held to the tensor's scale, as
/// summation order moves it by that much. With `rel` > 0, differences under
/// 1e-8 agree too: the rounding noise of terms that cancel (a bias in front
/// of batch norm has a gradient of zero up to it).
fn assert_all_close(case: &str, what: &str, a: &[f32], b: &[f32], rel: f32) {
    assert_eq!(a.len(), b.len(), "case {case}: {what}: lengths differ");
    let scale = b.iter().map(|v| v.abs()).filter(|v| v.is_finite()).sum::<f32>() / b.len().max(1) as f32;
    let noise = if rel > 0.0 { 1e-8 } else { 0.0 };
    let close =
        |x: f32, y: f32| (x.is_nan() && y.is_nan()) || (x - y).abs() <= rel * (x.abs().max(y.abs()) + scale) + noise;
    if let Some(i) = (0..a.len()).find(|&i| !close(a[i], b[i])) {
        panic!("case {case}: {what}[{i}]: {} vs {} (relative tolerance {rel}, tensor scale {scale})", a[i], b[i]);
    }
}

/// Two traces agree to `rel` (see [`assert_all_close`]): every step's
/// figures, every state, the evaluation and its predictions.
pub fn assert_same(case: &str, a: &Trace, b: &Trace, rel: f32) {
    assert_eq!(a.steps.len(), b.steps.len());
    for (i, (x, y)) in a.steps.iter().zip(&b.steps).enumerate() {
        let what = |f: &str| format!("step {i} {f}");
        assert_all_close(case, &what("loss"), &[x.loss], &[y.loss], rel);
        assert_eq!(x.objective.is_some(), y.objective.is_some(), "case {case}: {}", what("objective"));
        assert_all_close(
            case,
            &what("objective"),
            &x.objective.into_iter().collect::<Vec<_>>(),
            &y.objective.into_iter().collect::<Vec<_>>(),
            rel,
        );
        assert_eq!(x.correct, y.correct, "case {case}: {}", what("correct"));
        let norms = |s: &StepStats| s.grad_norms.iter().map(|(_, v)| *v).collect::<Vec<_>>();
        assert_all_close(case, &what("gradient norms"), &norms(x), &norms(y), rel);
        let sat = |s: &StepStats| s.saturation.iter().map(|(_, v)| *v).collect::<Vec<_>>();
        assert_all_close(case, &what("saturation"), &sat(x), &sat(y), rel);
        let metrics = |s: &StepStats| s.metrics.iter().map(|(_, v)| *v).collect::<Vec<_>>();
        assert_all_close(case, &what("metrics"), &metrics(x), &metrics(y), rel);
    }
    assert_eq!(a.states.keys().collect::<Vec<_>>(), b.states.keys().collect::<Vec<_>>(), "case {case}: states");
    for (name, values) in &a.states {
        assert_all_close(case, &format!("state {name}"), values, &b.states[name], rel);
    }
    assert_all_close(case, "eval loss", &[a.eval.loss], &[b.eval.loss], rel);
    assert_eq!(a.eval.accuracy, b.eval.accuracy, "case {case}: eval accuracy");
    assert_all_close(case, "eval predictions", &a.predictions, &b.predictions, rel);
}
