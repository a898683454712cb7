//! Going on without a terminal: what the process would have printed goes to
//! the run folder's `output.log` instead (stdout and stderr both), so
//! nothing written after a hang-up fails or is lost.

use std::io;
use std::path::{Path, PathBuf};

/// The run folder's file for a detached process's output.
pub const OUTPUT_FILE: &str = "output.log";

/// Points stdout and stderr at `<run_dir>/output.log` (appending); returns
/// its path.
pub fn redirect_output(run_dir: &Path) -> io::Result<PathBuf> {
    let path = run_dir.join(OUTPUT_FILE);
    let file = crate::run_files::open_append(&path)?;
    use std::io::Write;
    let _ = io::stdout().flush();
    rustix::stdio::dup2_stdout(&file)?;
    rustix::stdio::dup2_stderr(&file)?;
    Ok(path)
}
