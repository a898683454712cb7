//! A trained model opened from its run folder: the run's own resolved
//! config, its techniques as they were at the checkpoint, and the weights of
//! `checkpoints/last` or `checkpoints/best`, ready to score rows in eval mode
//! exactly as the trainer's validation does.
//!
//! The model's shape comes from the checkpoint (input and output widths of
//! its first and last layers), so a new file can be scored without loading
//! the training data.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::RunConfig;
use crate::data::{gather, Dataset, Encoding, Task};
use crate::engine::mlp::weight_name;
use crate::engine::{Dim, EvalStats, MlpSpec, Objective, Session};
use crate::plugin::PluginHost;
use crate::train::checkpoint::{self, Loaded, Position};
use crate::train::model::{backend, model_spec, optimizer};
use crate::train::run_dir::{BEST_CHECKPOINT, CONFIG_FILE, ENCODING_FILE, LAST_CHECKPOINT};
use crate::train::techniques;

/// Which checkpoint of a run to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Which {
    /// Where the run stopped (what `resume` continues from).
    #[default]
    Last,
    /// The epoch with the lowest validation loss.
    Best,
}

impl Which {
    pub fn file(self) -> &'static str {
        match self {
            Which::Last => LAST_CHECKPOINT,
            Which::Best => BEST_CHECKPOINT,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Which::Last => "last",
            Which::Best => "best",
        }
    }
}

/// The row count of one eval pass: the trainer's validation uses the same,
/// so the figures here add up in the same order as the run's own.
pub fn eval_batch(config: &RunConfig) -> usize {
    config.run.batch_size.max(256)
}

/// A model ready to score rows.
pub struct TrainedModel {
    pub dir: PathBuf,
    pub config: RunConfig,
    pub checkpoint: PathBuf,
    pub position: Position,
    session: Session,
    plugins: PluginHost,
}

/// What one pass over a data set gives.
pub struct Scored {
    pub stats: EvalStats,
    /// The output layer, `rows x outputs`: logits or predicted values.
    pub outputs: Vec<f32>,
}

impl TrainedModel {
    /// Opens `dir`'s checkpoint; errors name the file at fault. Plugins come
    /// from the folders in `trusted` (`--trust-plugins`), `TRAINTOP_PLUGIN_PATH`
    /// and the binary's folder, never from a folder the run's config names.
    pub fn open(dir: &Path, which: Which, trusted: &[PathBuf]) -> Result<TrainedModel, String> {
        let config_path = dir.join(CONFIG_FILE);
        if !config_path.exists() {
            return Err(format!("{}: not a run folder (no {CONFIG_FILE})", dir.display()));
        }
        let config = RunConfig::from_run_folder(&config_path, &[], trusted, &[]).map_err(|e| e.to_string())?;
        let path = dir.join(which.file());
        if !path.exists() {
            return Err(format!("{}: the run has no {} checkpoint", path.display(), which.name()));
        }
        let loaded = checkpoint::load(&path).map_err(|e| e.to_string())?;
        let spec = spec_from_checkpoint(&config, &loaded).map_err(|e| format!("{}: {e}", path.display()))?;
        let (mut plugins, _warnings) = crate::plugin::setup(&config).map_err(|e| e.to_string())?;
        plugins.set_layers(spec.layer_count());
        plugins.set_step(loaded.position.step);
        techniques::restore(&mut plugins, &loaded.position.techniques)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let mut rng = ChaCha8Rng::seed_from_u64(config.run.seed);
        let mut session = Session::new(spec, optimizer(&config), backend(&config), &mut plugins, &mut rng);
        check_states(&session, &loaded).map_err(|e| format!("{}: {e}", path.display()))?;
        let Loaded { states, position, .. } = loaded;
        for (name, shape, values) in states {
            session.store.insert(&name, shape, values);
        }
        Ok(TrainedModel { dir: dir.to_path_buf(), config, checkpoint: path, position, session, plugins })
    }

    /// Output classes, 0 for regression.
    pub fn classes(&self) -> usize {
        match self.session.spec.objective {
            Objective::Classification => self.session.spec.outputs,
            Objective::Regression => 0,
        }
    }

    pub fn inputs(&self) -> usize {
        self.session.spec.inputs
    }

    pub fn task(&self) -> Task {
        if self.classes() == 0 {
            Task::Regression
        } else {
            Task::Classification
        }
    }

    /// How the run turned its file's columns into inputs: `encoding.json`,
    /// or for runs older than it, read again from the training file.
    pub fn encoding(&self) -> Result<Encoding, String> {
        let path = self.dir.join(ENCODING_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a traintop encoding file: {e}", path.display())),
            Err(_) => crate::data::load(&self.config.data_spec()).map(|d| d.encoding).map_err(|e| e.to_string()),
        }
    }

    /// Loss, accuracy and the output layer over every row of `data`.
    pub fn score(&mut self, data: &Dataset) -> Result<Scored, String> {
        if data.n_features != self.inputs() {
            return Err(format!(
                "{}: {} inputs per row, the model takes {}",
                data.source,
                data.n_features,
                self.inputs()
            ));
        }
        let all: Vec<usize> = (0..data.len()).collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        gather(data, &all, &mut x, &mut y);
        let batch = eval_batch(&self.config);
        let (stats, outputs) = self
            .session
            .evaluate_with_outputs(&x, &y, all.len(), batch, &mut self.plugins)
            .map_err(|e| format!("evaluation failed: {e}"))?;
        if outputs.len() != data.len() * self.session.spec.outputs {
            return Err(format!("the model gave {} outputs for {} rows", outputs.len(), data.len()));
        }
        Ok(Scored { stats, outputs })
    }
}

/// The MLP the checkpoint's weights describe, with the config's hidden
/// layers and activation.
fn spec_from_checkpoint(config: &RunConfig, loaded: &Loaded) -> Result<MlpSpec, String> {
    let layers = config.model.hidden.len() + 1;
    let shape = |name: &str| -> Result<Vec<usize>, String> {
        let (_, shape, _) = loaded
            .states
            .iter()
            .find(|(n, _, _)| n == name)
            .ok_or_else(|| format!("the checkpoint has no tensor `{name}` (was the config changed?)"))?;
        Ok(shape.iter().map(|d| d.resolve(0)).collect())
    };
    let first = shape(&weight_name(0))?;
    let last = shape(&weight_name(layers - 1))?;
    if first.len() != 2 || last.len() != 2 {
        return Err("the layer weights are not matrices".into());
    }
    let dataset_like = Dataset {
        features: vec![],
        targets: vec![],
        n_features: first[0],
        n_classes: if config.data.task == Task::Classification { last[1] } else { 0 },
        feature_names: vec![],
        encoding: Encoding::default(),
        source: String::new(),
    };
    Ok(model_spec(config, &dataset_like))
}

/// Every tensor the model needs is in the checkpoint, with its shape.
fn check_states(session: &Session, loaded: &Loaded) -> Result<(), String> {
    let describe = |shape: &[Dim]| crate::engine::shape::describe(shape);
    let mut names: Vec<&str> = session.store.names().collect();
    names.sort_unstable();
    for name in names {
        let expected = session.store.shape(name).expect("listed");
        match loaded.states.iter().find(|(n, _, _)| n == name) {
            None => return Err(format!("the checkpoint has no tensor `{name}` that the model needs")),
            Some((_, shape, _)) if shape != expected => {
                return Err(format!(
                    "tensor `{name}` has shape {} in the checkpoint, the model expects {}",
                    describe(shape),
                    describe(expected)
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}
