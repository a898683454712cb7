//! traintop: train neural networks in a terminal dashboard and steer the run.

pub mod cli;
pub mod config;
pub mod data;
pub mod engine;
pub mod inspect;
pub mod plugin;
pub mod protocol;
pub mod train;
pub mod tui;
