//! Checkpoints: every state tensor (parameters, optimizer moments, technique
//! state) in the safetensors format, readable from PyTorch and numpy, plus the
//! position in the run as JSON metadata. Written atomically
//! ([`crate::run_files::write_atomically`]: a new temporary file in the same
//! folder, fsync, rename, fsync of the folder), so a crash or a full disk
//! mid-write leaves the previous checkpoint intact and no temporary file.
//!
//! Every checkpoint proves itself: the metadata key `traintop.checksums`
//! holds the CRC-32 (zlib's, so `zlib.crc32(tensor_bytes)` in Python gives
//! the same number) of each tensor's bytes and of the `traintop` metadata
//! text. [`load`] recomputes them all and refuses a damaged file naming the
//! tensor (or shape), then checks the position itself (a finite positive learning rate,
//! counters that agree) and that every value is finite. The file stays plain
//! safetensors: the checksums are one more string in the metadata.

use std::collections::HashMap;
use std::fs;
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
    /// The run folder's id ([`crate::train::run_dir::run_id`]); empty in
    /// checkpoints written before it existed.
    #[serde(default)]
    pub run_id: String,
}

/// Why a checkpoint could not be read or written. The cause is part of the
/// message and not a `source`, so a report of the whole chain (`{:#}`)
/// says it once.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a valid traintop checkpoint: {reason}")]
    Invalid { path: PathBuf, reason: String },
    /// A state could not be copied out: nothing is written rather than an
    /// empty tensor.
    #[error("{path}: not written: {error}")]
    State { path: PathBuf, error: crate::engine::StateReadError },
    /// The logs could not be saved first: a checkpoint never covers records
    /// that are not on disk.
    #[error("{path}: not written, since the records it covers could not be saved: {error}")]
    Logs { path: PathBuf, error: std::io::Error },
}

const METADATA_KEY: &str = "traintop";
const CHECKSUMS_KEY: &str = "traintop.checksums";

/// What `traintop.checksums` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Checksums {
    /// Always "crc32" (IEEE, as zlib and `crc32fast` compute it).
    algorithm: String,
    /// Of the `traintop` metadata text, as stored.
    metadata: String,
    /// Tensor name to the checksum of its little-endian bytes.
    tensors: std::collections::BTreeMap<String, String>,
    /// Tensor name to its shape (the header's shapes are not covered by the
    /// tensor checksums, and a changed shape would reshape the same bytes).
    shapes: std::collections::BTreeMap<String, Vec<usize>>,
}

fn crc(bytes: &[u8]) -> String {
    format!("{:08x}", crc32fast::hash(bytes))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |error| CheckpointError::Io { path: path.to_path_buf(), error }
}

/// Writes all states and the position to `path`, atomically.
pub fn save(path: &Path, store: &StateStore, position: &Position) -> Result<(), CheckpointError> {
    let mut names: Vec<&str> = store.names().collect();
    names.sort();
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = names
        .iter()
        .map(|name| {
            let values = store.read(name).map_err(|e| CheckpointError::State { path: path.to_path_buf(), error: e })?;
            let shape = store.shape(name).map(|s| s.iter().map(|d| d.resolve(0)).collect()).unwrap_or_default();
            Ok((name.to_string(), shape, values.iter().flat_map(|v| v.to_le_bytes()).collect()))
        })
        .collect::<Result<_, CheckpointError>>()?;
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
    let sums = Checksums {
        algorithm: "crc32".into(),
        metadata: crc(meta.as_bytes()),
        tensors: buffers.iter().map(|(n, _, bytes)| (n.clone(), crc(bytes))).collect(),
        shapes: buffers.iter().map(|(n, shape, _)| (n.clone(), shape.clone())).collect(),
    };
    let sums = serde_json::to_string(&sums).expect("checksums serialize");
    let info = Some(HashMap::from([(METADATA_KEY.to_string(), meta), (CHECKSUMS_KEY.to_string(), sums)]));
    let bytes = safetensors::serialize(views, &info)
        .map_err(|e| CheckpointError::Invalid { path: path.to_path_buf(), reason: format!("{e:?}") })?;
    crate::run_files::write_atomically(path, &bytes).map_err(io(path))
}

/// A checkpoint read back.
pub struct Loaded {
    pub states: Vec<(String, Vec<Dim>, Vec<f32>)>,
    pub position: Position,
}

/// Reads a checkpoint and verifies its checksums, its metadata and its values.
pub fn load(path: &Path) -> Result<Loaded, CheckpointError> {
    load_rescuing(path, None)
}

/// [`load`], with `lr` standing in for a learning rate the checkpoint
/// stores as `null` (an infinite one, written before rates were checked;
/// see `crate::train::resume_rescue`).
pub fn load_rescuing(path: &Path, lr: Option<f32>) -> Result<Loaded, CheckpointError> {
    let bytes = fs::read(path).map_err(io(path))?;
    parse_with(&bytes, lr).map_err(|reason| CheckpointError::Invalid { path: path.to_path_buf(), reason })
}

/// [`load`] on bytes in memory; the error is the reason alone.
pub fn parse(bytes: &[u8]) -> Result<Loaded, String> {
    parse_with(bytes, None)
}

