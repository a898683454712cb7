//! The shape of a run config: its sections, their defaults, and the
//! enum-valued settings. `Raw*` types are what serde reads before the
//! defaults that depend on other settings are filled in and values checked.

use std::path::PathBuf;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::choice::{self, Choice};
use super::error::Location;
pub use crate::activation::Activation;
use crate::data::{SyntheticKind, Task};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Device {
    #[default]
    Cpu,
    Cuda,
}

/// What a run does when its loss diverges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnDivergence {
    /// Stop with the last good state as `last` (exit code 3).
    Stop,
    /// Go back to the last good state with half the learning rate.
    Rollback,
    /// Go back to the last good state and wait for a person to choose.
    Pause,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum OptimizerKind {
    Sgd,
    Momentum,
    #[default]
    Adam,
}

impl OptimizerKind {
    /// Adam's step size is normalised, so it wants a smaller rate than SGD.
    pub fn default_lr(self) -> f64 {
        match self {
            OptimizerKind::Adam => 0.001,
            OptimizerKind::Sgd | OptimizerKind::Momentum => 0.01,
        }
    }
}

impl Choice for Device {
    const WHAT: &'static str = "device";
    const NAMES: &'static [&'static str] = &["cpu", "cuda"];
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "cpu" => Some(Device::Cpu),
            "cuda" => Some(Device::Cuda),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

impl Choice for Activation {
    const WHAT: &'static str = "activation";
    const NAMES: &'static [&'static str] = Activation::NAMES;
    const ALIASES: &'static [&'static str] = Activation::ALIASES;
    fn from_name(name: &str) -> Option<Self> {
        Activation::from_name(name)
    }
    fn name(self) -> &'static str {
        Activation::name(self)
    }
}

impl Choice for OptimizerKind {
    const WHAT: &'static str = "optimizer";
    const NAMES: &'static [&'static str] = &["sgd", "momentum", "adam"];
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sgd" => Some(OptimizerKind::Sgd),
            "momentum" => Some(OptimizerKind::Momentum),
            "adam" => Some(OptimizerKind::Adam),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Momentum => "momentum",
            OptimizerKind::Adam => "adam",
        }
    }
}

impl Choice for OnDivergence {
    const WHAT: &'static str = "on_divergence";
    const NAMES: &'static [&'static str] = &["stop", "rollback", "pause"];
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "stop" => Some(OnDivergence::Stop),
            "rollback" => Some(OnDivergence::Rollback),
            "pause" => Some(OnDivergence::Pause),
            _ => None,
        }
    }
    fn name(self) -> &'static str {
        match self {
            OnDivergence::Stop => "stop",
            OnDivergence::Rollback => "rollback",
            OnDivergence::Pause => "pause",
        }
    }
}

impl Choice for Task {
    const WHAT: &'static str = "task";
    const NAMES: &'static [&'static str] = Task::NAMES;
    fn from_name(name: &str) -> Option<Self> {
        Task::from_name(name)
    }
    fn name(self) -> &'static str {
        Task::name(self)
    }
}

macro_rules! public_names {
    ($($t:ty),*) => {$(
        impl $t {
            /// Every accepted canonical name.
            pub const NAMES: &'static [&'static str] = <$t as Choice>::NAMES;

            /// Accepts the canonical names and their aliases.
            pub fn from_name(name: &str) -> Option<Self> {
                <$t as Choice>::from_name(name)
            }

            /// The canonical name, as written in configs.
            pub fn name(self) -> &'static str {
                <$t as Choice>::name(self)
            }
        }

        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
public_names!(Device, OptimizerKind, OnDivergence);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub seed: u64,
    pub epochs: usize,
    pub batch_size: usize,
    #[serde(deserialize_with = "choice::deserialize", serialize_with = "choice::serialize")]
    pub device: Device,
    /// Relative to the working directory, as usual for output folders.
    pub out_dir: PathBuf,
    /// Training steps between metric lines.
    pub log_every: usize,
    /// Seconds between writes of the `last` (and a pending `best`)
    /// checkpoint while training; every stop writes them too. 0 writes them
    /// at every epoch end.
    pub checkpoint_secs: f64,
    /// One line the dashboard shows until the run is first steered (the
    /// demo says which key to try).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub hint: String,
    /// What a divergence does (`crate::train::divergence` has the rule);
    /// unset: pause for the dashboard, stop headless.
    #[serde(
        deserialize_with = "choice::option::deserialize",
        serialize_with = "choice::option::serialize",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_divergence: Option<OnDivergence>,
    /// The smoothed loss this many times its best is a divergence.
    pub divergence_factor: f64,
    /// Steps after a start, a rollback or a steering change before the
    /// factor applies (a non-finite loss is a divergence at once).
    pub divergence_warmup: usize,
    /// Steps between in-memory snapshots of the last good state.
    pub snapshot_every: usize,
    /// Rollbacks `on_divergence = "rollback"` tries before it stops.
    pub max_rollbacks: usize,
    /// The run folder is readable by the owner's group (0750 folders, 0640
    /// files) instead of private (0700, 0600).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shared_group: bool,
}

