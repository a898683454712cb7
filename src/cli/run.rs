//! `traintop run` and `traintop resume`: everything from a config file (or the
//! embedded default) to a finished run folder.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use super::headless::LinePrinter;
use super::ExitError;
use crate::config::{ConfigSource, RunConfig};
use crate::protocol::{Command, Request, RunEvent};
use crate::train::summary::write_panicked;
use crate::train::trainer::Channels;
use crate::train::{prepare, Launch, Prepared, Summary};

/// The embedded default: the vanishing-gradient demo on the digits, so the
/// binary alone tells the story (and runs long enough to press keys).
pub const EMBEDDED_CONFIG: &str = include_str!("../../configs/demo.toml");
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

/// `traintop run`.
pub fn run(opts: &RunOptions) -> Result<Summary, ExitError> {
    let config = load_config(opts)?;
    let out_dir = opts.out.clone().unwrap_or_else(|| config.resolve_path(&config.run.out_dir.display().to_string()));
    let prepared = prepare(Launch::New { config: Box::new(config), out_dir }, &mut |w| eprintln!("{w}"))?;
    drive(prepared, opts)
}

/// `traintop resume RUN_DIR`: continues from `checkpoints/last` with the run's
/// own resolved config. `--set` may change what can change mid-run; each
/// change is printed here and recorded (an `override` event) at the resume
/// step.
pub fn resume(dir: &Path, opts: &RunOptions) -> Result<Summary, ExitError> {
    let launch = Launch::Resume { dir: dir.to_path_buf(), overrides: opts.overrides.clone() };
    let prepared = prepare(launch, &mut |w| eprintln!("{w}"))?;
    let step = prepared.resume.as_ref().map_or(0, |l| l.position.step);
    for c in &prepared.overrides {
        eprintln!("resume: --set {} applies from step {step}", c.text);
    }
    drive(prepared, opts)
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
            let mut on_event = |e: RunEvent| printer.handle(&e);
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
            let mut send = |e: RunEvent| {
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
    let _ = command_tx.send(Request::dashboard(Command::Stop));
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
            let error = format!("the trainer panicked: {message}");
            write_panicked(run_path, &error);
            Err(ExitError::runtime(anyhow::anyhow!(error)))
        }
    }
}
