//! `[notify] command`: a shell command run when the run finishes (however
//! it ends) or pauses at the divergence banner waiting for a person, with
//! the event as one line of JSON on its stdin, so one line of config posts
//! to a chat webhook:
//!
//! ```toml
//! [notify]
//! command = "curl -s -X POST -H 'Content-Type: application/json' -d @- https://chat.example/hook"
//! ```
//!
//! It runs in the background (`sh -c`, stdout and stderr discarded); the
//! run never waits for it. Only a config the user gave (`run CONFIG`) or the
//! user's own config file names a command: a run folder's copy is not
//! trusted on resume or fork, since a folder may come from anyone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::json;

use crate::protocol::RunEvent;

pub struct Notifier {
    command: String,
    run: String,
    run_dir: PathBuf,
}

impl Notifier {
    pub fn new(command: Option<&str>, run: &str, run_dir: &Path) -> Option<Notifier> {
        let command = command.map(str::trim).filter(|c| !c.is_empty())?;
        Some(Notifier { command: command.to_string(), run: run.to_string(), run_dir: run_dir.to_path_buf() })
    }

    /// Runs the command if `e` is worth a notification; a warning when it
    /// could not be started.
    pub fn see(&self, e: &RunEvent) -> Option<String> {
        let payload = self.payload(e)?;
        self.spawn(&payload).err().map(|why| format!("warning: [notify] command could not run: {why}"))
    }

    /// The JSON line for `e`, or None for events nobody is told about.
    pub fn payload(&self, e: &RunEvent) -> Option<String> {
        let (run, dir) = (&self.run, self.run_dir.display().to_string());
        let value = match e {
            RunEvent::Finished { step, epoch, reason, error, .. } => json!({
                "event": "finished", "reason": reason.as_str(), "run": run, "run_dir": dir,
                "step": step, "epoch": epoch, "error": error,
            }),
            RunEvent::RolledBack { step, to_step, cause, lr, paused: true, .. } => json!({
                "event": "paused_at_divergence", "run": run, "run_dir": dir,
                "step": step, "to_step": to_step, "cause": cause, "lr": lr,
            }),
            _ => return None,
        };
        Some(value.to_string())
    }

    fn spawn(&self, payload: &str) -> std::io::Result<()> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            // One short line fits any pipe's buffer; a command that does not
            // read it only loses it.
            let _ = writeln!(stdin, "{payload}");
        }
        // Reaped on a thread of its own, so no zombie is left and the run
        // does not wait.
        let _ = std::thread::Builder::new().name("notify".into()).spawn(move || child.wait());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::StopReason;

    #[test]
    fn the_command_gets_the_event_as_json_on_stdin() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("got.json");
        let command = format!("cat > '{}'", file.display());
        let n = Notifier::new(Some(&command), "digits", Path::new("/runs/digits-1")).unwrap();
        let finished =
            RunEvent::Finished { step: 90, epoch: 2, reason: StopReason::Diverged, run_dir: "x".into(), error: None };
        assert_eq!(n.see(&finished), None);
        let start = std::time::Instant::now();
        let text = loop {
            match std::fs::read_to_string(&file) {
                Ok(t) if t.ends_with('\n') => break t,
                _ if start.elapsed().as_secs() > 10 => panic!("the command did not write its stdin"),
                _ => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            (v["event"].as_str(), v["reason"].as_str(), v["step"].as_u64()),
            (Some("finished"), Some("diverged"), Some(90))
        );
        assert_eq!(v["run_dir"], "/runs/digits-1");
        assert!(n.payload(&RunEvent::log("x")).is_none());
        assert!(Notifier::new(Some("  "), "r", Path::new("/r")).is_none());
    }
}
