//! `traintop run` and `traintop resume`: everything from a config file (or the
//! embedded default) to a finished run folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::headless::LinePrinter;
use super::launch::{ContinueArgs, LaunchArgs, RunOptions, Topology};
use super::line_pump::{self, LinePump, LineSink};
use super::shared_args::ScreenArgs;
use super::{background, signals, ExitError};
use crate::config::{ConfigSource, OnDivergence, RunConfig};
use crate::protocol::{ClientId, Request, RunCommand, RunEvent, StopReason, StreamItem};
use crate::serve::server::Server;
use crate::train::summary::write_panicked;
use crate::train::trainer::Channels;
use crate::train::{prepare, FolderTrust, Launch, Prepared, Summary};
use crate::tui::{Baseline, Exit};

/// The embedded default: the vanishing-gradient demo on the digits, so the
/// binary alone tells the story (and runs long enough to press keys).
pub const EMBEDDED_CONFIG: &str = include_str!("../../configs/demo.toml");
pub const EMBEDDED_DATA: &str = include_str!("../../data/digits.csv");
const EMBEDDED_DATA_NAME: &str = "digits.csv";

/// `traintop run`'s arguments: a config (or none, the embedded demo) and
/// the launch flags `resume` and `fork` share.
#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// The run's TOML config (see configs/). Relative paths inside it resolve
    /// against its folder.
    config: Option<PathBuf>,
    /// Write the run folder under DIR instead of run.out_dir.
    // Listed between --set and --quiet, as before LaunchArgs was shared: clap
    // lists options by (display order, name), the order counting options as
    // added (out 0, headless 1, set 2, quiet 3); "out" sorts before "quiet".
    #[arg(long, value_name = "DIR", display_order = 3)]
    out: Option<PathBuf>,
    #[command(flatten)]
    launch: LaunchArgs,
}

impl RunArgs {
    /// `traintop run` (and the bare `traintop`, with no arguments).
    pub fn call(self) -> Result<(), ExitError> {
        let opts = RunOptions { config: self.config, out: self.out, ..self.launch.options() };
        run(&opts)
    }
}

/// `traintop resume`'s arguments.
#[derive(clap::Args, Debug)]
#[command(mut_arg("overrides", |a| {
    a.help("Override a key of the run's config (e.g. run.epochs to train longer)")
}))]
pub struct ResumeArgs {
    run_dir: PathBuf,
    #[command(flatten)]
    continued: ContinueArgs,
    #[command(flatten)]
    launch: LaunchArgs,
}

