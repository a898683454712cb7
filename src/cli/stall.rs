//! A plugin hook that does not return. The trainer calls plugins on its own
//! thread and takes commands only at batch boundaries, so a hook that hangs
//! holds the whole run: no step, no stop. The thread that waits for the
//! trainer watches the hook under way instead (`plugin::watch`): past the
//! limit (`TRAINTOP_HOOK_LIMIT_SECS`, 10 s) the run is reported as stalled
//! (`ls`, a log line to every client and `events.jsonl`); a stop asked for
//! while it is stalled (SIGINT, SIGTERM, `traintop stop`, the dashboard's
//! quit) ends the process from here: a summary saying which hook hung, the
//! `finished` record, exit 1. The hung thread cannot be joined or unwound,
//! so it dies with the process; the folder keeps its last checkpoint, which
//! the trainer only ever replaces whole (`write_atomically`).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::plugin::watch::{HookWatch, Running};
use crate::protocol::{RunEvent, StopReason};
use crate::serve::server::Server;
use crate::train::summary::{last_logged, Abandoned};

/// How long a hook may run before it counts as stalled.
const DEFAULT_LIMIT_SECS: f64 = 10.0;

/// The watch over the trainer's plugin hooks.
pub struct StallWatch {
    watch: Arc<HookWatch>,
    limit: Duration,
    /// The call already reported as stalled.
    reported: Option<u64>,
}

impl StallWatch {
    pub fn new(watch: Arc<HookWatch>) -> Self {
        Self { watch, limit: limit(), reported: None }
    }

    /// Reports a stall once when it starts and clears it when the hook
    /// returns; the stall under way, if any.
    pub fn check(&mut self, server: Option<&Server>) -> Option<Running> {
        let stalled = self.watch.stalled(self.limit);
        match (&stalled, self.reported) {
            (Some(r), reported) if reported != Some(r.call) => {
                self.reported = Some(r.call);
                if let Some(server) = server {
                    server.set_stalled(Some(r.label.clone()));
                    server.note(RunEvent::log(format!(
                        "stalled in {}: the plugin hook has not returned for {:.0} s; the run cannot step or take \
                         commands until it does (`traintop stop` or SIGTERM ends it at its last checkpoint)",
                        r.label,
                        r.since.elapsed().as_secs_f64()
                    )));
                }
            }
            (None, Some(_)) => {
                self.reported = None;
                if let Some(server) = server {
                    server.set_stalled(None);
                    server.note(RunEvent::log("the stalled plugin hook returned; the run goes on".to_string()));
                }
            }
            _ => {}
        }
        stalled
    }
}

/// `TRAINTOP_HOOK_LIMIT_SECS`, or 10 s (a bad value falls back to it).
fn limit() -> Duration {
    let secs = std::env::var("TRAINTOP_HOOK_LIMIT_SECS").ok().and_then(|v| v.trim().parse::<f64>().ok());
    Duration::from_secs_f64(secs.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(DEFAULT_LIMIT_SECS))
}

/// Ends a run stopped while `stall` hung: the summary and the `finished`
/// record (through the server, so clients hear it), then exit 1.
pub fn abandon(stall: &Running, server: Option<&Server>, run_dir: &Path) -> ! {
    let secs = stall.since.elapsed().as_secs_f64();
    let (steps, epochs_run) = match server {
        Some(s) => {
            let status = s.status();
            (status.step, status.epoch)
        }
        None => last_logged(run_dir),
    };
    let error = format!(
        "stopped while {} hung (no return for {secs:.0} s); checkpoints/last holds the last checkpoint written",
        stall.label
    );
    let summary = Abandoned {
        stop_reason: StopReason::User,
        epochs_run,
        steps,
        run_dir: run_dir.display().to_string(),
        signal: None,
        hook: Some(&stall.label),
        error: &error,
    };
    let written = match server {
        Some(s) => summary.write(run_dir).map(|_| s.note(summary.finished())),
        None => summary.write_with_record(run_dir),
    };
    if let Err(e) = written {
        eprintln!("error: {}: cannot write the summary: {e}", run_dir.display());
    }
    eprintln!("error: {error}");
    if let Some(s) = server {
        // The clients' queues get a moment to carry `finished` out.
        std::thread::sleep(Duration::from_millis(300));
        s.record.remove();
    }
    std::process::exit(1)
}
