//! `traintop fork RUN --at STEP --set KEY=VALUE`: a new run folder beside
//! RUN (see [`crate::train::fork`]) resumed with the changes, with the
//! dashboard or headless like `traintop resume`.

use std::path::{Path, PathBuf};

use super::launch::{ContinueArgs, LaunchArgs, RunOptions};
use super::run;
use super::ExitError;

/// `traintop fork`'s arguments: `resume`'s, plus where to fork from and to.
/// `--set` is listed right after `--at`, as before LaunchArgs was shared:
/// clap lists options by (display order, name), the order counting options
/// as added (trust-plugins 0, drop-technique 1, at 2); "at" sorts first.
#[derive(clap::Args, Debug)]
#[command(
    mut_arg("overrides", |a| {
        a.help("A change for the fork, e.g. --set technique.batch_norm.enabled=true").display_order(2)
    }),
    mut_arg("baseline", |a| {
        a.help("Draw this finished run folder's curves behind the fork's (b shows or hides them)")
    })
)]
pub struct ForkArgs {
    run_dir: PathBuf,
    #[command(flatten)]
    continued: ContinueArgs,
    /// The checkpoint to continue from: last, best, or its step.
    #[arg(long, value_name = "STEP")]
    at: String,
    /// Write the fork's folder under DIR instead of beside RUN_DIR.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(flatten)]
    launch: LaunchArgs,
}

impl ForkArgs {
    /// `traintop fork`.
    pub fn call(self) -> Result<(), ExitError> {
        let opts = RunOptions { out: self.out, ..self.continued.apply(self.launch.options()) };
        fork(&self.run_dir, &self.at, &opts)
    }
}

/// Creates the fork and trains it; `opts.overrides` are the changes.
pub fn fork(parent: &Path, at: &str, opts: &RunOptions) -> Result<(), ExitError> {
    let dir = crate::train::fork::create(parent, at, &opts.overrides, opts.out.as_deref())?;
    eprintln!("fork of {} at {at}: {}", parent.display(), dir.display());
    if let Some(out) = dir.parent() {
        run::remember_out_dir(out);
    }
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
