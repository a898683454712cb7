//! Which run a command means: a run folder, a run name, or (none given) the
//! only live run, and the list of this user's runs on this machine, live and
//! dead, from the records beside the sockets.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::session::{self, local_client};
use crate::protocol::{RunStatus, Want};
use crate::serve::record::{self, ServerRecord, SERVER_FILE};
use crate::serve::socket_dir;

/// A run as `traintop ls` shows it (and `ls --json` prints it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunEntry {
    pub name: String,
    pub run_dir: PathBuf,
    /// `running`, `paused`, `stopping`, `finished`, `dead` (its process died)
    /// or `starting`.
    pub state: String,
    pub pid: u32,
    pub host: String,
    pub socket: PathBuf,
    /// What the server said when asked; `None` for a dead run.
    pub status: Option<RunStatus>,
    /// For a dead run: how to go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume: Option<String>,
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
/// that ended cleanly since (a summary, no process) are removed.
pub fn list() -> Vec<RunEntry> {
    record::all(&socket_dir::location()).into_iter().filter_map(entry).collect()
}

fn entry(record: ServerRecord) -> Option<RunEntry> {
    let status = if record.process_alive() { ask(&record.socket) } else { None };
    let finished = record.run_dir.join("summary.json").exists();
    let state = match &status {
        Some(s) => s.state.map(|s| s.as_str().to_string()).unwrap_or_else(|| "starting".into()),
        None if finished && !record.process_alive() => {
            // Ended since it was recorded (a record left by a crash after
            // the summary, or by a kill during cleanup).
            record.remove();
            return None;
        }
        None if record.process_alive() => "unreachable".into(),
        None => "dead".into(),
    };
    let resume = (state == "dead").then(|| format!("traintop resume {}", record.run_dir.display()));
    Some(RunEntry {
        name: record.name.clone(),
        run_dir: record.run_dir.clone(),
        state,
        pid: record.pid,
        host: record.host.clone(),
        socket: record.socket.clone(),
        status,
        resume,
    })
}

/// The status a live run's server gives.
pub fn ask(socket: &Path) -> Option<RunStatus> {
    let stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    let write = stream.try_clone().ok()?;
    session::open(stream, write, local_client(), true, Want::Status).ok().map(|s| s.status)
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
            FindError::NotLive(e) => match &e.resume {
                Some(r) => write!(f, "{} is dead (its process is gone); continue it with: {r}", e.run_dir.display()),
                None => write!(f, "{} is {}", e.run_dir.display(), e.state),
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
