//! A run folder read for resuming: its config with the `--set`s (checked by
//! the resume rules), its `last` checkpoint (checked against the folder's
//! run id, the data, the encoding and the model), and the technique plugins
//! set up as the checkpoint left them. `traintop resume` (through
//! [`super::prepare`]) and a live fork (which resumes its two branches from
//! the checkpoint it just wrote, without reading the data again) share it,
//! so a fork's branch is exactly a resumed run.

use std::path::{Path, PathBuf};

use super::checkpoint::{self, Loaded};
use super::model::backend;
use super::prepare_error::PrepareError;
use super::resume_check::{apply_changes, check_checkpoint, check_encoding, check_position};
use super::resume_rescue;
use super::resume_rules::{self, Applied};
use super::run_dir::{run_id, CONFIG_FILE, LAST_CHECKPOINT};
use crate::config::RunConfig;
use crate::data::Dataset;
use crate::plugin::PluginHost;

/// The config and checkpoint of a folder to resume, before the data is read.
pub struct ResumeFrom {
    pub config: RunConfig,
    pub loaded: Loaded,
    pub changes: Vec<Applied>,
}

/// What the user trusts of a run folder, and what it goes on without: the
/// command line's `--trust-plugins` folders and `--drop-technique` names
/// (see [`RunConfig::from_run_folder`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderTrust {
    pub plugin_dirs: Vec<PathBuf>,
    pub drop: Vec<String>,
}

impl FolderTrust {
    /// What a running config was read with: its plugin folders are the ones
    /// already trusted (a live fork reads its own folder again).
    pub fn of(config: &RunConfig) -> FolderTrust {
        let drop = config.plugins.folder.as_ref().map(|f| f.dropped.clone()).unwrap_or_default();
        FolderTrust { plugin_dirs: config.plugins.dirs.clone(), drop }
    }
}

/// Reads the folder's config (with `overrides`) and its `last` checkpoint;
/// a dropped technique's settings and tensors are taken out of the checkpoint.
pub fn read(dir: &Path, overrides: &[String], trust: &FolderTrust) -> Result<ResumeFrom, PrepareError> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        return Err(PrepareError::Input(format!("{}: not a run folder (no {CONFIG_FILE})", dir.display())));
    }
    let (trusted, drop) = (&trust.plugin_dirs, &trust.drop);
    let (base, rescued) = resume_rescue::base_config(&config_path, overrides, trusted, drop)?;
    let config = RunConfig::from_run_folder(&config_path, overrides, trusted, drop).map_err(PrepareError::Config)?;
    let mut changes = resume_rules::check(&base, &config).map_err(PrepareError::Config)?;
    changes.extend(rescued);
    backend(&config)
        .check_available()
        .map_err(|e| PrepareError::Config(config.error_at("run.device", e.to_string())))?;
    let last = dir.join(LAST_CHECKPOINT);
    let lr = resume_rescue::checkpoint_lr(&config, &changes);
    let mut loaded = checkpoint::load_rescuing(&last, lr).map_err(|e| PrepareError::Input(e.to_string()))?;
    for name in drop {
        discard(&mut loaded, name);
    }
    let id = std::fs::read_to_string(&config_path).map(|t| run_id(&t)).unwrap_or_default();
    if !loaded.position.run_id.is_empty() && loaded.position.run_id != id {
        return Err(PrepareError::Input(format!(
            "{}: this checkpoint belongs to another run (run id {}, this folder's is {id})",
            last.display(),
            loaded.position.run_id
        )));
    }
    Ok(ResumeFrom { config, loaded, changes })
}

impl ResumeFrom {
    /// Checks the checkpoint against the data and `plugins` (loaded for the
    /// config) and applies the `--set`s to its position. A technique the
    /// `--set`s switch on starts from fresh state, as it does when switched
    /// on in the dashboard: whatever the checkpoint kept of it is dropped.
    pub fn check(&mut self, dir: &Path, train: &Dataset, plugins: &mut PluginHost) -> Result<(), PrepareError> {
        check_position(&self.config, train, &self.loaded.position)?;
        check_encoding(dir, &train.encoding)?;
        let before = enabled(&self.loaded.position.techniques);
        apply_changes(&self.config, &self.changes, &mut self.loaded.position);
        let fresh: Vec<String> =
            enabled(&self.loaded.position.techniques).into_iter().filter(|t| !before.contains(t)).collect();
        let owned =
            |name: &str| fresh.iter().any(|t| name.strip_prefix(t.as_str()).is_some_and(|r| r.starts_with('.')));
        self.loaded.states.retain(|(name, _, _)| !owned(name));
        let last = dir.join(LAST_CHECKPOINT);
        check_checkpoint(&self.config, train, plugins, &self.loaded, &fresh)
            .map_err(|m| PrepareError::Input(format!("{}: {m}", last.display())))
    }
}

/// Takes technique `name` out of a checkpoint: its settings and its tensors
/// (named `name.…`), so the run goes on as if it had never loaded it.
pub(super) fn discard(loaded: &mut Loaded, name: &str) {
    if let Some(list) = loaded.position.techniques.as_array_mut() {
        list.retain(|t| t["name"].as_str() != Some(name));
    }
    loaded.states.retain(|(tensor, _, _)| tensor.split('.').next() != Some(name));
}

/// The techniques a checkpoint's technique state has on.
fn enabled(techniques: &serde_json::Value) -> Vec<String> {
    let list = techniques.as_array().map(Vec::as_slice).unwrap_or_default();
    list.iter()
        .filter(|t| t["enabled"].as_bool() == Some(true))
        .filter_map(|t| t["name"].as_str().map(str::to_string))
        .collect()
}
