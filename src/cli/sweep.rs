//! `traintop sweep`: start a sweep (`sweep CONFIG --vary ... --seeds N`),
//! and `resume`, `status`, `report` and `stop` one by its folder. The
//! hidden `task` and `probe` are what launchers run on the machine where a
//! run lives. Flags win over the config's `[sweep]` table.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::signals;
use super::ExitError;
use crate::config::{RunConfig, SweepSection};
use crate::sweep::board::board;
use crate::sweep::follow::{follow, Outcome};
use crate::sweep::grid::{self, Axis};
use crate::sweep::launch::local::{default_jobs, Local};
use crate::sweep::launch::slurm::Slurm;
use crate::sweep::launch::ssh::Ssh;
use crate::sweep::launch::TaskLauncher;
use crate::sweep::manifest::{self, Launcher, Manifest, SlurmSpec};
use crate::sweep::probe::{self, TaskState};
use crate::sweep::{curves, report, task};

/// The most runs a sweep starts unless --max-runs says otherwise.
const DEFAULT_MAX_RUNS: usize = 256;

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub action: Option<SweepAction>,
    #[command(flatten)]
    pub start: StartArgs,
}

/// A new sweep.
#[derive(Args, Debug, Default)]
pub struct StartArgs {
    /// The run config every variant starts from (its [sweep] table, if any,
    /// gives defaults for the flags below).
    pub config: Option<PathBuf>,
    /// A key to vary and its values, as --set takes them; repeatable (the
    /// grid is every combination): --vary technique.batch_norm.enabled=false,true
    #[arg(long, value_name = "KEY=V1,V2,...")]
    pub vary: Vec<String>,
    /// Seeds per variant: run.seed, run.seed+1, ...
    #[arg(long, value_name = "N")]
    pub seeds: Option<usize>,
    /// A config override every run gets (checked like run --set).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Make the sweep folder under DIR instead of run.out_dir.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Refuse a grid of more runs than this (default 256).
    #[arg(long, value_name = "N")]
    pub max_runs: Option<usize>,
    /// Runs at once on this machine (default: one per core).
    #[arg(long, value_name = "K")]
    pub jobs: Option<usize>,
    /// Give each run a GPU (CUDA_VISIBLE_DEVICES), at most N runs per GPU.
    #[arg(long, value_name = "N")]
    pub per_gpu: Option<usize>,
    /// Start the runs over ssh on these hosts (`traintop run --detach` there);
    /// without a list, the hosts of hosts.toml. Paths must exist on each host.
    #[arg(long, value_name = "HOST,...", value_delimiter = ',', num_args = 0..)]
    pub hosts: Option<Vec<String>>,
    /// Runs at once per ssh host (default 1).
    #[arg(long, value_name = "N")]
    pub per_host: Option<usize>,
    /// Submit the runs as one Slurm array job (sbatch); the sweep folder must
    /// be on a filesystem the nodes share.
    #[arg(long)]
    pub slurm: bool,
    /// Slurm partition.
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// Slurm time limit per task (e.g. 00:30:00).
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// GPUs per Slurm task.
    #[arg(long, value_name = "N")]
    pub gpus_per_task: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum SweepAction {
    /// Go on with a stopped sweep: done runs are kept, unfinished ones
    /// resumed from their checkpoints, cancelled ones submitted again;
    /// --seeds N adds seeds up to N per variant.
    Resume {
        sweep: PathBuf,
        #[arg(long, value_name = "N")]
        seeds: Option<usize>,
    },
    /// Each run's state and the leaderboard so far.
    Status { sweep: PathBuf },
    /// The leaderboard and what helped as Markdown, every run as CSV
    /// (SWEEP/report.csv) and the validation curves as SVG (SWEEP/curves.svg).
    Report {
        sweep: PathBuf,
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
        #[arg(long, value_name = "FILE")]
        svg: Option<PathBuf>,
    },
    /// Stop the sweep's running and queued runs (they keep their checkpoints).
    Stop { sweep: PathBuf },
    /// One run of a sweep: run it, resume it, or leave it (what launchers run).
    #[command(hide = true)]
    Task {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long = "set")]
        overrides: Vec<String>,
        #[arg(long)]
        detach: bool,
        /// Stop the task's run instead.
        #[arg(long)]
        stop: bool,
    },
    /// The runs in these task folders as JSON (what launchers read over ssh).
    #[command(hide = true)]
    Probe {
        #[arg(long)]
        curve: bool,
        outs: Vec<PathBuf>,
    },
}

