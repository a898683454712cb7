//! Preparing a run: everything between a config and a trainer ready to
//! train, checked before any training. One function, [`prepare`], that
//! `traintop run`, `traintop resume` and a run server all call: backend,
//! data (split with the run's seed), memory, plugins and their settings, the
//! run folder and, for a resume, the checkpoint and what `--set` may change.
//!
//! The trainer itself is built later, on the thread that runs it
//! ([`Prepared::into_trainer`]): the compiled graph stays on that thread.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::checkpoint::Loaded;
use super::model::{backend, model_spec, optimizer};
use super::prepare_error::PrepareError;
use super::resume_load::{self, FolderTrust, ResumeFrom};
use super::resume_rules::Applied;
use super::run_dir::{RunDir, ENCODING_FILE};
use super::trainer::Trainer;
use crate::config::RunConfig;
use crate::data::{self, split, Dataset};
use crate::engine::memory;
use crate::plugin::PluginHost;
use crate::protocol::RunEvent;

/// What to prepare.
#[derive(Clone, Debug)]
pub enum Launch {
    /// A new run of `config`, in a fresh folder under `out_dir`.
    New { config: Box<RunConfig>, out_dir: PathBuf },
    /// The run in `dir`, from its last checkpoint, with `--set` overrides,
    /// its plugins from the folders the user trusts.
    Resume { dir: PathBuf, overrides: Vec<String>, trust: FolderTrust },
}

/// Everything a run needs, checked.
pub struct Prepared {
    pub config: RunConfig,
    pub train: Dataset,
    pub validation: Dataset,
    pub run_dir: RunDir,
    pub plugins: PluginHost,
    pub resume: Option<Loaded>,
    /// The `--set`s a resume applies, announced when the run starts.
    pub overrides: Vec<Applied>,
    /// What else a resume changed, recorded in the event log when it starts
    /// (techniques dropped).
    pub notes: Vec<String>,
}

impl Prepared {
    /// Builds the trainer (on the thread that will run it).
    pub fn into_trainer(self) -> Trainer {
        let step = self.resume.as_ref().map_or(0, |l| l.position.step);
        let announce = self
            .overrides
            .iter()
            .map(|c| RunEvent::Override { step, key: c.key.clone(), set: c.text.clone() })
            .chain(self.notes.iter().map(|n| RunEvent::log(n.clone())))
            .collect();
        let mut trainer =
            Trainer::new(self.config, self.train, self.validation, self.run_dir, self.plugins, self.resume);
        trainer.announce(announce);
        trainer
    }

