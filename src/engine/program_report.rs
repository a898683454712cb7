//! What a compiled program is made of: its ops by kind, its GEMMs against
//! the matmuls it was built with, luminal primitive ops a backend left on the
//! host, and its largest tensor. The CUDA compile check reads it for every
//! program of every configuration.

use std::collections::{BTreeMap, HashMap};

use luminal::op as lop;
use luminal::prelude::{Graph, ShapeTracker};

use super::shape::BATCH_DIM;

/// A compiled program, described.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProgramReport {
    /// Nodes by op name (the op's type as luminal prints it).
    pub ops: BTreeMap<String, usize>,
    /// Matmuls in the graph as built that something reads.
    pub matmuls: usize,
    /// GEMM nodes after compilation: one per matmul when the backend matched
    /// every matmul pattern (else some run as an `[m, n, k]` product).
    pub gemms: usize,
    /// luminal's CPU primitive ops left in the graph (a device backend that
    /// replaced them all leaves none).
    pub primitives: Vec<String>,
    /// The most elements any tensor or view has at this batch size (device
    /// kernels index with 32-bit ints: below 2^31 is required).
    pub largest_tensor: usize,
    /// Why the backend could not compile the graph, if it could not.
    pub failed: Option<String>,
}

/// The op's type name as its `Debug` prints it, without arguments.
fn op_name(op: &dyn lop::Operator) -> String {
    let text = format!("{op:?}");
    text.split(|c: char| !(c.is_alphanumeric() || c == '_')).next().unwrap_or_default().to_string()
}

fn is_primitive(op: &dyn lop::Operator) -> bool {
    let any = op.as_any();
    any.is::<lop::Add>()
        || any.is::<lop::Mul>()
        || any.is::<lop::Mod>()
        || any.is::<lop::LessThan>()
        || any.is::<lop::Log2>()
        || any.is::<lop::Exp2>()
        || any.is::<lop::Sin>()
        || any.is::<lop::Sqrt>()
        || any.is::<lop::Recip>()
        || any.is::<lop::SumReduce>()
        || any.is::<lop::MaxReduce>()
        || any.is::<lop::Contiguous>()
        || any.is::<lop::Constant>()
}

/// The product of dimension sizes, in 128 bits and saturating: luminal's own
/// element counts wrap at 2^31. An unknown size counts as too large.
fn product(sizes: impl Iterator<Item = Option<usize>>) -> usize {
    let n = sizes.map(|d| d.map_or(u128::MAX, |d| d as u128)).fold(1u128, u128::saturating_mul);
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Elements of an edge's view and of the buffer behind it at this batch
/// size, whichever is more.
fn elements(mut tracker: ShapeTracker, batch: usize) -> usize {
    let dims = HashMap::from([(BATCH_DIM, batch)]).into_iter().collect();
    tracker.resolve_global_dyn_dims(&dims);
    let logical = product(tracker.shape().into_iter().map(|d| d.to_usize()));
    let real = tracker.dims.iter().zip(&tracker.fake).filter(|(_, fake)| !**fake);
    let physical = product(real.map(|(d, _)| d.to_usize()));
    logical.max(physical)
}

impl ProgramReport {
    pub(crate) fn of(graph: &Graph, matmuls: usize, batch: usize, failed: Option<String>) -> Self {
        let mut report = Self { matmuls, failed, ..Self::default() };
        for node in graph.graph.node_indices() {
            let op = graph.graph[node].as_ref();
            let name = op_name(op);
            if name.contains("MatMul") || name.contains("Matmul") {
                report.gemms += 1;
            }
            if is_primitive(op) {
                report.primitives.push(name.clone());
            }
            *report.ops.entry(name).or_default() += 1;
        }
        report.primitives.sort();
        report.primitives.dedup();
        report.largest_tensor = graph
            .graph
            .edge_weights()
            .filter_map(|w| w.as_data())
            .map(|(_, _, tracker)| elements(tracker, batch))
            .max()
            .unwrap_or(0);
        report
    }
}
