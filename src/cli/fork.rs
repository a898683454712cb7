//! `traintop fork RUN --at STEP --set KEY=VALUE`: a new run folder beside
//! RUN (see [`crate::train::fork`]) resumed with the changes, with the
//! dashboard or headless like `traintop resume`.

use std::path::Path;

use super::run::{self, RunOptions};
use super::ExitError;

/// Creates the fork and trains it; `opts.overrides` are the changes.
pub fn fork(parent: &Path, at: &str, opts: &RunOptions) -> Result<(), ExitError> {
    let dir = crate::train::fork::create(parent, at, &opts.overrides, opts.out.as_deref())?;
    eprintln!("fork of {} at {at}: {}", parent.display(), dir.display());
    // The fork's folder is made; resuming it is a plain resume (its own
    // server, when in the background).
    let opts = RunOptions { out: None, ..opts.clone() };
    let resumed = run::resume(&dir, &opts);
    // Refused before it trained (a `--set` the resume rejects, a plugin
    // missing): the new folder holds nothing worth keeping.
    if resumed.is_err() && crate::train::fork::never_started(&dir) {
        crate::train::fork::discard(&dir);
    }
    resumed
}
