//! Everything a trainer reports. The same values go to the dashboard in the
//! terminal that started the run, into the run folder (as [`Record`]s) and,
//! framed as JSON lines, to any other client.

use serde::{Deserialize, Serialize};

use super::command::{ClientId, ForkBranch, Request};
use super::float::{nan_if_null, pairs_nan_if_null};
use super::technique::TechniqueView;

/// Why a run ended; the words are part of `summary.json`'s interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Completed,
    EarlyStopping,
    User,
    Diverged,
    Error,
    /// The server died by a signal (a plugin that segfaulted or aborted);
    /// written by the process that started it, which saw it die.
    Crashed,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::EarlyStopping => "early_stopping",
            StopReason::User => "user",
            StopReason::Diverged => "diverged",
            StopReason::Error => "error",
            StopReason::Crashed => "crashed",
        }
    }
}

/// The trainer's state as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Paused,
    Stopping,
    Finished,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Paused => "paused",
            RunState::Stopping => "stopping",
            RunState::Finished => "finished",
        }
    }
}

/// How a log line is meant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogLevel {
    Info,
    Warn,
}

impl LogLevel {
    /// The level a message's own words give it ("warning: ...", "error: ...").
    pub fn of(message: &str) -> Self {
        let lower = message.trim_start().to_ascii_lowercase();
        if lower.starts_with("warning") || lower.starts_with("error") {
            LogLevel::Warn
        } else {
            LogLevel::Info
        }
    }
}

/// The run starting (or resuming) and its shape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Started {
    pub run_dir: String,
    pub device: String,
    pub epochs: usize,
    pub steps_per_epoch: usize,
    pub parameters: usize,
    /// Where it starts: 0 for a fresh run, the checkpoint's for a resume.
    #[serde(default)]
    pub epoch: usize,
    #[serde(default)]
    pub step: u64,
    #[serde(default)]
    pub resumed: bool,
    #[serde(default)]
    pub train_rows: usize,
    #[serde(default)]
    pub validation_rows: usize,
    /// The config's `run.hint`: a line for the dashboard ("" for none).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hint: String,
}

/// One logged training step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: u64,
    pub epoch: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f32,
    /// The loss with the techniques' penalties (e.g. L2), where they add one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc: Option<f32>,
    #[serde(deserialize_with = "nan_if_null")]
    pub lr: f32,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    #[serde(default, deserialize_with = "pairs_nan_if_null")]
    pub grad_norms: Vec<(String, f32)>,
    #[serde(default, deserialize_with = "pairs_nan_if_null")]
    pub saturation: Vec<(usize, f32)>,
    /// Scalars the techniques report, e.g. `grad_clip.clipped`.
    #[serde(default, skip_serializing_if = "Vec::is_empty", deserialize_with = "pairs_nan_if_null")]
    pub metrics: Vec<(String, f32)>,
}

/// The end of an epoch, with validation figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub step: u64,
    pub epoch: usize,
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f32,
    /// NaN (`null` in JSON) without validation data.
    #[serde(deserialize_with = "nan_if_null")]
    pub val_loss: f32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f32>,
    #[serde(deserialize_with = "nan_if_null")]
    pub lr: f32,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    pub eta_secs: f64,
}

/// The validation split's confusion matrix at an epoch end (classification
/// runs with validation data): the same counts `traintop evaluate` reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfusionRecord {
    pub step: u64,
    pub epoch: usize,
    /// The class labels, in class order.
    pub classes: Vec<String>,
    /// `counts[t][p]`: validation rows of class `t` predicted as `p`.
    pub counts: Vec<Vec<u64>>,
}

impl ConfusionRecord {
    /// Rows predicted right, and all rows.
    pub fn correct_and_total(&self) -> (u64, u64) {
        let correct = self.counts.iter().enumerate().map(|(i, row)| row.get(i).copied().unwrap_or(0)).sum();
        (correct, self.counts.iter().flatten().sum())
    }
}

