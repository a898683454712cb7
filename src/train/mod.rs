//! Training runs: preparing one, the loop, checkpoints and the run folder.
//! What the trainer reports and what it is asked is the run protocol
//! (`crate::protocol`).

pub mod checkpoint;
pub(crate) mod clock;
pub(crate) mod divergence;
pub(crate) mod fork;
pub(crate) mod metrics;
pub mod model;
pub mod notify;
pub(crate) mod prepare;
pub(crate) mod prepare_error;
pub(crate) mod resume_check;
pub(crate) mod resume_drop;
pub(crate) mod resume_load;
pub(crate) mod resume_rescue;
pub(crate) mod resume_rules;
pub mod run_dir;
pub(crate) mod summary;
pub mod techniques;
pub mod trainer;

pub use prepare::{prepare, Launch, Prepared};
pub use prepare_error::PrepareError;
pub use resume_load::FolderTrust;
pub use summary::Summary;
pub use trainer::Trainer;
