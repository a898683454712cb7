//! The run folder's side of the panic policy (`panic_policy`): a run driven
//! by this process has every panic's message appended to its `output.log`,
//! where it outlives the terminal (a foreground run's dashboard shows a
//! trainer panic only until it closes). Once the process's stderr is that
//! file (a background server, or a run detached from its terminal), Rust's
//! own hook writes the message there already, so it is not written twice.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::serve::detach::OUTPUT_FILE;

/// Logs this process's panics to `run_path`'s `output.log` from now on.
pub fn log_panics_in(run_path: &Path) {
    let log = run_path.join(OUTPUT_FILE);
    crate::panic_policy::log_to(Box::new(move |message| append(&log, message)));
}

fn append(log: &Path, message: &str) {
    if stderr_is(log) {
        return;
    }
    if let Ok(mut file) = crate::run_files::open_append(log) {
        let _ = writeln!(file, "{message}");
    }
}

/// Whether stderr is the file at `path` (the same inode).
fn stderr_is(path: &Path) -> bool {
    let stderr = PathBuf::from("/proc/self/fd/2");
    match (std::fs::metadata(stderr), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_appended_as_a_line_unless_stderr_is_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join(OUTPUT_FILE);
        append(&log, "thread 'trainer' panicked at x.rs:1:1:\nboom");
        append(&log, "again");
        let text = std::fs::read_to_string(&log).unwrap();
        assert_eq!(text, "thread 'trainer' panicked at x.rs:1:1:\nboom\nagain\n");
        assert!(!stderr_is(&log));
    }
}
