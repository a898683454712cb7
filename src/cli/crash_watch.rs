//! The crash witness of a run that trains in the process the user started
//! (`--headless`, `--foreground`): those have no supervisor above them (see
//! supervise.rs), so a plugin that segfaults or aborts would take the run
//! down with nothing said. Such a run starts this small process beside it,
//! tied to it by a pipe: the run writes `ok` into it on every ordinary way
//! out (drop of [`Witness`]), and the pipe closes without it only when the
//! process died outright. Then, if `hook.now` names a plugin hook under way
//! and no summary was written since the start, the witness writes what the
//! run could not: `summary.json` (`crashed`, the hook) and the `finished`
//! record. A run killed outside any hook (`kill -9`, the OOM killer) is left
//! as a killed run: `ls` shows it dead, with the command that resumes it.
//!
//! The witness leaves the terminal's session, so Ctrl+C and a hang-up reach
//! only the run, and holds no file of the run's (Rust opens every file
//! close-on-exec), so the folder's lock goes with the run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::time::SystemTime;

use super::ExitError;
use crate::plugin::watch;
use crate::protocol::StopReason;
use crate::train::summary::{last_logged, Abandoned};

/// What the run says through the pipe when it ends by its own hand.
const ENDED_OK: &[u8] = b"ok\n";

/// The run's end of the pipe; says `ok` when dropped.
pub struct Witness {
    pipe: ChildStdin,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.pipe.write_all(ENDED_OK);
    }
}

/// Starts the witness of the run in `run_dir` (`traintop crash-witness
/// RUN_DIR`). A run without one still trains: it only loses the record of
/// a crash, which the caller says.
pub fn start(run_dir: &Path) -> std::io::Result<Witness> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .arg("crash-witness")
        .arg(run_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pipe = child.stdin.take().ok_or_else(|| std::io::Error::other("no pipe to the crash witness"))?;
    Ok(Witness { pipe })
}

/// The hidden `traintop crash-witness RUN_DIR`'s arguments.
#[derive(clap::Args, Debug)]
pub struct WitnessArgs {
    run_dir: PathBuf,
}

impl WitnessArgs {
    /// `traintop crash-witness`.
    pub fn call(self) -> Result<(), ExitError> {
        witness(&self.run_dir)
    }
}

/// The witness process: waits for the run's end and records a crash.
pub fn witness(run_dir: &Path) -> Result<(), ExitError> {
    super::background::leave_session();
    let summary = run_dir.join(crate::train::run_dir::SUMMARY_FILE);
    let before = modified(&summary);
    let mut said = Vec::new();
    // Returns at EOF: the run closed its end, by dropping it or by dying.
    let _ = std::io::stdin().lock().read_to_end(&mut said);
    if said.starts_with(ENDED_OK) || modified(&summary) != before {
        return Ok(());
    }
    let Some(hook) = watch::left_in(run_dir) else { return Ok(()) };
    let error = format!("the run's process died in the plugin hook {hook}");
    let (steps, epochs_run) = last_logged(run_dir);
    let record = Abandoned {
        stop_reason: StopReason::Crashed,
        epochs_run,
        steps,
        run_dir: run_dir.display().to_string(),
        signal: None,
        hook: Some(&hook),
        error: &error,
    };
    record.write_with_record(run_dir).map_err(|e| {
        ExitError::runtime(anyhow::anyhow!("{}: cannot record the crash ({error}): {e}", run_dir.display()))
    })
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}
