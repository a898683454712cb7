//! Which run a command means: a run folder, a run name, or (none given) the
//! only live run, and the list of this user's runs on this machine, live and
//! dead, from the records beside the sockets.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::session::{self, local_client};
use crate::protocol::{RunStatus, Want};
use crate::run_lock;
use crate::serve::record::{self, ServerRecord, SERVER_FILE};
use crate::serve::socket_dir;

/// A run as `traintop ls` shows it (and `ls --json` prints it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunEntry {
    pub name: String,
    pub run_dir: PathBuf,
    /// `running`, `paused`, `stopping`, `finished`, `dead` (its process died),
    /// `starting`, or `stalled` (a plugin hook does not return).
    pub state: String,
    pub pid: u32,
    pub host: String,
    pub socket: PathBuf,
    /// What the server said when asked; `None` for a dead run.
    pub status: Option<RunStatus>,
    /// For a dead run: how to go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
    /// For a live run that cannot be reached (`no-socket`): what is wrong
    /// and what to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RunEntry {
    pub fn live(&self) -> bool {
        self.status.is_some()
    }

    /// The run folder's own name (what `attach NAME` matches too).
    pub fn folder_name(&self) -> String {
        self.run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// Every run of this user on this machine, oldest first. Records of runs
/// that ended cleanly since (a summary, no process) are removed, and so are
/// a dead run's socket and the record of a dead run resumed since.
pub fn list() -> Vec<RunEntry> {
    let entries: Vec<(ServerRecord, RunEntry)> =
        record::all(&socket_dir::location()).into_iter().filter_map(|r| Some((r.clone(), entry(&r)?))).collect();
    let live_dirs: Vec<PathBuf> = entries.iter().filter(|(_, e)| e.live()).map(|(_, e)| e.run_dir.clone()).collect();
    entries
        .into_iter()
        .filter_map(|(record, e)| {
            if matches!(e.state.as_str(), "dead" | "crashed") && live_dirs.contains(&e.run_dir) {
                // Resumed since: the folder's server.json is the new run's.
                record.remove_registry();
                return None;
            }
            Some(e)
        })
        .collect()
}

fn entry(record: &ServerRecord) -> Option<RunEntry> {
    // The run folder's writer lock says whether the run lives: held by the
    // record's process, it does, whatever became of its socket file. A
    // folder without a lock file (a run from before locks) falls back on
    // the pid, which another process may have been given since.
    let alive = match run_lock::held(&record.run_dir) {
        Some((held, pid)) => held && pid.is_none_or(|p| p == record.pid),
        None => record.process_alive(),
    };
    let locked = alive && run_lock::held(&record.run_dir).is_some();
    let status = match alive {
        true => ask(&record.socket),
        false => Err(Unreachable::Gone),
    };
    let finished = record.run_dir.join("summary.json").exists();
    let state = match &status {
        // A plugin hook that does not return holds the run (no ETA holds).
        Ok(s) if s.stalled.is_some() => "stalled".into(),
        Ok(s) => s.state.map(|s| s.as_str().to_string()).unwrap_or_else(|| "starting".into()),
        // A process of that pid that does not listen there: the run died
        // and its pid was given to another process.
        // Live (it holds its folder's lock) but its socket file is gone: a
        // /tmp cleaner deleted it. Not dead, and not to be resumed.
        Err(Unreachable::Gone) if locked => "no-socket".into(),
        Err(Unreachable::Gone) if crashed_in(&record.run_dir).is_some() => {
            record.remove_socket();
            "crashed".into()
        }
        Err(Unreachable::Gone) if finished => {
            // Ended since it was recorded (a record left by a crash after
            // the summary, or by a kill during cleanup).
            record.remove();
            return None;
        }
        Err(Unreachable::Gone) => {
            record.remove_socket();
            "dead".into()
        }
        Err(Unreachable::Silent) => "unreachable".into(),
    };
    let resume = match state.as_str() {
        "dead" => Some(resume_hint(&record.run_dir)),
        "crashed" => Some(crash_resume_hint(&record.run_dir)),
        _ => None,
    };
    let stalled = status.as_ref().ok().and_then(|s| s.stalled.clone()).map(|hook| {
        format!(
            "stalled in {hook}: the plugin hook does not return; `traintop stop` or `kill {}` ends the run at its \
             last checkpoint (resume it without the plugin: --drop-technique)",
            record.pid
        )
    });
    let note = stalled.or_else(|| {
        (state == "no-socket").then(|| {
            format!(
                "live (pid {pid}, it holds the folder's lock) but its socket {} is gone (deleted by a /tmp cleaner? \
             set TRAINTOP_SOCKET_DIR to a folder no cleaner touches); it cannot be attached to. It trains on; \
             `kill {pid}` stops it with a checkpoint, and it can then be resumed",
                record.socket.display(),
                pid = record.pid
            )
        })
    });
    Some(RunEntry {
        name: record.name.clone(),
        run_dir: record.run_dir.clone(),
        state,
        pid: record.pid,
        host: record.host.clone(),
        socket: record.socket.clone(),
        status: status.ok(),
        resume,
        note,
    })
}

/// How a dead run goes on: from its last checkpoint, or (killed before its
/// first) from the start. The paths are the run folder's layout
/// (train::run_dir), which clients know without importing the trainer.
fn resume_hint(run_dir: &Path) -> String {
    if run_dir.join("checkpoints").join("last.safetensors").exists() {
        format!("traintop resume {}", run_dir.display())
    } else {
        format!("no checkpoint yet; start again: traintop run {}", run_dir.join("config.toml").display())
    }
}

/// The summary of a run that crashed (a plugin took its process down), as
/// its supervisor or crash witness wrote it: `Some(hook)`, the plugin hook
/// under way where known. Read as plain JSON: clients do not import the
/// trainer.
fn crashed_in(run_dir: &Path) -> Option<Option<String>> {
    let text = std::fs::read_to_string(run_dir.join("summary.json")).ok()?;
    let summary: serde_json::Value = serde_json::from_str(&text).ok()?;
    (summary["stop_reason"] == "crashed").then(|| summary["hook"].as_str().map(str::to_string))
}

/// How a crashed run goes on: without the plugin whose hook it died in.
fn crash_resume_hint(run_dir: &Path) -> String {
    let plain = resume_hint(run_dir);
    match crashed_in(run_dir).flatten().as_deref().and_then(|hook| hook.split_once('.')) {
        Some((technique, _)) if plain.starts_with("traintop resume") => {
            format!("{plain} --drop-technique {technique}  (it died in {technique}'s plugin)")
        }
        _ => plain,
    }
}

/// Why a run gave no status.
enum Unreachable {
    /// Nothing listens on its socket: its process is gone.
    Gone,
    /// Something listens but did not answer in time.
    Silent,
}

/// The status a live run's server gives.
fn ask(socket: &Path) -> Result<RunStatus, Unreachable> {
    let stream = UnixStream::connect(socket).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => Unreachable::Gone,
        _ => Unreachable::Silent,
    })?;
    let status = || {
        stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
        let write = stream.try_clone().ok()?;
        session::open(&stream, write, local_client(), true, Want::Status).ok().map(|s| s.status)
    };
    status().ok_or(Unreachable::Silent)
}

