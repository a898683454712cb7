//! The training loop: epochs of shuffled mini-batches, validation at each epoch
//! end, `last` and `best` checkpoints (`trainer/checkpoints.rs` says when), metrics and events, commands applied at
//! batch boundaries, and a summary however the run ends.
//!
//! The data order of epoch e is a pure function of (seed, e) and checkpoints
//! record the batch position, so a resumed run trains exactly what an
//! uninterrupted one would.
//!
//! [`Trainer::run`] reads as the loop itself; each moment has its own file:
//! the start (`trainer/start.rs`), the batch boundary with its commands
//! (`trainer/commands.rs`), one batch (`trainer/batch.rs`), the epoch end
//! (`trainer/epoch_end.rs`), divergence (`trainer/divergence.rs`) and the
//! finish (`trainer/finish.rs`). Each step answers with a [`Flow`]: go on,
//! start the epoch again from a rolled-back position, or stop for a reason. An error ends the
//! loop like a stop; the run still gets its summary (stop_reason "error")
//! and, where possible, a checkpoint.

mod batch;
mod checkpoints;
mod commands;
mod confusion;
mod divergence;
mod epoch_end;
mod finish;
mod live_fork;
mod loop_state;
mod start;
mod steering;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::Arc;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::{self, Loaded, Position};
use super::model::{backend, model_spec, optimizer};
use super::notify::Notifier;
use super::run_dir::RunDir;
use super::summary::Summary;
use super::techniques;
use crate::config::RunConfig;
use crate::data::{gather, Batches, Dataset};
use crate::engine::Session;
use crate::plugin::PluginEvent;
use crate::plugin::PluginHost;
use crate::protocol::{Request, RunEvent, StopReason};
use loop_state::LoopState;

/// Everything a run needs, prepared and validated before training starts.
pub struct Trainer {
    pub config: RunConfig,
    pub train: Dataset,
    pub validation: Dataset,
    pub session: Session,
    pub run_dir: RunDir,
    pub position: Position,
    pub plugins: PluginHost,
    /// Events to report right after `Started` (a resume's `--set`s).
    opening: Vec<RunEvent>,
    /// The techniques as last reported: a record is written only when they
    /// changed (one per epoch was ~2.9 kB, 210 MB over 72k epochs).
    techniques_said: Option<Vec<crate::protocol::TechniqueView>>,
    /// `[notify] command`, told when the run ends or waits at the banner.
    notifier: Option<Notifier>,
}

/// Where the trainer reports and listens.
pub struct Channels<'a> {
    pub events: &'a mut dyn FnMut(RunEvent),
    pub commands: Option<Receiver<Request>>,
    /// Set by the signal handler: stop gracefully at the next batch boundary.
    pub stop: Arc<AtomicBool>,
}

/// Whether the loop goes on after one of its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    /// The position moved back (a rollback): the epoch starts again from it.
    Rewind,
    Stop(StopReason),
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
        plugins.set_layers(spec.layer_count());
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
            None => plugins.dispatch(PluginEvent::InitParameters, &mut session.store),
        }
        plugins.set_step(position.step);
        let notifier = Notifier::new(config.notify_command.as_deref(), &config.run.name, &run_dir.path);
        let (opening, techniques_said) = (vec![], None);
        Self { config, train, validation, session, run_dir, position, plugins, opening, techniques_said, notifier }
    }

    /// Events the run reports right after it started (what a resume changed).
    pub fn announce(&mut self, events: Vec<RunEvent>) {
        self.opening.extend(events);
    }

    /// Runs to the end, a stop request, or an error; always writes the summary.
    pub fn run(&mut self, ch: &mut Channels) -> anyhow::Result<Summary> {
        let mut state = self.start(ch);
        let ended = self.train_epochs(ch, &mut state);
        self.finish(ch, state, ended)
    }

    /// The epochs left, or until something stops the run.
    fn train_epochs(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<StopReason> {
        while self.position.epoch < self.config.run.epochs {
            if let Flow::Stop(reason) = self.train_epoch(ch, state)? {
                return Ok(reason);
            }
        }
        Ok(StopReason::Completed)
    }

    /// One epoch from where the position stands (mid-epoch after a resume).
    fn train_epoch(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<Flow> {
        let run = &self.config.run;
        let order = Batches::new(self.train.len(), run.batch_size, run.seed, self.position.epoch);
        state.begin_epoch();
        self.dispatch(PluginEvent::EpochStart { epoch: self.position.epoch as u64 + 1 });
        while self.position.batch_in_epoch < order.len() {
            if let Flow::Stop(reason) = self.at_batch_boundary(ch, state)? {
                return Ok(Flow::Stop(reason));
            }
            self.snapshot_if_due(state);
            match self.train_batch(ch, state, &order)? {
                Flow::Continue => {}
                Flow::Rewind => return Ok(Flow::Continue),
                stop => return Ok(stop),
            }
            self.checkpoint_if_due(state, false)?;
        }
        self.end_epoch(ch, state)
    }

    /// Tells the plugins what happened (their event pipeline).
    fn dispatch(&mut self, event: PluginEvent) {
        self.plugins.dispatch(event, &mut self.session.store);
    }

    /// Reports an event: into the run folder (the one place that writes
    /// it) and to the watchers. A metric that cannot be written is an error;
    /// an event that cannot be written costs a warning.
    fn emit(&mut self, ch: &mut Channels, event: RunEvent) -> std::io::Result<()> {
        let written = self.run_dir.record(&event);
        let metric = event.is_metric();
        if let Some(warning) = self.notifier.as_ref().and_then(|n| n.see(&event)) {
            let warning = RunEvent::log(warning);
            let _ = self.run_dir.record(&warning);
            (ch.events)(warning);
        }
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

    /// The techniques' state, and warnings about combinations to avoid.
    fn publish_techniques(&mut self, ch: &mut Channels) {
        for w in techniques::conflicts(&self.plugins) {
            self.note(ch, RunEvent::log(w));
        }
        self.report_techniques(ch);
    }

    /// The techniques' state (switches, settings, live status), when it
    /// differs from what was last reported; the server keeps the latest for
    /// clients that attach later.
    fn report_techniques(&mut self, ch: &mut Channels) {
        let now = self.plugins.views();
        if self.techniques_said.as_ref() != Some(&now) {
            self.techniques_said = Some(now.clone());
            self.note(ch, RunEvent::Techniques { techniques: now });
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

    /// Writes a checkpoint with the techniques' settings as they are now.
    fn save(&mut self, file: &str) -> Result<(), checkpoint::CheckpointError> {
        self.position.techniques = techniques::snapshot(&self.plugins);
        self.position.run_id.clone_from(&self.run_dir.id);
        checkpoint::save(&self.run_dir.file(file), &self.session.store, &self.position)
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
