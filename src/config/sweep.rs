//! A config's optional `[sweep]` table: what `traintop sweep CONFIG` varies
//! and how it launches, so a sweep can be kept with its config instead of
//! on a command line. `run` ignores it; flags given to `sweep` win over it.
//!
//! ```toml
//! [sweep]
//! seeds = 3
//! vary = { "technique.batch_norm.enabled" = [false, true] }
//! slurm = { partition = "gpu", time = "00:30:00", gpus_per_task = 1 }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SweepSection {
    /// `--set` key -> its values (axes in key order).
    pub vary: BTreeMap<String, Vec<toml::Value>>,
    pub seeds: Option<usize>,
    pub max_runs: Option<usize>,
    /// Runs at once on this machine.
    pub jobs: Option<usize>,
    pub per_gpu: Option<usize>,
    /// ssh hosts to spread the runs over.
    pub hosts: Vec<String>,
    pub per_host: Option<usize>,
    pub slurm: Option<SlurmSection>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SlurmSection {
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus_per_task: Option<u32>,
}

impl SweepSection {
    /// The axes as `--vary` would give them (`KEY=V1,V2`), values written
    /// as TOML so `--set` reads them back the same.
    pub fn vary_args(&self) -> Vec<String> {
        self.vary
            .iter()
            .map(|(k, values)| format!("{k}={}", values.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")))
            .collect()
    }
}