/// Everything the trainer reports. On the wire, internally tagged:
/// `{"event": "marker", "step": 20, "label": "dropout on"}`. The lines about
/// a connection (hello, status, error) share the tag but are
/// [`ConnectionMessage`](super::ConnectionMessage)s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum RunEvent {
    Started(Started),
    /// The techniques and their state; sent at start and after every change.
    Techniques {
        techniques: Vec<TechniqueView>,
    },
    Step(StepRecord),
    Epoch(EpochRecord),
    /// After an epoch's record: its validation confusion matrix (since 1.1).
    Confusion(ConfusionRecord),
    /// The run forked at `step` (since 1.3): this run goes on as branch A
    /// (`change` made), branch B trains without it in `branch_dir`, on the
    /// same batches; B's records arrive as `branch` events.
    ForkStarted {
        step: u64,
        change: String,
        branch_dir: String,
    },
    /// A record of branch B (its steps, epochs, log, end); never written to
    /// this run's folder (B's own folder has it).
    Branch {
        record: Box<RunEvent>,
    },
    /// The fork ended at `step`: `kept` goes on here; the other branch's
    /// folder is `other_dir` (B's folder, also when B was kept and this run
    /// took its state).
    ForkEnded {
        step: u64,
        kept: ForkBranch,
        other_dir: String,
    },
    /// A command took effect at this step (a marker on the charts).
    Marker {
        step: u64,
        label: String,
    },
    State {
        step: u64,
        state: RunState,
    },
    Log {
        level: LogLevel,
        message: String,
    },
    /// The graphs were rebuilt after a technique changed them.
    Rebuild {
        step: u64,
        reason: String,
        rebuild_ms: f64,
    },
    /// A request was carried out at this step.
    Accepted {
        step: u64,
        #[serde(flatten)]
        request: Request,
    },
    /// A request was refused, and why.
    Rejected {
        step: u64,
        #[serde(flatten)]
        request: Request,
        reason: String,
    },
    /// A setting the resume's command line changed (`traintop resume --set
    /// KEY=VALUE`), in effect from this step.
    Override {
        step: u64,
        key: String,
        set: String,
    },
    /// A technique asked the run to stop (early stopping).
    StopRequested {
        step: u64,
        epoch: usize,
        by: String,
        restore_best: bool,
    },
    /// The loss stopped being finite or blew up (`cause` says which, by
    /// the divergence rule).
    Diverged {
        step: u64,
        #[serde(deserialize_with = "nan_if_null")]
        loss: f32,
        #[serde(default)]
        cause: String,
    },
    /// After a divergence at `step`, the run went back to its last good
    /// state at `to_step` with learning rate `lr`: rollback number
    /// `attempt`, and paused for a person to choose when `paused`.
    RolledBack {
        step: u64,
        to_step: u64,
        cause: String,
        lr: f32,
        attempt: usize,
        paused: bool,
    },
    Finished {
        step: u64,
        epoch: usize,
        reason: StopReason,
        run_dir: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A client connected to the run's socket.
    Attached {
        /// Who the server found on the socket (pid and terminal, or the
        /// ssh address), not what the client said.
        client: ClientId,
        read_only: bool,
        /// What the client's hello called itself, when that says more than
        /// `client` (cleaned and cut short): a label, never an identity
        /// (since 1.3).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        says: Option<String>,
    },
    /// A client left, or the run lost its own terminal (`client` is then
    /// absent) and went on without it.
    Detached {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<ClientId>,
        reason: String,
    },
    /// A connection was refused (another user, a bad hello).
    Refused {
        peer: String,
        reason: String,
    },
    /// An event this build does not know: from a newer protocol minor
    /// version (skipped by readers), or a connection message (hello,
    /// status, error: a [`ConnectionMessage`](super::ConnectionMessage),
    /// which [`EventReader`](super::EventReader) reads apart).
    #[serde(other)]
    Unknown,
}

impl RunEvent {
    /// Steps, epochs and their confusion matrices, which the run folder
    /// keeps in `metrics.jsonl`.
    pub fn is_metric(&self) -> bool {
        matches!(self, RunEvent::Step(_) | RunEvent::Epoch(_) | RunEvent::Confusion(_))
    }

    /// A log line at the level its words give it.
    pub fn log(message: impl Into<String>) -> Self {
        let message = message.into();
        RunEvent::Log { level: LogLevel::of(&message), message }
    }
}

/// An event with the wall-clock time it happened at (seconds since the Unix
/// epoch): one line of `events.jsonl` or `metrics.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub time: f64,
    #[serde(flatten)]
    pub event: RunEvent,
}

/// A [`Record`] to write, borrowing its event; also a connection message
/// stamped the same way (`E` = [`ConnectionMessage`](super::ConnectionMessage)).
#[derive(Serialize)]
pub struct RecordRef<'a, E: Serialize = RunEvent> {
    pub time: f64,
    #[serde(flatten)]
    pub event: &'a E,
}

impl<'a, E: Serialize> RecordRef<'a, E> {
    /// The event, stamped now.
    pub fn now(event: &'a E) -> Self {
        let time =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Self { time, event }
    }
}

/// Where a run is and how it goes, as `traintop ls` and `top` show it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunStatus {
    pub name: String,
    pub run_dir: String,
    pub pid: u32,
    pub host: String,
    /// `None` until the trainer started.
    #[serde(default)]
    pub state: Option<RunState>,
    #[serde(default)]
    pub finished: Option<StopReason>,
    #[serde(default)]
    pub epoch: usize,
    #[serde(default)]
    pub epochs: usize,
    #[serde(default)]
    pub step: u64,
    #[serde(default)]
    pub steps_per_epoch: usize,
    #[serde(default)]
    pub loss: Option<f32>,
    #[serde(default)]
    pub val_loss: Option<f32>,
    #[serde(default)]
    pub val_acc: Option<f32>,
    #[serde(default)]
    pub samples_per_sec: f64,
    #[serde(default)]
    pub eta_secs: Option<f64>,
    /// Clients watching now.
    #[serde(default)]
    pub clients: usize,
    /// The last few training losses, oldest first (a sparkline's worth).
    #[serde(default)]
    pub recent_loss: Vec<f32>,
    /// The plugin hook (`technique.hook`) that has not returned within the
    /// limit, while it has not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<String>,
}
