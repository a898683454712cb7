//! `traintop run` and `traintop resume`: everything from a config file (or the
//! embedded default) to a finished run folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use anyhow::Context;

use super::headless::LinePrinter;
use super::ExitError;
use crate::config::{ConfigSource, RunConfig};
use crate::data::{self, split};
use crate::engine::memory;
use crate::protocol::RunEvent;
use crate::train::checkpoint;
use crate::train::resume_rules;
use crate::train::run_dir::{run_id, RunDir, CONFIG_FILE, ENCODING_FILE, LAST_CHECKPOINT};
use crate::train::trainer::{self, Channels};
use crate::train::{Summary, Trainer};

/// The embedded default: the digits demo, so the binary alone shows what it does.
pub const EMBEDDED_CONFIG: &str = include_str!("../../configs/digits.toml");
pub const EMBEDDED_DATA: &str = include_str!("../../data/digits.csv");
const EMBEDDED_DATA_NAME: &str = "digits.csv";

/// Options shared by `run` and `resume`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub overrides: Vec<String>,
    pub out: Option<PathBuf>,
    /// Line log instead of the dashboard (also when stdout is not a terminal).
    pub headless: bool,
    pub quiet: bool,
    pub no_color: bool,
    pub mouse: bool,
    pub refresh_ms: u64,
}

/// Reads the config, or the embedded default when none is given. The embedded
/// data is written next to the runs so a resumed embedded run finds it again.
pub fn load_config(opts: &RunOptions) -> Result<RunConfig, ExitError> {
    match &opts.config {
        Some(path) => RunConfig::from_file(path, &opts.overrides).map_err(ExitError::config),
        None => {
            let here =
                std::env::current_dir().map_err(|e| ExitError::runtime(anyhow::anyhow!("current folder: {e}")))?;
            let data_dir = opts.out.clone().unwrap_or_else(|| here.join("runs")).join(".embedded");
            let data_path = data_dir.join(EMBEDDED_DATA_NAME);
            std::fs::create_dir_all(&data_dir)
                .and_then(|_| std::fs::write(&data_path, EMBEDDED_DATA))
                .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot write {}: {e}", data_path.display())))?;
            let mut overrides = vec![format!("data.path={}", toml_string(&data_path))];
            overrides.extend(opts.overrides.iter().cloned());
            RunConfig::from_str(EMBEDDED_CONFIG, ConfigSource::embedded(&here), &overrides).map_err(ExitError::config)
        }
    }
}

fn toml_string(p: &Path) -> String {
    toml::Value::String(p.display().to_string()).to_string()
}

/// Loads the data and splits it with the run's seed, after checking that a
/// synthetic set fits in memory; then checks that the model does.
pub(crate) fn datasets(config: &RunConfig) -> Result<(data::Dataset, data::Dataset), ExitError> {
    check_synthetic_fits(config)?;
    let full = data::load(&config.data_spec()).map_err(|e| ExitError::input(e.to_string()))?;
    if full.is_empty() {
        return Err(ExitError::input(format!("{}: no rows", full.source)));
    }
    let s = split(&full, config.data.validation, config.run.seed);
    if s.train.is_empty() {
        return Err(ExitError::input(format!("{}: data.validation leaves no training rows", full.source)));
    }
    let spec = trainer::model_spec(config, &s.train);
    memory::check_fits(&spec, config.run.batch_size, trainer::optimizer(config))
        .map_err(|m| ExitError::config(config.error_at("model.hidden", m)))?;
    Ok((s.train, s.validation))
}

/// A synthetic set is generated in memory: rows times (features + target),
/// held twice while it is split.
fn check_synthetic_fits(config: &RunConfig) -> Result<(), ExitError> {
    if !config.data.path.starts_with("synthetic:") {
        return Ok(());
    }
    let need = 8.0 * config.data.samples as f64 * (config.data.features as f64 + 1.0);
    match memory::available() {
        Some(have) if need > have as f64 => Err(ExitError::config(config.error_at(
            "data.samples",
            format!(
                "{} rows of {} features need about {} of memory, the machine has {} available",
                config.data.samples,
                config.data.features,
                memory::human(need),
                memory::human(have as f64)
            ),
        ))),
        _ => Ok(()),
    }
}

/// Loads the plugins and applies the config's technique settings.
fn load_plugins(config: &RunConfig) -> Result<crate::plugin::PluginHost, ExitError> {
    let (host, warnings) = crate::plugin::setup(config).map_err(|e| ExitError::input(e.to_string()))?;
    for w in warnings {
        eprintln!("{w}");
    }
    Ok(host)
}

