//! The training loop: epochs of shuffled mini-batches, validation at each epoch
//! end, `last` and `best` checkpoints, metrics and events, commands applied at
//! batch boundaries, and a summary however the run ends.
//!
//! The data order of epoch e is a pure function of (seed, e) and checkpoints
//! record the batch position, so a resumed run trains exactly what an
//! uninterrupted one would.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::checkpoint::{self, Loaded, Position};
use super::run_dir::{RunDir, BEST_CHECKPOINT, LAST_CHECKPOINT};
use super::techniques;
use crate::config::{Activation as CfgActivation, Device, OptimizerKind, RunConfig};
use crate::data::{gather, Batches, Dataset};
use crate::engine::{Activation, Backend, MlpSpec, Objective, Optimizer, Session};
use crate::plugin::PluginHost;
use crate::protocol::{
    Command, EpochRecord, Request, RunEvent, RunState, Started, StepRecord, StopReason, ToggleClass,
};
use traintop_plugin_abi::EventKind;

/// What `summary.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub stop_reason: StopReason,
    pub epochs_run: usize,
    pub steps: u64,
    pub best_epoch: Option<usize>,
    pub best_val_loss: Option<f32>,
    pub final_loss: Option<f32>,
    pub final_val_loss: Option<f32>,
    pub final_val_acc: Option<f32>,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    pub device: String,
    pub run_dir: String,
}

/// The engine's view of the config.
pub fn model_spec(config: &RunConfig, train: &Dataset) -> MlpSpec {
    let classification = train.n_classes > 0;
    MlpSpec {
        inputs: train.n_features,
        hidden: config.model.hidden.clone(),
        outputs: if classification { train.n_classes } else { 1 },
        activation: match config.model.activation {
            CfgActivation::Relu => Activation::Relu,
            CfgActivation::Tanh => Activation::Tanh,
            CfgActivation::Sigmoid => Activation::Sigmoid,
            CfgActivation::Linear => Activation::Linear,
        },
        objective: if classification { Objective::Classification } else { Objective::Regression },
    }
}

pub fn optimizer(config: &RunConfig) -> Optimizer {
    let o = &config.optimizer;
    match o.kind {
        OptimizerKind::Sgd => Optimizer::Sgd,
        OptimizerKind::Momentum => Optimizer::Momentum { momentum: o.momentum as f32 },
        OptimizerKind::Adam => Optimizer::Adam { beta1: o.beta1 as f32, beta2: o.beta2 as f32, eps: o.eps as f32 },
    }
}

pub fn backend(config: &RunConfig) -> Backend {
    match config.run.device {
        Device::Cpu => Backend::Cpu,
        Device::Cuda => Backend::Cuda,
    }
}

/// Checks that a checkpoint fits the model its run's config builds: every
/// tensor the model has is there, with the same shape. A config edited between
/// stop and resume (another width, another optimizer) is caught here, with the
/// tensor named, before any training.
pub fn check_checkpoint(
    config: &RunConfig,
    train: &Dataset,
    plugins: &mut PluginHost,
    loaded: &Loaded,
) -> Result<(), String> {
    if loaded.position.seed != config.run.seed {
        return Err(format!(
            "trained with run.seed = {}, the config says {}: another seed splits and orders the data differently",
            loaded.position.seed, config.run.seed
        ));
    }
    let spec = model_spec(config, train);
    plugins.layers = spec.layer_count();
    techniques::restore(plugins, &loaded.position.techniques)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
    let session = Session::new(spec, optimizer(config), backend(config), plugins, &mut rng);
    let describe = |shape: &[crate::engine::Dim]| crate::engine::shape::describe(shape);
    let mut names: Vec<&str> = session.store.names().collect();
    names.sort_unstable();
    for name in names {
        let expected = session.store.shape(name).expect("listed");
        match loaded.states.iter().find(|(n, _, _)| n == name) {
            None => {
                return Err(format!(
                    "the checkpoint has no tensor `{name}` that the model needs (was the config changed?)"
                ))
            }
            Some((_, shape, _)) if shape != expected => {
                return Err(format!(
                    "tensor `{name}` has shape {} in the checkpoint, the model expects {} (was the config changed?)",
                    describe(shape),
                    describe(expected)
                ))
            }
            Some(_) => {}
        }
    }
    // A tensor the model does not use must belong to a loaded technique (its
    // own state, kept while it is off); anything else means the checkpoint
    // was trained with another optimizer or set of techniques.
    for (name, _, _) in &loaded.states {
        let owner = name.split('.').next().unwrap_or("");
        if session.store.shape(name).is_none() && plugins.find(owner).is_none() {
            return Err(format!(
                "tensor `{name}` is not part of this model or its techniques (trained with another optimizer or techniques?)"
            ));
        }
    }
    Ok(())
}

