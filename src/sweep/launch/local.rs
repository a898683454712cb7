//! Runs on this machine: K at once, K from the cores (each small run keeps
//! about one core busy), or from the GPUs times `--per-gpu`, each run given
//! its GPU through `CUDA_VISIBLE_DEVICES`. Each run is a child process
//! (`traintop sweep task`, which becomes the run) whose output goes to the
//! task folder's `task.log`.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::{own_program, task_args, terminate, TaskLauncher};
use crate::sweep::manifest::Manifest;
use crate::sweep::probe::{self, Probe, TaskState};

pub struct Local {
    jobs: usize,
    /// Runs per GPU, and the GPUs' ids, when runs are given GPUs.
    gpus: Option<(usize, Vec<String>)>,
    children: Vec<(Child, Option<String>)>,
}

/// How many runs at once fit this machine's cores.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The GPUs runs may use: `CUDA_VISIBLE_DEVICES` if set, else `nvidia-smi -L`.
pub fn gpu_ids() -> Vec<String> {
    if let Ok(list) = std::env::var("CUDA_VISIBLE_DEVICES") {
        return list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
    }
    let Ok(out) = Command::new("nvidia-smi").arg("-L").stderr(Stdio::null()).output() else { return vec![] };
    let text = String::from_utf8_lossy(&out.stdout);
    (0..text.lines().filter(|l| l.starts_with("GPU ")).count()).map(|i| i.to_string()).collect()
}

impl Local {
    pub fn new(jobs: usize, per_gpu: Option<usize>) -> Result<Local, String> {
        let gpus = match per_gpu {
            Some(per) => {
                let ids = gpu_ids();
                if ids.is_empty() {
                    return Err(
                        "--per-gpu: no GPU found (CUDA_VISIBLE_DEVICES is empty and nvidia-smi lists none)".into()
                    );
                }
                Some((per.max(1), ids))
            }
            None => None,
        };
        let jobs = match &gpus {
            Some((per, ids)) => per * ids.len(),
            None => jobs.max(1),
        };
        Ok(Local { jobs, gpus, children: vec![] })
    }

    /// Runs at once.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// The GPU with the fewest runs, if one has room.
    fn pick_gpu(&self) -> Option<String> {
        let (per, ids) = self.gpus.as_ref()?;
        let load = |id: &String| self.children.iter().filter(|(_, g)| g.as_ref() == Some(id)).count();
        ids.iter().filter(|id| load(id) < *per).min_by_key(|id| load(id)).cloned()
    }

    fn reap(&mut self) {
        self.children.retain_mut(|(c, _)| matches!(c.try_wait(), Ok(None)));
    }

    fn spawn(&mut self, m: &Manifest, index: usize) -> Result<(), String> {
        let task = &m.tasks[index];
        std::fs::create_dir_all(&task.out).map_err(|e| format!("{}: {e}", task.out.display()))?;
        let log_path = task.out.join("task.log");
        let log = crate::run_files::open_append(&log_path).map_err(|e| format!("{}: {e}", log_path.display()))?;
        let err = log.try_clone().map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut command = Command::new(own_program()?);
        command.args(task_args(m, task, false)).stdin(Stdio::null()).stdout(log).stderr(err);
        // Its own process group: Ctrl+C reaches the sweep alone, which
        // stops each run with one SIGTERM (a second would skip its checkpoint).
        command.process_group(0);
        let gpu = self.pick_gpu();
        if let Some(id) = &gpu {
            command.env("CUDA_VISIBLE_DEVICES", id);
        }
        let child = command.spawn().map_err(|e| format!("cannot start a run: {e}"))?;
        self.children.push((child, gpu));
        Ok(())
    }
}

impl TaskLauncher for Local {
    fn probe(&mut self, m: &Manifest, curve: bool) -> Vec<Probe> {
        m.tasks.iter().map(|t| probe::probe(&t.out, curve)).collect()
    }

    fn free(&mut self, _m: &Manifest, _probes: &[Probe]) -> usize {
        self.reap();
        self.jobs.saturating_sub(self.children.len())
    }

    fn start(&mut self, m: &mut Manifest, tasks: &[usize]) -> Result<(), String> {
        tasks.iter().try_for_each(|&i| self.spawn(m, i))
    }

    fn in_flight(&mut self, _m: &Manifest, _probes: &[Probe]) -> bool {
        self.reap();
        !self.children.is_empty()
    }

    fn stop(&mut self, _m: &Manifest, probes: &[Probe]) -> Result<(), String> {
        // One SIGTERM each: a second one tells a run to quit at once,
        // without its checkpoint.
        let mut pids: Vec<u32> = self.children.iter().map(|(c, _)| c.id()).collect();
        pids.extend(probes.iter().filter(|p| p.state == TaskState::Running).filter_map(|p| p.pid));
        pids.sort_unstable();
        pids.dedup();
        for pid in pids {
            let _ = terminate(pid);
        }
        for (child, _) in &mut self.children {
            let _ = child.wait();
        }
        self.children.clear();
        Ok(())
    }
}
