//! The terminal dashboard: a ratatui view of the trainer's events that sends
//! the user's commands back.
//!
//! The state ([`App`]) knows nothing about the terminal, so it can be driven
//! by a scripted event stream and drawn onto ratatui's `TestBackend` in tests;
//! only `terminal.rs` and `terminal_loop.rs` touch the real terminal.

mod alerts;
mod app;
mod baseline;
mod bounded_series;
mod clean_backend;
mod compare;
mod editor;
mod input;
mod layout;
mod panels;
mod replay;
mod run_loop;
#[cfg(test)]
mod snapshot_tests;
mod state;
pub(crate) mod sweep_board;
mod terminal;
mod terminal_loop;
mod theme;
pub(crate) mod top;
mod tty_watch;

pub use app::App;
pub use baseline::Baseline;
pub use compare::{view_runs, RunToCompare, MAX_RUNS};
pub use replay::{app_from_metrics, load_baseline};
pub use run_loop::{run_dashboard, view_run};
pub use theme::{no_color_env, Theme};

/// How the dashboard behaves; `Default` gives the documented defaults.
#[derive(Clone, Debug)]
pub struct DashboardOptions {
    /// Longest wait for input between two looks at the event channel; also
    /// the slowest the screen follows the run.
    pub refresh_ms: u64,
    /// Capture the mouse (off by default so the terminal's own text selection
    /// keeps working).
    pub mouse: bool,
    /// Draw without colors or text styles; `NO_COLOR` in the environment does
    /// the same.
    pub no_color: bool,
    /// Shown in the header, usually the run's name.
    pub title: String,
    /// Return as soon as a `Finished` event arrived instead of waiting for `q`.
    pub exit_when_finished: bool,
    /// Set by a signal handler (SIGTERM, SIGHUP): leave at once, restoring the
    /// terminal; the trainer stops on the same signal.
    pub quit_signal: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// A client of a run server (`attach`, or the dashboard `run` starts):
    /// `d` detaches, and `q` asks whether to detach or stop.
    pub attached: bool,
    /// Watch only: keys that would steer the run say so instead.
    pub read_only: bool,
    /// A finished run drawn behind the live curves (`--baseline`).
    pub baseline: Option<Baseline>,
    /// Ring the bell (and ask for a desktop notification) for what happens
    /// after this step: the run's step when an attach connected, so its
    /// history does not ring.
    pub ring_after: u64,
    /// How a client's link to its run stands (a run in this process has
    /// no link to lose).
    pub link: Option<std::sync::Arc<crate::protocol::LinkWatch>>,
    /// `r` after the end leaves with [`Exit::Again`] (`traintop run`'s own
    /// dashboard, which starts the run again).
    pub run_again: bool,
}

impl DashboardOptions {
    /// A dashboard titled `title` with the screen settings every subcommand
    /// takes (`--refresh-ms`, `--mouse`, `--no-color`); the rest as `Default`.
    /// The refresh needs no floor here: the terminal loop applies it.
    pub fn new(title: impl Into<String>, refresh_ms: u64, mouse: bool, no_color: bool) -> Self {
        Self { title: title.into(), refresh_ms, mouse, no_color, ..Self::default() }
    }

    /// A client of a run server (`read_only`: watch only).
    pub fn attached(self, read_only: bool) -> Self {
        Self { attached: true, read_only, ..self }
    }

    /// Leaves when `signal` is set (SIGTERM, SIGHUP).
    pub fn quit_on(self, signal: &std::sync::Arc<std::sync::atomic::AtomicBool>) -> Self {
        Self { quit_signal: Some(std::sync::Arc::clone(signal)), ..self }
    }

    /// Draws `baseline` behind the live curves.
    pub fn with_baseline(self, baseline: Option<Baseline>) -> Self {
        Self { baseline, ..self }
    }

    /// Shows how the link to the run stands ("connection lost,
    /// reconnecting") as `watch` tells it.
    pub fn watching(self, watch: std::sync::Arc<crate::protocol::LinkWatch>) -> Self {
        Self { link: Some(watch), ..self }
    }
}

/// How the dashboard ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The user quit (after the run ended, or by stopping it).
    Quit,
    /// The user detached (`d`): the run goes on without this screen.
    Detached,
    /// The terminal hung up, or a signal asked the dashboard to leave.
    TerminalGone,
    /// `r` after the end: the caller starts the same run again.
    Again,
}

impl Default for DashboardOptions {
    fn default() -> Self {
        Self {
            refresh_ms: 500,
            mouse: false,
            no_color: false,
            title: "traintop".into(),
            exit_when_finished: false,
            quit_signal: None,
            attached: false,
            read_only: false,
            baseline: None,
            ring_after: 0,
            link: None,
            run_again: false,
        }
    }
}
