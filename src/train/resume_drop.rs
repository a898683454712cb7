//! `resume --drop-technique NAME` sticks: once a resume that drops a
//! technique has passed every check, the folder's `config.toml` and its
//! `last` checkpoint stop naming it, so later plain resumes of the folder
//! need neither the flag nor the plugin. A refused resume changes nothing.
//! The drop itself is recorded in `events.jsonl` when the run starts.

use std::path::Path;

use super::checkpoint;
use super::prepare_error::PrepareError;
use super::resume_load::discard;
use super::run_dir::{without_id, CONFIG_FILE, LAST_CHECKPOINT};
use crate::engine::StateStore;

/// Rewrites `dir`'s config and `last` checkpoint without the `dropped`
/// techniques (the caller holds the folder's lock).
pub fn persist(dir: &Path, dropped: &[String]) -> Result<(), PrepareError> {
    if dropped.is_empty() {
        return Ok(());
    }
    rewrite_config(&dir.join(CONFIG_FILE), dropped)?;
    rewrite_checkpoint(&dir.join(LAST_CHECKPOINT), dropped)
}

/// The config without the dropped `[[technique]]` tables, its id line kept.
fn rewrite_config(path: &Path, dropped: &[String]) -> Result<(), PrepareError> {
    let failed = |what: String| PrepareError::Runtime(anyhow::anyhow!("{}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    let body = without_id(&text);
    let header = &text[..text.len() - body.len()];
    let mut table: toml::Table = toml::from_str(body).map_err(|e| failed(e.message().to_string()))?;
    if let Some(toml::Value::Array(list)) = table.get_mut("technique") {
        list.retain(|t| !t.get("name").and_then(toml::Value::as_str).is_some_and(|n| dropped.iter().any(|d| d == n)));
    }
    let body = toml::to_string(&table).map_err(|e| failed(e.to_string()))?;
    crate::run_files::write_atomically(path, format!("{header}{body}").as_bytes()).map_err(|e| failed(e.to_string()))
}

/// The checkpoint without the dropped techniques' settings and tensors.
fn rewrite_checkpoint(path: &Path, dropped: &[String]) -> Result<(), PrepareError> {
    let mut loaded = checkpoint::load(path).map_err(|e| PrepareError::Input(e.to_string()))?;
    for name in dropped {
        discard(&mut loaded, name);
    }
    let mut store = StateStore::new();
    for (tensor, shape, values) in loaded.states {
        store.insert(&tensor, shape, values);
    }
    checkpoint::save(path, &store, &loaded.position).map_err(|e| PrepareError::Runtime(e.into()))
}
