//! Why a run could not be prepared, sorted the way the command line maps
//! failures to exit codes.

use crate::config::ConfigError;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The config is wrong; the error names file, line and field, and knows
    /// its exit code.
    #[error("{0}")]
    Config(ConfigError),
    /// Other bad input: the data, a checkpoint, a plugin, a folder that is no
    /// run folder.
    #[error("{0}")]
    Input(String),
    /// The machine failed us: a folder that cannot be created or opened.
    #[error("{0:#}")]
    Runtime(anyhow::Error),
}
