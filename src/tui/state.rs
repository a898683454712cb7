//! The dashboard's data, as the panels read it: what the run is, how far it
//! got, the chart series, the event log and what overlay is open. `App`
//! (app.rs) owns and updates it; the panels only borrow pieces of it, so they
//! need neither `App` nor each other.

use std::collections::VecDeque;

use super::bounded_series::{BoundedSeries, Ema};
use super::editor::Editor;
use crate::protocol::{EpochRecord, StepRecord};

/// Points kept per chart series (downsampled beyond).
const SERIES_CAP: usize = 2000;
/// Weight of the newest value in the smoothed curves.
const EMA_ALPHA: f64 = 0.1;

/// What `Started` said about the run.
#[derive(Clone, Debug, Default)]
pub struct RunInfo {
    pub run_dir: String,
    pub device: String,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    pub parameters: usize,
    /// The config's hint, shown in the footer until the first marker.
    pub hint: String,
}

/// The latest figures, for the header.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    pub step: u64,
    pub epoch: usize,
    pub loss: Option<f32>,
    pub lr: Option<f32>,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    /// The last epoch's ETA and the wall time it was computed at, so the
    /// header can count it down between epochs.
    pub eta_at: Option<(f64, f64)>,
    pub val_loss: Option<f32>,
    pub val_acc: Option<f32>,
}

/// Chart series, all indexed by step.
#[derive(Clone, Debug)]
pub struct Charts {
    pub train_loss: BoundedSeries,
    pub loss_ema: BoundedSeries,
    pub train_acc: BoundedSeries,
    pub acc_ema: BoundedSeries,
    pub val_loss: BoundedSeries,
    pub val_acc: BoundedSeries,
    pub markers: VecDeque<(u64, String)>,
    pub(super) loss_ema_state: Ema,
    pub(super) acc_ema_state: Ema,
}

impl Charts {
    pub fn new() -> Self {
        Self {
            train_loss: BoundedSeries::new(SERIES_CAP),
            loss_ema: BoundedSeries::new(SERIES_CAP),
            train_acc: BoundedSeries::new(SERIES_CAP),
            acc_ema: BoundedSeries::new(SERIES_CAP),
            val_loss: BoundedSeries::new(SERIES_CAP),
            val_acc: BoundedSeries::new(SERIES_CAP),
            markers: VecDeque::new(),
            loss_ema_state: Ema::new(EMA_ALPHA),
            acc_ema_state: Ema::new(EMA_ALPHA),
        }
    }

    /// A logged step's loss and accuracy (raw and smoothed).
    pub(super) fn add_step(&mut self, r: &StepRecord) {
        let x = r.step as f64;
        self.train_loss.push(x, r.loss as f64);
        if let Some(v) = self.loss_ema_state.update(r.loss as f64) {
            self.loss_ema.push(x, v);
        }
        if let Some(acc) = r.acc {
            self.train_acc.push(x, acc as f64);
            if let Some(v) = self.acc_ema_state.update(acc as f64) {
                self.acc_ema.push(x, v);
            }
        }
    }

    /// An epoch's validation figures (a NaN loss is left out).
    pub(super) fn add_epoch(&mut self, r: &EpochRecord) {
        let x = r.step as f64;
        self.val_loss.push(x, r.val_loss as f64);
        if let Some(a) = r.val_acc {
            self.val_acc.push(x, a as f64);
        }
    }
}

impl Charts {
    /// The run went back to `step` (a rollback): the abandoned stretch,
    /// blown-up losses and all, leaves the charts and the smoothing.
    pub(super) fn rewind(&mut self, step: u64) {
        let x = step as f64;
        for series in [
            &mut self.train_loss,
            &mut self.loss_ema,
            &mut self.train_acc,
            &mut self.acc_ema,
            &mut self.val_loss,
            &mut self.val_acc,
        ] {
            series.rewind(x);
        }
        self.markers.retain(|(s, _)| *s <= step);
        self.loss_ema_state = Ema::new(EMA_ALPHA);
        self.acc_ema_state = Ema::new(EMA_ALPHA);
    }
}

/// The view's own settings: kept when a reconnected client starts afresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewSettings {
    /// The loss chart on a log scale (`l`).
    pub log_scale: bool,
    /// Charts draw the smoothed training curves (`m`).
    pub smoothing: bool,
    /// The `--baseline` run's curves are drawn (`b`).
    pub baseline: bool,
    /// The confusion matrix popup is open (`C`).
    pub confusion: bool,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self { log_scale: false, smoothing: true, baseline: true, confusion: false }
    }
}

/// Where the dashboard's events come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Source {
    /// The trainer in this process (`--foreground`, tests).
    #[default]
    InProcess,
    /// A run server's socket: `d` detaches, `q` asks detach or stop.
    Attached,
    /// A finished run's files (`view`): no trainer listens.
    Replay,
}

/// How the dashboard reaches its run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Link {
    pub source: Source,
    /// Watching only: nothing is sent.
    pub read_only: bool,
    /// The event channel closed: the trainer is gone.
    pub disconnected: bool,
    /// `traintop run`'s own dashboard: `r` can start the run again once it
    /// has finished.
    pub again: bool,
}

impl Link {
    pub fn attached(&self) -> bool {
        self.source == Source::Attached
    }

    pub fn replay(&self) -> bool {
        self.source == Source::Replay
    }
}

/// How the user leaves the dashboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Leaving {
    /// Quit: the run was stopped, or had ended.
    Quit,
    /// Detach: the run goes on without this screen.
    Detach,
    /// The finished run, again from the start (`r`).
    Again,
}

/// A divergence the run rolled back from (the trainer's own `Divergence` is
/// how one ends a run); kept while the run waits paused for a choice (the
/// banner).
#[derive(Clone, Debug, PartialEq)]
pub struct Rollback {
    pub step: u64,
    pub to_step: u64,
    pub cause: String,
    /// The learning rate the run diverged with.
    pub lr: f32,
}

/// What `g` can do about grad_clip in this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GradClip {
    Off,
    On,
    NotLoaded,
}

/// How an event log line is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogKind {
    Info,
    Warn,
    Marker,
    State,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    pub step: Option<u64>,
    pub text: String,
    pub kind: LogKind,
}

/// What has the keyboard on top of the panels.
#[derive(Clone, Debug, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Editor(Editor),
    ConfirmQuit,
    /// `s` asks before it stops, as `q` does.
    ConfirmStop,
}