pub fn sweep(args: SweepArgs) -> Result<(), ExitError> {
    match args.action {
        None => start(args.start),
        Some(SweepAction::Resume { sweep, seeds }) => resume(&sweep, seeds),
        Some(SweepAction::Status { sweep }) => status(&sweep),
        Some(SweepAction::Report { sweep, csv, svg }) => report(&sweep, csv, svg),
        Some(SweepAction::Stop { sweep }) => stop(&sweep),
        Some(SweepAction::Task { out, config, overrides, detach, stop }) => {
            run_task(&out, config, &overrides, detach, stop)
        }
        Some(SweepAction::Probe { curve, outs }) => {
            let probes: Vec<probe::Probe> = outs.iter().map(|o| probe::probe(o, curve)).collect();
            println!("{}", serde_json::to_string(&probes).map_err(|e| ExitError::runtime_msg(e.to_string()))?);
            Ok(())
        }
    }
}

/// The axes, from --vary or else the [sweep] table.
fn axes(args: &StartArgs, table: &SweepSection) -> Result<Vec<Axis>, ExitError> {
    let texts = if args.vary.is_empty() { table.vary_args() } else { args.vary.clone() };
    let axes: Vec<Axis> = texts.iter().map(|t| Axis::parse(t)).collect::<Result<_, _>>().map_err(ExitError::input)?;
    for (i, a) in axes.iter().enumerate() {
        if a.key == "run.seed" {
            return Err(ExitError::input(format!("--vary {}: seeds are set with --seeds N, not varied", a.key)));
        }
        if axes[..i].iter().any(|b| b.key == a.key) {
            return Err(ExitError::input(format!("--vary {}: the key is varied twice", a.key)));
        }
    }
    Ok(axes)
}

/// Every variant's config read and its plugins set up, as `run` would,
/// before anything starts: a bad key or value names its --vary.
fn check_variants(config: &Path, sets: &[String], axes: &[Axis]) -> Result<(), ExitError> {
    for variant in grid::variants(axes) {
        let overrides = [sets.to_vec(), grid::overrides(axes, &variant)].concat();
        let which = || {
            let label = grid::label(axes, &variant);
            if axes.is_empty() {
                String::new()
            } else {
                format!("variant {label}: ")
            }
        };
        let cfg = RunConfig::from_file(config, &overrides)
            .map_err(|e| ExitError { code: e.exit_code(), message: format!("{}{e}", which()) })?;
        crate::plugin::setup(&cfg).map_err(|e| ExitError::input(format!("{}{e}", which())))?;
    }
    Ok(())
}

/// Where the runs go, from the flags or else the [sweep] table.
fn launcher(args: &StartArgs, table: &SweepSection) -> Result<Launcher, ExitError> {
    let slurm_table = table.slurm.clone().unwrap_or_default();
    if args.slurm || (args.hosts.is_none() && args.jobs.is_none() && table.slurm.is_some()) {
        return Ok(Launcher::Slurm(SlurmSpec {
            partition: args.partition.clone().or(slurm_table.partition),
            time: args.time.clone().or(slurm_table.time),
            gpus_per_task: args.gpus_per_task.or(slurm_table.gpus_per_task),
            jobs: vec![],
        }));
    }
    let hosts = match &args.hosts {
        Some(list) if list.is_empty() => super::top::configured_hosts()?,
        Some(list) => list.clone(),
        None if args.jobs.is_none() => table.hosts.clone(),
        None => vec![],
    };
    if args.hosts.is_some() && hosts.is_empty() {
        return Err(ExitError::input(
            "--hosts: no hosts given and none in hosts.toml (traintop top --help says where)",
        ));
    }
    if !hosts.is_empty() {
        return Ok(Launcher::Ssh { hosts, per_host: args.per_host.or(table.per_host).unwrap_or(1) });
    }
    let per_gpu = args.per_gpu.or(table.per_gpu);
    let jobs = match per_gpu {
        Some(per) => Local::new(0, Some(per)).map_err(ExitError::input)?.jobs(),
        None => args.jobs.or(table.jobs).unwrap_or_else(default_jobs),
    };
    Ok(Launcher::Local { jobs, per_gpu })
}