/// The position in the metadata text; a `null` rate is `lr` if given.
fn position(meta_json: &str, lr: Option<f32>) -> Result<Position, String> {
    let mut value: serde_json::Value = serde_json::from_str(meta_json).map_err(|e| format!("metadata: {e}"))?;
    if value.get("lr").is_some_and(serde_json::Value::is_null) {
        let Some(lr) = lr else {
            return Err("metadata: lr is null (an infinite or NaN learning rate, written before rates were \
                        checked); resume with --set optimizer.lr=VALUE"
                .to_string());
        };
        value["lr"] = serde_json::json!(lr);
    }
    serde_json::from_value(value).map_err(|e| format!("metadata: {e}"))
}

/// [`parse`], rescuing a `null` rate with `lr`.
fn parse_with(bytes: &[u8], lr: Option<f32>) -> Result<Loaded, String> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format!("{e:?} (truncated or corrupt?)"))?;
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| format!("{e:?} (truncated or corrupt?)"))?;
    let info = meta.metadata().as_ref();
    let meta_json = info
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| "no traintop metadata (was it written by traintop?)".to_string())?;
    // A checkpoint without checksums cannot prove itself: refused, since a
    // damaged key name would otherwise turn every check off.
    let sums_text = info
        .and_then(|m| m.get(CHECKSUMS_KEY))
        .ok_or_else(|| format!("no {CHECKSUMS_KEY} metadata: damaged, or written by a traintop without checksums"))?;
    let sums: Checksums =
        serde_json::from_str(sums_text).map_err(|e| format!("metadata {CHECKSUMS_KEY}: {e} (damaged?)"))?;
    if sums.algorithm != "crc32" {
        return Err(format!("unknown checksum algorithm {:?}", sums.algorithm));
    }
    if crc(meta_json.as_bytes()) != sums.metadata {
        return Err(format!("the {METADATA_KEY} metadata does not match its checksum: the file is damaged"));
    }
    let position = position(meta_json, lr)?;
    check_position(&position)?;
    let mut states = vec![];
    for (name, view) in tensors.tensors() {
        if view.dtype() != Dtype::F32 {
            return Err(format!("tensor {name}: expected F32, found {:?}", view.dtype()));
        }
        let stored = sums.tensors.get(&name).ok_or_else(|| format!("tensor {name} has no checksum"))?;
        let actual = crc(view.data());
        if *stored != actual {
            return Err(format!(
                "tensor {name}: checksum mismatch (stored {stored}, computed {actual}): the file is damaged"
            ));
        }
        if sums.shapes.get(&name).map(Vec::as_slice) != Some(view.shape()) {
            return Err(format!("tensor {name}: its shape {:?} does not match the checksummed one", view.shape()));
        }
        let values: Vec<f32> =
            view.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(format!("tensor {name}: element {i} is {}; a checkpoint holds finite values only", values[i]));
        }
        let shape = view.shape().iter().map(|&n| Dim::Fixed(n)).collect();
        states.push((name, shape, values));
    }
    if let Some(missing) = sums.tensors.keys().find(|n| !states.iter().any(|(s, _, _)| s == *n)) {
        return Err(format!("tensor {missing} is listed in the checksums but missing from the file"));
    }
    states.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Loaded { states, position })
}

/// What a position must satisfy on its own, whatever the run.
fn check_position(p: &Position) -> Result<(), String> {
    if !(p.lr.is_finite() && p.lr > 0.0) {
        return Err(format!("metadata: lr = {} (a learning rate is finite and greater than 0)", p.lr));
    }
    if let Some(loss) = p.best_val_loss {
        if !loss.is_finite() {
            return Err(format!("metadata: best_val_loss = {loss} (must be finite)"));
        }
    }
    if let Some(best) = p.best_epoch {
        if best == 0 || best > p.epoch + 1 {
            return Err(format!("metadata: best_epoch = {best} with {} epochs completed", p.epoch));
        }
    }
    // Every completed epoch took at least one step.
    if (p.step as u128) < p.epoch as u128 + p.batch_in_epoch as u128 {
        return Err(format!(
            "metadata: step {} is fewer than {} epochs and {} batches need",
            p.step, p.epoch, p.batch_in_epoch
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Device memory the host cannot read.
    #[derive(Debug, Clone)]
    struct OnDevice;
    impl luminal::prelude::Data for OnDevice {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
            self
        }
    }

    /// A state that cannot reach the host is an error naming it, and no
    /// checkpoint is written (never one holding an empty tensor).
    #[test]
    fn a_state_off_the_host_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last.safetensors");
        let mut store = StateStore::new();
        store.insert("layer0.weight", vec![Dim::Fixed(2)], vec![1.0, 2.0]);
        store.put("layer0.bias", vec![Dim::Fixed(1)], luminal::prelude::Tensor { data: Box::new(OnDevice) });
        let err = save(&path, &store, &Position::default()).unwrap_err();
        assert!(matches!(&err, CheckpointError::State { .. }), "{err}");
        assert!(err.to_string().contains("state `layer0.bias` is not in host memory"), "{err}");
        assert!(!path.exists());
    }
}
