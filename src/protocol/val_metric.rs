//! Which validation figure of an epoch record a run is judged by: its
//! accuracy where the task has one, else its loss. One type for the
//! sweep's leaderboard and the history of finished runs.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValMetric {
    ValAcc,
    ValLoss,
}

impl ValMetric {
    /// The epoch record's field name.
    pub fn name(self) -> &'static str {
        match self {
            ValMetric::ValAcc => "val_acc",
            ValMetric::ValLoss => "val_loss",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == ValMetric::ValAcc
    }
}
