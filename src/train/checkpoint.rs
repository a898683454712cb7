//! Checkpoints: every state tensor (parameters, optimizer moments, technique
//! state) in the safetensors format, readable from PyTorch and numpy, plus the
//! position in the run as JSON metadata. Written atomically: a temporary file in
//! the same folder, fsync, rename, fsync of the folder, so a crash mid-write
//! leaves the previous checkpoint intact.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde::{Deserialize, Serialize};

use crate::engine::{Dim, StateStore};

/// Where in the run a checkpoint was taken.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Epochs fully completed.
    pub epoch: usize,
    /// Batches of the current epoch already trained (0 at an epoch boundary).
    pub batch_in_epoch: usize,
    /// Optimizer steps taken.
    pub step: u64,
    /// Best validation loss so far and its epoch (1-based), if any.
    pub best_val_loss: Option<f32>,
    pub best_epoch: Option<usize>,
    /// The learning rate in force (it may have been edited mid-run).
    pub lr: f32,
    /// The random state: every draw (data split, batch order, dropout masks)
    /// is a function of this seed and the step, so seed and `step` are all of it.
    #[serde(default)]
    pub seed: u64,
    /// Free-form technique state (enabled flags, parameters, counters).
    #[serde(default)]
    pub techniques: serde_json::Value,
}

/// Why a checkpoint could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a valid traintop checkpoint: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

const METADATA_KEY: &str = "traintop";

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io { path: path.to_path_buf(), source }
}

/// Writes all states and the position to `path`, atomically.
pub fn save(path: &Path, store: &StateStore, position: &Position) -> Result<(), CheckpointError> {
    let mut names: Vec<&str> = store.names().collect();
    names.sort();
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|name| {
            let values = store.read(name).unwrap_or_default();
            let shape = store.shape(name).map(|s| s.iter().map(|d| d.resolve(0)).collect()).unwrap_or_default();
            (name.to_string(), shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
        })
        .collect();
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(n, shape, bytes)| {
            let view = TensorView::new(Dtype::F32, shape.clone(), bytes).map_err(|e| CheckpointError::Invalid {
                path: path.to_path_buf(),
                reason: format!("tensor {n}: {e:?}"),
            })?;
            Ok((n.clone(), view))
        })
        .collect::<Result<_, CheckpointError>>()?;
    let meta = serde_json::to_string(position).expect("position serializes");
    let info = Some(HashMap::from([(METADATA_KEY.to_string(), meta)]));
    let bytes = safetensors::serialize(views, &info)
        .map_err(|e| CheckpointError::Invalid { path: path.to_path_buf(), reason: format!("{e:?}") })?;
    write_atomically(path, &bytes)
}

/// Replaces `path` with `bytes` so that a reader sees the old or the new file,
/// never a partial one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CheckpointError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("checkpoint")));
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    fs::rename(&tmp, path).map_err(io(path))?;
    if let Ok(d) = File::open(dir) {
        // Persist the rename itself; not all filesystems support fsync on a folder.
        let _ = d.sync_all();
    }
    Ok(())
}

/// A checkpoint read back.
pub struct Loaded {
    pub states: Vec<(String, Vec<Dim>, Vec<f32>)>,
    pub position: Position,
}

/// Reads and validates a checkpoint.
pub fn load(path: &Path) -> Result<Loaded, CheckpointError> {
    let bytes = fs::read(path).map_err(io(path))?;
    let invalid = |reason: String| CheckpointError::Invalid { path: path.to_path_buf(), reason };
    let (_, meta) =
        SafeTensors::read_metadata(&bytes).map_err(|e| invalid(format!("{e:?} (truncated or corrupt?)")))?;
    let tensors = SafeTensors::deserialize(&bytes).map_err(|e| invalid(format!("{e:?} (truncated or corrupt?)")))?;
    let meta_json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| invalid("no traintop metadata (was it written by traintop?)".into()))?;
    let position: Position = serde_json::from_str(meta_json).map_err(|e| invalid(format!("metadata: {e}")))?;
    let mut states = vec![];
    for (name, view) in tensors.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(invalid(format!("tensor {name}: expected F32, found {:?}", view.dtype())));
        }
        let values = view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        let shape = view.shape().iter().map(|&n| Dim::Fixed(n)).collect();
        states.push((name, shape, values));
    }
    Ok(Loaded { states, position })
}
