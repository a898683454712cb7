//! Learning what a run did once it is trained: scoring a run's model on its
//! validation split or on a new file, writing predictions, and comparing
//! runs' configs and figures. Reads run folders; never trains.

pub mod diff;
pub mod evaluation;
pub mod model;
pub mod predictions;

pub use model::{TrainedModel, Which};
