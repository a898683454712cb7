//! Argument groups that several subcommands flatten into their own
//! (`#[command(flatten)]`): how the dashboard draws, and which folders a run
//! folder's plugins may be loaded from. Each subcommand's own arguments live
//! beside its handler (`run.rs` has `RunArgs`, `attach.rs` `AttachArgs`, ...).

use std::path::PathBuf;

/// How the dashboard draws (run, resume, fork, attach, top, view).
#[derive(clap::Args, Debug, Clone)]
pub struct ScreenArgs {
    /// No colors or text styles (the NO_COLOR variable does the same).
    #[arg(long)]
    pub no_color: bool,
    /// Capture the mouse: the wheel scrolls the pane under it, a click
    /// selects a technique or puts the charts' cursor there (off by default
    /// so the terminal's own copy and paste keep working over SSH).
    #[arg(long)]
    pub mouse: bool,
    /// Longest time between screen updates, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub refresh_ms: u64,
}

impl Default for ScreenArgs {
    /// What the flags give when none is passed (the bare `traintop` too).
    fn default() -> Self {
        Self { no_color: false, mouse: false, refresh_ms: 500 }
    }
}

/// Which folders a run folder's plugins may come from (resume, fork,
/// evaluate, predict).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrustArgs {
    /// Also load the run's plugins from DIR (repeatable). A run folder's own
    /// [plugins] dirs are never searched: loading a plugin runs its code, so
    /// name a folder here only if you trust what is in it.
    #[arg(long = "trust-plugins", value_name = "DIR")]
    pub trust_plugins: Vec<PathBuf>,
}