/// Everything a run needs, prepared and validated before training starts.
pub struct Trainer {
    pub config: RunConfig,
    pub train: Dataset,
    pub validation: Dataset,
    pub session: Session,
    pub run_dir: RunDir,
    pub position: Position,
    pub plugins: PluginHost,
}

/// Where the trainer reports and listens.
pub struct Channels<'a> {
    pub events: &'a mut dyn FnMut(RunEvent),
    pub commands: Option<Receiver<Request>>,
    /// Set by the signal handler: stop gracefully at the next batch boundary.
    pub stop: Arc<AtomicBool>,
}

impl Trainer {
    /// Builds the model with the plugins' graph fragments; `resume` restores its
    /// states, position and technique settings.
    pub fn new(
        config: RunConfig,
        train: Dataset,
        validation: Dataset,
        run_dir: RunDir,
        mut plugins: PluginHost,
        resume: Option<Loaded>,
    ) -> Self {
        let spec = model_spec(&config, &train);
        plugins.layers = spec.layer_count();
        let mut position = Position { lr: config.optimizer.lr as f32, seed: config.run.seed, ..Default::default() };
        if let Some(loaded) = &resume {
            position = loaded.position.clone();
            // Checked by `check_checkpoint` before a resume gets here.
            let _ = techniques::restore(&mut plugins, &position.techniques);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
        let mut session = Session::new(spec, optimizer(&config), backend(&config), &mut plugins, &mut rng);
        match resume {
            Some(loaded) => {
                for (name, shape, values) in loaded.states {
                    session.store.insert(&name, shape, values);
                }
            }
            None => plugins.dispatch(EventKind::InitParameters, 0, f64::NAN, f64::NAN, &mut session.store),
        }
        plugins.step = position.step;
        Self { config, train, validation, session, run_dir, position, plugins }
    }

    /// Rebuilds the graphs after a technique changed them; logs how long it took.
    fn rebuild(&mut self, ch: &mut Channels, why: &str) {
        self.session.rebuild(&mut self.plugins);
        let ms = self.session.build_time.as_secs_f64() * 1e3;
        self.note(ch, RunEvent::Rebuild { step: self.position.step, reason: why.to_string(), rebuild_ms: ms });
    }

    /// Hands the training split to the plugins (input normalization's
    /// statistics): lent, not copied, since they only read it.
    fn send_train_data(&mut self) {
        let features = std::mem::take(&mut self.train.features);
        let (rows, cols) = (self.train.len(), self.train.n_features);
        self.plugins.dispatch_train_data(&features, rows, cols, &mut self.session.store);
        self.train.features = features;
    }

    /// Forwards plugin messages to the event log and the watchers.
    fn plugin_logs(&mut self, ch: &mut Channels) {
        for line in self.plugins.take_logs() {
            self.note(ch, RunEvent::log(line));
        }
    }

    fn publish_techniques(&mut self, ch: &mut Channels) {
        for w in techniques::conflicts(&self.plugins) {
            self.note(ch, RunEvent::log(w));
        }
        self.note(ch, RunEvent::Techniques { techniques: self.plugins.views() });
    }

    /// Applies a toggle or parameter change at a batch boundary.
    fn apply_technique_command(&mut self, ch: &mut Channels, request: Request) {
        let (technique, result) = match &request.command {
            Command::Toggle { technique, enabled } => {
                (technique, self.plugins.set_enabled(technique, *enabled, &mut self.session.store))
            }
            Command::SetParam { technique, param, value } => {
                (technique, self.plugins.set_param(technique, param, value))
            }
            _ => return,
        };
        let technique = technique.clone();
        match result {
            Ok(needs_rebuild) => {
                let label = request.command.label();
                self.note(ch, RunEvent::Accepted { step: self.position.step, request });
                if needs_rebuild {
                    self.rebuild(ch, &label);
                }
                // A data technique computes its statistics from the training
                // split: again when it is switched on or its settings change.
                let data_technique = self.plugins.find(&technique).is_some_and(|i| {
                    self.plugins.plugins[i].active() && self.plugins.plugins[i].class() == ToggleClass::Data
                });
                if data_technique {
                    self.send_train_data();
                }
                self.note(ch, RunEvent::Marker { step: self.position.step, label });
            }
            Err(e) => {
                self.note(ch, RunEvent::Rejected { step: self.position.step, request, reason: e.to_string() });
            }
        }
        self.plugin_logs(ch);
        self.publish_techniques(ch);
    }

    /// Writes a checkpoint with the techniques' settings as they are now.
    fn save(&mut self, file: &str) -> Result<(), checkpoint::CheckpointError> {
        self.position.techniques = techniques::snapshot(&self.plugins);
        self.position.run_id.clone_from(&self.run_dir.id);
        checkpoint::save(&self.run_dir.file(file), &self.session.store, &self.position)
    }

    /// Reports an event: into the run folder (the one place that writes
    /// it) and to the watchers. A metric that cannot be written is an error;
    /// an event that cannot be written costs a warning.
    fn emit(&mut self, ch: &mut Channels, event: RunEvent) -> std::io::Result<()> {
        let written = self.run_dir.record(&event);
        let metric = event.is_metric();
        (ch.events)(event);
        match written {
            Err(e) if !metric => {
                (ch.events)(RunEvent::log(format!("warning: cannot write events.jsonl: {e}")));
                Ok(())
            }
            other => other,
        }
    }

    /// [`Trainer::emit`] for events, whose failures are only warnings.
    fn note(&mut self, ch: &mut Channels, event: RunEvent) {
        debug_assert!(!event.is_metric());
        let _ = self.emit(ch, event);
    }

    /// Runs to the end, a stop request, or an error; always writes the summary.
    pub fn run(&mut self, ch: &mut Channels) -> anyhow::Result<Summary> {
        let cfg = self.config.run.clone();
        let batches_per_epoch = self.train.len().div_ceil(cfg.batch_size);
        let parameters: usize = self
            .session
            .parameter_names()
            .iter()
            .filter_map(|n| self.session.store.shape(n))
            .map(|s| s.iter().map(|d| d.resolve(0)).product::<usize>())
            .sum();
        let started = Started {
            run_dir: self.run_dir.path.display().to_string(),
            device: self.session.backend.to_string(),
            epochs: cfg.epochs,
            steps_per_epoch: batches_per_epoch,
            parameters,
            epoch: self.position.epoch,
            step: self.position.step,
            resumed: self.position.step > 0,
            train_rows: self.train.len(),
            validation_rows: self.validation.len(),
        };
        self.note(ch, RunEvent::Started(started));
        self.send_train_data();
        self.plugins.dispatch(
            EventKind::RunStart,
            self.position.epoch as u64,
            f64::NAN,
            f64::NAN,
            &mut self.session.store,
        );
        self.plugin_logs(ch);
        self.publish_techniques(ch);
        let mut clock = super::clock::TrainingClock::start();
        let start_epoch = self.position.epoch;
        let mut samples = 0usize;
        let mut paused = false;
        let mut step_once = false;
        let mut reason = StopReason::Completed;
        let mut last_val: Option<(f32, Option<f32>)> = None;
        let mut last_loss: Option<f32> = None;
        // The first error ends the loop like a stop: the run still gets its
        // summary (stop_reason "error") and, where possible, a checkpoint.
        let mut failure: Option<anyhow::Error> = None;
        macro_rules! fail_on {
            ($label:lifetime, $e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => {
                        failure = Some(anyhow::Error::from(e));
                        reason = StopReason::Error;
                        break $label;
                    }
                }
            };
        }

        'epochs: while self.position.epoch < cfg.epochs {
            let epoch = self.position.epoch;
            let order = Batches::new(self.train.len(), cfg.batch_size, cfg.seed, epoch);
            let (mut epoch_loss, mut epoch_batches) = (0.0f64, 0usize);
            self.plugins.dispatch(EventKind::EpochStart, epoch as u64 + 1, f64::NAN, f64::NAN, &mut self.session.store);
            while self.position.batch_in_epoch < order.len() {
                // Commands and signals, at the batch boundary.
                loop {
                    if ch.stop.load(Ordering::SeqCst) {
                        reason = StopReason::User;
                        break 'epochs;
                    }
                    let command = match &ch.commands {
                        Some(rx) if paused && !step_once => {
                            match rx.recv_timeout(std::time::Duration::from_millis(100)) {
                                Ok(c) => Some(c),
                                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                                Err(_) => {
                                    // Nobody can resume us any more: carry on.
                                    paused = false;
                                    clock.resume();
                                    None
                                }
                            }
                        }
                        Some(rx) => match rx.try_recv() {
                            Ok(c) => Some(c),
                            Err(TryRecvError::Empty) | Err(TryRecvError::Disconnected) => None,
                        },
                        None => None,
                    };
                    if let Some(request) = command {
                        let step = self.position.step;
                        let accepted = RunEvent::Accepted { step, request: request.clone() };
                        match request.command.clone() {
                            Command::Pause => {
                                paused = true;
                                clock.pause();
                                let store = &mut self.session.store;
                                self.plugins.dispatch(EventKind::Paused, epoch as u64 + 1, f64::NAN, f64::NAN, store);
                                self.note(ch, accepted);
                                self.note(ch, RunEvent::State { step, state: RunState::Paused });
                            }
                            Command::Resume => {
                                paused = false;
                                clock.resume();
                                let store = &mut self.session.store;
                                self.plugins.dispatch(EventKind::Resumed, epoch as u64 + 1, f64::NAN, f64::NAN, store);
                                self.note(ch, accepted);
                                self.note(ch, RunEvent::State { step, state: RunState::Running });
                            }
                            Command::StepOnce => {
                                step_once = true;
                                self.note(ch, accepted);
                            }
                            Command::Stop => {
                                self.note(ch, accepted);
                                reason = StopReason::User;
                                break 'epochs;
                            }
                            Command::Checkpoint => {
                                fail_on!('epochs, self.save(LAST_CHECKPOINT));
                                self.note(ch, accepted);
                                self.note(ch, RunEvent::log(format!("checkpoint written at step {step}")));
                            }
                            Command::Toggle { .. } | Command::SetParam { .. } => {
                                self.apply_technique_command(ch, request)
                            }
                            Command::SetLearningRate { lr } if lr.is_finite() && lr > 0.0 => {
                                self.position.lr = lr;
                                self.note(ch, accepted);
                                self.note(ch, RunEvent::log(format!("learning rate set to {lr}")));
                                self.note(ch, RunEvent::Marker { step, label: format!("lr={lr}") });
                            }
                            Command::SetLearningRate { lr } => {
                                let reason = format!("learning rate {lr}: expected a finite number above 0");
                                self.note(ch, RunEvent::Rejected { step, request, reason });
                            }
                            Command::Unknown => {
                                let reason = "unknown command (sent by a newer traintop?)".to_string();
                                self.note(ch, RunEvent::Rejected { step, request, reason });
                            }
                        }
                        continue;
                    }
                    if !paused || step_once {
                        break;
                    }
                }
                step_once = false;

                let idx = order.get(self.position.batch_in_epoch).expect("batch index in range");
                // Batches go into recycled buffers: no fresh allocation per step.
                let mut x = self.session.buffer(idx.len() * self.train.n_features);
                let mut y = self.session.buffer(idx.len() * self.session.spec.outputs);
                gather(&self.train, idx, &mut x, &mut y);
                let n = idx.len();
                // Logged steps also read back the gradient-health figures.
                let logged = (self.position.step + 1).is_multiple_of(cfg.log_every as u64)
                    || self.position.batch_in_epoch + 1 == order.len();
                self.plugins.step = self.position.step;
                let store = &mut self.session.store;
                self.plugins.dispatch(EventKind::BatchStart, epoch as u64 + 1, f64::NAN, f64::NAN, store);
                let stats =
                    fail_on!('epochs, self.session.train_step(x, y, n, self.position.lr, logged, &mut self.plugins));
                self.plugins.record_metrics(&stats.metrics);
                let store = &mut self.session.store;
                self.plugins.dispatch(EventKind::BatchEnd, epoch as u64 + 1, stats.loss as f64, f64::NAN, store);
                self.position.step += 1;
                self.position.batch_in_epoch += 1;
                samples += n;
                epoch_loss += stats.loss as f64;
                epoch_batches += 1;
                last_loss = Some(stats.loss);
                if !stats.loss.is_finite() {
                    reason = StopReason::Diverged;
                    self.note(ch, RunEvent::Diverged { step: self.position.step, loss: stats.loss });
                    break 'epochs;
                }
                if logged {
                    let record = StepRecord {
                        step: self.position.step,
                        epoch: epoch + 1,
                        loss: stats.loss,
                        objective: stats.objective,
                        acc: stats.correct.map(|c| c / n as f32),
                        lr: self.position.lr,
                        samples_per_sec: samples as f64 / clock.active_secs(),
                        wall_time: self.run_dir.elapsed_secs(),
                        grad_norms: stats.grad_norms,
                        saturation: stats.saturation,
                        metrics: stats.metrics,
                    };
                    fail_on!('epochs, self.emit(ch, RunEvent::Step(record)));
                }
                if let Some(why) = self.stop_requested(ch) {
                    reason = why;
                    break 'epochs;
                }
            }

            // Epoch end: validate, checkpoint, report.
            let val = if self.validation.is_empty() { None } else { Some(fail_on!('epochs, self.validate())) };
            self.position.epoch += 1;
            self.position.batch_in_epoch = 0;
            let train_loss = (epoch_loss / epoch_batches.max(1) as f64) as f32;
            if let Some((val_loss, _)) = val {
                if self.position.best_val_loss.is_none_or(|b| val_loss < b) {
                    self.position.best_val_loss = Some(val_loss);
                    self.position.best_epoch = Some(self.position.epoch);
                    fail_on!('epochs, self.save(BEST_CHECKPOINT));
                }
            }
            fail_on!('epochs, self.save(LAST_CHECKPOINT));
            last_val = val;
            let elapsed = clock.active_secs();
            let done = (self.position.epoch - start_epoch) as f64;
            let remaining = cfg.epochs.saturating_sub(self.position.epoch) as f64;
            let record = EpochRecord {
                step: self.position.step,
                epoch: self.position.epoch,
                loss: train_loss,
                val_loss: val.map(|v| v.0).unwrap_or(f32::NAN),
                val_acc: val.and_then(|v| v.1),
                lr: self.position.lr,
                samples_per_sec: samples as f64 / elapsed.max(1e-9),
                wall_time: self.run_dir.elapsed_secs(),
                eta_secs: elapsed / done.max(1.0) * remaining,
            };
            fail_on!('epochs, self.emit(ch, RunEvent::Epoch(record)));
            if let Some((val_loss, val_acc)) = val {
                let epoch = self.position.epoch as u64;
                self.plugins.dispatch(
                    EventKind::ValidationEnd,
                    epoch,
                    val_loss as f64,
                    val_acc.map_or(f64::NAN, f64::from),
                    &mut self.session.store,
                );
            }
            self.plugins.dispatch(
                EventKind::EpochEnd,
                self.position.epoch as u64,
                f64::NAN,
                f64::NAN,
                &mut self.session.store,
            );
            self.plugin_logs(ch);
            self.note(ch, RunEvent::Techniques { techniques: self.plugins.views() });
            if let Some(why) = self.stop_requested(ch) {
                reason = why;
                break 'epochs;
            }
        }
        if reason != StopReason::Completed {
            let store = &mut self.session.store;
            self.plugins.dispatch(EventKind::Stopping, self.position.epoch as u64, f64::NAN, f64::NAN, store);
        }
        // `last` is where a resume continues: written before the techniques'
        // end (early stopping then puts back its best weights, which `best`
        // holds), and not over a good one with diverged (NaN) weights.
        // Mid-epoch stops keep their batch position.
        let mut checkpoint_error = None;
        if reason != StopReason::Diverged {
            if let Err(e) = self.save(LAST_CHECKPOINT) {
                checkpoint_error = Some(e);
            }
        }
        self.plugins.dispatch(
            EventKind::RunEnd,
            self.position.epoch as u64,
            f64::NAN,
            f64::NAN,
            &mut self.session.store,
        );
        self.plugin_logs(ch);
        // The final figures describe the model the run ends with, which a
        // technique may just have replaced (early stopping's best weights).
        let healthy = !matches!(reason, StopReason::Error | StopReason::Diverged);
        if healthy && !self.validation.is_empty() && self.position.step > 0 {
            match self.validate() {
                Ok(v) => last_val = Some(v),
                Err(e) => failure = failure.or(Some(e)),
            }
        }
        if let (None, Some(e)) = (&failure, checkpoint_error) {
            failure = Some(e.into());
        }
        if failure.is_some() {
            reason = StopReason::Error;
        }
        let summary = Summary {
            stop_reason: reason,
            epochs_run: self.position.epoch,
            steps: self.position.step,
            best_epoch: self.position.best_epoch,
            best_val_loss: self.position.best_val_loss,
            final_loss: last_loss,
            final_val_loss: last_val.map(|v| v.0),
            final_val_acc: last_val.and_then(|v| v.1),
            samples_per_sec: samples as f64 / clock.active_secs(),
            wall_time: self.run_dir.elapsed_secs(),
            device: self.session.backend.to_string(),
            run_dir: self.run_dir.path.display().to_string(),
        };
        let summary_written = self.run_dir.write_summary(&summary);
        let finished = RunEvent::Finished {
            step: self.position.step,
            epoch: self.position.epoch,
            reason,
            run_dir: self.run_dir.path.display().to_string(),
            error: failure.as_ref().map(|e| format!("{e:#}")),
        };
        self.note(ch, finished);
        match failure {
            Some(e) => Err(e),
            None => summary_written.map(|_| summary).map_err(Into::into),
        }
    }

    /// A stop a technique asked for, logged, with the reason summary.json gives.
    fn stop_requested(&mut self, ch: &mut Channels) -> Option<StopReason> {
        let (why, restore_best) = self.plugins.take_stop_request()?;
        self.plugin_logs(ch);
        let reason = if why == "early_stopping" { StopReason::EarlyStopping } else { StopReason::User };
        let (step, epoch) = (self.position.step, self.position.epoch);
        self.note(ch, RunEvent::StopRequested { step, epoch, by: why, restore_best });
        Some(reason)
    }

    /// Validation loss and accuracy with the current weights.
    pub fn validate(&mut self) -> anyhow::Result<(f32, Option<f32>)> {
        let all: Vec<usize> = (0..self.validation.len()).collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        gather(&self.validation, &all, &mut x, &mut y);
        let batch = self.config.run.batch_size.max(256);
        let stats = self.session.evaluate(&x, &y, all.len(), batch, &mut self.plugins)?;
        Ok((stats.loss, stats.accuracy))
    }
}
