//! The command line's tree: the subcommands, each with the argument struct
//! that lives beside its handler, and the dispatch from one to the other.
//! `main.rs` only parses and exits.

use clap::{Parser, Subcommand};

use super::attach::AttachArgs;
use super::bench::BenchArgs;
use super::crash_watch::WitnessArgs;
use super::diff::DiffArgs;
use super::evaluate::{EvaluateArgs, PredictArgs};
use super::fork::ForkArgs;
use super::ls::LsArgs;
use super::plugins::PluginsArgs;
use super::run::{ResumeArgs, RunArgs};
use super::sweep::SweepArgs;
use super::top::TopArgs;
use super::view::ViewArgs;
use super::wait::WaitArgs;
use super::ExitError;

/// Train neural networks from a TOML config and watch the run.
///
/// With no arguments, runs the embedded demo (configs/demo.toml): eight sigmoid
/// layers on 1797 handwritten digits whose gradients vanish until batch_norm
/// is switched on (space in the dashboard). It writes a run folder under ./runs.
/// `traintop run configs/digits.toml` is the quick, accurate example.
#[derive(Parser, Debug)]
#[command(name = "traintop", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train from a config file (or the embedded demo when none is given).
    Run(RunArgs),
    /// Continue a stopped run from its folder's last checkpoint.
    ///
    /// The run's plugins come from TRAINTOP_PLUGIN_PATH and the binary's
    /// folder, never from the [plugins] dirs of the folder's config (a run
    /// folder may come from anyone; loading a plugin runs its code) unless
    /// named with --trust-plugins.
    Resume(ResumeArgs),
    /// Continue a run from one of its checkpoints with a change, in a new run
    /// folder beside it: what the run, stopped there and resumed with --set,
    /// would have trained. The new folder's fork.json names the parent.
    ///
    /// STEP is `last`, `best`, or the step of one of those two checkpoints
    /// (`traintop ls` and the run's summary show them); the changes are what
    /// `resume --set` may change: technique switches and settings, the
    /// learning rate, the epochs.
    Fork(ForkArgs),
    /// A dashboard on a live run, here or on another machine (over ssh).
    ///
    /// RUN is a run folder, a run folder's name, or a run name (the newest
    /// live run of that name); without it, the only live run (or a list to
    /// pick from). The whole history shows, then the live stream; every key
    /// works. `d` detaches (the run goes on), `q` asks: detach or stop.
    Attach(AttachArgs),
    /// List this user's runs on this machine, live and dead (or on other
    /// machines, with --ssh): state, epoch and step, loss, validation
    /// accuracy, samples/s, ETA, clients; a dead run with its resume command.
    Ls(LsArgs),
    /// Run a config over a grid of variants times seeds (an ablation), here,
    /// over ssh or on Slurm, and rank the variants with 95% intervals.
    ///
    /// Each run is an ordinary run folder under one sweep folder (attach,
    /// steer and resume them as any run); `top` groups them. Subcommands:
    /// resume, status, report, stop (each takes the sweep folder).
    Sweep(SweepArgs),
    /// Wait for a run to end; exit 0 when it completed or stopped early on
    /// its own, 3 when it diverged, 1 when it failed, crashed or was stopped.
    ///
    /// RUN is a run folder, a run folder's name or a run name, as for attach.
    Wait(WaitArgs),
    /// One screen over the runs of this machine and of other hosts, live;
    /// Enter opens a run's dashboard (d or q comes back).
    ///
    /// Hosts come from --ssh and from `hosts = ["gpu1", "me@gpu2"]` in
    /// $XDG_CONFIG_HOME/traintop/hosts.toml (else ~/.config/traintop/hosts.toml).
    Top(TopArgs),
    /// Open a run folder (finished or not) in the dashboard; with several,
    /// overlay their loss and accuracy curves to compare them.
    ///
    /// Comparing: one color and marker (and letter) per run, a legend with
    /// each run's figures and the config keys that differ; x switches steps
    /// and epochs, v validation and training curves, l a log-scale loss.
    ///
    /// Exporting: --export FILE.svg|FILE.png and --csv FILE write one run's
    /// charts and series and exit without a screen; E in the screen writes
    /// them into RUN/export/.
    View(ViewArgs),
    /// Score a trained run's model: loss, accuracy and a confusion matrix
    /// with per-class precision and recall (or MSE and MAE for regression).
    ///
    /// Scores the run's validation split (read and split again exactly as
    /// the run did) unless --data names a labelled CSV file with the run's
    /// columns, in any order.
    Evaluate(EvaluateArgs),
    /// Write a trained run's predictions for a CSV file: the class and the
    /// probability of each class, or the predicted value.
    Predict(PredictArgs),
    /// Compare two run folders: config differences, technique changes made
    /// while they trained, and their summary figures side by side.
    Diff(DiffArgs),
    /// List or check technique plugins.
    Plugins(PluginsArgs),
    /// Measure training throughput (forward, backward, update) on random data.
    Bench(BenchArgs),
    /// Internal: the crash witness of a run training in the process that
    /// started it (see src/cli/crash_watch.rs).
    #[command(hide = true)]
    CrashWitness(WitnessArgs),
}

impl Cli {
    /// Runs the subcommand (the embedded demo when there is none).
    pub fn call(self) -> Result<(), ExitError> {
        let Some(command) = self.command else { return RunArgs::default().call() };
        match command {
            Command::Run(a) => a.call(),
            Command::Resume(a) => a.call(),
            Command::Fork(a) => a.call(),
            Command::Attach(a) => a.call(),
            Command::Ls(a) => a.call(),
            Command::Sweep(a) => super::sweep::sweep(a),
            Command::Wait(a) => a.call(),
            Command::Top(a) => a.call(),
            Command::View(a) => a.call(),
            Command::Evaluate(a) => a.call(),
            Command::Predict(a) => a.call(),
            Command::Diff(a) => a.call(),
            Command::Plugins(a) => a.call(),
            Command::Bench(a) => a.call(),
            Command::CrashWitness(a) => a.call(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    /// Where each of `flags` is in `command`'s help, in order.
    fn listed_in_order(command: &str, flags: &[&str]) -> bool {
        let mut cli = Cli::command();
        let help = cli.find_subcommand_mut(command).expect("a subcommand").render_help().to_string();
        // The options' list, not the usage line above it.
        let help = &help[help.find("Options:").expect("an options list")..];
        let at: Vec<usize> = flags.iter().map(|f| help.find(&format!("{f} ")).expect(f)).collect();
        at.windows(2).all(|w| w[0] < w[1])
    }

    #[test]
    fn the_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_resume_and_fork_list_their_flags_as_before_the_shared_args() {
        let run = ["--headless", "--set", "--out", "--quiet", "--baseline", "--detach", "--no-color"];
        assert!(listed_in_order("run", &run));
        let resume = ["--trust-plugins", "--drop-technique", "--headless", "--set", "--quiet", "--baseline"];
        assert!(listed_in_order("resume", &resume));
        let fork = ["--drop-technique", "--at", "--set", "--out", "--headless", "--quiet", "--baseline", "--detach"];
        assert!(listed_in_order("fork", &fork));
    }
}
