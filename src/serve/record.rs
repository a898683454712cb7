//! Where a run is served: its socket, process and host. Written twice, as
//! `server.json` in the run folder (so a folder names its live socket) and as
//! `<pid>.json` beside the socket (so `traintop ls` finds every run of this
//! user, live or dead, without knowing their folders). Both go when the run
//! ends cleanly; a run whose process died leaves them, and shows as dead.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The run folder's copy.
pub const SERVER_FILE: &str = "server.json";

/// One served run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServerRecord {
    pub pid: u32,
    pub host: String,
    pub socket: PathBuf,
    /// Absolute.
    pub run_dir: PathBuf,
    /// The run's name (`run.name`).
    pub name: String,
    /// Unix time the server started.
    pub started: f64,
}

/// This machine's name, as `uname -n` says.
pub fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

impl ServerRecord {
    /// The registry entry's path beside the socket.
    pub fn registry_path(&self) -> PathBuf {
        self.socket.with_extension("json")
    }

    /// Writes both copies (atomically, so a reader never sees half a file).
    pub fn write(&self) -> io::Result<()> {
        let text = serde_json::to_string_pretty(self).map_err(io::Error::other)?;
        write_atomically(&self.run_dir.join(SERVER_FILE), &text)?;
        write_atomically(&self.registry_path(), &text)
    }

    /// Removes both copies and the socket; missing files are fine.
    pub fn remove(&self) {
        for path in [self.run_dir.join(SERVER_FILE), self.registry_path(), self.socket.clone()] {
            let _ = std::fs::remove_file(path);
        }
    }

    /// Removes a dead run's socket, if it is still there and a socket.
    pub fn remove_socket(&self) {
        use std::os::unix::fs::FileTypeExt;
        if std::fs::symlink_metadata(&self.socket).is_ok_and(|m| m.file_type().is_socket()) {
            let _ = std::fs::remove_file(&self.socket);
        }
    }

    /// Removes the copy beside the socket and the socket, leaving the run
    /// folder's `server.json` (a newer server of that folder wrote it).
    pub fn remove_registry(&self) {
        let _ = std::fs::remove_file(self.registry_path());
        self.remove_socket();
    }

    /// Reads a record; `None` for a file that is gone or not a record.
    pub fn read(path: &Path) -> Option<Self> {
        serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
    }

    /// Whether the process that wrote this record still runs.
    pub fn process_alive(&self) -> bool {
        let Some(pid) = rustix::process::Pid::from_raw(self.pid as i32) else { return false };
        match rustix::process::test_kill_process(pid) {
            Ok(()) => true,
            // It exists but is not ours to signal: alive, and not our run.
            Err(e) => e == rustix::io::Errno::PERM,
        }
    }
}

/// Through a new temporary file (never a fixed name a symlink could sit
/// at), with the folder's mode.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    crate::run_files::write_atomically(path, text.as_bytes())
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Every record in the socket directory `dir`, oldest first.
pub fn all(dir: &Path) -> Vec<ServerRecord> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut records: Vec<ServerRecord> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| ServerRecord::read(&p))
        .collect();
    records.sort_by(|a, b| a.started.total_cmp(&b.started));
    records
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let run_dir = tmp.path().join("run");
        std::fs::create_dir(&run_dir).unwrap();
        let record = ServerRecord {
            pid: std::process::id(),
            host: host_name(),
            socket: tmp.path().join("1.sock"),
            run_dir: run_dir.clone(),
            name: "digits".into(),
            started: 1.0,
        };
        record.write().unwrap();
        assert_eq!(ServerRecord::read(&run_dir.join(SERVER_FILE)).as_ref(), Some(&record));
        assert_eq!(all(tmp.path()), vec![record.clone()]);
        assert!(record.process_alive());
        record.remove();
        assert!(all(tmp.path()).is_empty());
        assert!(!run_dir.join(SERVER_FILE).exists());
    }
}
