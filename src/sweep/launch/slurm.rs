//! Runs as one Slurm array job: `sbatch --array=IDS` of a script whose task
//! N runs `traintop sweep task` for the sweep's task N (the array index is
//! the task's index), headless, its log in the sweep folder's `slurm/`.
//! Slurm schedules; traintop only submits, reads `squeue` and cancels. The
//! sweep folder (run folders included) must be on a filesystem every node
//! sees. A task cancelled or failed leaves the queue and shows as such;
//! `sweep resume` submits the unfinished ones again.

use std::collections::HashMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::ssh::quote;
use super::{own_program, task_args, TaskLauncher};
use crate::sweep::manifest::{Launcher, Manifest};
use crate::sweep::probe::{self, Probe, TaskState};

pub struct Slurm {
    dir: PathBuf,
    /// The queue state of each task still in the queue (`PENDING`, `RUNNING`...).
    queue: HashMap<usize, String>,
    pub errors: Vec<String>,
}

fn run(program: &str, args: &[String]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program} ({e}): is Slurm installed on this machine?"))?;
    if !out.status.success() {
        return Err(format!("{program} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `1,3,4` for the array option.
fn array_list(tasks: &[usize]) -> String {
    tasks.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(",")
}

impl Slurm {
    pub fn new(dir: PathBuf) -> Slurm {
        Slurm { dir, queue: HashMap::new(), errors: vec![] }
    }

    /// The batch script: `#SBATCH` lines, then one `case` arm per task.
    fn script(&self, m: &Manifest, tasks: &[usize]) -> Result<String, String> {
        let Launcher::Slurm(spec) = &m.launcher else { return Err("not a Slurm sweep".into()) };
        let program = own_program()?.display().to_string();
        let logs = self.dir.join("slurm");
        let mut s = String::from("#!/bin/sh\n");
        let _ = writeln!(s, "#SBATCH --job-name={}", quote(&format!("traintop-{}", m.name)));
        let _ = writeln!(s, "#SBATCH --array={}", array_list(tasks));
        let _ = writeln!(s, "#SBATCH --output={}", quote(&logs.join("task-%a.log").display().to_string()));
        let _ = writeln!(s, "#SBATCH --ntasks=1");
        if let Some(p) = &spec.partition {
            let _ = writeln!(s, "#SBATCH --partition={}", quote(p));
        }
        if let Some(t) = &spec.time {
            let _ = writeln!(s, "#SBATCH --time={}", quote(t));
        }
        if let Some(g) = spec.gpus_per_task {
            let _ = writeln!(s, "#SBATCH --gpus-per-task={g}");
        }
        s.push_str("case \"$SLURM_ARRAY_TASK_ID\" in\n");
        for &i in tasks {
            let words: Vec<String> = task_args(m, &m.tasks[i], false).iter().map(|w| quote(w)).collect();
            let _ = writeln!(s, "  {i}) exec {} {} ;;", quote(&program), words.join(" "));
        }
        s.push_str("  *) echo \"no sweep task $SLURM_ARRAY_TASK_ID\" >&2; exit 2 ;;\nesac\n");
        Ok(s)
    }

    /// Reads the queue: each of this sweep's tasks still in it, by state.
    fn read_queue(&mut self, m: &Manifest) {
        self.queue.clear();
        let Launcher::Slurm(spec) = &m.launcher else { return };
        if spec.jobs.is_empty() {
            return;
        }
        let args = vec!["-h".into(), "-r".into(), "-j".into(), spec.jobs.join(","), "-o".into(), "%i %T".into()];
        match run("squeue", &args) {
            Ok(text) => {
                for line in text.lines() {
                    let mut words = line.split_whitespace();
                    let (Some(id), Some(state)) = (words.next(), words.next()) else { continue };
                    if let Some(task) = id.rsplit_once('_').and_then(|(_, t)| t.parse::<usize>().ok()) {
                        self.queue.insert(task, state.to_string());
                    }
                }
            }
            // A job Slurm no longer knows has left the queue.
            Err(e) if e.contains("Invalid job id") => {}
            Err(e) => self.errors.push(e),
        }
    }
}

impl TaskLauncher for Slurm {
    fn probe(&mut self, m: &Manifest, curve: bool) -> Vec<Probe> {
        self.errors.clear();
        self.read_queue(m);
        m.tasks.iter().map(|t| probe::probe(&t.out, curve)).collect()
    }

    fn free(&mut self, m: &Manifest, _probes: &[Probe]) -> usize {
        // Slurm queues them all; it decides what runs when.
        m.tasks.len()
    }

    fn start(&mut self, m: &mut Manifest, tasks: &[usize]) -> Result<(), String> {
        if tasks.is_empty() {
            return Ok(());
        }
        let logs = self.dir.join("slurm");
        std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
        let path = logs.join("sweep.sbatch");
        crate::run_files::write_atomically(&path, self.script(m, tasks)?.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let out = run("sbatch", &["--parsable".into(), path.display().to_string()])?;
        let job = out.trim().split(';').next().unwrap_or_default().to_string();
        if job.is_empty() {
            return Err(format!("sbatch printed no job id: {out:?}"));
        }
        for &i in tasks {
            m.tasks[i].job = Some(format!("{job}_{i}"));
        }
        if let Launcher::Slurm(spec) = &mut m.launcher {
            spec.jobs.push(job);
        }
        Ok(())
    }

    fn in_flight(&mut self, _m: &Manifest, _probes: &[Probe]) -> bool {
        !self.queue.is_empty()
    }

    fn stop(&mut self, m: &Manifest, _probes: &[Probe]) -> Result<(), String> {
        let Launcher::Slurm(spec) = &m.launcher else { return Ok(()) };
        if spec.jobs.is_empty() {
            return Ok(());
        }
        // Slurm sends a running task SIGTERM (the run checkpoints and writes
        // its summary) and drops the queued ones.
        match run("scancel", &spec.jobs) {
            Err(e) if !e.contains("Invalid job id") => Err(e),
            _ => Ok(()),
        }
    }

    fn queued(&self, task: usize) -> bool {
        self.queue.contains_key(&task)
    }

    fn note(&self, m: &Manifest, task: usize, state: TaskState) -> Option<String> {
        if let Some(q) = self.queue.get(&task) {
            return Some(format!("slurm: {}", q.to_lowercase()));
        }
        let job = m.tasks[task].job.as_deref()?;
        (state != TaskState::Done && state != TaskState::Running)
            .then(|| format!("slurm job {job} left the queue unfinished (cancelled or failed)"))
    }
}
