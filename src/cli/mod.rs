//! Command-line subcommands and how their failures map to exit codes:
//! 2 for bad input (config, data, checkpoint, usage), 1 for failures at run time.

pub mod bench;
pub mod diff;
pub mod evaluate;
pub mod headless;
pub mod plugins;
pub mod roofline;
pub mod run;
pub mod view;

use std::fmt;

/// An error with the exit code the process should end with.
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

impl ExitError {
    /// Bad input from the user: exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }

    pub fn config(e: crate::config::ConfigError) -> Self {
        Self { code: e.exit_code(), message: e.to_string() }
    }

    /// A run that could not be prepared: the exit code its kind of failure
    /// calls for.
    pub fn prepare(e: crate::train::PrepareError) -> Self {
        use crate::train::PrepareError;
        match e {
            PrepareError::Config(e) => Self::config(e),
            PrepareError::Input(message) => Self::input(message),
            PrepareError::Runtime(e) => Self::runtime(e),
        }
    }

    /// A failure while running: exit code 1.
    pub fn runtime(e: anyhow::Error) -> Self {
        Self { code: 1, message: format!("{e:#}") }
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::train::PrepareError> for ExitError {
    fn from(e: crate::train::PrepareError) -> Self {
        Self::prepare(e)
    }
}
