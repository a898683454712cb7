//! A live fork (`f` in the dashboard, the `fork` command): from this batch
//! boundary on, two branches train on the same batches: A with the selected
//! technique switched, B as before. Each branch is exactly a resume from the
//! checkpoint written at the fork step, with or without the change, so each
//! equals a run stopped there and resumed that way.
//!
//! How: the run writes its `last` checkpoint; [`crate::train::fork::create`]
//! makes B's run folder from it (`NAME-fork-DATE` beside this one, with
//! `fork.json`); B is a second trainer over that folder, resumed from the
//! checkpoint, and this run rebuilds itself from the same checkpoint with the
//! change, as `resume --set technique.X.enabled=...` would. At every batch
//! boundary B trains until it has reached this run's step, so the two stay in
//! step; B's records go to the watchers as `branch` events (its own folder
//! keeps them) for the charts to draw B behind A.
//!
//! Keeping A stops B (its folder gets its checkpoints and summary). Keeping B
//! stops B the same way, then this run takes B's state from B's `last`
//! checkpoint and goes on without the change: this folder's steps between the
//! fork and the keep are then A's, and B's are in B's folder. The end of the
//! run ends B as well.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::loop_state::{LoopState, OtherBranch};
use super::{Channels, Flow, Trainer};
use crate::data::Batches;
use crate::plugin::PluginEvent;
use crate::protocol::{ForkBranch, Request, RunCommand, RunEvent, StopReason};
use crate::train::fork;
use crate::train::prepare_error::PrepareError;
use crate::train::resume_load;
use crate::train::run_dir::{RunDir, LAST_CHECKPOINT};

/// Branch B: a trainer of its own over B's folder, with its loop's state.
struct Branch {
    trainer: Box<Trainer>,
    /// Its loop's state, from its start (taken by its finish).
    state: Option<LoopState>,
    /// The batch order of the epoch under way (`None` between epochs).
    order: Option<Batches>,
}

/// What B reports that the watchers see (as `branch` events).
fn worth_forwarding(e: &RunEvent) -> bool {
    matches!(
        e,
        RunEvent::Step(_)
            | RunEvent::Epoch(_)
            | RunEvent::Diverged { .. }
            | RunEvent::RolledBack { .. }
            | RunEvent::StopRequested { .. }
            | RunEvent::Finished { .. }
            | RunEvent::Log { .. }
    )
}