impl ResumeArgs {
    /// `traintop resume`.
    pub fn call(self) -> Result<(), ExitError> {
        resume(&self.run_dir, &self.continued.apply(self.launch.options()))
    }
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
pub fn run(opts: &RunOptions) -> Result<(), ExitError> {
    launch("run", opts.config.as_deref(), opts, |baseline| {
        let config = load_config(opts)?;
        let out_dir =
            opts.out.clone().unwrap_or_else(|| config.resolve_path(&config.run.out_dir.display().to_string()));
        let prepared =
            prepare(Launch::New { config: Box::new(config), out_dir: out_dir.clone() }, &mut |w| eprintln!("{w}"))?;
        remember_out_dir(&out_dir);
        drive(prepared, opts, baseline)
    })
}

/// Records where the run's folder went, for `ls --all` and `top`'s history.
/// A failure costs only that listing (`ls --all DIR` still finds the run), so
/// it is said and the run goes on.
pub fn remember_out_dir(out_dir: &Path) {
    if let Err(e) = crate::inspect::history::index::remember(out_dir) {
        eprintln!("traintop: cannot record the out dir for `traintop ls --all`: {e}");
    }
}

/// Trains the run in this process (`train`, given the `--baseline` run), or
/// hands it to the process the topology puts it in: the supervisor starts
/// the server, a dashboard client (or `--detach`) starts the supervisor.
/// `command` and `target` are the subcommand the other process repeats.
fn launch(
    command: &str,
    target: Option<&Path>,
    opts: &RunOptions,
    train: impl FnOnce(Option<Baseline>) -> Result<(), ExitError>,
) -> Result<(), ExitError> {
    let server_args = || server_args(command, target, opts);
    match opts.topology {
        Topology::Supervisor => super::supervise::supervise(server_args()),
        Topology::DashboardClient | Topology::Detached => {
            // A new run can be started again from its end; a resumed one
            // would only resume its end.
            let again = (command == "run").then_some(&server_args as &dyn Fn() -> Vec<std::ffi::OsString>);
            in_background(server_args(), opts, baseline_of(opts)?, again)
        }
        Topology::Server => {
            let baseline = baseline_of(opts)?;
            background::leave_session();
            train(baseline)
        }
        Topology::Foreground | Topology::Headless => train(baseline_of(opts)?),
    }
}

/// The `--baseline` run, read before anything starts so that a bad folder
/// costs no training.
fn baseline_of(opts: &RunOptions) -> Result<Option<Baseline>, ExitError> {
    opts.baseline.as_deref().map(crate::tui::load_baseline).transpose().map_err(ExitError::input)
}

/// `traintop resume RUN_DIR`: continues from `checkpoints/last` with the run's
/// own resolved config. `--set` may change what can change mid-run; each
/// change is printed here and recorded (an `override` event) at the resume
/// step.
pub fn resume(dir: &Path, opts: &RunOptions) -> Result<(), ExitError> {
    launch("resume", Some(dir), opts, |baseline| resume_here(dir, opts, baseline))
}

/// Prepares the resumed run in this process and drives it.
fn resume_here(dir: &Path, opts: &RunOptions, baseline: Option<Baseline>) -> Result<(), ExitError> {
    let trust = FolderTrust { plugin_dirs: opts.trust_plugins.clone(), drop: opts.drop_techniques.clone() };
    let launch = Launch::Resume { dir: dir.to_path_buf(), overrides: opts.overrides.clone(), trust };
    let prepared = prepare(launch, &mut |w| eprintln!("{w}"))?;
    let step = prepared.resume.as_ref().map_or(0, |l| l.position.step);
    for c in &prepared.overrides {
        eprintln!("resume: --set {} applies from step {step}", c.text);
    }
    for note in &prepared.notes {
        eprintln!("resume: {note}");
    }
    drive(prepared, opts, baseline)
}

/// Where a run's events go besides its clients.
enum Watcher {
    /// The dashboard in this process (`--foreground`).
    Dashboard(std::sync::mpsc::Sender<StreamItem>),
    /// The line log (stdout, or the run folder once detached), written by
    /// a thread of its own (`line_pump`).
    Lines(LinePrinter, LineSink),
}

/// Runs the trainer on its own thread, serving it on the run's socket, and
/// watches it here: with the dashboard in this terminal (`--foreground`), or
/// with the line log (headless, and the background server, whose output
/// goes to the run folder). A hang-up detaches; SIGINT/SIGTERM stop.
fn drive(mut prepared: Prepared, opts: &RunOptions, baseline: Option<Baseline>) -> Result<(), ExitError> {
    let foreground = opts.topology == Topology::Foreground;
    // Unset, a divergence pauses a run someone watches (the dashboard's
    // banner offers the fixes) and stops a headless one (exit code 3).
    let watched = if opts.topology == Topology::Headless { OnDivergence::Stop } else { OnDivergence::Pause };
    prepared.config.run.on_divergence.get_or_insert(watched);
    let (mut run, trainer_ends) = match Driven::set_up(&prepared, opts, foreground) {
        Ok(set_up) => set_up,
        Err(e) => {
            prepared.abandon();
            return Err(e);
        }
    };
    let worker = spawn_trainer(prepared, trainer_ends, run.server.clone(), Arc::clone(&run.flags.stop))?;
    let stop_sent = match foreground {
        true => run.dashboard(opts, baseline)?,
        false => false,
    };
    let result = run.wait_for(worker, stop_sent);
    let summary = finish(result, &run.path)?;
    if foreground && !run.detached {
        println!("finished ({}): {}", summary.stop_reason.as_str(), summary.run_dir);
    }
    match summary.stop_reason {
        StopReason::Diverged => Err(ExitError::diverged(&summary)),
        _ => Ok(()),
    }
}

/// The trainer thread's outcome.
type TrainerResult = std::thread::Result<anyhow::Result<Summary>>;

/// What the trainer thread takes with it: where its events go, and the
/// commands it is sent.
struct TrainerEnds {
    watcher: Watcher,
    commands: std::sync::mpsc::Receiver<Request>,
}

/// A run being driven from this process: what watches, serves and
/// records it while the trainer thread trains.
struct Driven {
    flags: signals::Flags,
    path: PathBuf,
    name: String,
    hooks: Arc<crate::plugin::watch::HookWatch>,
    /// Says `ok` to the crash witness when dropped (a run in this process).
    _witness: Option<super::crash_watch::Witness>,
    commands: std::sync::mpsc::Sender<Request>,
    server: Option<Arc<Server>>,
    detached: bool,
    /// The trainer's events, for the dashboard in this terminal.
    events: Option<std::sync::mpsc::Receiver<StreamItem>>,
    pump: Option<LinePump>,
}

impl Driven {
    /// Signals, crash records, the server and the watcher: everything that
    /// may fail before the trainer starts (the caller then abandons the
    /// new folder).
    fn set_up(prepared: &Prepared, opts: &RunOptions, foreground: bool) -> Result<(Self, TrainerEnds), ExitError> {
        let flags = signals::install()?;
        let path = std::path::absolute(&prepared.run_dir.path).unwrap_or_else(|_| prepared.run_dir.path.clone());
        let name = prepared.config.run.name.clone();
        let hooks = prepared.plugins.watch();
        super::panic_log::log_panics_in(&path);
        let background = opts.topology == Topology::Server;
        let witness = record_crashes(&hooks, &path, background);
        let (commands, command_rx) = std::sync::mpsc::channel();
        let (server, detached) = serve(&path, &name, &commands, background)?;
        let (watcher, events, pump) = match foreground {
            true => {
                let (event_tx, events) = std::sync::mpsc::channel();
                (Watcher::Dashboard(event_tx), Some(events), None)
            }
            false => {
                let (sink, pump) = line_pump::start()
                    .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the output thread: {e}")))?;
                (Watcher::Lines(LinePrinter::new(opts.quiet || background), sink), None, Some(pump))
            }
        };
        let driven = Self { flags, path, name, hooks, _witness: witness, commands, server, detached, events, pump };
        Ok((driven, TrainerEnds { watcher, commands: command_rx }))
    }

