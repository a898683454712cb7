//! Training runs: the loop, its events and commands, checkpoints and the run folder.

pub mod checkpoint;
pub mod clock;
pub mod events;
pub mod resume_rules;
pub mod run_dir;
pub mod techniques;
pub mod trainer;

pub use events::{Command, Event, RunState, StopReason};
pub use trainer::{Summary, Trainer};
