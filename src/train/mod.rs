//! Training runs: preparing one, the loop, checkpoints and the run folder.
//! What the trainer reports and what it is asked is the run protocol
//! (`crate::protocol`).

pub mod checkpoint;
pub mod clock;
pub mod divergence;
pub mod fork;
pub mod metrics;
pub mod model;
pub mod prepare;
pub mod prepare_error;
pub mod resume_check;
pub mod resume_load;
pub mod resume_rules;
pub mod run_dir;
pub mod summary;
pub mod techniques;
pub mod trainer;

pub use prepare::{prepare, Launch, Prepared};
pub use prepare_error::PrepareError;
pub use summary::Summary;
pub use trainer::Trainer;