impl Default for RunSection {
    fn default() -> Self {
        RunSection {
            name: "run".into(),
            seed: 42,
            epochs: 10,
            batch_size: 32,
            device: Device::Cpu,
            out_dir: "runs".into(),
            log_every: 10,
            checkpoint_secs: 30.0,
            hint: String::new(),
            on_divergence: None,
            divergence_factor: 10.0,
            divergence_warmup: 20,
            snapshot_every: 50,
            max_rollbacks: 3,
            shared_group: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSection {
    /// After loading: a CSV path made absolute, `idx:IMAGES,LABELS` with
    /// both made absolute, or `synthetic:NAME`.
    pub path: String,
    pub target: String,
    #[serde(serialize_with = "choice::serialize")]
    pub task: Task,
    /// CSV columns one-hot encoded (the target too, for named class labels).
    pub categorical: Vec<String>,
    /// Fraction of rows held out, in [0, 1).
    pub validation: f64,
    pub samples: usize,
    pub features: usize,
    pub classes: usize,
    pub noise: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawData {
    pub path: Option<String>,
    pub target: String,
    #[serde(deserialize_with = "choice::option::deserialize")]
    pub task: Option<Task>,
    pub categorical: Vec<String>,
    pub validation: f64,
    pub samples: usize,
    pub features: usize,
    pub classes: usize,
    pub noise: f64,
}

impl Default for RawData {
    fn default() -> Self {
        RawData {
            path: None,
            target: "label".into(),
            task: None,
            categorical: Vec::new(),
            validation: 0.2,
            samples: 1000,
            features: 2,
            classes: 3,
            noise: 0.1,
        }
    }
}

impl RawData {
    /// Sine is the one regression set, so its task need not be spelled out.
    pub(crate) fn default_task(kind: Option<SyntheticKind>) -> Task {
        kind.map_or(Task::Classification, SyntheticKind::task)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Widths of the hidden layers, input side first.
    pub hidden: Vec<usize>,
    #[serde(deserialize_with = "choice::deserialize", serialize_with = "choice::serialize")]
    pub activation: Activation,
}

impl Default for ModelSection {
    fn default() -> Self {
        ModelSection { hidden: vec![64, 64], activation: Activation::Relu }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OptimizerSection {
    #[serde(serialize_with = "choice::serialize")]
    pub kind: OptimizerKind,
    pub lr: f64,
    pub momentum: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct RawOptimizer {
    #[serde(deserialize_with = "choice::deserialize")]
    pub kind: OptimizerKind,
    pub lr: Option<f64>,
    pub momentum: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl Default for RawOptimizer {
    fn default() -> Self {
        RawOptimizer { kind: OptimizerKind::Adam, lr: None, momentum: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

/// One `[[technique]]` entry. The engine interprets `params`.
#[derive(Debug, Clone)]
pub struct TechniqueConfig {
    pub name: String,
    pub enabled: bool,
    /// Every other key of the entry.
    pub params: toml::Table,
    /// Where the entry starts in the file; `None` when an override made it.
    pub location: Option<Location>,
}

/// Where an entry was written is not part of what it means, so two configs
/// that differ only in layout compare equal.
impl PartialEq for TechniqueConfig {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.enabled == other.enabled && self.params == other.params
    }
}

impl Serialize for TechniqueConfig {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.params.len() + 2))?;
        map.serialize_entry("name", &self.name)?;
        map.serialize_entry("enabled", &self.enabled)?;
        for (key, value) in &self.params {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsSection {
    /// Made absolute against the config's folder. For a config read from a
    /// run folder: only the folders the user trusted on the command line.
    pub dirs: Vec<PathBuf>,
    /// Never read from TOML: set for a config read from a run folder
    /// ([`super::RunConfig::from_run_folder`]).
    #[serde(skip)]
    pub folder: Option<FolderPlugins>,
}

/// What a run folder's config said about plugins, and what the user did
/// about it on the command line. A run folder may come from anyone, and
/// loading a plugin runs its code, so the folders its `[plugins] dirs`
/// names are never searched unless the user names them (`--trust-plugins`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FolderPlugins {
    /// The folders the run folder's config named that were not trusted.
    pub untrusted: Vec<PathBuf>,
    /// Techniques the user chose to go on without (`--drop-technique`).
    pub dropped: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub run: RunSection,
    #[serde(default)]
    pub data: RawData,
    #[serde(default)]
    pub model: ModelSection,
    #[serde(default)]
    pub optimizer: RawOptimizer,
    #[serde(default, rename = "technique")]
    pub techniques: Vec<toml::Table>,
    #[serde(default)]
    pub plugins: PluginsSection,
    #[serde(default)]
    pub sweep: Option<super::sweep::SweepSection>,
    #[serde(default)]
    pub notify: super::notify::NotifySection,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_and_aliases() {
        assert_eq!(Activation::from_name("tansig"), Some(Activation::Tanh));
        assert_eq!(Activation::from_name("purelin"), Some(Activation::Linear));
        assert_eq!(Activation::from_name("logsig"), Some(Activation::Sigmoid));
        assert_eq!(Activation::from_name("poslin"), Some(Activation::Relu));
        assert_eq!(Activation::Tanh.to_string(), "tanh");
        for name in Device::NAMES {
            assert_eq!(Device::from_name(name).unwrap().name(), *name);
        }
        for name in OptimizerKind::NAMES {
            assert_eq!(OptimizerKind::from_name(name).unwrap().name(), *name);
        }
        assert_eq!(OptimizerKind::Sgd.default_lr(), 0.01);
        assert_eq!(RawData::default_task(Some(SyntheticKind::Sine)), Task::Regression);
        assert_eq!(RawData::default_task(None), Task::Classification);
    }

    #[test]
    fn technique_equality_ignores_location() {
        let mut a =
            TechniqueConfig { name: "dropout".into(), enabled: true, params: toml::Table::new(), location: None };
        let mut b = a.clone();
        b.location = Some(Location { file: "x".into(), line: 1, column: 1 });
        assert_eq!(a, b);
        a.enabled = false;
        assert_ne!(a, b);
    }
}
