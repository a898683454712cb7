//! The executor: runs a compiled luminal graph with a plan made once.
//!
//! luminal's own `Graph::execute` looks every tensor up in a hash map, decides
//! per call which inputs it may hand over, and re-resolves every edge's
//! symbolic shape (each dimension, slice and pad an expression) on every node
//! of every step: about a microsecond per node, a few percent of a step. The
//! graph does not change between steps, so this executor decides all of that
//! when it is built: tensors live in slots indexed by position, each edge knows
//! whether it is the last reader (and may take the buffer), and resolved shape
//! trackers are cached per batch size (a run has at most two: the batch size and
//! the short last batch). Constants are computed once and kept.

use std::collections::HashMap;

use luminal::op::{self as lop, InputTensor};
use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::petgraph::Direction;
use luminal::prelude::{Graph, NodeIndex, ShapeTracker, Tensor};

use super::cpu::pool::BufferPool;
use super::cpu::strided::StridedView;
use super::cpu::update::FusedUpdate;
use super::cpu::{kernel_kind, run_kernel, KernelKind};
use super::shape::BATCH_DIM;

struct Edge {
    slot: usize,
    tracker: ShapeTracker,
    /// The last reader of a tensor nobody keeps: it gets the buffer itself.
    take: bool,
}

struct Step {
    node: NodeIndex,
    /// A CPU kernel, called directly with cached views.
    kernel: Option<KernelKind>,
    slot: usize,
    edges: Vec<Edge>,
    /// Constants: computed on the first run, then kept.
    constant: bool,
    /// Slots whose last reader this step is but which it could only borrow
    /// (read twice by it): freed once it has run.
    free_after: Vec<usize>,
}

/// A graph's execution plan and its tensor slots.
pub struct Executor {
    steps: Vec<Step>,
    slot_of: HashMap<NodeIndex, usize>,
    slots: Vec<Option<Tensor>>,
    kept: Vec<bool>,
    resolved: HashMap<usize, Vec<Resolved>>,
    pool: BufferPool,
}

/// The buffer of a tensor this executor is done with, back to the pool.
fn recycle(pool: &mut BufferPool, t: Tensor) {
    let mut t = t;
    if let Some(v) = t.data.as_any_mut().downcast_mut::<Vec<f32>>() {
        pool.recycle(std::mem::take(v));
    }
}

/// A step's edges with the batch size bound: trackers for luminal's ops, plain
/// views for the CPU kernels (`None` when an edge slices or pads).
struct Resolved {
    trackers: Vec<ShapeTracker>,
    views: Option<Vec<StridedView>>,
}

fn is_external(graph: &Graph, n: NodeIndex) -> bool {
    graph.graph[n].as_any().downcast_ref::<lop::Function>().is_some()
}

/// Runs a fused optimizer update: the states it rewrites leave their slots
/// for the call (so the other operands can be borrowed meanwhile) and return.
fn update_in_place(op: &dyn lop::Operator, edges: &[Edge], slots: &mut [Option<Tensor>]) {
    let update = op.as_any().downcast_ref::<FusedUpdate>().expect("kernel kind matches the node");
    let split = edges.len() - update.states;
    let mut states: Vec<Tensor> =
        edges[split..].iter().map(|e| slots[e.slot].take().expect("states are set before a run")).collect();
    {
        let reads: Vec<&[f32]> = edges[..split]
            .iter()
            .map(|e| slots[e.slot].as_ref().expect("operands run first").data.as_any())
            .map(|d| d.downcast_ref::<Vec<f32>>().expect("f32 tensor").as_slice())
            .collect();
        let mut written: Vec<&mut [f32]> = states
            .iter_mut()
            .map(|t| t.data.as_any_mut().downcast_mut::<Vec<f32>>().expect("f32 state").as_mut_slice())
            .collect();
        update.apply(&reads, &mut written);
    }
    for (e, t) in edges[split..].iter().zip(states) {
        slots[e.slot] = Some(t);
    }
}

impl Executor {
    /// Plans `graph`. Nodes in `graph.no_delete` (states, outputs, assigned
    /// values) are never handed over or freed.
    pub fn plan(graph: &Graph) -> Self {
        let order = luminal::prelude::petgraph::algo::toposort(&graph.graph, None).expect("the graph has no cycles");
        let slot_of: HashMap<NodeIndex, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let kept: Vec<bool> = order
            .iter()
            .map(|n| graph.no_delete.contains(n) || graph.graph[*n].as_any().downcast_ref::<lop::Constant>().is_some())
            .collect();
        let mut steps: Vec<Step> = order
            .iter()
            .filter(|n| !is_external(graph, **n))
            .map(|&node| {
                let mut edges: Vec<(u8, Edge)> = graph
                    .graph
                    .edges_directed(node, Direction::Incoming)
                    .filter_map(|e| e.weight().as_data().map(|(input, _, tracker)| (e.source(), input, tracker)))
                    .map(|(src, input, tracker)| (input, Edge { slot: slot_of[&src], tracker, take: false }))
                    .collect();
                edges.sort_by_key(|(i, _)| *i);
                Step {
                    node,
                    kernel: kernel_kind(graph.graph[node].as_ref()),
                    slot: slot_of[&node],
                    edges: edges.into_iter().map(|(_, e)| e).collect(),
                    constant: graph.graph[node].as_any().downcast_ref::<lop::Constant>().is_some(),
                    free_after: vec![],
                }
            })
            .collect();
        // The last step reading each slot decides whether it takes or frees it.
        let mut last_reader: HashMap<usize, usize> = HashMap::new();
        for (i, s) in steps.iter().enumerate() {
            for e in &s.edges {
                last_reader.insert(e.slot, i);
            }
        }
        for (slot, i) in last_reader {
            if kept[slot] {
                continue;
            }
            let reads = steps[i].edges.iter().filter(|e| e.slot == slot).count();
            // An in-place update only borrows what it reads.
            if reads == 1 && steps[i].kernel != Some(KernelKind::Update) {
                steps[i].edges.iter_mut().filter(|e| e.slot == slot).for_each(|e| e.take = true);
            } else {
                steps[i].free_after.push(slot);
            }
        }
        let slots = (0..order.len()).map(|_| None).collect();
        Self { steps, slot_of, slots, kept, resolved: HashMap::new(), pool: BufferPool::default() }
    }

