//! The supervisor of a background run: the small process between `traintop
//! run` (with a dashboard, or `--detach`) and the run's server. Plugins run
//! inside the server, and one that segfaults or aborts kills it outright,
//! before it can say why; the supervisor outlives it, sees it die by a signal
//! and writes what the server could not: `summary.json` (`crashed`, the
//! signal, the plugin hook under way from `hook.now`) and the `finished`
//! record in `events.jsonl`. It leaves the folder as a killed run leaves it
//! (the last checkpoint, resumable, with `--drop-technique` if the plugin is
//! at fault), and exits as the server did (128 + the signal).
//!
//! It leaves the terminal's session, starts the server, hands the server's
//! `ready` line on to the starting process, then only waits. SIGINT and
//! SIGTERM sent to it are passed on to the server (which stops gracefully).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::background::READY;
use super::ExitError;
use crate::plugin::watch;
use crate::protocol::StopReason;
use crate::serve::record::ServerRecord;
use crate::train::summary::{last_logged, Abandoned};

/// Runs `traintop ARGS --server` and supervises it until it ends.
pub fn supervise(mut args: Vec<std::ffi::OsString>) -> Result<(), ExitError> {
    super::background::leave_session();
    let exe =
        std::env::current_exe().map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot find traintop itself: {e}")))?;
    args.push("--server".into());
    let mut child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the run server: {e}")))?;
    forward_stops(&child)?;
    let record = pass_on_ready(&mut child);
    if let Some(record) = &record {
        // The starting process may be gone by now (`--detach`): what this
        // one still says goes to the run folder.
        let _ = crate::serve::detach::redirect_output(&record.run_dir);
    }
    let status = child.wait().map_err(|e| ExitError::runtime(anyhow::anyhow!("waiting for the run server: {e}")))?;
    match (status.signal(), &record) {
        (Some(signal), Some(record)) => {
            record_crash(&record.run_dir, signal);
            // The record stays: `ls` lists the run as crashed, with the way
            // to resume it. The dead socket goes.
            record.remove_socket();
            Err(ExitError { code: 128 + signal, message: String::new() })
        }
        (Some(signal), None) => Err(ExitError { code: 128 + signal, message: String::new() }),
        (None, _) => match status.code() {
            Some(0) => Ok(()),
            code => Err(ExitError { code: code.unwrap_or(1), message: String::new() }),
        },
    }
}

/// Reads the server's `ready` line and prints it for the starting process;
/// `None` when the server ended before it served.
fn pass_on_ready(child: &mut Child) -> Option<ServerRecord> {
    let mut line = String::new();
    let out = child.stdout.take()?;
    BufReader::new(out).read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(line.as_bytes()).and_then(|_| stdout.flush());
    serde_json::from_str(line.strip_prefix(READY)?.trim_end()).ok()
}

/// Passes SIGINT and SIGTERM on to the server as SIGTERM (a graceful stop),
/// from a thread of its own while this one waits. The server's pid cannot
/// be reused before it is waited for.
fn forward_stops(child: &Child) -> Result<(), ExitError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot install signal handlers: {e}")))?;
    let pid = rustix::process::Pid::from_child(child);
    std::thread::Builder::new()
        .name("forward-stops".into())
        .spawn(move || {
            for _ in signals.forever() {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
        })
        .map(|_| ())
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the signal thread: {e}")))
}

/// Writes the crashed run's summary and `finished` record.
fn record_crash(run_dir: &Path, signal: i32) {
    let name = signal_name(signal);
    let hook = watch::left_in(run_dir);
    let error = match &hook {
        Some(h) => format!("the run's server died of {name} in the plugin hook {h}"),
        None => format!("the run's server died of {name}"),
    };
    let (steps, epochs_run) = last_logged(run_dir);
    let summary = Abandoned {
        stop_reason: StopReason::Crashed,
        epochs_run,
        steps,
        run_dir: run_dir.display().to_string(),
        signal: Some(&name),
        hook: hook.as_deref(),
        error: &error,
    };
    if let Err(e) = summary.write_with_record(run_dir) {
        eprintln!("error: {}: cannot record the crash ({error}): {e}", run_dir.display());
    }
}

/// `SIGSEGV` for 11: the signals a crash or a stop sends.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGHUP => "SIGHUP",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}