    /// The dashboard in this terminal, until it quits or the terminal goes;
    /// whether it asked the run to stop.
    fn dashboard(&mut self, opts: &RunOptions, baseline: Option<Baseline>) -> Result<bool, ExitError> {
        let ScreenArgs { no_color, mouse, refresh_ms } = opts.screen;
        let options = crate::tui::DashboardOptions::new(&self.name, refresh_ms, mouse, no_color)
            .quit_on(&self.flags.any)
            .with_baseline(baseline);
        let Some(events) = self.events.take() else { return Ok(false) };
        match crate::tui::run_dashboard(options, events, self.commands.clone()) {
            // The terminal is gone (or a hang-up): the run goes on.
            Ok(Exit::TerminalGone) if !self.flags.stopped() => {
                detach_output(self.server.as_deref(), &self.path, "the terminal hung up", &mut self.detached);
                Ok(false)
            }
            // A quit has asked for a stop already; make sure of it.
            Ok(_) => {
                let _ = self.commands.send(Request::dashboard(RunCommand::Stop));
                Ok(true)
            }
            Err(e) => {
                let _ = self.commands.send(Request::dashboard(RunCommand::Stop));
                Err(ExitError::runtime(anyhow::anyhow!("dashboard: {e}")))
            }
        }
    }

