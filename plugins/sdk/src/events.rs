//! Trainer events and build sites as a technique sees them: each event kind
//! with the fields it has (no `value`/`value2` to decode, no NaN standing in
//! for "none"), and the place a build hook is called at as one struct that
//! can grow without changing every technique's signature.
//!
//! The ABI's one `Event` layout is decoded here ([`Event::from_abi`]); an event
//! kind this SDK does not know is not decoded at all and never reaches a
//! technique.

use crate::params::ParamValues;
use traintop_plugin_abi::{self as abi, BuildPoint, EventKind, Mode};

/// Where in the run an event happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub epoch: u64,
    /// Steps trained so far.
    pub step: u64,
    /// The run's seed, for techniques that draw random numbers.
    pub seed: u64,
}

/// After a batch's update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchEnd {
    pub at: At,
    pub loss: f64,
}

/// After validation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValidationEnd {
    pub at: At,
    pub val_loss: f64,
    /// `None` for regression.
    pub val_acc: Option<f64>,
}

/// The training split, before the first step: `rows` x `cols`, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainData<'a> {
    pub at: At,
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
}

/// The technique was just switched on or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Toggled {
    pub at: At,
    pub on: bool,
}

/// A trainer event (see the ABI's `EventKind` for the order they come in).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Event<'a> {
    RunStart(At),
    RunEnd(At),
    EpochStart(At),
    EpochEnd(At),
    BatchStart(At),
    BatchEnd(BatchEnd),
    ValidationEnd(ValidationEnd),
    /// Parameters exist and may be rewritten.
    InitParameters(At),
    TrainData(TrainData<'a>),
    Toggled(Toggled),
    /// The user paused the run.
    Paused(At),
    /// The user resumed the run.
    Resumed(At),
    /// The run is stopping; `RunEnd` follows.
    Stopping(At),
}

impl<'a> Event<'a> {
    /// Decodes the ABI's payload; `None` for a kind this SDK does not know.
    /// `data` is the training split the host passed with `TrainData`.
    pub fn from_abi(e: &abi::Event, data: &'a [f32]) -> Option<Self> {
        let at = At { epoch: e.epoch, step: e.step, seed: e.seed };
        Some(match EventKind::try_from(e.kind).ok()? {
            EventKind::RunStart => Event::RunStart(at),
            EventKind::RunEnd => Event::RunEnd(at),
            EventKind::EpochStart => Event::EpochStart(at),
            EventKind::EpochEnd => Event::EpochEnd(at),
            EventKind::BatchStart => Event::BatchStart(at),
            EventKind::BatchEnd => Event::BatchEnd(BatchEnd { at, loss: e.value }),
            EventKind::ValidationEnd => {
                let val_acc = (!e.value2.is_nan()).then_some(e.value2);
                Event::ValidationEnd(ValidationEnd { at, val_loss: e.value, val_acc })
            }
            EventKind::InitParameters => Event::InitParameters(at),
            EventKind::TrainData => {
                Event::TrainData(TrainData { at, data, rows: e.rows as usize, cols: e.cols as usize })
            }
            EventKind::Toggled => Event::Toggled(Toggled { at, on: e.value == 1.0 }),
            EventKind::Paused => Event::Paused(at),
            EventKind::Resumed => Event::Resumed(at),
            EventKind::Stopping => Event::Stopping(at),
            _ => return None,
        })
    }

    /// Where in the run the event happened, whatever its kind.
    pub fn at(&self) -> At {
        match self {
            Event::RunStart(at)
            | Event::RunEnd(at)
            | Event::EpochStart(at)
            | Event::EpochEnd(at)
            | Event::BatchStart(at)
            | Event::InitParameters(at)
            | Event::Paused(at)
            | Event::Resumed(at)
            | Event::Stopping(at) => *at,
            Event::BatchEnd(e) => e.at,
            Event::ValidationEnd(e) => e.at,
            Event::TrainData(e) => e.at,
            Event::Toggled(e) => e.at,
        }
    }
}

/// Where a build hook is called: the build point, the mode of the graph
/// being built, the layer, and the technique's parameter values.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct BuildContext<'a> {
    pub params: &'a ParamValues,
    pub point: BuildPoint,
    pub mode: Mode,
    /// The layer for per-layer points (net input, activation); 0 otherwise.
    pub layer: usize,
}

impl<'a> BuildContext<'a> {
    /// A context (the SDK's shim makes it; tests may too).
    pub fn new(params: &'a ParamValues, point: BuildPoint, mode: Mode, layer: usize) -> Self {
        Self { params, point, mode, layer }
    }
}
