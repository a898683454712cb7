//! Training runs: the loop, checkpoints and the run folder. What the trainer
//! reports and what it is asked is the run protocol (`crate::protocol`).

pub mod checkpoint;
pub mod clock;
pub mod resume_rules;
pub mod run_dir;
pub mod techniques;
pub mod trainer;

pub use trainer::{Summary, Trainer};
