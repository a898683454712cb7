//! Command-line subcommands and how their failures map to exit codes:
//! 2 for bad input (config, data, checkpoint, usage), 1 for failures at run
//! time, 3 for a run that diverged (its `last` holds the last good state).
//!
//! The tree is `command.rs`; each subcommand's arguments live beside its
//! handler. Who runs where when a run starts (`launch::Topology`, chosen from
//! the flags and the terminal):
//!
//! ```text
//! in a terminal (default)          own session, no terminal
//! traintop run  DashboardClient -> traintop run --supervise  Supervisor
//!   |  (--detach: Detached,          | waits; writes a crash's summary
//!   |   prints where, returns)       v
//!   |<--- "ready {record}" ------ traintop run --server  Server
//!   |                               +- trainer thread --> run folder
//!   +- dashboard <== socket ====>   +- listener             (events.jsonl,
//!                                   ^                 metrics.jsonl, output.log,
//!      traintop attach / top  =====/                  checkpoints, summary.json)
//!
//! traintop run --foreground (Foreground) | --headless or no terminal (Headless)
//!   +- trainer thread --> run folder;  +- listener <== socket == attach, top
//!   +- dashboard (Foreground) or line log (Headless)
//!   +- pipe --> traintop crash-witness RUN_DIR (own session; names the plugin
//!               hook that took the process down)
//! ```
//!
//! The socket lives in an owner-only directory (`serve::socket_dir`); the
//! server's record beside it is how `attach`, `ls` and `top` find runs.
//! `resume` and `fork` take the same paths (the server repeats `resume DIR`).

pub mod attach;
/// Text from outside the process made safe for a terminal, keeping line
/// breaks (for the binary's error messages).
pub use crate::format::clean_lines;
pub(crate) mod background;
pub mod bench;
pub mod command;
pub mod crash_watch;
pub mod diff;
pub mod evaluate;
pub mod fork;
pub(crate) mod headless;
pub mod launch;
mod line_pump;
pub mod ls;
pub mod ls_all;
mod panic_log;
pub mod plugins;
pub(crate) mod roofline;
pub mod run;
pub mod shared_args;
pub(crate) mod signals;
mod stall;
mod supervise;
pub mod sweep;
pub mod top;
mod top_history;
pub mod view;
pub mod wait;

use std::fmt;
use std::process::ExitCode;

/// The exit code of a run that diverged.
pub const DIVERGED: i32 = 3;

/// An error with the exit code the process should end with.
#[derive(Debug)]
pub struct ExitError {
    pub code: i32,
    pub message: String,
}

impl ExitError {
    /// Bad input from the user: exit code 2.
    pub fn input(message: impl Into<String>) -> Self {
        Self { code: 2, message: message.into() }
    }

    pub fn config(e: crate::config::ConfigError) -> Self {
        Self { code: e.exit_code(), message: e.to_string() }
    }

    /// A run that could not be prepared: the exit code its kind of failure
    /// calls for.
    pub fn prepare(e: crate::train::PrepareError) -> Self {
        use crate::train::PrepareError;
        match e {
            PrepareError::Config(e) => Self::config(e),
            PrepareError::Input(message) => Self::input(message),
            PrepareError::Runtime(e) => Self::runtime(e),
        }
    }

    /// A run that diverged and stopped: exit code 3 ([`DIVERGED`]).
    pub fn diverged(summary: &crate::train::Summary) -> Self {
        let at = summary.diverged_at.map_or(String::new(), |s| format!(" at step {s}"));
        let cause = summary.divergence.as_deref().unwrap_or("the loss blew up");
        let message = format!(
            "the run diverged{at} ({cause}); checkpoints/last holds step {}, the last good state: \
             resume it with a lower rate (traintop resume {} --set optimizer.lr=...)",
            summary.steps, summary.run_dir
        );
        Self { code: DIVERGED, message }
    }

    /// A failure while running, in words: exit code 1.
    pub fn runtime_msg(message: impl Into<String>) -> Self {
        Self { code: 1, message: message.into() }
    }

    /// A failure while running: exit code 1, or 2 when the backend failed (a
    /// GPU out of memory, a kernel that did not compile, a tensor too large
    /// for its indices), which is the machine's or the model's size's fault,
    /// not the program's.
    pub fn runtime(e: anyhow::Error) -> Self {
        use crate::engine::program::RunError;
        let backend = e.chain().any(|c| {
            matches!(c.downcast_ref::<RunError>(), Some(RunError::Backend { .. } | RunError::TooLarge { .. }))
        });
        Self { code: if backend { 2 } else { 1 }, message: format!("{e:#}") }
    }
}

/// The process's exit: the error said on stderr, its code returned.
pub fn exit_code(result: Result<(), ExitError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // An empty message: said already (a background server's own error).
            if !e.message.is_empty() {
                // Errors quote files, configs and remotes: shown, never obeyed.
                eprintln!("error: {}", clean_lines(&e.to_string()));
            }
            ExitCode::from(e.code as u8)
        }
    }
}

impl fmt::Display for ExitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<crate::train::PrepareError> for ExitError {
    fn from(e: crate::train::PrepareError) -> Self {
        Self::prepare(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::program::RunError;
    use crate::engine::Backend;

    #[test]
    fn a_backend_failure_exits_with_2() {
        let failed = RunError::Backend { backend: Backend::Cuda, during: "running a step", message: "oom".into() };
        let e = ExitError::runtime(anyhow::Error::new(failed).context("step 3"));
        assert_eq!(e.code, 2);
        assert!(e.message.contains("the cuda backend failed while running a step: oom"), "{}", e.message);
        assert_eq!(ExitError::runtime(anyhow::anyhow!("disk full")).code, 1);
    }
}
