//! What signals mean to each traintop process.
//!
//! - SIGINT and SIGTERM stop the run gracefully (finish the step, checkpoint,
//!   summary "user"); a second one exits at once (130), leaving the last
//!   complete checkpoint.
//! - SIGHUP means the terminal is gone: it detaches, never stops. A process
//!   that inherited SIGHUP ignored (`nohup`) keeps it ignored: installing a
//!   handler would undo what the user asked for.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::ExitError;

/// Flags the signal handlers set.
#[derive(Clone, Default)]
pub struct Flags {
    /// SIGINT or SIGTERM: stop gracefully.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: the terminal hung up.
    pub hangup: Arc<AtomicBool>,
    /// Any of them: a dashboard leaves.
    pub any: Arc<AtomicBool>,
}

impl Flags {
    pub fn hung_up(&self) -> bool {
        self.hangup.load(Ordering::SeqCst)
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// Installs the handlers; see the module header.
pub fn install() -> Result<Flags, ExitError> {
    let flags = Flags::default();
    let fail = |e: std::io::Error| ExitError::runtime(anyhow::anyhow!("cannot install signal handlers: {e}"));
    for signal in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&flags.stop)).map_err(fail)?;
        signal_hook::flag::register(signal, Arc::clone(&flags.stop)).map_err(fail)?;
        signal_hook::flag::register(signal, Arc::clone(&flags.any)).map_err(fail)?;
    }
    if !sighup_ignored() {
        signal_hook::flag::register(SIGHUP, Arc::clone(&flags.hangup)).map_err(fail)?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&flags.any)).map_err(fail)?;
    }
    Ok(flags)
}

/// Whether this process started with SIGHUP ignored (as under `nohup`).
pub fn sighup_ignored() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .as_deref()
        .and_then(ignored_mask)
        .is_some_and(|mask| mask & (1u64 << (SIGHUP - 1)) != 0)
}

/// The `SigIgn:` mask of a `/proc/PID/status` text.
fn ignored_mask(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    u64::from_str_radix(line.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ignored_mask_is_read_from_proc_status() {
        let status = "Name:\ttraintop\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001001\nSigCgt:\t0\n";
        let mask = ignored_mask(status).unwrap();
        assert_ne!(mask & (1 << (SIGHUP - 1)), 0);
        assert_eq!(mask & (1 << (SIGINT - 1)), 0);
        assert_eq!(ignored_mask("Name:\tx\n"), None);
    }
}
