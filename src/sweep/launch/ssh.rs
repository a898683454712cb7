//! Runs on other hosts over ssh: each task starts with `ssh HOST traintop
//! sweep task ... --detach` (a detached run there, which outlives the ssh
//! connection), on the host with the most free slots; states and figures come
//! back from `ssh HOST traintop sweep probe OUT...`. The config, its data and
//! the sweep folder's path must exist on every host (a shared home or the
//! same checkout), since each host runs the task's paths as they are.

use super::{task_args, TaskLauncher};
use crate::client::ssh;
use crate::sweep::manifest::Manifest;
use crate::sweep::probe::{Probe, TaskState};

pub struct Ssh {
    hosts: Vec<String>,
    per_host: usize,
    /// Why a host could not be asked, kept for the next progress line.
    pub errors: Vec<String>,
    /// The latest probes (`start` places runs by them rather than asking
    /// every host again).
    last: Vec<Probe>,
}

impl Ssh {
    pub fn new(hosts: Vec<String>, per_host: usize) -> Ssh {
        Ssh { hosts, per_host: per_host.max(1), errors: vec![], last: vec![] }
    }

    /// The probes of `outs` on `host`.
    fn ask(host: &str, outs: &[String], curve: bool) -> Result<Vec<Probe>, String> {
        let mut args = vec!["sweep", "probe"];
        if curve {
            args.push("--curve");
        }
        args.extend(outs.iter().map(String::as_str));
        let text = ssh::output(host, &args)?;
        serde_json::from_str(&text).map_err(|e| format!("{host}: traintop sweep probe answered something else: {e}"))
    }

    /// Running tasks per host.
    fn load(&self, m: &Manifest, probes: &[Probe]) -> Vec<usize> {
        let running = |h: &String| {
            m.tasks
                .iter()
                .zip(probes)
                .filter(|(t, p)| t.host.as_ref() == Some(h) && p.state == TaskState::Running)
                .count()
        };
        self.hosts.iter().map(running).collect()
    }
}

impl TaskLauncher for Ssh {
    fn probe(&mut self, m: &Manifest, curve: bool) -> Vec<Probe> {
        self.errors.clear();
        let mut probes: Vec<Probe> = m.tasks.iter().map(|t| crate::sweep::probe::probe(&t.out, curve)).collect();
        for host in &self.hosts {
            let mine: Vec<usize> = (0..m.tasks.len()).filter(|&i| m.tasks[i].host.as_ref() == Some(host)).collect();
            if mine.is_empty() {
                continue;
            }
            let outs: Vec<String> = mine.iter().map(|&i| m.tasks[i].out.display().to_string()).collect();
            match Self::ask(host, &outs, curve) {
                Ok(answers) => mine.iter().zip(answers).for_each(|(&i, p)| probes[i] = p),
                Err(e) => self.errors.push(e),
            }
        }
        self.last.clone_from(&probes);
        probes
    }

    fn free(&mut self, m: &Manifest, probes: &[Probe]) -> usize {
        self.load(m, probes).iter().map(|&n| self.per_host.saturating_sub(n)).sum()
    }

    fn start(&mut self, m: &mut Manifest, tasks: &[usize]) -> Result<(), String> {
        let mut load = self.load(m, &self.last);
        for &i in tasks {
            let (h, _) = load.iter().enumerate().min_by_key(|(_, n)| **n).ok_or("no hosts")?;
            let host = self.hosts[h].clone();
            let args = task_args(m, &m.tasks[i], true);
            let words: Vec<&str> = args.iter().map(String::as_str).collect();
            ssh::output(&host, &words)?;
            m.tasks[i].host = Some(host);
            load[h] += 1;
        }
        Ok(())
    }

    fn in_flight(&mut self, _m: &Manifest, _probes: &[Probe]) -> bool {
        // A detached run holds its folder before `--detach` returns.
        false
    }

    fn stop(&mut self, m: &Manifest, probes: &[Probe]) -> Result<(), String> {
        for (task, p) in m.tasks.iter().zip(probes) {
            if let (Some(host), TaskState::Running) = (&task.host, p.state) {
                let out = task.out.display().to_string();
                ssh::output(host, &["sweep", "task", "--stop", "--out", &out])?;
            }
        }
        Ok(())
    }
}

/// Quotes for the remote shell (shared with `slurm`'s script).
pub fn quote(word: &str) -> String {
    ssh::quote(word)
}