/// `traintop run`.
pub fn run(opts: &RunOptions) -> Result<Summary, ExitError> {
    let config = load_config(opts)?;
    trainer::backend(&config).check_available().map_err(|e| ExitError::input(e.to_string()))?;
    let (train, validation) = datasets(&config)?;
    let plugins = load_plugins(&config)?;
    let out_dir = opts.out.clone().unwrap_or_else(|| config.resolve_path(&config.run.out_dir.display().to_string()));
    let run_dir = RunDir::create(&out_dir, &config.run.name, &config.to_toml_string())
        .with_context(|| format!("cannot create a run folder under {}", out_dir.display()))
        .map_err(ExitError::runtime)?;
    run_dir
        .write_json(ENCODING_FILE, &train.encoding)
        .with_context(|| format!("cannot write {}", run_dir.file(ENCODING_FILE).display()))
        .map_err(ExitError::runtime)?;
    drive(Prepared { config, train, validation, run_dir, plugins, resume: None }, opts)
}

/// `traintop resume RUN_DIR`: continues from `checkpoints/last` with the run's
/// own resolved config. `--set` may change what can change mid-run (see
/// [`resume_rules`]); each change is recorded (an `override` event) at the resume step.
pub fn resume(dir: &Path, opts: &RunOptions) -> Result<Summary, ExitError> {
    let config_path = dir.join(CONFIG_FILE);
    if !config_path.exists() {
        return Err(ExitError::input(format!("{}: not a run folder (no {CONFIG_FILE})", dir.display())));
    }
    let base = RunConfig::from_file(&config_path, &[]).map_err(ExitError::config)?;
    let config = RunConfig::from_file(&config_path, &opts.overrides).map_err(ExitError::config)?;
    let changes = resume_rules::check(&base, &config).map_err(ExitError::config)?;
    trainer::backend(&config).check_available().map_err(|e| ExitError::input(e.to_string()))?;
    let last = dir.join(LAST_CHECKPOINT);
    let mut loaded = checkpoint::load(&last).map_err(|e| ExitError::input(e.to_string()))?;
    let refuse = |m: String| ExitError::input(format!("{}: {m}", last.display()));
    if !loaded.verified {
        eprintln!("warning: {}: written without checksums (an older traintop); not verified", last.display());
    }
    let id = std::fs::read_to_string(&config_path).map(|t| run_id(&t)).unwrap_or_default();
    if !loaded.position.run_id.is_empty() && loaded.position.run_id != id {
        return Err(refuse(format!(
            "this checkpoint belongs to another run (run id {}, this folder's is {id})",
            loaded.position.run_id
        )));
    }
    let (train, validation) = datasets(&config)?;
    check_position(&config, &train, &loaded.position)?;
    check_encoding(dir, &train.encoding)?;
    apply_changes(&config, &changes, &mut loaded.position);
    let mut plugins = load_plugins(&config)?;
    trainer::check_checkpoint(&config, &train, &mut plugins, &loaded).map_err(refuse)?;
    let mut run_dir =
        RunDir::open(dir).with_context(|| format!("cannot open {}", dir.display())).map_err(ExitError::runtime)?;
    for c in &changes {
        eprintln!("resume: --set {} applies from step {}", c.text, loaded.position.step);
        let event = RunEvent::Override { step: loaded.position.step, key: c.key.clone(), set: c.text.clone() };
        run_dir.record(&event).map_err(|e| ExitError::runtime(e.into()))?;
    }
    drive(Prepared { config, train, validation, run_dir, plugins, resume: Some(loaded) }, opts)
}

/// The checkpoint's place must lie inside the run the config describes.
fn check_position(config: &RunConfig, train: &data::Dataset, p: &checkpoint::Position) -> Result<(), ExitError> {
    let epochs = config.run.epochs;
    if p.epoch > epochs || (p.epoch == epochs && p.batch_in_epoch > 0) {
        return Err(ExitError::config(config.error_at(
            "run.epochs",
            format!("the checkpoint is at epoch {}, past the run's {epochs} epochs (damaged metadata?)", p.epoch),
        )));
    }
    if p.epoch == epochs {
        return Err(ExitError::config(config.error_at(
            "run.epochs",
            format!("the run has completed its {epochs} epochs; train longer with --set run.epochs=N (N > {epochs})"),
        )));
    }
    let per_epoch = train.len().div_ceil(config.run.batch_size);
    if p.batch_in_epoch >= per_epoch {
        return Err(ExitError::input(format!(
            "the checkpoint is at batch {} of an epoch of {per_epoch} batches (damaged metadata?)",
            p.batch_in_epoch
        )));
    }
    Ok(())
}