/// Why no run could be picked.
#[derive(Debug)]
pub enum FindError {
    NoLiveRun,
    NotFound(String),
    /// Several live runs and none named: the caller shows the list.
    Several(Vec<RunEntry>),
    NotLive(Box<RunEntry>),
}

impl std::fmt::Display for FindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FindError::NoLiveRun => f.write_str("no live run of this user on this machine (traintop ls lists them)"),
            FindError::NotFound(what) => {
                write!(f, "no run named or in `{what}` is served here (traintop ls lists the runs)")
            }
            FindError::Several(list) => {
                writeln!(f, "{} live runs; name one:", list.len())?;
                for e in list {
                    writeln!(f, "  {}  {}  ({})", e.folder_name(), e.run_dir.display(), e.state)?;
                }
                Ok(())
            }
            FindError::NotLive(e) => match (&e.resume, &e.note) {
                (Some(r), _) => {
                    write!(f, "{} is dead (its process is gone); continue it with: {r}", e.run_dir.display())
                }
                (None, Some(note)) => write!(f, "{}: {note}", e.run_dir.display()),
                (None, None) => write!(f, "{} is {}", e.run_dir.display(), e.state),
            },
        }
    }
}

impl std::error::Error for FindError {}

/// The live run `what` names: a run folder (its `server.json`), a run
/// folder's name, or a run name (the latest live run of that name); with
/// nothing, the only live run.
pub fn find(what: Option<&str>) -> Result<RunEntry, FindError> {
    let runs = list();
    let Some(what) = what else {
        let mut live: Vec<RunEntry> = runs.into_iter().filter(RunEntry::live).collect();
        return match live.len() {
            0 => Err(FindError::NoLiveRun),
            1 => Ok(live.remove(0)),
            _ => Err(FindError::Several(live)),
        };
    };
    let folder = Path::new(what);
    let by_folder = ServerRecord::read(&folder.join(SERVER_FILE)).map(|r| r.run_dir);
    let canonical = folder.canonicalize().ok();
    let matches = |e: &RunEntry| {
        by_folder.as_ref() == Some(&e.run_dir)
            || canonical.as_ref() == Some(&e.run_dir)
            || e.folder_name() == what
            || e.name == what
    };
    let mut found: Vec<RunEntry> = runs.into_iter().filter(matches).collect();
    // The newest live one (the list is oldest first); a dead one only when
    // nothing of that name lives.
    found.sort_by_key(RunEntry::live);
    match found.pop() {
        Some(e) if e.live() => Ok(e),
        Some(e) => Err(FindError::NotLive(Box::new(e))),
        None => Err(FindError::NotFound(what.to_string())),
    }
}
