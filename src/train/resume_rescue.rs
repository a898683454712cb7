//! Folders written before float settings were checked against f32's range
//! (a config saying `lr = inf`, a checkpoint storing the rate as `null`):
//! such a folder resumes when the command line gives the setting a value
//! (`--set optimizer.lr=0.01`), since the override replaces what the folder
//! cannot hold; without one, the error names the setting and that remedy.
//!
//! The rescue covers a setting whose `--set` key is its config path (the
//! `[optimizer]`, `[run]`, `[data]` and `[model]` settings); the rescued value is
//! applied as a resume's `--set` is, and announced the same way.

use std::path::{Path, PathBuf};

use super::prepare_error::PrepareError;
use super::resume_rules::Applied;
use crate::config::{ConfigError, RunConfig};

/// The folder's own config (the resume rules' "before"), with the
/// overrides that rescue a setting out of f32's range applied; those are
/// returned as changes, since the folder's value could not be kept.
pub fn base_config(
    path: &Path,
    overrides: &[String],
    trusted: &[PathBuf],
    drop: &[String],
) -> Result<(RunConfig, Vec<Applied>), PrepareError> {
    rescued(overrides, |rescues| RunConfig::from_run_folder(path, rescues, trusted, drop))
}

/// The config `load` reads with no override, or, where the folder holds a
/// float setting out of f32's range, with the override from `overrides`
/// that gives it a value (a resume's and a fork's `--set`s alike).
pub fn rescued(
    overrides: &[String],
    load: impl Fn(&[String]) -> Result<RunConfig, ConfigError>,
) -> Result<(RunConfig, Vec<Applied>), PrepareError> {
    let mut rescues: Vec<String> = vec![];
    loop {
        let error = match load(&rescues) {
            Ok(config) => {
                let changes = rescues.iter().map(|text| Applied { key: key_of(text).to_string(), text: text.clone() });
                return Ok((config, changes.collect()));
            }
            Err(e) => e,
        };
        let field = match (&error, error.field()) {
            (ConfigError::Invalid { message, .. }, Some(field)) if message.contains("f32's") => field.to_string(),
            _ => return Err(PrepareError::Config(error)),
        };
        match overrides.iter().find(|o| key_of(o) == field) {
            Some(rescue) if !rescues.contains(rescue) => rescues.push(rescue.clone()),
            _ => return Err(PrepareError::Config(with_remedy(error, &field))),
        }
    }
}

/// `KEY` of `KEY=VALUE`.
fn key_of(set: &str) -> &str {
    set.split('=').next().unwrap_or_default().trim()
}

/// The error, telling how to resume the folder anyway.
fn with_remedy(error: ConfigError, field: &str) -> ConfigError {
    match error {
        ConfigError::Invalid { origin, field: f, message } => ConfigError::Invalid {
            origin,
            field: f,
            message: format!(
                "{message}; this folder was written before float settings were checked: \
                 resume or fork it with --set {field}=VALUE"
            ),
        },
        other => other,
    }
}

/// The learning rate a checkpoint with no usable one (stored as `null`)
/// takes: the one the command line gives, if any.
pub fn checkpoint_lr(config: &RunConfig, changes: &[Applied]) -> Option<f32> {
    changes.iter().any(|c| c.key == "optimizer.lr").then_some(config.optimizer.lr as f32)
}
