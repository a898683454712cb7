//! Fused optimizer updates: each parameter's SGD, momentum or Adam step as one
//! in-place pass over the parameter and its moments.
//!
//! The optimizer expresses its update in primitive ops (so every backend can run
//! it) and records it too ([`UpdateRecord`]). Run as primitives, Adam is about
//! twenty ops: even fused elementwise, that is three passes (m, v, then p reading
//! both), each writing a fresh buffer that then replaces the state. Here the
//! record becomes one node that reads the gradient once and rewrites p, m and v
//! where they lie, with the bias corrections already folded into its two
//! scalars (computed in the graph from the step counter). The arithmetic is the
//! primitives' own, op for op, so both give the same numbers.
//!
//! An in-place write must come after every other reader of the old value (the
//! forward and backward matmuls read the weights), so [`order_updates`] adds
//! schedule edges from those readers; nothing reads the update node itself.

use luminal::op::{InputTensor, Operator};
use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::petgraph::Direction;
use luminal::prelude::{Dependency, Graph, NodeIndex, ShapeTracker, Tensor};

use crate::engine::graph::{GraphBuilder, UpdateRecord, UpdateRule};

/// Tensors at least this large split over the machine's threads (a scoped
/// thread costs some tens of microseconds; a pass over this many floats more).
const PARALLEL_MIN: usize = 1 << 16;

/// One parameter's update. Operands: the gradient, the scalars, then the
/// states it rewrites in place (parameter first).
#[derive(Clone, Debug, PartialEq)]
pub struct FusedUpdate {
    pub rule: UpdateRule,
    /// How many of the last operands are states written in place.
    pub states: usize,
}

impl Operator for FusedUpdate {
    fn process(&mut self, _: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        unreachable!("fused updates write states in place: only traintop's executor runs them")
    }
}

impl FusedUpdate {
    /// Applies the update: `reads` are the gradient and the scalars, `states`
    /// the parameter and its moments, all of the gradient's length.
    pub fn apply(&self, reads: &[&[f32]], states: &mut [&mut [f32]]) {
        let g = reads[0];
        let neg_lr = reads[1][0];
        let n = g.len();
        let threads = if n >= PARALLEL_MIN { std::thread::available_parallelism().map_or(1, |t| t.get()) } else { 1 };
        let chunk = n.div_ceil(threads).max(1);
        match (self.rule, states) {
            (UpdateRule::Sgd, [p]) => {
                let work = p.chunks_mut(chunk).zip(g.chunks(chunk));
                in_parallel(work, |(p, g)| sgd(p, g, neg_lr));
            }
            (UpdateRule::Momentum { momentum }, [p, v]) => {
                let work = p.chunks_mut(chunk).zip(v.chunks_mut(chunk)).zip(g.chunks(chunk));
                in_parallel(work, |((p, v), g)| momentum_step(p, v, g, momentum, neg_lr));
            }
            (UpdateRule::Adam { beta1, beta2 }, [p, m, v]) => {
                let k = AdamScalars { beta1, beta2, neg_lr, eps: reads[2][0] };
                let work = p.chunks_mut(chunk).zip(m.chunks_mut(chunk)).zip(v.chunks_mut(chunk)).zip(g.chunks(chunk));
                in_parallel(work, |(((p, m), v), g)| adam(p, m, v, g, k));
            }
            (rule, states) => unreachable!("{rule:?} with {} states (the fusion pass pairs them)", states.len()),
        }
    }
}

/// Runs `f` on every item, the first on this thread and the rest on scoped ones.
fn in_parallel<T: Send>(work: impl Iterator<Item = T>, f: impl Fn(T) + Sync) {
    let mut work = work.peekable();
    let Some(first) = work.next() else { return };
    // One item (a small tensor): no scope to set up and tear down.
    if work.peek().is_none() {
        return f(first);
    }
    std::thread::scope(|scope| {
        for item in work {
            let f = &f;
            scope.spawn(move || f(item));
        }
        f(first);
    });
}

fn sgd(p: &mut [f32], g: &[f32], neg_lr: f32) {
    p.iter_mut().zip(g).for_each(|(p, &g)| *p += g * neg_lr);
}

