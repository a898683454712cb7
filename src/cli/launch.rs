//! How a run is launched: the flags `run`, `resume` and `fork` share
//! ([`LaunchArgs`], flattened into each), the [`Topology`] they choose (which
//! process trains, which one draws), and the [`RunOptions`] the three hand to
//! `run.rs`. The picture of the processes is in `cli/mod.rs`.

use std::io::IsTerminal;
use std::path::PathBuf;

use super::shared_args::{ScreenArgs, TrustArgs};

/// The flags of a run's launch that `run`, `resume` and `fork` all take.
/// `resume` and `fork` give `--set` (and `fork` `--baseline`) a help text of
/// their own with `mut_arg`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct LaunchArgs {
    /// Print progress lines instead of opening the dashboard.
    #[arg(long)]
    pub headless: bool,
    /// Override a config key, checked like the file: --set run.epochs=5
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Print epoch lines only (headless).
    #[arg(long)]
    pub quiet: bool,
    /// Draw this finished run folder's loss and accuracy curves behind the
    /// live run's (b in the dashboard shows or hides them).
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "headless")]
    pub baseline: Option<PathBuf>,
    #[command(flatten)]
    pub background: BackgroundArgs,
    #[command(flatten)]
    pub screen: ScreenArgs,
}

/// Where a run lives.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct BackgroundArgs {
    /// Start the run in the background, print its folder and how to attach,
    /// and return.
    #[arg(long, conflicts_with_all = ["foreground", "headless"])]
    pub detach: bool,
    /// Keep the dashboard and the run in this one process (today's single
    /// process, for batch jobs); otherwise the dashboard is a client of a
    /// background run server, and closing the terminal detaches.
    #[arg(long)]
    pub foreground: bool,
    /// Internal: this process is the background server `run` starts.
    #[arg(long, hide = true)]
    pub server: bool,
    /// Internal: this process supervises the background server (see
    /// src/cli/supervise.rs).
    #[arg(long, hide = true, conflicts_with = "server")]
    pub supervise: bool,
}

/// How a run folder's run goes on (resume, fork): whose plugins, without which.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ContinueArgs {
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Go on without this technique (its plugin is not available): its
    /// settings and state are discarded, and the event log says so.
    #[arg(long = "drop-technique", value_name = "NAME")]
    pub drop_techniques: Vec<String>,
}

/// Which process this one is in a run's launch (see the picture in
/// `cli/mod.rs`). Chosen once from the flags and the terminal, so the code
/// that follows asks one question instead of four booleans.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topology {
    /// Trainer and dashboard in this process (`--foreground` in a terminal),
    /// with a crash witness beside it.
    Foreground,
    /// Trainer and line log in this process (`--headless`, or no terminal),
    /// with a crash witness beside it.
    Headless,
    /// The default in a terminal: this process starts a supervisor (which
    /// starts the server) and is the run's first dashboard client.
    DashboardClient,
    /// `--detach`: as [`Topology::DashboardClient`], but this process prints
    /// where the run is and returns instead of drawing.
    Detached,
    /// Internal (`--supervise`): waits for the server and records its crash.
    Supervisor,
    /// Internal (`--server`): the background server, trainer thread inside,
    /// output to the run folder once it serves.
    Server,
}

impl Topology {
    /// The topology the flags ask for; `terminal` is whether stdout is one
    /// (without one there is nothing to draw on, so the run stays here).
    pub fn choose(flags: &BackgroundArgs, headless: bool, terminal: bool) -> Self {
        if flags.supervise {
            Self::Supervisor
        } else if flags.server {
            Self::Server
        } else if flags.detach {
            Self::Detached
        } else if headless || !terminal {
            Self::Headless
        } else if flags.foreground {
            Self::Foreground
        } else {
            Self::DashboardClient
        }
    }
}

/// Options shared by `run`, `resume` and `fork`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub config: Option<PathBuf>,
    pub overrides: Vec<String>,
    pub out: Option<PathBuf>,
    /// Which process this is, and so where the run trains and is watched.
    pub topology: Topology,
    pub quiet: bool,
    pub screen: ScreenArgs,
    /// A finished run folder to draw behind the live curves.
    pub baseline: Option<PathBuf>,
    /// `resume`/`fork`: folders the user trusts to load the run folder's
    /// plugins from (a run folder's own `[plugins] dirs` are never searched).
    pub trust_plugins: Vec<PathBuf>,
    /// `resume`/`fork`: techniques to go on without (`--drop-technique`).
    pub drop_techniques: Vec<String>,
}

impl LaunchArgs {
    /// The options these flags give, before any subcommand's own.
    pub fn options(self) -> RunOptions {
        let topology = Topology::choose(&self.background, self.headless, std::io::stdout().is_terminal());
        RunOptions {
            config: None,
            overrides: self.overrides,
            out: None,
            topology,
            quiet: self.quiet,
            screen: self.screen,
            baseline: self.baseline,
            trust_plugins: Vec::new(),
            drop_techniques: Vec::new(),
        }
    }
}

impl ContinueArgs {
    /// `opts` going on from a run folder: whose plugins, without which.
    pub fn apply(self, opts: RunOptions) -> RunOptions {
        RunOptions { trust_plugins: self.trust.trust_plugins, drop_techniques: self.drop_techniques, ..opts }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(detach: bool, foreground: bool, server: bool, supervise: bool) -> BackgroundArgs {
        BackgroundArgs { detach, foreground, server, supervise }
    }

    #[test]
    fn the_flags_choose_one_topology() {
        use Topology::*;
        let none = flags(false, false, false, false);
        assert_eq!(Topology::choose(&none, false, true), DashboardClient);
        assert_eq!(Topology::choose(&none, false, false), Headless);
        assert_eq!(Topology::choose(&none, true, true), Headless);
        assert_eq!(Topology::choose(&flags(false, true, false, false), false, true), Foreground);
        assert_eq!(Topology::choose(&flags(false, true, false, false), false, false), Headless);
        assert_eq!(Topology::choose(&flags(true, false, false, false), false, false), Detached);
        // The internal flags win: the server and supervisor have no terminal.
        assert_eq!(Topology::choose(&flags(false, false, true, false), false, false), Server);
        assert_eq!(Topology::choose(&flags(false, false, false, true), true, false), Supervisor);
    }
}
