//! What the engine is asked to build, read from the config: the network's
//! shape, the optimizer and the device.

use crate::config::{Device, OptimizerKind, RunConfig};
use crate::data::Dataset;
use crate::engine::{Backend, MlpSpec, Objective, Optimizer};

/// The engine's view of the config; the data decides inputs and outputs.
pub fn model_spec(config: &RunConfig, train: &Dataset) -> MlpSpec {
    let classification = train.n_classes > 0;
    MlpSpec {
        inputs: train.n_features,
        hidden: config.model.hidden.clone(),
        outputs: if classification { train.n_classes } else { 1 },
        activation: config.model.activation,
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