    /// Gives up before training: a new run's folder, which holds nothing
    /// but its config and empty logs, goes (a failed `run --detach` left
    /// it behind); a resumed folder stays as it was.
    pub fn abandon(self) {
        if self.resume.is_none() {
            let path = self.run_dir.path.clone();
            drop(self.run_dir);
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

/// Prepares a run; `warn` hears what is worth saying but not fatal (plugins
/// refused that the run does not need).
pub fn prepare(launch: Launch, warn: &mut dyn FnMut(String)) -> Result<Prepared, PrepareError> {
    match launch {
        Launch::New { config, out_dir } => prepare_new(*config, &out_dir, warn),
        Launch::Resume { dir, overrides, trust } => prepare_resume(&dir, &overrides, &trust, warn),
    }
}

/// The `[notify]` command: the run config's, else the user's config file's
/// (read either way, so a mistake in it is said at once).
fn notify_command(config: &mut RunConfig) -> Result<(), PrepareError> {
    let user = crate::config::user_notify_command().map_err(PrepareError::Input)?;
    config.notify_command = config.notify_command.take().or(user);
    Ok(())
}

fn prepare_new(mut config: RunConfig, out_dir: &Path, warn: &mut dyn FnMut(String)) -> Result<Prepared, PrepareError> {
    notify_command(&mut config)?;
    backend(&config)
        .check_available()
        .map_err(|e| PrepareError::Config(config.error_at("run.device", e.to_string())))?;
    let (train, validation) = datasets(&config)?;
    let plugins = load_plugins(&config, warn)?;
    let run_dir = RunDir::create_with(out_dir, &config.run.name, &config.to_toml_string(), config.run.shared_group)
        .with_context(|| format!("cannot create a run folder under {}", out_dir.display()))
        .map_err(PrepareError::Runtime)?;
    run_dir
        .write_json(ENCODING_FILE, &train.encoding)
        .with_context(|| format!("cannot write {}", run_dir.file(ENCODING_FILE).display()))
        .map_err(PrepareError::Runtime)?;
    Ok(Prepared { config, train, validation, run_dir, plugins, resume: None, overrides: vec![], notes: vec![] })
}

/// A resume uses the folder's own resolved config; `--set` may change what
/// can change mid-run (see [`super::resume_rules`]).
fn prepare_resume(
    dir: &Path,
    overrides: &[String],
    trust: &FolderTrust,
    warn: &mut dyn FnMut(String),
) -> Result<Prepared, PrepareError> {
    // Before anything is read or written: one writer per run folder.
    let lock = crate::run_lock::acquire(dir).map_err(|e| PrepareError::Input(e.to_string()))?;
    let mut from = resume_load::read(dir, overrides, trust)?;
    notify_command(&mut from.config)?;
    let (train, validation) = datasets(&from.config)?;
    let mut plugins = load_plugins(&from.config, warn)?;
    from.check(dir, &train, &mut plugins)?;
    super::resume_drop::persist(dir, &trust.drop)?;
    let mut run_dir =
        RunDir::open(dir).with_context(|| format!("cannot open {}", dir.display())).map_err(PrepareError::Runtime)?;
    run_dir.hold(lock);
    let ResumeFrom { config, loaded, changes } = from;
    let step = loaded.position.step;
    let notes = trust
        .drop
        .iter()
        .map(|name| {
            format!(
                "technique `{name}` dropped (--drop-technique): not loaded, its settings and state at step {step} \
                 discarded"
            )
        })
        .collect();
    Ok(Prepared { config, train, validation, run_dir, plugins, resume: Some(loaded), overrides: changes, notes })
}

/// Loads the data and splits it with the run's seed, after checking that a
/// synthetic set fits in memory; then checks that the model does.
pub fn datasets(config: &RunConfig) -> Result<(Dataset, Dataset), PrepareError> {
    check_synthetic_fits(config)?;
    check_data_fits(config)?;
    let full = data::load(&config.data_spec()).map_err(|e| match e.key {
        // The file is fine; the config asks for what it does not have.
        Some(key) => PrepareError::Config(config.error_at(key, e.to_string())),
        None => PrepareError::Input(e.to_string()),
    })?;
    if full.is_empty() {
        return Err(PrepareError::Input(format!("{}: no rows", full.source)));
    }
    let s = split(&full, config.data.validation, config.run.seed);
    if s.train.is_empty() {
        return Err(PrepareError::Input(format!("{}: data.validation leaves no training rows", full.source)));
    }
    let spec = model_spec(config, &s.train);
    memory::check_fits(&spec, config.run.batch_size, optimizer(config))
        .map_err(|m| PrepareError::Config(config.error_at("model.hidden", m)))?;
    Ok((s.train, s.validation))
}

/// A data file is loaded whole: its size and format say about how much
/// memory that takes (`data::footprint`), compared with the tightest limit
/// on this process before anything is read.
fn check_data_fits(config: &RunConfig) -> Result<(), PrepareError> {
    let Some((need, what)) = data::footprint::load_bytes(&config.data_spec().source) else { return Ok(()) };
    match memory::room() {
        Some(have) if need > have.bytes as f64 => Err(PrepareError::Config(config.error_at(
            "data.path",
            format!(
                "loading {what} needs about {} of memory, {} leaves {} available",
                memory::human(need),
                have.what,
                memory::human(have.bytes as f64)
            ),
        ))),
        _ => Ok(()),
    }
}

/// A synthetic set is generated in memory: rows times (features + target),
/// held twice while it is split.
fn check_synthetic_fits(config: &RunConfig) -> Result<(), PrepareError> {
    if !config.data.path.starts_with("synthetic:") {
        return Ok(());
    }
    let need = 8.0 * config.data.samples as f64 * (config.data.features as f64 + 1.0);
    match memory::room() {
        Some(have) if need > have.bytes as f64 => Err(PrepareError::Config(config.error_at(
            "data.samples",
            format!(
                "{} rows of {} features need about {} of memory, {} leaves {} available",
                config.data.samples,
                config.data.features,
                memory::human(need),
                have.what,
                memory::human(have.bytes as f64)
            ),
        ))),
        _ => Ok(()),
    }
}

/// Loads the plugins and applies the config's technique settings.
fn load_plugins(config: &RunConfig, warn: &mut dyn FnMut(String)) -> Result<PluginHost, PrepareError> {
    let (host, warnings) = crate::plugin::setup(config).map_err(|e| match e {
        crate::plugin::SetupError::Config(e) => PrepareError::Config(e),
        other => PrepareError::Input(other.to_string()),
    })?;
    warnings.into_iter().for_each(warn);
    Ok(host)
}
