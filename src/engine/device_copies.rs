//! Copy nodes between host and device memory, and the graph surgery that puts
//! them in.
//!
//! A device backend (luminal_cuda) does not compute on the host's tensors: its
//! compiler puts a copy-to-device node after every host-fed node (inputs and
//! states), and a copy-to-host node after every tensor the host retrieves
//! (outputs, a state's next value), moving the "keep" and "retrieve" marks and
//! every id it is told about onto the copy. A [`super::Program`] must bind the
//! remapped ids, or it reads nodes nobody keeps any more.
//!
//! [`insert`] performs the same surgery as luminal_cuda 0.2's
//! `CudaPrimitiveCompiler` (its first two passes) and `CopyCompiler`, with copy
//! nodes that copy host memory to host memory. Over luminal's reference ops it
//! is the [`super::Backend::CopyingReference`] backend: a test of the bindings
//! that runs anywhere, and that must compute exactly what the plain reference
//! computes.

use luminal::op::{Function, InputTensor, Operator};
use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::petgraph::Direction;
use luminal::prelude::{move_references, Graph, NodeIndex, ShapeTracker, Tensor};

/// Which way a copy node moves its tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CopyDirection {
    ToDevice,
    ToHost,
}

/// Stands for a device copy: the tensor itself, copied.
#[derive(Clone, Debug, PartialEq)]
pub struct HostCopy(pub CopyDirection);

impl Operator for HostCopy {
    fn process(&mut self, mut inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        vec![inp.pop().expect("a copy has one input").0.cloned()]
    }
}

/// The direction of a copy node (ours or a backend's), `None` for other ops.
pub fn copy_direction(op: &dyn Operator) -> Option<CopyDirection> {
    if let Some(HostCopy(direction)) = op.as_any().downcast_ref::<HostCopy>() {
        return Some(*direction);
    }
    cuda_copy_direction(op)
}

#[cfg(feature = "cuda")]
fn cuda_copy_direction(op: &dyn Operator) -> Option<CopyDirection> {
    // luminal_cuda does not export its copy ops' types; their names are the
    // one stable handle (LuminalPrint prints the type's name).
    match format!("{op:?}").as_str() {
        "CudaCopyToDevice" => Some(CopyDirection::ToDevice),
        "CudaCopyFromDevice" => Some(CopyDirection::ToHost),
        _ => None,
    }
}

#[cfg(not(feature = "cuda"))]
fn cuda_copy_direction(_: &dyn Operator) -> Option<CopyDirection> {
    None
}

fn is_function(graph: &Graph, n: NodeIndex) -> bool {
    graph.graph[n].as_any().is::<Function>()
}

fn is_copy(graph: &Graph, n: NodeIndex, direction: CopyDirection) -> bool {
    copy_direction(graph.graph[n].as_ref()) == Some(direction)
}

/// Puts copy nodes in as luminal_cuda does, remapping `remap`'s ids.
pub fn insert(graph: &mut Graph, mut remap: Vec<&mut NodeIndex>) {
    copy_host_fed_nodes_to_device(graph);
    copy_retrieved_nodes_to_host(graph, &mut remap);
    remove_round_trips(graph, &mut remap);
}

/// A copy to the device after every host-fed node that something reads; its
/// readers read the copy.
fn copy_host_fed_nodes_to_device(graph: &mut Graph) {
    let fed: Vec<NodeIndex> =
        graph.graph.node_indices().filter(|&n| is_function(graph, n) && graph.graph.edges(n).count() != 0).collect();
    for node in fed {
        let copy = graph.add_op(HostCopy(CopyDirection::ToDevice)).input(node, 0, ShapeTracker::new(&[])).finish();
        let readers: Vec<_> = graph
            .graph
            .edges_directed(node, Direction::Outgoing)
            .filter(|e| e.target() != copy)
            .map(|e| (e.id(), *e.weight(), e.target()))
            .collect();
        for (edge, weight, reader) in readers {
            graph.graph.add_edge(copy, reader, weight);
            graph.graph.remove_edge(edge);
        }
        if graph.to_retrieve.contains(&node) {
            graph.to_retrieve.insert(copy);
        }
    }
}

/// A copy to the host after every retrieved computed node; the marks and the
/// remapped ids move onto it.
fn copy_retrieved_nodes_to_host(graph: &mut Graph, remap: &mut Vec<&mut NodeIndex>) {
    let retrieved: Vec<(NodeIndex, ShapeTracker)> = graph
        .to_retrieve
        .iter()
        .copied()
        .filter(|&n| !is_function(graph, n))
        .map(|n| {
            let widest = graph
                .graph
                .edges_directed(n, Direction::Incoming)
                .filter_map(|e| e.weight().as_data())
                .map(|(_, _, shape)| shape)
                .max_by_key(|s| s.n_physical_elements().to_usize().unwrap_or_default());
            (n, widest.unwrap_or_else(|| ShapeTracker::new(&[])))
        })
        .collect();
    for (node, shape) in retrieved {
        if is_copy(graph, node, CopyDirection::ToDevice) {
            // A retrieved host-fed node: retrieve the host's own tensor.
            let source = graph.graph.neighbors_directed(node, Direction::Incoming).next().expect("a copy has a source");
            graph.no_delete.remove(&node);
            graph.to_retrieve.remove(&node);
            graph.no_delete.insert(source);
            graph.to_retrieve.insert(source);
        } else {
            let copy = graph.add_op(HostCopy(CopyDirection::ToHost)).input(node, 0, shape).finish();
            move_references(&mut *remap, &mut graph.no_delete, &mut graph.to_retrieve, node, copy);
        }
    }
}

/// A copy whose only readers copy it straight back is removed with them
/// (luminal_cuda's `CopyCompiler`).
fn remove_round_trips(graph: &mut Graph, remap: &mut Vec<&mut NodeIndex>) {
    let pairs: Vec<(NodeIndex, NodeIndex)> = graph
        .graph
        .edge_indices()
        .filter_map(|e| graph.graph.edge_endpoints(e))
        .filter(|&(a, b)| {
            (is_copy(graph, a, CopyDirection::ToDevice) && is_copy(graph, b, CopyDirection::ToHost))
                || (is_copy(graph, a, CopyDirection::ToHost) && is_copy(graph, b, CopyDirection::ToDevice))
        })
        .collect();
    let mut seen_first = std::collections::HashSet::new();
    let mut seen_second = std::collections::HashSet::new();
    for (first, second) in pairs {
        if !seen_first.insert(first) || !seen_second.insert(second) {
            continue;
        }
        if !graph.graph.contains_node(first) || !graph.graph.contains_node(second) {
            continue;
        }
        let other_readers = graph
            .graph
            .edges_directed(first, Direction::Outgoing)
            .any(|e| copy_direction(graph.graph[e.target()].as_ref()).is_none());
        if other_readers || graph.no_delete.contains(&first) {
            continue;
        }
        let source = graph.graph.neighbors_directed(first, Direction::Incoming).next().expect("a copy has a source");
        for copy_back in graph.graph.neighbors_directed(first, Direction::Outgoing).collect::<Vec<_>>() {
            luminal::prelude::move_outgoing_edge(copy_back, source, &mut graph.graph);
            move_references(&mut *remap, &mut graph.no_delete, &mut graph.to_retrieve, copy_back, source);
            graph.graph.remove_node(copy_back);
        }
        graph.graph.remove_node(first);
    }
}