fn start(args: StartArgs) -> Result<(), ExitError> {
    let config = args.config.clone().ok_or_else(|| {
        ExitError::input("traintop sweep needs a config: traintop sweep CONFIG --vary KEY=V1,V2 --seeds N")
    })?;
    let config = std::path::absolute(&config).map_err(|e| ExitError::input(format!("{}: {e}", config.display())))?;
    let base = RunConfig::from_file(&config, &args.overrides).map_err(ExitError::config)?;
    let table = base.sweep.clone().unwrap_or_default();
    let axes = axes(&args, &table)?;
    let seeds = args.seeds.or(table.seeds).unwrap_or(1);
    if seeds == 0 {
        return Err(ExitError::input("--seeds must be at least 1"));
    }
    let total = grid::variants(&axes).len() * seeds;
    let max = args.max_runs.or(table.max_runs).unwrap_or(DEFAULT_MAX_RUNS);
    if total > max {
        return Err(ExitError::input(format!(
            "the sweep has {total} runs ({} variants x {seeds} seeds), more than --max-runs {max}",
            grid::variants(&axes).len()
        )));
    }
    check_variants(&config, &args.overrides, &axes)?;
    let launcher = launcher(&args, &table)?;
    let out = args.out.clone().unwrap_or_else(|| base.run.out_dir.clone());
    let dir = manifest::create_dir(&out, &base.run.name, &crate::train::run_dir::stamp()).map_err(ExitError::input)?;
    let mut m = Manifest::new(&base.run.name, config, args.overrides.clone(), axes, launcher);
    let first = base.run.seed;
    m.add_seeds(&dir, &(first..first + seeds as u64).collect::<Vec<_>>());
    m.save(&dir).map_err(ExitError::runtime_msg)?;
    println!("sweep folder: {}", dir.display());
    println!("{} runs: {} variants x {seeds} seeds, {}", m.tasks.len(), m.variant_count(), where_text(&m.launcher));
    drive(&dir, &mut m)
}

fn where_text(l: &Launcher) -> String {
    match l {
        Launcher::Local { jobs, per_gpu: None } => format!("{jobs} at once on this machine"),
        Launcher::Local { jobs, per_gpu: Some(p) } => format!("{jobs} at once, {p} per GPU"),
        Launcher::Ssh { hosts, per_host } => format!("{per_host} at once on each of {}", hosts.join(", ")),
        Launcher::Slurm(_) => "as one Slurm array job".into(),
    }
}

fn make_launcher(dir: &Path, m: &Manifest) -> Result<Box<dyn TaskLauncher>, ExitError> {
    Ok(match &m.launcher {
        Launcher::Local { jobs, per_gpu } => Box::new(Local::new(*jobs, *per_gpu).map_err(ExitError::input)?),
        Launcher::Ssh { hosts, per_host } => Box::new(Ssh::new(hosts.clone(), *per_host)),
        Launcher::Slurm(_) => Box::new(Slurm::new(dir.to_path_buf())),
    })
}

/// Follows the sweep to its end and says how it ended.
fn drive(dir: &Path, m: &mut Manifest) -> Result<(), ExitError> {
    let flags = signals::install()?;
    let mut launcher = make_launcher(dir, m)?;
    let (outcome, probes) = follow(dir, m, launcher.as_mut(), &flags.stop, &mut |line| println!("{line}"))
        .map_err(ExitError::runtime_msg)?;
    m.save(dir).map_err(ExitError::runtime_msg)?;
    print!("\n{}", report::markdown(m, &probes, &board(m, &probes)));
    let resume = format!("traintop sweep resume {}", dir.display());
    match outcome {
        Outcome::Done => {
            println!(
                "\nall {} runs done; traintop sweep report {} writes the CSV and curves",
                m.tasks.len(),
                dir.display()
            );
            Ok(())
        }
        Outcome::Stopped => {
            Err(ExitError { code: 130, message: format!("sweep stopped; {resume} goes on from the checkpoints") })
        }
        Outcome::Unfinished(left) => {
            let names: Vec<String> =
                left.iter().map(|&i| format!("{} ({})", m.tasks[i].out.display(), probes[i].state.as_str())).collect();
            Err(ExitError::runtime_msg(format!(
                "{} runs did not finish: {}; {resume} tries them again",
                left.len(),
                names.join(", ")
            )))
        }
    }
}