    /// Watches the trainer until it ends: a hook that stalls under a stop
    /// ends the process, a hang-up detaches, dropped output lines are
    /// noted; then the queued output gets a moment to be read.
    fn wait_for(&mut self, worker: std::thread::JoinHandle<TrainerResult>, stop_sent: bool) -> TrainerResult {
        let server = self.server.as_deref();
        let mut stall = super::stall::StallWatch::new(Arc::clone(&self.hooks));
        while !worker.is_finished() {
            if let Some(stalled) = stall.check(server) {
                if stop_sent || self.flags.stopped() || server.is_some_and(Server::stop_asked) {
                    super::stall::abandon(&stalled, server, &self.path);
                }
            }
            if self.flags.hung_up() {
                detach_output(server, &self.path, "the terminal hung up", &mut self.detached);
            }
            note_dropped(server, self.pump.as_ref().map_or(0, LinePump::take_said));
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let result = worker.join().unwrap_or_else(Err);
        // A reader that never reads again does not hold the exit.
        if let Some(pump) = self.pump.take() {
            note_dropped(server, pump.finish(std::time::Duration::from_secs(2)));
        }
        result
    }
}

/// Keeps the plugin hook under way in the run folder (`hook.now`) and, for
/// a run in this process, starts its crash witness: should a plugin take
/// the process down, the supervisor (a server) or the witness names it.
fn record_crashes(
    hooks: &crate::plugin::watch::HookWatch,
    run_path: &Path,
    server: bool,
) -> Option<super::crash_watch::Witness> {
    let file = crate::run_files::open_lock(&run_path.join(crate::plugin::watch::HOOK_FILE));
    if let Err(e) = file.and_then(|f| hooks.record_in(f)) {
        eprintln!("warning: a crash will not name the plugin hook: {e}");
    }
    if server {
        return None;
    }
    super::crash_watch::start(run_path)
        .inspect_err(|e| eprintln!("warning: a crash of a plugin will not be recorded: {e}"))
        .ok()
}

/// The run's server, and whether the run starts detached (a background
/// server, born without a terminal). A run that cannot be served still
/// trains, unless it is the background server, which exists to be served.
fn serve(
    run_path: &Path,
    name: &str,
    commands: &std::sync::mpsc::Sender<Request>,
    background: bool,
) -> Result<(Option<Arc<Server>>, bool), ExitError> {
    let server = match Server::start(run_path, name, commands.clone()) {
        Ok(s) => Arc::new(s),
        Err(e) if background => return Err(ExitError::runtime(anyhow::anyhow!("cannot serve the run: {e}"))),
        Err(e) => {
            eprintln!("warning: the run is not served, `traintop attach` cannot reach it: {e}");
            return Ok((None, false));
        }
    };
    if background {
        background::announce(&server.record);
        if let Err(e) = crate::serve::detach::redirect_output(run_path) {
            server.note(RunEvent::log(format!("warning: output is lost: {e}")));
        }
    }
    Ok((Some(server), background))
}

/// Starts the trainer thread: events to the server's clients and the
/// watcher, commands from `ends`, a panic caught as the thread's result.
fn spawn_trainer(
    prepared: Prepared,
    ends: TrainerEnds,
    publisher: Option<Arc<Server>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Result<std::thread::JoinHandle<TrainerResult>, ExitError> {
    let TrainerEnds { mut watcher, commands } = ends;
    std::thread::Builder::new()
        .name("trainer".into())
        .spawn(move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
                let mut trainer = prepared.into_trainer();
                let mut on_event = |e: RunEvent| {
                    if let Some(p) = &publisher {
                        p.publish(&e);
                    }
                    match &mut watcher {
                        Watcher::Dashboard(tx) => {
                            let _ = tx.send(StreamItem::Run(e));
                        }
                        Watcher::Lines(printer, sink) => printer.handle(&e, sink),
                    }
                };
                let mut channels = Channels { events: &mut on_event, commands: Some(commands), stop };
                trainer.run(&mut channels)
            }))
        })
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the trainer thread: {e}")))
}

/// Records in the run's events that `n` progress lines were dropped because
/// the output was not read.
fn note_dropped(server: Option<&Server>, n: u64) {
    if let (true, Some(server)) = (n > 0, server) {
        server.note(RunEvent::log(line_pump::notice(n)));
    }
}

/// The run goes on without its terminal: output to the run folder, and
/// `detached` in its event log (once).
fn detach_output(server: Option<&Server>, run_path: &Path, why: &str, detached: &mut bool) {
    if *detached {
        return;
    }
    *detached = true;
    let reason = match crate::serve::detach::redirect_output(run_path) {
        Ok(log) => format!("{why}; output goes to {}", log.display()),
        Err(e) => format!("{why}; output is lost ({e})"),
    };
    if let Some(server) = server {
        server.note(RunEvent::Detached { client: None, reason });
    }
}

