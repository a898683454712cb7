//! Learning what a run did once it is trained: scoring a run's model on its
//! validation split or on a new file, writing predictions, and comparing
//! runs' configs and figures, listing past runs (`history`). Reads run
//! folders; never trains.

pub(crate) mod diff;
pub(crate) mod evaluation;
pub mod history;
pub(crate) mod model;
pub(crate) mod predictions;

pub use model::{TrainedModel, Which};