fn momentum_step(p: &mut [f32], v: &mut [f32], g: &[f32], momentum: f32, neg_lr: f32) {
    for ((p, v), &g) in p.iter_mut().zip(v.iter_mut()).zip(g) {
        *v = floor(*v * momentum + g, MOMENT_FLOOR);
        *p += *v * neg_lr;
    }
}

#[derive(Clone, Copy)]
struct AdamScalars {
    beta1: f32,
    beta2: f32,
    neg_lr: f32,
    eps: f32,
}

/// Moments below this are zero: next to eps (1e-8 and up) they move no
/// parameter, and left alone they decay into subnormal floats, whose
/// arithmetic costs a hundred times more. A converged run's moments all do:
/// digits with Adam ran at half its benchmark's speed.
const MOMENT_FLOOR: f32 = 1e-30;
/// Gradients below this add nothing to v (their square times 1 - beta2 would
/// be subnormal).
const SQUARE_FLOOR: f32 = 1e-17;

fn floor(x: f32, below: f32) -> f32 {
    if x.abs() < below {
        0.0
    } else {
        x
    }
}

fn adam(p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32], k: AdamScalars) {
    // The primitives' constants, rounded the same way.
    let (b1, c1, b2, c2) = (k.beta1, 1.0 - k.beta1, k.beta2, 1.0 - k.beta2);
    for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
        let gs = floor(g, SQUARE_FLOOR);
        *m = floor(*m * b1 + g * c1, MOMENT_FLOOR);
        *v = floor(*v * b2 + (gs * gs) * c2, MOMENT_FLOOR);
        let ratio = *m * (1.0 / (v.sqrt() + k.eps));
        *p += ratio * k.neg_lr;
    }
}

/// Replaces each recorded update whose assignments are still the ones it
/// lists by a [`FusedUpdate`] node; the states then keep their (rewritten)
/// buffers, and the primitive update, which nothing keeps any more, is pruned.
/// Updates whose gradient is not a plain contiguous tensor stay primitive.
pub fn fuse_updates(builder: &mut GraphBuilder) {
    for record in std::mem::take(&mut builder.updates) {
        if !fusable(builder, &record) {
            builder.updates.push(record);
            continue;
        }
        let tape = &builder.tape;
        let id = |t: &crate::engine::graph::Tensor| tape[t.0].id;
        let mut operands = vec![record.grad];
        operands.extend(&record.scalars);
        operands.extend(record.states.iter().map(|(s, _)| *s));
        let edges: Vec<(NodeIndex, ShapeTracker)> = operands.iter().map(|t| (id(t), tape[t.0].tracker)).collect();
        let kept: Vec<NodeIndex> =
            builder.outputs.iter().map(|(_, t)| id(t)).chain(builder.states.iter().map(|s| id(&s.tensor))).collect();
        let nexts: Vec<NodeIndex> = record.states.iter().map(|(_, next)| id(next)).collect();
        let graph = &mut builder.graph;
        let node = graph.graph.add_node(Box::new(FusedUpdate { rule: record.rule, states: record.states.len() }));
        for (order, (src, shape)) in edges.into_iter().enumerate() {
            graph.graph.add_edge(src, node, Dependency::Data { input_order: order as u8, output_order: 0, shape });
        }
        graph.keep_tensors(node);
        for next in nexts.into_iter().filter(|n| !kept.contains(n)) {
            graph.no_delete.remove(&next);
            graph.to_retrieve.remove(&next);
        }
        for (state, _) in &record.states {
            let slot = builder.states.iter_mut().find(|s| s.tensor == *state).expect("checked by fusable");
            slot.next = None;
        }
    }
}

/// True when the record still describes the graph: each state is assigned the
/// tensor it lists, and the gradient is contiguous over the parameter's shape.
fn fusable(builder: &GraphBuilder, record: &UpdateRecord) -> bool {
    let assigned = record.states.iter().all(|(state, next)| {
        builder.states.iter().any(|s| s.tensor == *state && s.next == Some(*next))
            && builder.shape(*state) == builder.shape(record.grad)
    });
    let grad = &builder.tape[record.grad.0].tracker;
    let plain = grad.is_contiguous() && !grad.is_sliced() && !grad.is_padded();
    let scalars = record.scalars.iter().all(|s| builder.shape(*s).is_empty());
    assigned && plain && scalars
}

