//! traintop: train neural networks in a terminal dashboard and steer the run.

pub mod engine;
pub mod cli;
