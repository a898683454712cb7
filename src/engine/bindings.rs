//! Where a compiled program's named tensors live in its graph: the nodes the
//! host feeds (inputs, states), the nodes it reads back (outputs, a state's
//! next value), and which of them cross between host and device memory.
//!
//! The ids are read from the builder's tape after compilation: a device
//! compiler moves retrieved tensors onto copy nodes and remaps the tape's ids
//! as it goes (see [`super::device_copies`]), so the ids here are the nodes that
//! hold the values after a run.

use std::collections::{HashMap, HashSet};

use luminal::op::Function;
use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::petgraph::Direction;
use luminal::prelude::{Graph, NodeIndex};

use super::device_copies::{copy_direction, CopyDirection};
use super::graph::GraphBuilder;
use super::shape::Shape;

/// A state's node (fed before a run) and the node of its next value.
pub(crate) struct StateBinding {
    pub name: String,
    pub shape: Shape,
    pub node: NodeIndex,
    pub next: Option<NodeIndex>,
    /// The state is copied to the device each run (a device backend that
    /// keeps no state between runs).
    pub to_device: bool,
    /// Its next value is copied back to the host each run.
    pub to_host: bool,
}

/// A program's named tensors.
pub(crate) struct Bindings {
    pub inputs: HashMap<String, (NodeIndex, Shape)>,
    /// Inputs nothing reads any more (a plugin's unused random tensor): accepted and dropped.
    pub unused_inputs: HashSet<String>,
    pub states: Vec<StateBinding>,
    pub outputs: Vec<(String, NodeIndex)>,
}

fn reads_through(graph: &Graph, node: NodeIndex, direction: CopyDirection) -> bool {
    graph
        .graph
        .edges_directed(node, Direction::Outgoing)
        .any(|e| copy_direction(graph.graph[e.target()].as_ref()) == Some(direction))
}

fn is_copy_to_host(graph: &Graph, node: NodeIndex) -> bool {
    copy_direction(graph.graph[node].as_ref()) == Some(CopyDirection::ToHost)
}

impl Bindings {
    /// Reads the bindings off a compiled builder.
    pub fn read(builder: &GraphBuilder) -> Self {
        let graph = &builder.graph;
        let id = |t: crate::engine::Tensor| builder.tape[t.0].id;
        let live = |t: crate::engine::Tensor| graph.graph.contains_node(id(t));
        let unused_inputs = builder.inputs.iter().filter(|s| !live(s.tensor)).map(|s| s.name.clone()).collect();
        let inputs = builder
            .inputs
            .iter()
            .filter(|s| live(s.tensor))
            .map(|s| (s.name.clone(), (id(s.tensor), builder.tape[s.tensor.0].shape.clone())))
            .collect();
        let states = builder
            .states
            .iter()
            .map(|s| {
                let (node, next) = (id(s.tensor), s.next.map(id));
                StateBinding {
                    name: s.name.clone(),
                    shape: builder.tape[s.tensor.0].shape.clone(),
                    node,
                    next,
                    to_device: graph.graph.contains_node(node) && reads_through(graph, node, CopyDirection::ToDevice),
                    to_host: next.is_some_and(|n| graph.graph.contains_node(n) && is_copy_to_host(graph, n)),
                }
            })
            .collect();
        let outputs = builder.outputs.iter().map(|(n, t)| (n.clone(), id(*t))).collect();
        Self { inputs, unused_inputs, states, outputs }
    }

    /// For a backend with memory of its own: every value the host reads back
    /// must be a copy to the host (or a node the host fed itself), kept by
    /// the graph. What is not, named; empty when all are.
    pub fn unreachable(&self, graph: &Graph) -> Vec<String> {
        let on_host = |n: NodeIndex| {
            graph.graph.contains_node(n)
                && graph.no_delete.contains(&n)
                && (is_copy_to_host(graph, n) || graph.graph[n].as_any().is::<Function>())
        };
        let outputs = self.outputs.iter().filter(|(_, n)| !on_host(*n)).map(|(name, _)| format!("output `{name}`"));
        let states = self.states.iter().filter(|s| !s.next.is_none_or(on_host)).map(|s| format!("state `{}`", s.name));
        outputs.chain(states).collect()
    }
}
