//! One writer per run folder. A run (new, resumed, or a fork's) holds an
//! exclusive OS lock (`flock`, through std's `File::try_lock`) on its
//! folder's `run.lock` from before it writes anything until its process
//! ends, and writes its pid into the file. A second `resume`, a fork resumed
//! into a live folder, or a second server of the folder is refused naming
//! that pid; the kernel drops the lock when the process dies however it dies
//! (`kill -9` included), so a stale file never blocks a resume.
//!
//! The lock is also how clients tell a live run from a dead one
//! ([`held`]): a socket file deleted by a /tmp cleaner, or a pid given to
//! another process, says nothing about the run; the lock does.
//!
//! Its own floor (imports only `run_files`, for the file's mode): the trainer takes the lock,
//! and the clients that list runs ask about it without knowing the trainer.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// How often and how long a writer tries before it gives up: a client
/// checking liveness holds a shared lock for a moment, which must not make
/// a resume fail.
const TRIES: u32 = 10;
const PAUSE: Duration = Duration::from_millis(20);

/// A run folder locked by this process, until dropped (or the process ends).
#[derive(Debug)]
pub struct RunLock {
    pub path: PathBuf,
    _file: File,
}

/// Why a run folder could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it: the run is live.
    #[error(
        "{dir}: the run is live ({holder} writes to this folder); watch it with `traintop attach {dir}`, \
         or stop it before resuming it"
    )]
    Held { dir: String, holder: String, pid: Option<u32> },
    #[error("{path}: cannot lock the run folder: {reason}")]
    Io { path: String, reason: String },
}

/// Locks run folder `dir` for this process, creating `run.lock`, and writes
/// this process's pid into it.
pub fn acquire(dir: &Path) -> Result<RunLock, LockError> {
    let path = dir.join(LOCK_FILE);
    let io_error = |e: io::Error| LockError::Io { path: path.display().to_string(), reason: e.to_string() };
    // With the folder's mode, never through a symlink.
    let mut file = crate::run_files::open_lock(&path).map_err(io_error)?;
    for attempt in 1..=TRIES {
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).and_then(|_| writeln!(file, "{}", std::process::id())).map_err(io_error)?;
                return Ok(RunLock { path, _file: file });
            }
            Err(TryLockError::WouldBlock) if attempt < TRIES => std::thread::sleep(PAUSE),
            Err(TryLockError::WouldBlock) => {
                let pid = pid_in(&mut file);
                let holder = pid.map_or_else(|| "another process".to_string(), |p| format!("pid {p}"));
                return Err(LockError::Held { dir: dir.display().to_string(), holder, pid });
            }
            Err(TryLockError::Error(e)) => return Err(io_error(e)),
        }
    }
    unreachable!("the last try returns")
}

/// The pid a lock file names.
fn pid_in(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

/// Whether a process holds run folder `dir`'s lock (the run is live), and
/// the pid its file names; `None` where the folder has no lock file (a run
/// from before locks, or not a run folder) or it cannot be checked.
pub fn held(dir: &Path) -> Option<(bool, Option<u32>)> {
    let mut file = File::open(dir.join(LOCK_FILE)).ok()?;
    let pid = pid_in(&mut file);
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            Some((false, pid))
        }
        Err(TryLockError::WouldBlock) => Some((true, pid)),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_free_once_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(held(tmp.path()).is_none(), "no lock file: unknown");
        let lock = acquire(tmp.path()).unwrap();
        let me = Some(std::process::id());
        assert_eq!(held(tmp.path()), Some((true, me)));
        match acquire(tmp.path()) {
            Err(LockError::Held { pid, holder, .. }) => {
                assert_eq!(pid, me);
                assert_eq!(holder, format!("pid {}", std::process::id()));
            }
            other => panic!("a second lock was granted: {other:?}"),
        }
        drop(lock);
        assert_eq!(held(tmp.path()), Some((false, me)));
        let again = acquire(tmp.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&again.path).unwrap().trim(), std::process::id().to_string());
    }
}
