//! The `traintop` command line.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use traintop::cli::attach::{self, AttachOptions};
use traintop::cli::bench::{self, BenchOptions};
use traintop::cli::evaluate::{self, EvaluateOptions, PredictOptions, SplitChoice};
use traintop::cli::ls;
use traintop::cli::run::{self, RunOptions};
use traintop::cli::top::{self, TopOptions};
use traintop::cli::ExitError;
use traintop::cli::{diff, plugins};
use traintop::engine::{Activation, Backend, Optimizer};
use traintop::inspect::Which;
use traintop::tui::DashboardOptions;

/// Train neural networks from a TOML config and watch the run.
///
/// With no arguments, runs the embedded demo (configs/demo.toml): eight sigmoid
/// layers on 1797 handwritten digits whose gradients vanish until batch_norm
/// is switched on (space in the dashboard). It writes a run folder under ./runs.
/// `traintop run configs/digits.toml` is the quick, accurate example.
#[derive(Parser, Debug)]
#[command(name = "traintop", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train from a config file (or the embedded demo when none is given).
    Run {
        /// The run's TOML config (see configs/). Relative paths inside it resolve
        /// against its folder.
        config: Option<PathBuf>,
        /// Print progress lines instead of opening the dashboard.
        #[arg(long)]
        headless: bool,
        /// Override a config key, checked like the file: --set run.epochs=5
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Write the run folder under DIR instead of run.out_dir.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print epoch lines only (headless).
        #[arg(long)]
        quiet: bool,
        /// Draw this finished run folder's loss and accuracy curves behind the
        /// live run's (b in the dashboard shows or hides them).
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "headless")]
        baseline: Option<PathBuf>,
        #[command(flatten)]
        background: BackgroundArgs,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// Continue a stopped run from its folder's last checkpoint.
    ///
    /// The run's plugins come from TRAINTOP_PLUGIN_PATH and the binary's
    /// folder, never from the [plugins] dirs of the folder's config (a run
    /// folder may come from anyone; loading a plugin runs its code) unless
    /// named with --trust-plugins.
    Resume {
        run_dir: PathBuf,
        #[command(flatten)]
        continued: ContinueArgs,
        #[arg(long)]
        headless: bool,
        /// Override a key of the run's config (e.g. run.epochs to train longer).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        #[arg(long)]
        quiet: bool,
        /// Draw this finished run folder's loss and accuracy curves behind the
        /// live run's (b in the dashboard shows or hides them).
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "headless")]
        baseline: Option<PathBuf>,
        #[command(flatten)]
        background: BackgroundArgs,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// Continue a run from one of its checkpoints with a change, in a new run
    /// folder beside it: what the run, stopped there and resumed with --set,
    /// would have trained. The new folder's fork.json names the parent.
    ///
    /// STEP is `last`, `best`, or the step of one of those two checkpoints
    /// (`traintop ls` and the run's summary show them); the changes are what
    /// `resume --set` may change: technique switches and settings, the
    /// learning rate, the epochs.
    Fork {
        run_dir: PathBuf,
        #[command(flatten)]
        continued: ContinueArgs,
        /// The checkpoint to continue from: last, best, or its step.
        #[arg(long, value_name = "STEP")]
        at: String,
        /// A change for the fork, e.g. --set technique.batch_norm.enabled=true
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Write the fork's folder under DIR instead of beside RUN_DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        #[arg(long)]
        headless: bool,
        #[arg(long)]
        quiet: bool,
        /// Draw this finished run folder's curves behind the fork's (b shows or hides them).
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "headless")]
        baseline: Option<PathBuf>,
        #[command(flatten)]
        background: BackgroundArgs,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// A dashboard on a live run, here or on another machine (over ssh).
    ///
    /// RUN is a run folder, a run folder's name, or a run name (the newest
    /// live run of that name); without it, the only live run (or a list to
    /// pick from). The whole history shows, then the live stream; every key
    /// works. `d` detaches (the run goes on), `q` asks: detach or stop.
    Attach {
        run: Option<String>,
        /// Watch without steering: keys that would change the run say so.
        #[arg(long)]
        read_only: bool,
        /// A run on another machine: runs `ssh HOST traintop attach --stdio RUN`
        /// and speaks the run protocol over ssh's pipe (no port is opened).
        /// TRAINTOP_SSH replaces the ssh command line, TRAINTOP_REMOTE the
        /// remote traintop.
        #[arg(long, value_name = "[USER@]HOST")]
        ssh: Option<String>,
        /// Relay the run protocol between stdin/stdout and the run's socket
        /// (what `attach --ssh` runs on the far side).
        #[arg(long, conflicts_with = "ssh")]
        stdio: bool,
        /// Draw this finished run folder's loss and accuracy curves behind the
        /// live run's (b in the dashboard shows or hides them).
        #[arg(long, value_name = "RUN_DIR", conflicts_with = "stdio")]
        baseline: Option<PathBuf>,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// List this user's runs on this machine, live and dead (or on other
    /// machines, with --ssh): state, epoch and step, loss, validation
    /// accuracy, samples/s, ETA, clients; a dead run with its resume command.
    Ls {
        /// One JSON array (with --ssh: an object per host).
        #[arg(long)]
        json: bool,
        /// List the runs on HOST instead (`ssh HOST traintop ls --json`); repeatable.
        #[arg(long, value_name = "[USER@]HOST")]
        ssh: Vec<String>,
    },
    /// Run a config over a grid of variants times seeds (an ablation), here,
    /// over ssh or on Slurm, and rank the variants with 95% intervals.
    ///
    /// Each run is an ordinary run folder under one sweep folder (attach,
    /// steer and resume them as any run); `top` groups them. Subcommands:
    /// resume, status, report, stop (each takes the sweep folder).
    Sweep(traintop::cli::sweep::SweepArgs),
    /// One screen over the runs of this machine and of other hosts, live;
    /// Enter opens a run's dashboard (d or q comes back).
    ///
    /// Hosts come from --ssh and from `hosts = ["gpu1", "me@gpu2"]` in
    /// $XDG_CONFIG_HOME/traintop/hosts.toml (else ~/.config/traintop/hosts.toml).
    Top {
        /// Also show the runs on HOST; repeatable.
        #[arg(long, value_name = "[USER@]HOST")]
        ssh: Vec<String>,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// Open a run folder (finished or not) in the dashboard; with several,
    /// overlay their loss and accuracy curves to compare them.
    ///
    /// Comparing: one color and marker (and letter) per run, a legend with
    /// each run's figures and the config keys that differ; x switches steps
    /// and epochs, v validation and training curves, l a log-scale loss.
    View {
        #[arg(required = true, num_args = 1.., value_name = "RUN_DIR")]
        run_dirs: Vec<PathBuf>,
        #[command(flatten)]
        screen: ScreenArgs,
    },
    /// Score a trained run's model: loss, accuracy and a confusion matrix
    /// with per-class precision and recall (or MSE and MAE for regression).
    ///
    /// Scores the run's validation split (read and split again exactly as
    /// the run did) unless --data names a labelled CSV file with the run's
    /// columns, in any order.
    Evaluate {
        run_dir: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// A labelled CSV file with the columns the run was trained on.
        #[arg(long, value_name = "FILE")]
        data: Option<PathBuf>,
        /// Which part of the run's own data to score (without --data).
        #[arg(long, value_enum, default_value_t = SplitArg::Validation, conflicts_with = "data")]
        split: SplitArg,
        #[arg(long, value_enum, default_value_t = CheckpointArg::Last)]
        checkpoint: CheckpointArg,
        /// Print one JSON object instead of the report.
        #[arg(long)]
        json: bool,
    },
    /// Write a trained run's predictions for a CSV file: the class and the
    /// probability of each class, or the predicted value.
    Predict {
        run_dir: PathBuf,
        #[command(flatten)]
        trust: TrustArgs,
        /// CSV file with the columns the run was trained on (the target may be absent).
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Where to write the predictions (`-` for standard output).
        #[arg(long, value_name = "FILE.csv")]
        out: PathBuf,
        #[arg(long, value_enum, default_value_t = CheckpointArg::Last)]
        checkpoint: CheckpointArg,
    },
    /// Compare two run folders: config differences, technique changes made
    /// while they trained, and their summary figures side by side.
    Diff {
        run_a: PathBuf,
        run_b: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// List or check technique plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Measure training throughput (forward, backward, update) on random data.
    Bench(BenchArgs),
    /// Internal: the crash witness of a run training in the process that
    /// started it (see src/cli/crash_watch.rs).
    #[command(hide = true)]
    CrashWitness { run_dir: PathBuf },
}

#[derive(clap::Args, Debug)]
struct BenchArgs {
    /// Layer widths, input to output.
    #[arg(long, value_delimiter = ',', default_value = "784,256,10")]
    layers: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    #[arg(long, value_enum, default_value_t = BenchOptimizer::Sgd)]
    optimizer: BenchOptimizer,
    #[arg(long, value_enum, default_value_t = BenchDevice::Cpu)]
    device: BenchDevice,
    /// Hidden-layer activation.
    #[arg(long, value_enum, default_value_t = BenchActivation::Relu)]
    activation: BenchActivation,
    /// Also time a 2048 x 2048 SGEMM with the engine's GEMM (same threads)
    /// and print the step's share of that rate.
    #[arg(long)]
    roofline: bool,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Where a run lives.
#[derive(clap::Args, Debug, Clone, Default)]
struct BackgroundArgs {
    /// Start the run in the background, print its folder and how to attach,
    /// and return.
    #[arg(long, conflicts_with_all = ["foreground", "headless"])]
    detach: bool,
    /// Keep the dashboard and the run in this one process (today's single
    /// process, for batch jobs); otherwise the dashboard is a client of a
    /// background run server, and closing the terminal detaches.
    #[arg(long)]
    foreground: bool,
    /// Internal: this process is the background server `run` starts.
    #[arg(long, hide = true)]
    server: bool,
    /// Internal: this process supervises the background server (see
    /// src/cli/supervise.rs).
    #[arg(long, hide = true, conflicts_with = "server")]
    supervise: bool,
}

/// Which folders a run folder's plugins may come from.
#[derive(clap::Args, Debug, Clone, Default)]
struct TrustArgs {
    /// Also load the run's plugins from DIR (repeatable). A run folder's own
    /// [plugins] dirs are never searched: loading a plugin runs its code, so
    /// name a folder here only if you trust what is in it.
    #[arg(long = "trust-plugins", value_name = "DIR")]
    trust_plugins: Vec<PathBuf>,
}

/// How a run folder's run goes on (resume, fork): whose plugins, without which.
#[derive(clap::Args, Debug, Clone, Default)]
struct ContinueArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// Go on without this technique (its plugin is not available): its
    /// settings and state are discarded, and the event log says so.
    #[arg(long = "drop-technique", value_name = "NAME")]
    drop_techniques: Vec<String>,
}

impl ContinueArgs {
    fn apply(self, opts: RunOptions) -> RunOptions {
        RunOptions { trust_plugins: self.trust.trust_plugins, drop_techniques: self.drop_techniques, ..opts }
    }
}

/// How the dashboard draws.
#[derive(clap::Args, Debug, Clone)]
struct ScreenArgs {
    /// No colors or text styles (the NO_COLOR variable does the same).
    #[arg(long)]
    no_color: bool,
    /// Capture the mouse (off by default so copy and paste work over SSH).
    #[arg(long)]
    mouse: bool,
    /// Longest time between screen updates, in milliseconds.
    #[arg(long, default_value_t = 500)]
    refresh_ms: u64,
}

impl Default for ScreenArgs {
    fn default() -> Self {
        Self { no_color: false, mouse: false, refresh_ms: 500 }
    }
}

#[derive(Subcommand, Debug)]
enum PluginsCommand {
    /// Show every plugin found, with its parameters.
    List {
        /// Also search this folder.
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin file, check its descriptor, and gradient-check its graph
    /// fragment on random data (for plugin authors).
    Check {
        path: PathBuf,
        /// Set a parameter before checking: --set rate=0.2
        #[arg(long = "set", value_name = "PARAM=VALUE")]
        settings: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Which checkpoint of a run to use.
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CheckpointArg {
    /// Where the run stopped.
    Last,
    /// The epoch with the lowest validation loss.
    Best,
}

impl From<CheckpointArg> for Which {
    fn from(c: CheckpointArg) -> Which {
        match c {
            CheckpointArg::Last => Which::Last,
            CheckpointArg::Best => Which::Best,
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SplitArg {
    Validation,
    Train,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BenchOptimizer {
    Sgd,
    Momentum,
    Adam,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BenchActivation {
    Relu,
    Sigmoid,
    Tanh,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum BenchDevice {
    Cpu,
    Cuda,
}

fn screen(s: ScreenArgs, b: BackgroundArgs, opts: RunOptions) -> RunOptions {
    RunOptions {
        no_color: s.no_color,
        mouse: s.mouse,
        refresh_ms: s.refresh_ms,
        detach: b.detach,
        foreground: b.foreground,
        server: b.server,
        supervise: b.supervise,
        ..opts
    }
}

/// `traintop bench`: the engine's throughput on random data, as a sentence or JSON.
fn bench_command(args: BenchArgs) -> Result<(), ExitError> {
    let BenchArgs { layers, batch, steps, warmup, optimizer, device, activation, roofline, json } = args;
    let optimizer = match optimizer {
        BenchOptimizer::Sgd => Optimizer::Sgd,
        BenchOptimizer::Momentum => Optimizer::Momentum { momentum: 0.9 },
        BenchOptimizer::Adam => Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    };
    let backend = match device {
        BenchDevice::Cpu => Backend::Cpu,
        BenchDevice::Cuda => Backend::Cuda,
    };
    let activation = match activation {
        BenchActivation::Relu => Activation::Relu,
        BenchActivation::Sigmoid => Activation::Sigmoid,
        BenchActivation::Tanh => Activation::Tanh,
    };
    let opts = BenchOptions { layers, batch, steps, warmup, optimizer, backend, seed: 1, activation, roofline };
    bench::run(&opts).map_err(|e| ExitError::input(format!("{e:#}"))).map(|r| {
        if json {
            println!("{}", serde_json::to_string(&r).expect("report serializes"));
        } else {
            println!(
                "{:?} batch {} {}: {:.0} samples/s ({:.3} ms/step, {} graph nodes)",
                r.layers, r.batch, r.optimizer, r.samples_per_sec, r.ms_per_step, r.graph_nodes
            );
            if let Some(f) = &r.roofline {
                println!(
                    "roofline: SGEMM {n}x{n} {:.1} GFLOP/s; the step's matmuls {:.1} GFLOP/s = {:.0}% of it",
                    f.sgemm_gflops,
                    f.step_gflops,
                    100.0 * f.share,
                    n = f.sgemm_n
                );
            }
        }
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        None => run::run(&screen(ScreenArgs::default(), BackgroundArgs::default(), RunOptions::default())),
        Some(Command::Run { config, headless, overrides, out, quiet, baseline, background: b, screen: s }) => {
            let opts = RunOptions { config, overrides, out, headless, quiet, baseline, ..Default::default() };
            run::run(&screen(s, b, opts))
        }
        Some(Command::Resume {
            run_dir,
            continued,
            headless,
            overrides,
            quiet,
            baseline,
            background: b,
            screen: s,
        }) => {
            let opts = continued.apply(RunOptions { overrides, headless, quiet, baseline, ..Default::default() });
            run::resume(&run_dir, &screen(s, b, opts))
        }
        Some(Command::Fork {
            run_dir,
            continued,
            at,
            overrides,
            out,
            headless,
            quiet,
            baseline,
            background: b,
            screen: s,
        }) => {
            let opts = continued.apply(RunOptions { overrides, out, headless, quiet, baseline, ..Default::default() });
            traintop::cli::fork::fork(&run_dir, &at, &screen(s, b, opts))
        }
        Some(Command::Attach { run, read_only, ssh, stdio, baseline, screen: s }) => attach::attach(&AttachOptions {
            baseline,
            run,
            read_only,
            stdio,
            ssh,
            no_color: s.no_color,
            mouse: s.mouse,
            refresh_ms: s.refresh_ms,
        }),
        Some(Command::Ls { json, ssh }) => ls::ls(json, &ssh),
        Some(Command::Sweep(args)) => traintop::cli::sweep::sweep(args),
        Some(Command::Top { ssh, screen: s }) => {
            top::top(&TopOptions { hosts: ssh, no_color: s.no_color, mouse: s.mouse, refresh_ms: s.refresh_ms })
        }
        Some(Command::View { run_dirs, screen: s }) if run_dirs.len() > 1 => {
            traintop::cli::view::compare(&run_dirs, s.no_color, s.mouse)
        }
        Some(Command::View { mut run_dirs, screen: s }) => {
            let run_dir = run_dirs.remove(0);
            let title = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let options = DashboardOptions {
                refresh_ms: s.refresh_ms,
                mouse: s.mouse,
                no_color: s.no_color,
                title,
                ..Default::default()
            };
            traintop::tui::view_run(&run_dir, options)
                .map_err(|e| ExitError::input(format!("{}: {e}", run_dir.display())))
        }
        Some(Command::Evaluate { run_dir, trust, data, split, checkpoint, json }) => {
            let split = match split {
                SplitArg::Validation => SplitChoice::Validation,
                SplitArg::Train => SplitChoice::Train,
            };
            let (run, trust_plugins, checkpoint) = (run_dir, trust.trust_plugins, checkpoint.into());
            evaluate::evaluate(&EvaluateOptions { run, data, split, checkpoint, json, trust_plugins })
        }
        Some(Command::Predict { run_dir, trust, data, out, checkpoint }) => {
            let (run, trust_plugins, checkpoint) = (run_dir, trust.trust_plugins, checkpoint.into());
            evaluate::predict(&PredictOptions { run, data, out, checkpoint, trust_plugins })
        }
        Some(Command::Diff { run_a, run_b, json }) => diff::diff(&run_a, &run_b, json),
        Some(Command::Plugins { command: PluginsCommand::List { dirs, json } }) => plugins::list(&dirs, json),
        Some(Command::Plugins { command: PluginsCommand::Check { path, settings, json } }) => {
            plugins::check(&path, &settings, json)
        }
        Some(Command::Bench(args)) => bench_command(args),
        Some(Command::CrashWitness { run_dir }) => traintop::cli::crash_watch::witness(&run_dir),
    };
    exit_code(result)
}

/// The process's exit: the error said on stderr, its code returned.
fn exit_code(result: Result<(), ExitError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An empty message: said already (a background server's own error).
            if !e.message.is_empty() {
                // Errors quote files, configs and remotes: shown, never obeyed.
                eprintln!("error: {}", traintop::cli::clean_lines(&e.to_string()));
            }
            ExitCode::from(e.code as u8)
        }
    }
}
