//! Where a sweep's runs start: on this machine (`local`), over ssh on other
//! hosts (`ssh`), or as one Slurm array job (`slurm`). Every launcher starts
//! a task the same way, `traintop sweep task`, which runs the task's config
//! in its folder or resumes the run already there (`task.rs`), so a stopped
//! or cancelled sweep goes on from its checkpoints whoever launches it.

pub mod local;
pub mod slurm;
pub mod ssh;

use super::manifest::{Manifest, SweepTask};
use super::probe::{Probe, TaskState};

/// What the sweep's follow loop asks of a launcher.
pub trait TaskLauncher {
    /// Every task's state and latest figures, in manifest order (with
    /// every epoch's figures when `curve`).
    fn probe(&mut self, m: &Manifest, curve: bool) -> Vec<Probe>;
    /// How many more runs may start now.
    fn free(&mut self, m: &Manifest, probes: &[Probe]) -> usize;
    /// Starts these tasks (recording in `m` where they went).
    fn start(&mut self, m: &mut Manifest, tasks: &[usize]) -> Result<(), String>;
    /// Whether a run it started may still be coming (queued, starting).
    fn in_flight(&mut self, m: &Manifest, probes: &[Probe]) -> bool;
    /// Stops every run of the sweep that is running or queued; each keeps
    /// its checkpoints, so `sweep resume` goes on from them.
    fn stop(&mut self, m: &Manifest, probes: &[Probe]) -> Result<(), String>;
    /// Whether a task waits or runs in a queue (so it is not started again).
    fn queued(&self, _task: usize) -> bool {
        false
    }
    /// What the launcher knows of a task beyond its folder (its Slurm queue
    /// state, or that Slurm dropped it).
    fn note(&self, _m: &Manifest, _task: usize, _state: TaskState) -> Option<String> {
        None
    }
}

/// The arguments of `traintop sweep task` for `task` (after the program).
pub fn task_args(m: &Manifest, task: &SweepTask, detach: bool) -> Vec<String> {
    let mut args = vec!["sweep".into(), "task".into(), "--out".into(), task.out.display().to_string()];
    args.extend(["--config".into(), m.config.display().to_string()]);
    for s in m.task_overrides(task) {
        args.extend(["--set".into(), s]);
    }
    if detach {
        args.push("--detach".into());
    }
    args
}

/// This traintop, to run again for each task.
pub fn own_program() -> Result<std::path::PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find this traintop's path: {e}"))
}

/// Sends SIGTERM to `pid` (a run stops at its next batch boundary and
/// writes its checkpoints and summary).
pub fn terminate(pid: u32) -> Result<(), String> {
    let pid = rustix::process::Pid::from_raw(pid as i32).ok_or_else(|| format!("bad pid {pid}"))?;
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).map_err(|e| format!("cannot stop pid {pid}: {e}"))
}
