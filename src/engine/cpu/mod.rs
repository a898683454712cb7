//! The CPU backend: a compiler pass that lowers the primitive graph to fast
//! kernels.
//!
//! luminal 0.2's stock `CPUCompiler` misses the 2-D matmul pattern (its pass looks
//! for `SumReduce(0)` where the pattern reduces axis 2) and its primitive ops
//! evaluate a symbolic index expression per element. This pass replaces every
//! primitive node with a kernel from `kernels`, and each recorded matmul pattern
//! (expanded multiply + reduce) with one SGEMM node.

mod kernels;
mod matmul;
pub mod strided;

use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::{Dependency, NodeIndex};

use super::graph::{GraphBuilder, Op};
pub use kernels::{FastBinary, FastContiguous, FastReduce, FastUnary};
pub use matmul::FastMatMul;

/// Rewrites the builder's graph in place for CPU execution.
pub fn compile(builder: &mut GraphBuilder) {
    let tape = builder.tape.clone();
    let graph = &mut builder.graph.graph;
    for node in &tape {
        let id = node.id;
        match &node.op {
            Op::Unary(u) => graph[id] = Box::new(FastUnary(*u)),
            Op::Binary(b) => graph[id] = Box::new(FastBinary(*b)),
            Op::Reduce(r, axis) => graph[id] = Box::new(FastReduce(*r, *axis)),
            Op::Contiguous => graph[id] = Box::new(FastContiguous),
            Op::MatMul { mul } => {
                let (a, b) = (&tape[node.inputs[0].0], &tape[node.inputs[1].0]);
                graph.remove_node(*mul);
                for (order, operand) in [a, b].into_iter().enumerate() {
                    graph.add_edge(
                        operand.id,
                        id,
                        Dependency::Data { input_order: order as u8, output_order: 0, shape: operand.tracker },
                    );
                }
                graph[id] = Box::new(FastMatMul);
            }
            Op::Input | Op::State | Op::Constant(_) | Op::Permute(_) | Op::Expand(_) | Op::Reshape | Op::Detach => {}
        }
    }
}

/// Removes nodes no kept tensor depends on (gradients nobody asked for, unused
/// constants), so execution computes only what is read.
pub(crate) fn prune(builder: &mut GraphBuilder) {
    let graph = &mut builder.graph;
    let mut live: Vec<NodeIndex> = graph.no_delete.iter().copied().collect();
    let mut seen: std::collections::HashSet<NodeIndex> = live.iter().copied().collect();
    while let Some(n) = live.pop() {
        let sources: Vec<NodeIndex> = graph
            .graph
            .edges_directed(n, luminal::prelude::petgraph::Direction::Incoming)
            .map(|e| e.source())
            .collect();
        for s in sources {
            if seen.insert(s) {
                live.push(s);
            }
        }
    }
    let dead: Vec<NodeIndex> = graph.graph.node_indices().filter(|n| !seen.contains(n)).collect();
    for n in dead {
        graph.graph.remove_node(n);
    }
}
