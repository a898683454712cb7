//! The CPU backend: a compiler pass that lowers the primitive graph to fast
//! kernels.
//!
//! luminal 0.2's stock `CPUCompiler` misses the 2-D matmul pattern (its pass looks
//! for `SumReduce(0)` where the pattern reduces axis 2) and its primitive ops
//! evaluate a symbolic index expression per element. This pass replaces every
//! primitive node with a kernel from `kernels`, each recorded matmul pattern
//! (expanded multiply + reduce) with one SGEMM node, and each recorded optimizer
//! update with one in-place pass (`update`).

pub mod fusion;
mod kernels;
mod matmul;
pub mod pool;
pub mod strided;
pub mod update;

use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::{Dependency, NodeIndex};

use super::graph::{GraphBuilder, Op};
pub use kernels::{FastBinary, FastContiguous, FastReduce, FastUnary};
pub use matmul::{gemm, FastMatMul};

/// Rewrites the builder's graph in place for CPU execution.
pub fn compile(builder: &mut GraphBuilder) {
    // By index, not over a clone of the tape: each entry holds a shape
    // tracker of some kilobytes.
    for i in 0..builder.tape.len() {
        let node = &builder.tape[i];
        let id = node.id;
        let graph = &mut builder.graph.graph;
        match &node.op {
            Op::Unary(u) => graph[id] = Box::new(FastUnary(*u)),
            Op::Binary(b) => graph[id] = Box::new(FastBinary(*b)),
            Op::Reduce(r, axis) => graph[id] = Box::new(FastReduce(*r, *axis)),
            Op::Contiguous => graph[id] = Box::new(FastContiguous),
            Op::MatMul { mul } => {
                graph.remove_node(*mul);
                for (order, operand) in node.inputs.iter().enumerate() {
                    let operand = &builder.tape[operand.0];
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

/// The kernel a node runs, so the executor can call it with cached views
/// instead of going through `Operator::process` with shape trackers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelKind {
    Unary,
    Binary,
    Reduce,
    Contiguous,
    MatMul,
    Fused,
    /// An optimizer update writing states in place: the executor runs it
    /// itself, lending it the states' buffers.
    Update,
}

pub fn kernel_kind(op: &dyn luminal::op::Operator) -> Option<KernelKind> {
    let any = op.as_any();
    if any.is::<FastUnary>() {
        Some(KernelKind::Unary)
    } else if any.is::<FastBinary>() {
        Some(KernelKind::Binary)
    } else if any.is::<FastReduce>() {
        Some(KernelKind::Reduce)
    } else if any.is::<FastContiguous>() {
        Some(KernelKind::Contiguous)
    } else if any.is::<FastMatMul>() {
        Some(KernelKind::MatMul)
    } else if any.is::<fusion::FusedElementwise>() {
        Some(KernelKind::Fused)
    } else if any.is::<update::FusedUpdate>() {
        Some(KernelKind::Update)
    } else {
        None
    }
}

/// Runs a node's kernel on plain views (`kind` from [`kernel_kind`]).
pub fn run_kernel(
    op: &mut dyn luminal::op::Operator,
    kind: KernelKind,
    inputs: &mut [luminal::op::InputTensor],
    views: &[strided::StridedView],
    pool: &mut pool::BufferPool,
) -> Vec<f32> {
    use kernels::Kernel;
    let any = op.as_any_mut();
    let expect = "kernel kind matches the node";
    match kind {
        KernelKind::Unary => any.downcast_mut::<FastUnary>().expect(expect).run(inputs, views, pool),
        KernelKind::Binary => any.downcast_mut::<FastBinary>().expect(expect).run(inputs, views, pool),
        KernelKind::Reduce => any.downcast_mut::<FastReduce>().expect(expect).run(inputs, views, pool),
        KernelKind::Contiguous => any.downcast_mut::<FastContiguous>().expect(expect).run(inputs, views, pool),
        KernelKind::MatMul => any.downcast_mut::<FastMatMul>().expect(expect).run(inputs, views, pool),
        KernelKind::Fused => any.downcast_mut::<fusion::FusedElementwise>().expect(expect).run(inputs, views, pool),
        KernelKind::Update => unreachable!("the executor runs updates in place"),
    }
}