/// Orders every fused update after the other readers of the states it
/// rewrites. Call once the graph's nodes are final (after pruning and fusion).
pub fn order_updates(graph: &mut Graph) {
    let updates: Vec<(NodeIndex, usize)> = graph
        .graph
        .node_indices()
        .filter_map(|n| graph.graph[n].as_any().downcast_ref::<FusedUpdate>().map(|u| (n, u.states)))
        .collect();
    for (node, states) in updates {
        let mut operands: Vec<(u8, NodeIndex)> = graph
            .graph
            .edges_directed(node, Direction::Incoming)
            .filter_map(|e| e.weight().as_data().map(|(order, _, _)| (order, e.source())))
            .collect();
        operands.sort_by_key(|(order, _)| *order);
        let written: Vec<NodeIndex> = operands[operands.len() - states..].iter().map(|(_, n)| *n).collect();
        let readers: Vec<NodeIndex> = written
            .iter()
            .flat_map(|&s| graph.graph.edges_directed(s, Direction::Outgoing).map(|e| e.target()).collect::<Vec<_>>())
            .filter(|&r| r != node)
            .collect();
        for r in readers {
            if !graph.graph.contains_edge(r, node) {
                graph.graph.add_edge(r, node, Dependency::Schedule);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A converged run's moments go to zero, never through subnormals, and
    /// the flushed exp2 gives zero where the true value would be subnormal.
    #[test]
    fn moments_and_exponentials_never_turn_subnormal() {
        let k = AdamScalars { beta1: 0.9, beta2: 0.999, neg_lr: -0.001, eps: 1e-8 };
        let (mut p, mut m, mut v) = (vec![1.0f32; 3], vec![1e-29f32, 0.0, 0.5], vec![1e-29f32, 0.0, 0.5]);
        for _ in 0..5000 {
            adam(&mut p, &mut m, &mut v, &[0.0, 1e-18, 0.0], k);
            assert!(m.iter().chain(&v).all(|x| x.is_normal() || *x == 0.0), "m {m:?} v {v:?}");
        }
        assert_eq!((m[0], v[0], v[1]), (0.0, 0.0, 0.0));
        let mut velocity = vec![1e-30f32];
        momentum_step(&mut p[..1], &mut velocity, &[0.0], 0.9, -0.01);
        assert_eq!(velocity[0], 0.0);
        let exp2 = super::super::kernels::unary_fn(crate::engine::graph::UnaryOp::Exp2);
        assert_eq!(exp2(-130.0), 0.0);
        assert_eq!(exp2(-126.0), f32::MIN_POSITIVE);
        assert_eq!(exp2(3.0), 8.0);
    }

    /// Above the threshold the tensor splits over threads; every element must
    /// still get exactly the single-threaded update.
    #[test]
    fn threaded_adam_matches_a_single_pass() {
        let n = PARALLEL_MIN * 2 + 3;
        let g: Vec<f32> = (0..n).map(|i| ((i % 17) as f32 - 8.0) * 0.01).collect();
        let start = |k: f32| -> Vec<f32> { (0..n).map(|i| ((i % 5) as f32) * k).collect() };
        let (mut p, mut m, mut v) = (start(0.1), start(0.01), start(0.001));
        let (mut p1, mut m1, mut v1) = (p.clone(), m.clone(), v.clone());
        let op = FusedUpdate { rule: UpdateRule::Adam { beta1: 0.9, beta2: 0.999 }, states: 3 };
        op.apply(&[&g, &[-1e-3], &[1e-8]], &mut [&mut p, &mut m, &mut v]);
        let k = AdamScalars { beta1: 0.9, beta2: 0.999, neg_lr: -1e-3, eps: 1e-8 };
        adam(&mut p1, &mut m1, &mut v1, &g, k);
        assert_eq!((p, m, v), (p1, m1, v1));
    }
}
