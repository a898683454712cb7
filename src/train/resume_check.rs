//! Whether a checkpoint can continue the run its folder's config describes:
//! the same seed, a place inside the run, and every tensor the model needs,
//! with its shape. A config edited between stop and resume (another width,
//! another optimizer) is caught here, naming the tensor, before any training.

use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::checkpoint::{Loaded, Position};
use super::model::{backend, model_spec, optimizer};
use super::prepare_error::PrepareError;
use super::resume_rules;
use super::run_dir::ENCODING_FILE;
use super::techniques;
use crate::config::RunConfig;
use crate::data::{Dataset, Encoding};
use crate::engine::Session;
use crate::plugin::PluginHost;

/// Checks that a checkpoint fits the model its run's config builds: every
/// tensor the model has is there, with the same shape. A config edited between
/// stop and resume (another width, another optimizer) is caught here, with the
/// tensor named, before any training. The techniques in `fresh` (switched on
/// by this resume) start from fresh state, so their tensors need not be there.
pub fn check_checkpoint(
    config: &RunConfig,
    train: &Dataset,
    plugins: &mut PluginHost,
    loaded: &Loaded,
    fresh: &[String],
) -> Result<(), String> {
    if loaded.position.seed != config.run.seed {
        return Err(format!(
            "trained with run.seed = {}, the config says {}: another seed splits and orders the data differently",
            loaded.position.seed, config.run.seed
        ));
    }
    let spec = model_spec(config, train);
    plugins.set_layers(spec.layer_count());
    techniques::restore(plugins, &loaded.position.techniques)?;
    let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
    let session = Session::new(spec, optimizer(config), backend(config), plugins, &mut rng);
    let describe = |shape: &[crate::engine::Dim]| crate::engine::shape::describe(shape);
    let mut names: Vec<&str> = session.store.names().collect();
    names.sort_unstable();
    for name in names {
        let expected = session.store.shape(name).expect("listed");
        let owner = name.split('.').next().unwrap_or("");
        match loaded.states.iter().find(|(n, _, _)| n == name) {
            None if fresh.iter().any(|t| t == owner) => {}
            None => {
                return Err(format!(
                    "the checkpoint has no tensor `{name}` that the model needs (was the config changed?)"
                ))
            }
            Some((_, shape, _)) if shape != expected => {
                return Err(format!(
                    "tensor `{name}` has shape {} in the checkpoint, the model expects {} (was the config changed?)",
                    describe(shape),
                    describe(expected)
                ))
            }
            Some(_) => {}
        }
    }
    // A tensor the model does not use must belong to a loaded technique (its
    // own state, kept while it is off); anything else means the checkpoint
    // was trained with another optimizer or set of techniques.
    for (name, _, _) in &loaded.states {
        let owner = name.split('.').next().unwrap_or("");
        if session.store.shape(name).is_none() && !plugins.has(owner) {
            return Err(format!(
                "tensor `{name}` is not part of this model or its techniques (trained with another optimizer or techniques?)"
            ));
        }
    }
    Ok(())
}

/// The checkpoint's place must lie inside the run the config describes.
pub fn check_position(config: &RunConfig, train: &Dataset, p: &Position) -> Result<(), PrepareError> {
    let epochs = config.run.epochs;
    if p.epoch > epochs || (p.epoch == epochs && p.batch_in_epoch > 0) {
        return Err(PrepareError::Config(config.error_at(
            "run.epochs",
            format!("the checkpoint is at epoch {}, past the run's {epochs} epochs (damaged metadata?)", p.epoch),
        )));
    }
    if p.epoch == epochs {
        return Err(PrepareError::Config(config.error_at(
            "run.epochs",
            format!("the run has completed its {epochs} epochs; train longer with --set run.epochs=N (N > {epochs})"),
        )));
    }
    let per_epoch = train.len().div_ceil(config.run.batch_size);
    if p.batch_in_epoch >= per_epoch {
        return Err(PrepareError::Input(format!(
            "the checkpoint is at batch {} of an epoch of {per_epoch} batches (damaged metadata?)",
            p.batch_in_epoch
        )));
    }
    Ok(())
}

/// A resumed run must see its inputs as it did when it started: a data file
/// whose categories changed would shift what each input means, unseen by the
/// checkpoint's shapes when the count stays the same.
pub fn check_encoding(dir: &Path, encoding: &Encoding) -> Result<(), PrepareError> {
    let path = dir.join(ENCODING_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let saved: Encoding = serde_json::from_str(&text)
        .map_err(|e| PrepareError::Input(format!("{}: not a traintop encoding file: {e}", path.display())))?;
    if saved != *encoding {
        return Err(PrepareError::Input(format!(
            "{}: the data's columns or categories are not the ones the run started with (was the data file changed?)",
            path.display()
        )));
    }
    Ok(())
}

/// The learning rate and technique settings given with `--set` replace the
/// checkpoint's (which otherwise win: they hold changes made while training).
pub fn apply_changes(config: &RunConfig, changes: &[resume_rules::Applied], p: &mut Position) {
    if changes.iter().any(|c| c.key == "optimizer.lr") {
        p.lr = config.optimizer.lr as f32;
    }
    resume_rules::patch_techniques(&mut p.techniques, config, changes);
}
