//! How a loaded technique looks to a client: its switch, its toggle class and
//! its editable parameters.

use serde::{Deserialize, Serialize};

/// How switching a technique takes effect (shown in the techniques panel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToggleClass {
    /// A parameter or gate: applies at the next batch.
    Live,
    /// Changes the graph: rebuilt at the next batch boundary, weights and
    /// optimizer state carried over.
    Structural,
    /// Meaningful before step 0 only.
    InitOnly,
    /// Changes the data (input normalization).
    Data,
    /// A class from a newer protocol minor version.
    #[serde(other)]
    Unknown,
}

/// One editable parameter of a technique.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamView {
    pub name: String,
    /// Current value as text (numbers, booleans, choices).
    pub value: String,
    /// Allowed range or choices, as text, e.g. "0 ..= 1" or "norm | value".
    pub range: String,
    pub help: String,
}

/// A loaded technique as the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TechniqueView {
    pub name: String,
    pub enabled: bool,
    pub class: ToggleClass,
    pub params: Vec<ParamView>,
    /// Live status, e.g. "patience 2/5, best epoch 7".
    pub status: String,
}
