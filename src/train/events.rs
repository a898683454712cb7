//! What the trainer tells its watchers (dashboard or headless log), and what
//! they can ask of it. Commands apply at the next batch boundary.

use serde::Serialize;

/// Why a run ended; the words are part of `summary.json`'s interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Completed,
    EarlyStopping,
    User,
    Diverged,
    Error,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Completed => "completed",
            StopReason::EarlyStopping => "early_stopping",
            StopReason::User => "user",
            StopReason::Diverged => "diverged",
            StopReason::Error => "error",
        }
    }
}

/// One logged training step.
#[derive(Clone, Debug, Serialize)]
pub struct StepRecord {
    pub kind: &'static str,
    pub step: u64,
    pub epoch: usize,
    pub loss: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub objective: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acc: Option<f32>,
    pub lr: f32,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    pub grad_norms: Vec<(String, f32)>,
    pub saturation: Vec<(usize, f32)>,
    /// Scalars the techniques report, e.g. `grad_clip.clipped`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<(String, f32)>,
}

/// The end of an epoch, with validation figures.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
    pub kind: &'static str,
    pub step: u64,
    pub epoch: usize,
    pub loss: f32,
    pub val_loss: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f32>,
    pub lr: f32,
    pub samples_per_sec: f64,
    pub wall_time: f64,
    pub eta_secs: f64,
}

/// How switching a technique takes effect (shown in the techniques panel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ToggleClass {
    /// A parameter or gate: applies at the next batch.
    Live,
    /// Changes the graph: rebuilt at the next batch boundary, weights and
    /// optimizer state carried over.
    Structural,
    /// Meaningful before step 0 only.
    InitOnly,
    /// Changes the data (input normalization).
    Data,
}

/// One editable parameter of a technique.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParamView {
    pub name: String,
    /// Current value as text (numbers, booleans, choices).
    pub value: String,
    /// Allowed range or choices, as text, e.g. "0 ..= 1" or "norm | value".
    pub range: String,
    pub help: String,
}

/// A loaded technique as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TechniqueView {
    pub name: String,
    pub enabled: bool,
    pub class: ToggleClass,
    pub params: Vec<ParamView>,
    /// Live status, e.g. "patience 2/5, best epoch 7".
    pub status: String,
}

/// Everything the trainer reports.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        run_dir: String,
        device: String,
        epochs: usize,
        steps_per_epoch: usize,
        parameters: usize,
    },
    /// The techniques and their state; sent at start and after every change.
    Techniques(Vec<TechniqueView>),
    /// A command took effect at this step (a marker on the charts).
    Marker {
        step: u64,
        label: String,
    },
    Step(StepRecord),
    Epoch(EpochRecord),
    State(RunState),
    Log(String),
    Finished {
        reason: StopReason,
        run_dir: String,
    },
}

/// The trainer's state as the header shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Running,
    Paused,
    Stopping,
    Finished,
}

/// Requests from the user.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    Pause,
    Resume,
    /// Train one batch while paused.
    StepOnce,
    /// Finish the current step, checkpoint, write the summary, end.
    Stop,
    Checkpoint,
    SetLearningRate(f32),
    /// Switch a technique on or off.
    Toggle {
        technique: String,
        enabled: bool,
    },
    /// Set a technique's parameter; the value is checked against its range.
    SetParam {
        technique: String,
        param: String,
        value: String,
    },
}
