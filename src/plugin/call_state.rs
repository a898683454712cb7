//! What a plugin may change through the host's function table during one
//! call: the host's shared state (logs, stop requests, state initializers,
//! host-fed inputs) and its own status. The host owns it; the function table
//! (`api.rs`) borrows it per call, so neither file needs the other.

use std::collections::HashMap;

use super::loader::ParamInfo;
use crate::engine::graph::Tensor;
use crate::engine::hooks::Mode;
use crate::engine::shape::Dim;

/// Host-fed inputs a plugin declared.
#[derive(Clone, Debug)]
pub(crate) enum FeedKind {
    Random(Vec<Dim>),
    Param(String),
}

/// One host-fed input: its name, the graph it feeds, its plugin, its kind.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    pub name: String,
    pub mode: Mode,
    pub plugin: usize,
    pub kind: FeedKind,
}

/// The host's state that plugin calls reach.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    /// Number of layers (hidden + output) of the model.
    pub layers: usize,
    pub seed: u64,
    pub step: u64,
    /// A stop a plugin asked for: (reason, restore best weights).
    pub stop_request: Option<(String, bool)>,
    /// Initial values of the states plugins declared.
    pub inits: HashMap<String, f32>,
    /// The model's parameters while the loss hook runs.
    pub current_params: Vec<(String, Tensor, bool)>,
    pub feeds: Vec<Feed>,
    pub logs: Vec<String>,
    /// While a 1.0 plugin's `set_param` runs: the warnings it logs, which
    /// are its reason when it refuses (1.0 has no error buffer).
    pub set_param_warnings: Option<Vec<String>>,
}

impl HostState {
    pub fn log(&mut self, line: String) {
        self.logs.push(line);
    }

    /// Declares a host-fed input; returns its graph input name.
    pub fn add_feed(&mut self, plugin: usize, plugin_name: &str, mode: Mode, kind: FeedKind) -> String {
        let name = format!("{plugin_name}.feed{}", self.feeds.iter().filter(|f| f.mode == mode).count());
        self.feeds.push(Feed { name: name.clone(), mode, plugin, kind });
        name
    }
}

/// The plugin a call is for: who it is, and the report it may update.
pub(crate) struct Caller<'a> {
    pub index: usize,
    pub name: &'a str,
    pub params: &'a [ParamInfo],
    /// Its status line (shown in the techniques panel).
    pub status: &'a mut String,
}
