//! Sweeps: the same config over a grid of technique and parameter variants
//! times seeds, each run an ordinary run folder (attachable, steerable,
//! resumable) under one sweep folder with a manifest (`sweep.json`), started
//! here, over ssh or as a Slurm array, and ranked with intervals over seeds.
//!
//! `grid` makes the variants, `manifest` keeps the sweep, `probe` reads a
//! run's state from its folder, `task` starts or resumes one run, `launch`
//! says where runs start, `follow` drives a sweep to its end, `stats`,
//! `board`, `report` and `curves` say what helped.
//!
//! A floor above `client`, `config`, `plugin` and `run_lock`; the CLI and
//! `top` sit on it.

pub mod board;
pub mod curves;
pub mod follow;
pub mod grid;
pub mod launch;
pub mod manifest;
pub mod probe;
pub mod report;
pub mod stats;
pub mod task;
