//! A sweep folder's `sweep.json`: what the sweep is (config, fixed
//! overrides, axes, seeds), how its runs are launched, and one task per
//! run with the folder its run lives in. What state a run is in is not kept
//! here: it is read from the run's own folder (see `probe`), so the manifest
//! never disagrees with the runs, whoever stopped or resumed them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::grid::{self, Axis};
use crate::run_files::{self, Access};

pub const MANIFEST_FILE: &str = "sweep.json";
const VERSION: u32 = 1;

/// Where a sweep's runs are started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Launcher {
    /// On this machine, `jobs` at once; with `per_gpu`, each run is given one
    /// GPU (`CUDA_VISIBLE_DEVICES`) shared by at most that many runs.
    Local { jobs: usize, per_gpu: Option<usize> },
    /// Over ssh (`traintop run --detach` on each host), `per_host` at once.
    Ssh { hosts: Vec<String>, per_host: usize },
    /// One `sbatch --array` job; each task a headless run.
    Slurm(SlurmSpec),
}

/// What the `sbatch` job asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlurmSpec {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus_per_task: Option<u32>,
    /// Job ids submitted so far, oldest first (a resume submits another).
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// One run of the sweep.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SweepTask {
    /// The value index of each axis.
    pub variant: Vec<usize>,
    pub seed: u64,
    /// The folder the run's own folder is created in (one run each).
    pub out: PathBuf,
    /// The ssh host it was started on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The Slurm array task it was last submitted as (`JOB_INDEX`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub name: String,
    /// The config every run starts from (absolute).
    pub config: PathBuf,
    /// `--set` overrides every run gets.
    pub sets: Vec<String>,
    pub axes: Vec<Axis>,
    pub seeds: Vec<u64>,
    pub launcher: Launcher,
    pub tasks: Vec<SweepTask>,
}

impl Manifest {
    pub fn new(name: &str, config: PathBuf, sets: Vec<String>, axes: Vec<Axis>, launcher: Launcher) -> Manifest {
        Manifest { version: VERSION, name: name.into(), config, sets, axes, seeds: vec![], launcher, tasks: vec![] }
    }

    /// Adds `seeds` for every variant, seed by seed, so that each variant has
    /// figures early when only some runs fit at once.
    pub fn add_seeds(&mut self, dir: &Path, seeds: &[u64]) {
        for &seed in seeds {
            for variant in grid::variants(&self.axes) {
                let out = dir.join(format!("{}-seed{seed}", grid::slug(&self.axes, &variant)));
                self.tasks.push(SweepTask { variant, seed, out, host: None, job: None });
            }
            self.seeds.push(seed);
        }
    }

    /// Every `--set` of a task's run: the fixed ones, the variant's, its seed.
    pub fn task_overrides(&self, task: &SweepTask) -> Vec<String> {
        let mut sets = self.sets.clone();
        sets.extend(grid::overrides(&self.axes, &task.variant));
        sets.push(format!("run.seed={}", task.seed));
        sets
    }

    pub fn label(&self, task: &SweepTask) -> String {
        grid::label(&self.axes, &task.variant)
    }

    pub fn variant_count(&self) -> usize {
        grid::variants(&self.axes).len()
    }

    pub fn load(dir: &Path) -> Result<Manifest, String> {
        let path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                format!("{}: no {MANIFEST_FILE}: not a sweep folder (made by traintop sweep)", dir.display())
            } else {
                format!("{}: {e}", path.display())
            }
        })?;
        let m: Manifest = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}:{}:{}: {e} (expected a sweep manifest written by traintop sweep)",
                path.display(),
                e.line(),
                e.column()
            )
        })?;
        if m.version != VERSION {
            return Err(format!(
                "{}: sweep manifest version {}, this traintop reads {VERSION}",
                path.display(),
                m.version
            ));
        }
        if let Some(t) = m.tasks.iter().find(|t| {
            t.variant.len() != m.axes.len() || t.variant.iter().zip(&m.axes).any(|(&i, a)| i >= a.values.len())
        }) {
            return Err(format!("{}: task {} names a variant the axes do not have", path.display(), t.out.display()));
        }
        Ok(m)
    }

    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let path = dir.join(MANIFEST_FILE);
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        run_files::write_atomically(&path, text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Makes the sweep folder `<out>/<name>-sweep-<stamp>` (private, like run folders).
pub fn create_dir(out: &Path, name: &str, stamp: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let base = format!("{name}-sweep-{stamp}");
    for n in 1..1000 {
        let path = if n == 1 { out.join(&base) } else { out.join(format!("{base}-{n}")) };
        match run_files::create_dir(&path, Access::shared(false)) {
            Ok(()) => return std::path::absolute(&path).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
    }
    Err(format!("{}: too many sweeps named {base}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_bad_ones_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let axes = vec![Axis::parse("technique.batch_norm.enabled=false,true").unwrap()];
        let mut m = Manifest::new(
            "deep",
            "/c.toml".into(),
            vec!["run.epochs=3".into()],
            axes,
            Launcher::Local { jobs: 2, per_gpu: None },
        );
        m.add_seeds(dir.path(), &[1, 2]);
        assert_eq!(m.tasks.len(), 4);
        assert_eq!(m.tasks[1].out, dir.path().join("batch_norm.enabled-true-seed1"));
        assert_eq!(m.task_overrides(&m.tasks[1]), ["run.epochs=3", "technique.batch_norm.enabled=true", "run.seed=1"]);
        m.save(dir.path()).unwrap();
        assert_eq!(Manifest::load(dir.path()).unwrap(), m);
        std::fs::write(dir.path().join(MANIFEST_FILE), "{\"version\": 1,\n \"name\": 3}").unwrap();
        let e = Manifest::load(dir.path()).unwrap_err();
        assert!(e.contains("sweep.json:2:") && e.contains("invalid type"), "{e}");
        let e = Manifest::load(&dir.path().join("nope")).unwrap_err();
        assert!(e.contains("not a sweep folder"), "{e}");
    }
}