/// A resumed run must see its inputs as it did when it started: a data file
/// whose categories changed would shift what each input means, unseen by the
/// checkpoint's shapes when the count stays the same.
fn check_encoding(dir: &Path, encoding: &data::Encoding) -> Result<(), ExitError> {
    let path = dir.join(ENCODING_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let saved: data::Encoding = serde_json::from_str(&text)
        .map_err(|e| ExitError::input(format!("{}: not a traintop encoding file: {e}", path.display())))?;
    if saved != *encoding {
        return Err(ExitError::input(format!(
            "{}: the data's columns or categories are not the ones the run started with (was the data file changed?)",
            path.display()
        )));
    }
    Ok(())
}

/// The learning rate and technique settings given with `--set` replace the
/// checkpoint's (which otherwise win: they hold changes made while training).
fn apply_changes(config: &RunConfig, changes: &[resume_rules::Applied], p: &mut checkpoint::Position) {
    if changes.iter().any(|c| c.key == "optimizer.lr") {
        p.lr = config.optimizer.lr as f32;
    }
    resume_rules::patch_techniques(&mut p.techniques, config, changes);
}

/// Everything a run needs, checked; the trainer itself is built on the thread
/// that runs it (the compiled graph stays on that thread).
struct Prepared {
    config: RunConfig,
    train: data::Dataset,
    validation: data::Dataset,
    run_dir: RunDir,
    plugins: crate::plugin::PluginHost,
    resume: Option<checkpoint::Loaded>,
}

impl Prepared {
    fn into_trainer(self) -> Trainer {
        Trainer::new(self.config, self.train, self.validation, self.run_dir, self.plugins, self.resume)
    }
}

/// Installs the signal handlers: the first SIGINT/SIGTERM/SIGHUP asks for a
/// graceful stop (finish the step, checkpoint, summary); a second one exits at
/// once, leaving the last complete checkpoint.
fn signal_flag() -> Result<Arc<AtomicBool>, ExitError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot install signal handlers: {e}")))?;
    }
    Ok(stop)
}

/// Runs the trainer with the dashboard when stdout is a terminal (and
/// `--headless` was not given), with the line log otherwise.
fn drive(prepared: Prepared, opts: &RunOptions) -> Result<Summary, ExitError> {
    use std::io::IsTerminal;
    let stop = signal_flag()?;
    let run_path = prepared.run_dir.path.clone();
    if opts.headless || !std::io::stdout().is_terminal() {
        let mut printer = LinePrinter::new(opts.quiet);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut trainer = prepared.into_trainer();
            let mut on_event = |e: crate::protocol::RunEvent| printer.handle(&e);
            let mut channels = Channels { events: &mut on_event, commands: None, stop };
            trainer.run(&mut channels)
        }));
        return finish(result, &run_path);
    }
    let title = prepared.config.run.name.clone();
    let (event_tx, event_rx) = std::sync::mpsc::channel();
    let (command_tx, command_rx) = std::sync::mpsc::channel();
    let trainer_stop = Arc::clone(&stop);
    // Unbounded: the trainer never waits for the screen; the dashboard drains
    // the queue every tick and coalesces, so a slow link costs frames only.
    let worker = std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            let mut trainer = prepared.into_trainer();
            let mut send = |e: crate::protocol::RunEvent| {
                let _ = event_tx.send(e);
            };
            let mut channels = Channels { events: &mut send, commands: Some(command_rx), stop: trainer_stop };
            trainer.run(&mut channels)
        })
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the trainer thread: {e}")))?;
    let options = crate::tui::DashboardOptions {
        refresh_ms: opts.refresh_ms.max(16),
        mouse: opts.mouse,
        no_color: opts.no_color,
        title,
        exit_when_finished: false,
        quit_signal: Some(Arc::clone(&stop)),
    };
    let ui = crate::tui::run_dashboard(options, event_rx, command_tx.clone());
    // A quit from the dashboard has already asked for a stop; make sure of it.
    let _ = command_tx.send(crate::protocol::Request::dashboard(crate::protocol::Command::Stop));
    let result = worker.join();
    ui.map_err(|e| ExitError::runtime(anyhow::anyhow!("dashboard: {e}")))?;
    let summary = finish(result, &run_path)?;
    println!("finished ({}): {}", summary.stop_reason.as_str(), summary.run_dir);
    Ok(summary)
}

/// The trainer's result; a panic still leaves a summary saying "error" (the
/// trainer writes one itself for every other failure).
fn finish(result: std::thread::Result<anyhow::Result<Summary>>, run_path: &Path) -> Result<Summary, ExitError> {
    match result {
        Ok(r) => r.map_err(ExitError::runtime),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "panic".into());
            let summary =
                serde_json::json!({ "stop_reason": "error", "error": format!("the trainer panicked: {message}") });
            let _ = crate::train::checkpoint::write_atomically(
                &run_path.join(crate::train::run_dir::SUMMARY_FILE),
                serde_json::to_string_pretty(&summary).unwrap_or_default().as_bytes(),
            );
            Err(ExitError::runtime(anyhow::anyhow!("the trainer panicked: {message}")))
        }
    }
}
