//! `traintop fork RUN --at STEP --set KEY=VALUE`: a new run folder that
//! continues RUN from one of its checkpoints with a change, next to RUN.
//!
//! A fork is a resume into another folder: the parent's resolved config
//! (under a new run id), its `encoding.json`, and the chosen checkpoint as the
//! fork's `checkpoints/last` (every state tensor and the position, the random
//! position included, with the new run id). The caller then resumes that
//! folder with the `--set`s, so the fork trains exactly what the parent,
//! stopped at that step and resumed with the change, would have trained; and
//! the resume rules decide what may change (technique switches and settings,
//! the learning rate, the epochs), with their usual errors.
//!
//! STEP is the step of a checkpoint the parent keeps: `last`, `best`, or the
//! step number of either. Other steps are refused, naming the ones there are
//! (runs keep no per-step checkpoints). The fork says whose it is in
//! `fork.json` and in its event log.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checkpoint::{self, Loaded};
use super::prepare_error::PrepareError;
use super::resume_rescue;
use super::resume_rules;
use super::run_dir::{without_id, RunDir, BEST_CHECKPOINT, CONFIG_FILE, ENCODING_FILE, EVENTS_FILE, LAST_CHECKPOINT};
use crate::config::RunConfig;
use crate::engine::StateStore;
use crate::protocol::RunEvent;
use crate::run_lock::RunLock;

/// Where the fork's parentage is written.
pub const FORK_FILE: &str = "fork.json";

/// What `fork.json` says.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct ForkInfo {
    /// The parent run folder.
    pub parent: String,
    pub parent_run_id: String,
    /// The step the fork continues from, and the checkpoint it was (`last`, `best`).
    pub step: u64,
    pub checkpoint: String,
    /// The changes, as `--set` gave them.
    pub set: Vec<String>,
}

/// A parent's checkpoint to fork from.
struct Source {
    name: &'static str,
    loaded: Loaded,
}

/// The parent's checkpoint that `at` names: `last`, `best`, or a step.
fn source(parent: &Path, at: &str, lr: Option<f32>) -> Result<Source, PrepareError> {
    let mut found = Vec::new();
    for (name, file) in [("last", LAST_CHECKPOINT), ("best", BEST_CHECKPOINT)] {
        let path = parent.join(file);
        if path.exists() {
            let loaded = checkpoint::load_rescuing(&path, lr).map_err(|e| PrepareError::Input(e.to_string()))?;
            found.push(Source { name, loaded });
        }
    }
    let listed =
        found.iter().map(|s| format!("{} ({})", s.loaded.position.step, s.name)).collect::<Vec<_>>().join(", ");
    let pick = match at.parse::<u64>() {
        Ok(step) => found.into_iter().find(|s| s.loaded.position.step == step),
        Err(_) => found.into_iter().find(|s| s.name == at),
    };
    pick.ok_or_else(|| {
        let have = if listed.is_empty() { "none".to_string() } else { listed };
        PrepareError::Input(format!(
            "--at {at}: {} has no checkpoint there; it keeps checkpoints at step {have} \
             (give one of those steps, `last` or `best`)",
            parent.display()
        ))
    })
}

/// Creates the fork's folder under `out_dir` (the parent's own folder when
/// `None`) and returns its path; the `sets` are checked here as a resume
/// would check them, and applied when the caller resumes the folder.
pub fn create(parent: &Path, at: &str, sets: &[String], out_dir: Option<&Path>) -> Result<PathBuf, PrepareError> {
    create_locked(parent, at, sets, out_dir).map(|(dir, _)| dir)
}

/// [`create`], the new folder still locked by this process: a live fork's
/// branch B holds it from its making to its end.
pub fn create_locked(
    parent: &Path,
    at: &str,
    sets: &[String],
    out_dir: Option<&Path>,
) -> Result<(PathBuf, RunLock), PrepareError> {
    let config_path = parent.join(CONFIG_FILE);
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| PrepareError::Input(format!("{}: not a run folder ({e})", config_path.display())))?;
    // A folder from before float settings were checked (lr = inf) forks
    // when a --set gives the setting a value, as it resumes.
    let (base, rescued) = resume_rescue::rescued(sets, |rescues| RunConfig::from_file(&config_path, rescues))?;
    let changed = RunConfig::from_file(&config_path, sets).map_err(PrepareError::Config)?;
    let mut changes = resume_rules::check(&base, &changed).map_err(PrepareError::Config)?;
    changes.extend(rescued);
    let Source { name, loaded } = source(parent, at, resume_rescue::checkpoint_lr(&changed, &changes))?;
    let out_dir = match out_dir {
        Some(d) => d.to_path_buf(),
        None => parent.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let runtime = |what: String| move |e: std::io::Error| PrepareError::Runtime(anyhow::anyhow!("{what}: {e}"));
    let shared = changed.run.shared_group;
    let mut dir = RunDir::create_with(&out_dir, &format!("{}-fork", base.run.name), without_id(&text), shared)
        .map_err(runtime(format!("cannot create a run folder under {}", out_dir.display())))?;
    let encoding = parent.join(ENCODING_FILE);
    if encoding.exists() {
        // Read and written anew, so the copy gets this folder's mode.
        std::fs::read(&encoding)
            .and_then(|bytes| crate::run_files::write_atomically(&dir.file(ENCODING_FILE), &bytes))
            .map_err(runtime(format!("cannot copy {}", encoding.display())))?;
    }
    let mut position = loaded.position.clone();
    let info = ForkInfo {
        parent: std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf()).display().to_string(),
        parent_run_id: position.run_id.clone(),
        step: position.step,
        checkpoint: name.to_string(),
        set: sets.to_vec(),
    };
    position.run_id.clone_from(&dir.id);
    let mut store = StateStore::new();
    for (tensor, shape, values) in loaded.states {
        store.insert(&tensor, shape, values);
    }
    checkpoint::save(&dir.file(LAST_CHECKPOINT), &store, &position).map_err(|e| PrepareError::Runtime(e.into()))?;
    dir.write_json(FORK_FILE, &info).map_err(runtime(format!("cannot write {}", dir.file(FORK_FILE).display())))?;
    let change = if sets.is_empty() { "no change".to_string() } else { format!("--set {}", sets.join(" --set ")) };
    let note = format!("fork of {} at step {} ({name} checkpoint), {change}", info.parent, info.step);
    dir.record(&RunEvent::log(note)).map_err(runtime(format!("cannot write {}", dir.path.display())))?;
    let lock =
        dir.release().ok_or_else(|| PrepareError::Runtime(anyhow::anyhow!("{}: not locked", dir.path.display())))?;
    Ok((dir.path.clone(), lock))
}

/// Whether the fork in `dir` never started training (its event log has no
/// `started` record): a resume refused it.
pub fn never_started(dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(dir.join(EVENTS_FILE)) else { return true };
    let mut records = crate::protocol::EventReader::new(std::io::BufReader::new(file));
    !records.any(|r| r.is_ok_and(|r| matches!(r.event, RunEvent::Started(_))))
}

/// Removes a fork's folder that never trained; one that is locked (a run
/// took it meanwhile) or is no fork's is left alone.
pub fn discard(dir: &Path) {
    let Ok(lock) = crate::run_lock::acquire(dir) else { return };
    if dir.join(FORK_FILE).is_file() && never_started(dir) {
        drop(lock);
        let _ = std::fs::remove_dir_all(dir);
    }
}
