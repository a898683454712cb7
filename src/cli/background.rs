//! Starting a run in the background: `traintop run` (with a dashboard) and
//! `run --detach` start the same program again as the run's supervisor
//! (`supervise.rs`), which starts it once more as the run's server, in a
//! session of its own (`setsid`: no controlling terminal, so no hang-up can
//! reach it), and wait until it serves. The server prepares the run itself;
//! until it is ready its stderr is ours, so a bad config reads exactly as in
//! a foreground run, with the same exit code. Then it says `ready` with its
//! record on stdout and sends its own output to the run folder.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};

use super::ExitError;
use crate::serve::record::ServerRecord;

/// The word before the record on the server's stdout.
pub const READY: &str = "ready ";

/// A started server: its process and where it serves.
pub struct Background {
    pub child: Child,
    pub record: ServerRecord,
}

/// Starts `traintop ARGS --supervise` (which starts the server) and waits
/// for the server to serve. `child` is the supervisor: it exits as the
/// server does.
pub fn start(mut args: Vec<OsString>) -> Result<Background, ExitError> {
    let exe =
        std::env::current_exe().map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot find traintop itself: {e}")))?;
    args.push("--supervise".into());
    let mut child = Command::new(exe)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ExitError::runtime(anyhow::anyhow!("cannot start the run server: {e}")))?;
    // Its warnings (and errors) reach our stderr as they come.
    let mut err = child.stderr.take().expect("piped");
    let relay = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut all = Vec::new();
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
            let _ = std::io::stderr().write_all(&buf[..n]);
        }
        all
    });
    let mut line = String::new();
    let ready = BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line).is_ok_and(|n| n > 0);
    if let Some(record) = ready.then(|| line.strip_prefix(READY)).flatten().and_then(|r| serde_json::from_str(r).ok()) {
        return Ok(Background { child, record });
    }
    let status = child.wait().ok();
    let _ = relay.join();
    let code = status.and_then(|s| s.code()).filter(|&c| c != 0).unwrap_or(1);
    // The server printed its error already; only say something if it did not.
    Err(ExitError { code, message: String::new() })
}

/// The server's side: tells the starting process where it serves.
pub fn announce(record: &ServerRecord) {
    let text = serde_json::to_string(record).unwrap_or_default();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{READY}{text}").and_then(|_| out.flush());
}

/// Leaves the starting terminal's session, so that its hang-up cannot reach
/// the run (harmless when already a session leader).
pub fn leave_session() {
    let _ = rustix::process::setsid();
}
