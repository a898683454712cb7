//! `traintop wait RUN`: blocks until a run ends and exits with its outcome,
//! for scripts and for a person who wants the prompt back when training is
//! over: 0 completed or early-stopped, 3 diverged, 1 anything else (an
//! error, a crash, a stop before the end), 2 no such run. A run folder, a
//! run folder's name or a run name, as `attach` takes them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{signals, ExitError, DIVERGED};
use crate::client::find;
use crate::run_lock;

/// How often the run folder's lock is looked at.
const EVERY: Duration = Duration::from_millis(200);

/// The folder `what` names: a run folder as given, else a live run found by name.
fn folder(what: &str) -> Result<PathBuf, ExitError> {
    let path = Path::new(what);
    if path.join("config.toml").is_file() {
        return Ok(path.to_path_buf());
    }
    find::find(Some(what)).map(|e| e.run_dir).map_err(|e| ExitError::input(e.to_string().trim_end().to_string()))
}

/// `traintop wait`'s arguments.
#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    run: String,
}

impl WaitArgs {
    /// `traintop wait`.
    pub fn call(self) -> Result<(), ExitError> {
        wait(&self.run)
    }
}

/// Blocks until the run `what` names ends; its outcome as the exit.
pub fn wait(what: &str) -> Result<(), ExitError> {
    let dir = folder(what)?;
    let flags = signals::install()?;
    while run_lock::held(&dir).is_some_and(|(live, _)| live) {
        if flags.stopped() {
            return Err(ExitError { code: 130, message: "stopped waiting (the run goes on)".into() });
        }
        std::thread::sleep(EVERY);
    }
    outcome(&dir)
}

/// What the run's `summary.json` says, as a line and an exit code.
fn outcome(dir: &Path) -> Result<(), ExitError> {
    let shown = dir.display();
    let Ok(text) = std::fs::read_to_string(dir.join("summary.json")) else {
        return Err(ExitError::runtime_msg(format!(
            "{shown}: the run ended without a summary (its process died); traintop resume {shown} continues it"
        )));
    };
    let summary: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ExitError::runtime_msg(format!("{shown}/summary.json: {e} (expected a run's summary)")))?;
    let reason = summary["stop_reason"].as_str().unwrap_or("unknown").to_string();
    let steps = summary["steps"].as_u64().unwrap_or(0);
    let acc = summary["final_val_acc"].as_f64().map_or(String::new(), |a| format!(", val_acc {a:.4}"));
    let line = format!("{shown}: {reason} at step {steps}{acc}");
    match reason.as_str() {
        "completed" | "early_stopping" => {
            println!("{}", crate::format::clean(&line));
            Ok(())
        }
        "diverged" => Err(ExitError { code: DIVERGED, message: line }),
        _ => Err(ExitError::runtime_msg(line)),
    }
}