fn load(dir: &Path) -> Result<Manifest, ExitError> {
    Manifest::load(dir).map_err(ExitError::input)
}

fn resume(dir: &Path, seeds: Option<usize>) -> Result<(), ExitError> {
    let mut m = load(dir)?;
    if let Some(n) = seeds {
        let have = m.seeds.len();
        if n > have {
            let next = m.seeds.iter().max().map_or(0, |s| s + 1);
            m.add_seeds(dir, &(next..next + (n - have) as u64).collect::<Vec<_>>());
            println!("{} seeds per variant now: {} runs added", n, (n - have) * m.variant_count());
        }
    }
    m.save(dir).map_err(ExitError::runtime_msg)?;
    drive(dir, &mut m)
}

fn status(dir: &Path) -> Result<(), ExitError> {
    let m = load(dir)?;
    let mut launcher = make_launcher(dir, &m)?;
    let probes = launcher.probe(&m, false);
    for (i, (t, p)) in m.tasks.iter().zip(&probes).enumerate() {
        let state = launcher
            .note(&m, i, p.state)
            .map_or(p.state.as_str().to_string(), |n| format!("{} ({n})", p.state.as_str()));
        let figure = p.last.map_or(String::new(), |l| {
            format!(
                "epoch {}/{} val_loss {:.4}{}",
                l.epoch,
                p.epochs,
                l.val_loss,
                l.val_acc.map_or(String::new(), |a| format!(" val_acc {a:.4}"))
            )
        });
        let host = t.host.as_deref().map_or(String::new(), |h| format!(" on {h}"));
        println!("{:<40} seed {:<4} {:<18} {figure}{host}", crate::format::clean(&m.label(t)), t.seed, state);
    }
    print!("\n{}", report::markdown(&m, &probes, &board(&m, &probes)));
    Ok(())
}

fn report(dir: &Path, csv: Option<PathBuf>, svg: Option<PathBuf>) -> Result<(), ExitError> {
    let m = load(dir)?;
    let probes = make_launcher(dir, &m)?.probe(&m, true);
    let b = board(&m, &probes);
    print!("{}", report::markdown(&m, &probes, &b));
    let csv = csv.unwrap_or_else(|| dir.join("report.csv"));
    let text = report::csv(&m, &probes).map_err(ExitError::runtime_msg)?;
    std::fs::write(&csv, text).map_err(|e| ExitError::runtime_msg(format!("{}: {e}", csv.display())))?;
    let svg = svg.unwrap_or_else(|| dir.join("curves.svg"));
    std::fs::write(&svg, curves::svg(&m.name, &b, &probes))
        .map_err(|e| ExitError::runtime_msg(format!("{}: {e}", svg.display())))?;
    println!("\nwrote {} and {}", csv.display(), svg.display());
    Ok(())
}

fn stop(dir: &Path) -> Result<(), ExitError> {
    let m = load(dir)?;
    let mut launcher = make_launcher(dir, &m)?;
    let probes = launcher.probe(&m, false);
    let running = probes.iter().filter(|p| p.state == TaskState::Running).count();
    launcher.stop(&m, &probes).map_err(ExitError::runtime_msg)?;
    println!("asked {running} running runs to stop; traintop sweep resume {} goes on", dir.display());
    Ok(())
}

/// Runs, resumes or leaves one task's run; `exec`s traintop so the run is
/// this very process (what Slurm and the local launcher watch and signal).
fn run_task(out: &Path, config: Option<PathBuf>, sets: &[String], detach: bool, stop: bool) -> Result<(), ExitError> {
    if stop {
        let p = probe::probe(out, false);
        if let (TaskState::Running, Some(pid)) = (p.state, p.pid) {
            crate::sweep::launch::terminate(pid).map_err(ExitError::runtime_msg)?;
        }
        return Ok(());
    }
    let config = config.ok_or_else(|| ExitError::input("sweep task: --config is needed to start a run"))?;
    match task::action(out, &config, sets, detach) {
        task::TaskAction::Skip(why) => {
            println!("{why}");
            Ok(())
        }
        task::TaskAction::Run(args) => {
            use std::os::unix::process::CommandExt;
            let program = crate::sweep::launch::own_program().map_err(ExitError::runtime_msg)?;
            let e = std::process::Command::new(program).args(&args).exec();
            Err(ExitError::runtime_msg(format!("cannot start traintop {}: {e}", args.join(" "))))
        }
    }
}