/// `traintop run` and `resume` with a dashboard (or `--detach`): the run in
/// a background server of its own, this process its first client. With
/// `again` (the server's arguments for a new run), `r` at the end starts
/// the run again and watches the new one.
fn in_background(
    args: Vec<std::ffi::OsString>,
    opts: &RunOptions,
    baseline: Option<Baseline>,
    again: Option<&dyn Fn() -> Vec<std::ffi::OsString>>,
) -> Result<(), ExitError> {
    let mut started = background::start(args)?;
    if opts.topology == Topology::Detached {
        let (dir, pid) = (started.record.run_dir.display(), started.record.pid);
        println!("{dir}");
        println!("training in the background (pid {pid}); watch it with:");
        println!("  traintop attach {dir}");
        println!("  traintop ls");
        return Ok(());
    }
    let flags = signals::install()?;
    loop {
        match watch_background(&started, opts, baseline.clone(), again.is_some(), &flags)? {
            Watched::Left => return Ok(()),
            Watched::Ended => return ended(started),
            Watched::Again => {
                let _ = started.child.wait();
                started = background::start(again.map(|args| args()).unwrap_or_default())?;
            }
        }
    }
}

/// How the dashboard of a background run was left.
enum Watched {
    /// Detached, or the terminal went: the run goes on.
    Left,
    /// Quit (the run stopped or ended).
    Ended,
    /// `r` after the end.
    Again,
}

/// The dashboard on the background run `started`, until it is left.
fn watch_background(
    started: &background::Background,
    opts: &RunOptions,
    baseline: Option<Baseline>,
    again: bool,
    flags: &signals::Flags,
) -> Result<Watched, ExitError> {
    let record = &started.record;
    let linked = super::attach::here(&record.socket, &record.run_dir, ClientId::Dashboard, false)?;
    let super::attach::Linked { events, requests, status, watch } = linked;
    let ScreenArgs { no_color, mouse, refresh_ms } = opts.screen;
    let mut options = crate::tui::DashboardOptions::new(&status.name, refresh_ms, mouse, no_color)
        .attached(false)
        .quit_on(&flags.any)
        .with_baseline(baseline)
        .watching(watch);
    options.run_again = again;
    let exit = crate::tui::run_dashboard(options, events, requests.clone())
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("dashboard: {e}")))?;
    Ok(match exit {
        Exit::Detached => {
            println!("detached; the run goes on in the background (pid {})", record.pid);
            println!("  traintop attach {}", record.run_dir.display());
            Watched::Left
        }
        Exit::TerminalGone if !flags.stopped() => Watched::Left,
        // SIGINT or SIGTERM to `traintop run` stops the run, as it always did.
        Exit::TerminalGone => {
            let _ = requests.send(Request::dashboard(RunCommand::Stop));
            Watched::Ended
        }
        Exit::Quit => Watched::Ended,
        Exit::Again => Watched::Again,
    })
}

/// Waits for the background run's server to end and says how it ended.
fn ended(mut started: background::Background) -> Result<(), ExitError> {
    let status = started.child.wait().map_err(|e| ExitError::runtime(e.into()))?;
    let dir = &started.record.run_dir;
    let summary = std::fs::read_to_string(dir.join(crate::train::run_dir::SUMMARY_FILE)).unwrap_or_default();
    let reason = serde_json::from_str::<serde_json::Value>(&summary)
        .ok()
        .and_then(|v| v["stop_reason"].as_str().map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    println!("finished ({reason}): {}", dir.display());
    match status.code() {
        Some(0) => Ok(()),
        code => Err(ExitError { code: code.unwrap_or(1), message: String::new() }),
    }
}

/// The server's command line: the same run, as `--server`.
fn server_args(command: &str, target: Option<&Path>, opts: &RunOptions) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = vec![command.into()];
    args.extend(target.map(|t| t.as_os_str().to_owned()));
    for o in &opts.overrides {
        args.push("--set".into());
        args.push(o.into());
    }
    if let Some(out) = &opts.out {
        args.push("--out".into());
        args.push(out.as_os_str().to_owned());
    }
    for dir in &opts.trust_plugins {
        args.push("--trust-plugins".into());
        args.push(std::path::absolute(dir).unwrap_or_else(|_| dir.clone()).into_os_string());
    }
    for name in &opts.drop_techniques {
        args.push("--drop-technique".into());
        args.push(name.into());
    }
    args
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