impl Branch {
    /// Runs `f` with channels whose events go, wrapped, to `out`.
    fn with_channels<R>(
        &mut self,
        out: &mut dyn FnMut(RunEvent),
        f: impl FnOnce(&mut Trainer, &mut Option<LoopState>, &mut Option<Batches>, &mut Channels) -> R,
    ) -> R {
        let mut forward = |e: RunEvent| {
            if worth_forwarding(&e) {
                out(RunEvent::Branch { record: Box::new(e) })
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let mut ch = Channels { events: &mut forward, commands: None, stop };
        f(&mut self.trainer, &mut self.state, &mut self.order, &mut ch)
    }
}

/// One batch of B (and its epoch's start or end around it).
fn step_once(
    t: &mut Trainer,
    state: &mut LoopState,
    order: &mut Option<Batches>,
    ch: &mut Channels,
) -> anyhow::Result<Flow> {
    if t.position.epoch >= t.config.run.epochs {
        return Ok(Flow::Stop(StopReason::Completed));
    }
    if order.is_none() {
        let run = &t.config.run;
        *order = Some(Batches::new(t.train.len(), run.batch_size, run.seed, t.position.epoch));
        state.begin_epoch();
        t.dispatch(PluginEvent::EpochStart { epoch: t.position.epoch as u64 + 1 });
    }
    let batches = order.as_ref().expect("set above");
    t.snapshot_if_due(state);
    match t.train_batch(ch, state, batches)? {
        Flow::Continue => {}
        // Rolled back after a divergence: the epoch starts again from there.
        Flow::Rewind => {
            *order = None;
            return Ok(Flow::Continue);
        }
        stop => return Ok(stop),
    }
    t.checkpoint_if_due(state, false)?;
    if t.position.batch_in_epoch >= batches.len() {
        *order = None;
        return t.end_epoch(ch, state);
    }
    Ok(Flow::Continue)
}

impl OtherBranch for Branch {
    fn dir(&self) -> &Path {
        &self.trainer.run_dir.path
    }

    fn catch_up(&mut self, step: u64, out: &mut dyn FnMut(RunEvent)) -> anyhow::Result<bool> {
        self.with_channels(out, |t, state, order, ch| {
            let Some(running) = state.as_mut() else { return Ok(false) };
            while t.position.step < step {
                match step_once(t, running, order, ch)? {
                    Flow::Continue | Flow::Rewind => {}
                    // Its last epoch done: it waits for the end of the run.
                    Flow::Stop(StopReason::Completed) => return Ok(true),
                    Flow::Stop(reason) => {
                        let ended = state.take().expect("running");
                        t.finish(ch, ended, Ok(reason))?;
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        })
    }

    fn end(mut self: Box<Self>, out: &mut dyn FnMut(RunEvent)) -> anyhow::Result<()> {
        self.with_channels(out, |t, state, _, ch| {
            let Some(ended) = state.take() else { return Ok(()) };
            let reason = if t.position.epoch >= t.config.run.epochs { StopReason::Completed } else { StopReason::User };
            t.finish(ch, ended, Ok(reason)).map(|_| ())
        })
    }
}

/// Where B's records go: to the watchers only (B's folder has them).
fn to_watchers<'a, 'b>(ch: &'a mut Channels<'b>) -> impl FnMut(RunEvent) + use<'a, 'b> {
    move |e| (ch.events)(e)
}

impl Trainer {
    /// A trainer resumed from `dir`'s `last` checkpoint with `sets`, over this
    /// run's data, writing to a fresh handle on `dir`.
    fn resumed_from(&self, dir: &Path, sets: &[String]) -> Result<Trainer, PrepareError> {
        let mut from = resume_load::read(dir, sets, &resume_load::FolderTrust::of(&self.config))?;
        let (mut plugins, _) = crate::plugin::setup(&from.config).map_err(|e| PrepareError::Input(e.to_string()))?;
        from.check(dir, &self.train, &mut plugins)?;
        let run_dir = RunDir::open(dir).map_err(|e| PrepareError::Input(format!("{}: {e}", dir.display())))?;
        let (train, validation) = (self.train.clone(), self.validation.clone());
        Ok(Trainer::new(from.config, train, validation, run_dir, plugins, Some(from.loaded)))
    }

    /// The fork's two trainers: B resumed from `dir` as it is, A from this
    /// run's folder with `set`.
    fn branches(&self, dir: &Path, set: &[String]) -> Result<(Trainer, Trainer), PrepareError> {
        let b = self.resumed_from(dir, &[])?;
        let a = self.resumed_from(&self.run_dir.path.clone(), set)?;
        Ok((b, a))
    }

    /// Becomes `next` (a trainer resumed from a checkpoint of this run), keeping
    /// this run's folder handle; then what a resume does before its first
    /// batch: the training data to the techniques and their run-start hook.
    fn become_resumed(&mut self, ch: &mut Channels, mut next: Trainer, sets: &[String]) {
        std::mem::swap(&mut next.run_dir, &mut self.run_dir);
        *self = next;
        let step = self.position.step;
        for set in sets {
            let key = set.split('=').next().unwrap_or_default().to_string();
            self.note(ch, RunEvent::Override { step, key, set: set.clone() });
        }
        self.send_train_data();
        self.dispatch(PluginEvent::RunStart { epoch: self.position.epoch as u64 });
        self.plugin_logs(ch);
        self.publish_techniques(ch);
    }

    /// The `fork` command: answered, and carried out or refused.
    pub(super) fn fork(&mut self, ch: &mut Channels, state: &mut LoopState, request: Request) -> anyhow::Result<()> {
        let step = self.position.step;
        let RunCommand::Fork { technique, enabled } = request.command.clone() else { return Ok(()) };
        let reason = match (&state.branch, self.plugins.has(&technique)) {
            (Some(b), _) => Some(format!("already forked (B is {}); keep A or B first", b.dir().display())),
            (None, false) => Some(format!("no technique `{technique}` is loaded")),
            (None, true) => None,
        };
        if let Some(reason) = reason {
            self.note(ch, RunEvent::Rejected { step, request, reason });
            return Ok(());
        }
        let set = vec![format!("technique.{technique}.enabled={enabled}")];
        self.write_checkpoints(state)?;
        self.run_dir.flush()?;
        let made = fork::create_locked(&self.run_dir.path, "last", &[], None).and_then(|(dir, lock)| {
            match self.branches(&dir, &set) {
                Ok((mut b, a)) => {
                    // B's folder is B's alone while the fork lives.
                    b.run_dir.hold(lock);
                    Ok((dir, b, a))
                }
                Err(e) => {
                    drop(lock);
                    fork::discard(&dir);
                    Err(e)
                }
            }
        });
        let (dir, b, a) = match made {
            Ok(m) => m,
            Err(e) => {
                self.note(ch, RunEvent::Rejected { step, request, reason: format!("cannot fork: {e}") });
                return Ok(());
            }
        };
        let label = request.command.label();
        let marker = request.marker(label.clone());
        self.note(ch, RunEvent::Accepted { step, request });
        self.become_resumed(ch, a, &set);
        // A rollback goes back no further than the fork (`steering.rs`).
        state.adopt(self.snapshot(None));
        let mut branch = Branch { trainer: Box::new(b), state: None, order: None };
        branch.state = Some(branch.with_channels(&mut to_watchers(ch), |t, _, _, c| t.start(c)));
        state.branch = Some(Box::new(branch));
        let change = format!("{technique} {}", if enabled { "on" } else { "off" });
        self.note(ch, RunEvent::ForkStarted { step, change, branch_dir: dir.display().to_string() });
        self.note(ch, RunEvent::Marker { step, label: marker });
        Ok(())
    }

    /// At each batch boundary: B catches up with this run's step.
    pub(super) fn step_branch(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<()> {
        let Some(branch) = state.branch.as_mut() else { return Ok(()) };
        // B failing (its folder deleted under it) ends B, not this run.
        let why = match branch.catch_up(self.position.step, &mut to_watchers(ch)) {
            Ok(true) => return Ok(()),
            Ok(false) => "stopped by itself".to_string(),
            Err(e) => format!("failed: {e}"),
        };
        let dir = branch.dir().display().to_string();
        state.branch = None;
        self.note(ch, RunEvent::log(format!("branch B {why} ({dir}); this run goes on as A")));
        self.note(ch, RunEvent::ForkEnded { step: self.position.step, kept: ForkBranch::A, other_dir: dir });
        Ok(())
    }

    /// The `keep` command: ends the fork with one branch.
    pub(super) fn keep(&mut self, ch: &mut Channels, state: &mut LoopState, request: Request) -> anyhow::Result<()> {
        let step = self.position.step;
        let RunCommand::Keep { branch: kept } = request.command else { return Ok(()) };
        let Some(other) = state.branch.take() else {
            let reason = "not forked: f forks the selected technique's switch first".to_string();
            self.note(ch, RunEvent::Rejected { step, request, reason });
            return Ok(());
        };
        let dir: PathBuf = other.dir().to_path_buf();
        if kept == ForkBranch::B && !dir.join(LAST_CHECKPOINT).is_file() {
            // Nothing to take B's state from: refused, and the fork goes on.
            state.branch = Some(other);
            let reason = format!(
                "cannot keep B: its folder {} or its checkpoint is gone; keep A to end the fork",
                dir.display()
            );
            self.note(ch, RunEvent::Rejected { step, request, reason });
            return Ok(());
        }
        self.end_branch(ch, other);
        let marker = request.marker(request.command.label());
        self.note(ch, RunEvent::Accepted { step, request });
        let mut kept = kept;
        if kept == ForkBranch::B {
            match self.resumed_from(&dir, &[]) {
                Ok(b) => self.become_resumed(ch, b, &[]),
                Err(e) => {
                    // B ended, its state unreadable: the run is A, and says so.
                    self.note(
                        ch,
                        RunEvent::log(format!("error: cannot take branch B's state ({e}); this run goes on as A")),
                    );
                    kept = ForkBranch::A;
                }
            }
        }
        state.adopt(self.snapshot(None));
        self.note(ch, RunEvent::ForkEnded { step, kept, other_dir: dir.display().to_string() });
        self.note(ch, RunEvent::Marker { step, label: marker });
        Ok(())
    }

    /// B catches up and ends (its checkpoints and summary written); B
    /// failing (its folder deleted under it) is said, and ends only B.
    fn end_branch(&mut self, ch: &mut Channels, mut other: Box<dyn OtherBranch>) {
        let (step, dir) = (self.position.step, other.dir().display().to_string());
        let going = other.catch_up(step, &mut to_watchers(ch));
        let ended = match going {
            Ok(true) => other.end(&mut to_watchers(ch)),
            stopped => stopped.map(|_| ()),
        };
        if let Err(e) = ended {
            self.note(ch, RunEvent::log(format!("error: branch B ({dir}) failed: {e}")));
        }
    }

    /// The run ends: B ends with it.
    pub(super) fn end_fork(&mut self, ch: &mut Channels, state: &mut LoopState) -> anyhow::Result<()> {
        let Some(other) = state.branch.take() else { return Ok(()) };
        let dir = other.dir().display().to_string();
        self.end_branch(ch, other);
        self.note(ch, RunEvent::ForkEnded { step: self.position.step, kept: ForkBranch::A, other_dir: dir });
        Ok(())
    }
}