    /// Sets an input's or a state's tensor before a run.
    pub fn set(&mut self, node: NodeIndex, t: Tensor) {
        if let Some(&s) = self.slot_of.get(&node) {
            self.slots[s] = Some(t);
        }
    }

    pub fn has(&self, node: NodeIndex) -> bool {
        self.slot_of.get(&node).is_some_and(|&s| self.slots[s].is_some())
    }

    pub fn get(&self, node: NodeIndex) -> Option<&Tensor> {
        self.slots[*self.slot_of.get(&node)?].as_ref()
    }

    pub fn take(&mut self, node: NodeIndex) -> Option<Tensor> {
        let s = *self.slot_of.get(&node)?;
        self.slots[s].take()
    }

    /// The buffers this executor recycles (its owner may lend its own pool for
    /// a run, so several programs share one).
    pub fn pool_mut(&mut self) -> &mut BufferPool {
        &mut self.pool
    }

    /// Drops a tensor, keeping its buffer for later steps (a state's old value
    /// after its new one was computed).
    pub fn discard(&mut self, node: NodeIndex) {
        if let Some(t) = self.take(node) {
            recycle(&mut self.pool, t);
        }
    }

    /// Every compute step once, with the batch dimension bound to `batch`.
    pub fn run(&mut self, graph: &mut Graph, batch: usize) {
        let steps = &self.steps;
        let resolved = self.resolved.entry(batch).or_insert_with(|| {
            let dims = HashMap::from([(BATCH_DIM, batch)]).into_iter().collect();
            steps
                .iter()
                .map(|s| {
                    let trackers: Vec<ShapeTracker> = s
                        .edges
                        .iter()
                        .map(|e| {
                            let mut t = e.tracker;
                            t.resolve_global_dyn_dims(&dims);
                            t
                        })
                        .collect();
                    let views = s.kernel.and_then(|_| trackers.iter().map(StridedView::from_tracker).collect());
                    Resolved { trackers, views }
                })
                .collect()
        });
        for (step, resolved) in steps.iter().zip(resolved.iter()) {
            if step.constant && self.slots[step.slot].is_some() {
                continue;
            }
            if step.kernel == Some(KernelKind::Update) {
                update_in_place(graph.graph[step.node].as_ref(), &step.edges, &mut self.slots);
                self.slots[step.slot] = Some(Tensor::new(Vec::<f32>::new()));
                for &s in &step.free_after {
                    if let Some(t) = self.slots[s].take() {
                        recycle(&mut self.pool, t);
                    }
                }
                continue;
            }
            let mut taken: Vec<Option<Tensor>> =
                step.edges.iter().map(|e| if e.take { self.slots[e.slot].take() } else { None }).collect();
            let slots = &self.slots;
            let inputs = step.edges.iter().zip(taken.iter_mut()).map(|(e, t)| match t.take() {
                Some(owned) => InputTensor::Owned(owned),
                None => InputTensor::Borrowed(slots[e.slot].as_ref().expect("operands run first")),
            });
            let op = graph.graph[step.node].as_mut();
            let pool = &mut self.pool;
            let out = match (step.kernel, &resolved.views) {
                (Some(kind), Some(views)) => {
                    let mut inputs: Vec<InputTensor> = inputs.collect();
                    let out = run_kernel(op, kind, &mut inputs, views, pool);
                    for i in inputs {
                        if let InputTensor::Owned(t) = i {
                            recycle(pool, t);
                        }
                    }
                    Some(Tensor::new(out))
                }
                _ => op.process(inputs.zip(resolved.trackers.iter().copied()).collect()).into_iter().next(),
            };
            self.slots[step.slot] = out;
            for &s in &step.free_after {
                if let Some(t) = self.slots[s].take() {
                    recycle(&mut self.pool, t);
                }
            }
        }
        // Whatever is not kept ends with the run (inputs nobody read, too).
        for (slot, kept) in self.slots.iter_mut().zip(&self.kept) {
            if !kept {
                *slot = None;
            }
        }
    }
}
