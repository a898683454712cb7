//! The graph builder: runtime-shaped tensor handles over luminal's primitive ops,
//! with a tape that reverse-mode autograd walks.
//!
//! Every op added here becomes luminal primitive nodes (`Add`, `Mul`, `Mod`,
//! `LessThan`, `Log2`, `Exp2`, `Sin`, `Sqrt`, `Recip`, `SumReduce`, `MaxReduce`,
//! `Contiguous`, `Constant`), so a backend compiler (our CPU passes or luminal_cuda)
//! sees one primitive graph. Views (permute, expand, reshape) cost nothing: they
//! live on the edges as shape trackers, and on the tape as nodes so autograd can
//! undo them. Matmul is recorded as one tape node, lowered to luminal's
//! expand-multiply-reduce pattern, so that its gradients are again matmuls and a
//! backend can replace the pattern with a GEMM.
//!
//! Conventions: the output of every compute node is contiguous over its logical
//! shape; binary ops take operands of equal logical shape (broadcasting is an
//! explicit `expand`, so it gets a gradient like any other op).

use luminal::op::{self as lop, ConstantValue};
use luminal::prelude::{Graph, NodeIndex, ShapeTracker};

use super::shape::{contiguous_tracker, describe, Dim, Shape};

/// A handle to a tensor in a [`GraphBuilder`]: an index into its tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tensor(pub(crate) usize);

/// Elementwise ops with one operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Log2,
    Exp2,
    Sin,
    Sqrt,
    Recip,
}

/// Elementwise ops with two operands of equal logical shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Mul,
    Mod,
    LessThan,
}

/// Reductions over one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Max,
}

/// What produced a tape node.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// Fed by the host before each execution (a batch, a random mask).
    Input,
    /// Persistent state: parameters, optimizer moments, running statistics.
    State,
    Constant(f32),
    Unary(UnaryOp),
    Binary(BinaryOp),
    Reduce(ReduceOp, usize),
    Contiguous,
    /// `[m, k] x [k, n] -> [m, n]`; `mul` is the luminal node of the expanded product.
    MatMul {
        mul: NodeIndex,
    },
    Permute(Vec<usize>),
    /// A broadcast: a new axis of the given size that repeats the data.
    Expand(usize),
    Reshape,
    /// Forwards the value but blocks gradients (masks, statistics treated as constant).
    Detach,
}

// By hand for the constant's bits: the fingerprint hashes every op.
impl std::hash::Hash for Op {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Op::Constant(v) => v.to_bits().hash(h),
            Op::Unary(op) => op.hash(h),
            Op::Binary(op) => op.hash(h),
            Op::Reduce(op, axis) => (op, axis).hash(h),
            Op::MatMul { mul } => mul.hash(h),
            Op::Permute(axes) => axes.hash(h),
            Op::Expand(n) => n.hash(h),
            Op::Input | Op::State | Op::Contiguous | Op::Reshape | Op::Detach => {}
        }
    }
}

/// One entry of the tape.
#[derive(Clone, Debug)]
pub struct Node {
    /// The luminal node holding the data.
    pub id: NodeIndex,
    /// How this handle views the luminal node's data.
    pub tracker: ShapeTracker,
    pub shape: Shape,
    pub op: Op,
    pub inputs: Vec<Tensor>,
    /// True when some state the gradient is asked for flows into this node.
    pub needs_grad: bool,
}

/// A persistent tensor and, once assigned, the node whose value replaces it after
/// each execution.
#[derive(Clone, Debug)]
pub struct StateSlot {
    pub name: String,
    pub tensor: Tensor,
    pub next: Option<Tensor>,
    pub trainable: bool,
}

/// An input fed by the host each execution.
#[derive(Clone, Debug)]
pub struct InputSlot {
    pub name: String,
    pub tensor: Tensor,
}

/// An optimizer's update of one parameter, recorded beside the primitive ops
/// that also express it (as a matmul is recorded for a GEMM), so that a backend
/// can run it as one in-place pass over the parameter and its moments.
#[derive(Clone, Debug, PartialEq)]
pub struct UpdateRecord {
    pub rule: UpdateRule,
    pub grad: Tensor,
    /// Scalar operands: the signed step size (bias corrections folded in), and
    /// for Adam the scaled epsilon.
    pub scalars: Vec<Tensor>,
    /// The states updated, parameter first, each with the tensor assigned to it.
    pub states: Vec<(Tensor, Tensor)>,
}

/// The per-element rule of an [`UpdateRecord`]; `neg_lr` and `eps` are its scalars.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UpdateRule {
    /// p <- p + g neg_lr.
    Sgd,
    /// v <- momentum v + g; p <- p + v neg_lr.
    Momentum { momentum: f32 },
    /// m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; p <- p + m / (sqrt(v) + eps) neg_lr.
    Adam { beta1: f32, beta2: f32 },
}

/// Builds one primitive luminal graph plus the tape autograd needs.
pub struct GraphBuilder {
    /// Boxed: luminal's `Constant` op keeps a pointer to the graph's dynamic
    /// dimension map, so the graph must never move.
    pub(crate) graph: Box<Graph>,
    pub(crate) tape: Vec<Node>,
    pub(crate) states: Vec<StateSlot>,
    pub(crate) inputs: Vec<InputSlot>,
    pub(crate) outputs: Vec<(String, Tensor)>,
    pub(crate) updates: Vec<UpdateRecord>,
}

impl Default for GraphBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// Room to reserve for a graph: a rebuild asks for what the same graph took
/// last time. Every luminal edge and tape entry holds a shape tracker of a few
/// kilobytes, so growing those vectors one doubling at a time copied more
/// bytes than building the graph wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capacity {
    pub tape: usize,
    pub nodes: usize,
    pub edges: usize,
}

impl Capacity {
    /// Room for either.
    pub fn max(self, other: Capacity) -> Capacity {
        Capacity {
            tape: self.tape.max(other.tape),
            nodes: self.nodes.max(other.nodes),
            edges: self.edges.max(other.edges),
        }
    }
}

impl GraphBuilder {
    pub fn new() -> Self {
        Self::with_capacity(Capacity::default())
    }

    /// A builder with room for a graph of this size.
    pub fn with_capacity(room: Capacity) -> Self {
        let mut graph = Box::new(Graph::new());
        graph.graph = luminal::prelude::petgraph::stable_graph::StableGraph::with_capacity(room.nodes, room.edges);
        Self {
            graph,
            tape: Vec::with_capacity(room.tape),
            states: Vec::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// The size of the graph built so far, as a [`Capacity`] for the next
    /// build of the same graph.
    pub fn size(&self) -> Capacity {
        Capacity { tape: self.tape.len(), nodes: self.graph.graph.node_count(), edges: self.graph.graph.edge_count() }
    }

    /// The tape entry of a handle.
    pub fn node(&self, t: Tensor) -> &Node {
        &self.tape[t.0]
    }

    /// Number of handles created so far (valid handles are below it).
    pub fn tape_len(&self) -> usize {
        self.tape.len()
    }

    /// The logical shape of a handle.
    pub fn shape(&self, t: Tensor) -> &[Dim] {
        &self.tape[t.0].shape
    }

    /// All persistent tensors, in creation order.
    pub fn states(&self) -> &[StateSlot] {
        &self.states
    }

    /// All host-fed inputs.
    pub fn inputs(&self) -> &[InputSlot] {
        &self.inputs
    }

    /// All named outputs.
    pub fn outputs(&self) -> &[(String, Tensor)] {
        &self.outputs
    }

    fn push(&mut self, id: NodeIndex, tracker: ShapeTracker, shape: Shape, op: Op, inputs: Vec<Tensor>) -> Tensor {
        let needs_grad = !matches!(op, Op::Detach) && inputs.iter().any(|t| self.tape[t.0].needs_grad);
        self.tape.push(Node { id, tracker, shape, op, inputs, needs_grad });
        Tensor(self.tape.len() - 1)
    }

    fn source(&mut self, label: String, shape: &[Dim], op: Op, needs_grad: bool) -> Tensor {
        let id = self.graph.graph.add_node(Box::new(lop::Function(
            label.clone(),
            Box::new(move |_| panic!("traintop: no value was fed for `{label}`")),
        )));
        let t = self.push(id, contiguous_tracker(shape), shape.to_vec(), op, vec![]);
        self.tape[t.0].needs_grad = needs_grad;
        t
    }

    /// A tensor fed by the host before each execution.
    pub fn input(&mut self, name: &str, shape: &[Dim]) -> Tensor {
        let t = self.source(format!("input {name}"), shape, Op::Input, false);
        self.inputs.push(InputSlot { name: name.to_string(), tensor: t });
        t
    }

    /// A persistent tensor. `trainable` states are the ones autograd differentiates.
    pub fn state(&mut self, name: &str, shape: &[Dim], trainable: bool) -> Tensor {
        assert!(!shape.contains(&Dim::Batch), "state `{name}` cannot depend on the batch size");
        assert!(self.states.iter().all(|s| s.name != name), "state `{name}` declared twice");
        let t = self.source(format!("state {name}"), shape, Op::State, trainable);
        self.graph.keep_tensors(self.tape[t.0].id);
        self.states.push(StateSlot { name: name.to_string(), tensor: t, next: None, trainable });
        t
    }

    /// After each execution, `value` becomes the new content of `state`.
    pub fn assign(&mut self, state: Tensor, value: Tensor) {
        let value = self.materialize(value);
        assert_eq!(self.shape(state), self.shape(value), "assign: shape mismatch");
        let keep = self.tape[value.0].id;
        self.graph.retrieve_tensors(keep);
        let slot = self.states.iter_mut().find(|s| s.tensor == state).expect("assign target is not a state");
        slot.next = Some(value);
    }

    /// Records that `update` expresses the assignments it lists (see [`UpdateRecord`]).
    pub fn record_update(&mut self, update: UpdateRecord) {
        self.updates.push(update);
    }

    /// The optimizer updates recorded so far.
    pub fn updates(&self) -> &[UpdateRecord] {
        &self.updates
    }

    /// Names a tensor whose value the host reads after execution.
    pub fn output(&mut self, name: &str, t: Tensor) {
        let t = self.materialize(t);
        self.graph.retrieve_tensors(self.tape[t.0].id);
        self.outputs.push((name.to_string(), t));
    }

    /// A scalar constant broadcast to `shape`.
    pub fn constant(&mut self, value: f32, shape: &[Dim]) -> Tensor {
        let dyn_map = &self.graph.dyn_map as *const _;
        let id = self.graph.add_op(lop::Constant(ConstantValue::Float(value), dyn_map)).finish();
        let scalar = self.push(id, ShapeTracker::new(&[]), vec![], Op::Constant(value), vec![]);
        self.broadcast_to(scalar, shape)
    }

    /// A contiguous copy when the handle is a view, the handle itself otherwise.
    pub fn materialize(&mut self, t: Tensor) -> Tensor {
        let tracker = self.tape[t.0].tracker;
        if tracker.is_contiguous() && !tracker.is_sliced() && !tracker.is_padded() {
            return t;
        }
        self.contiguous(t)
    }

    /// Copies a view into a contiguous buffer.
    pub fn contiguous(&mut self, t: Tensor) -> Tensor {
        let n = &self.tape[t.0];
        let (src, tracker, shape) = (n.id, n.tracker, n.shape.clone());
        let id = self.graph.add_op(lop::Contiguous).input(src, 0, tracker).finish();
        self.push(id, contiguous_tracker(&shape), shape, Op::Contiguous, vec![t])
    }

    pub fn unary(&mut self, op: UnaryOp, a: Tensor) -> Tensor {
        // luminal's unary ops transform the buffer without looking at the view.
        let a = self.materialize(a);
        let n = &self.tape[a.0];
        let (src, tracker, shape) = (n.id, n.tracker, n.shape.clone());
        let id = match op {
            UnaryOp::Log2 => self.graph.add_op(lop::Log2),
            UnaryOp::Exp2 => self.graph.add_op(lop::Exp2),
            UnaryOp::Sin => self.graph.add_op(lop::Sin),
            UnaryOp::Sqrt => self.graph.add_op(lop::Sqrt),
            UnaryOp::Recip => self.graph.add_op(lop::Recip),
        }
        .input(src, 0, tracker)
        .finish();
        self.push(id, contiguous_tracker(&shape), shape, Op::Unary(op), vec![a])
    }

    pub fn binary(&mut self, op: BinaryOp, a: Tensor, b: Tensor) -> Tensor {
        let (na, nb) = (&self.tape[a.0], &self.tape[b.0]);
        assert_eq!(
            na.shape,
            nb.shape,
            "{op:?}: operand shapes differ: {} vs {}",
            describe(&na.shape),
            describe(&nb.shape)
        );
        let (ia, ta, ib, tb, shape) = (na.id, na.tracker, nb.id, nb.tracker, na.shape.clone());
        let id = match op {
            BinaryOp::Add => self.graph.add_op(lop::Add),
            BinaryOp::Mul => self.graph.add_op(lop::Mul),
            BinaryOp::Mod => self.graph.add_op(lop::Mod),
            BinaryOp::LessThan => self.graph.add_op(lop::LessThan),
        }
        .input(ia, 0, ta)
        .input(ib, 0, tb)
        .finish();
        self.push(id, contiguous_tracker(&shape), shape, Op::Binary(op), vec![a, b])
    }

    pub fn reduce(&mut self, op: ReduceOp, a: Tensor, axis: usize) -> Tensor {
        let n = &self.tape[a.0];
        assert!(axis < n.shape.len(), "reduce axis {axis} out of range for {}", describe(&n.shape));
        let (src, tracker) = (n.id, n.tracker);
        let mut shape = n.shape.clone();
        shape.remove(axis);
        let id = match op {
            ReduceOp::Sum => self.graph.add_op(lop::SumReduce(axis)),
            ReduceOp::Max => self.graph.add_op(lop::MaxReduce(axis)),
        }
        .input(src, 0, tracker)
        .finish();
        self.push(id, contiguous_tracker(&shape), shape, Op::Reduce(op, axis), vec![a])
    }

    /// Reorders axes: output axis i is input axis `axes[i]`.
    pub fn permute(&mut self, a: Tensor, axes: &[usize]) -> Tensor {
        let n = &self.tape[a.0];
        assert_eq!(axes.len(), n.shape.len(), "permute: wrong number of axes");
        let mut tracker = n.tracker;
        tracker.permute(axes);
        let shape = axes.iter().map(|&i| n.shape[i]).collect();
        let id = n.id;
        self.push(id, tracker, shape, Op::Permute(axes.to_vec()), vec![a])
    }

    /// Inserts a broadcast axis of `size` at `axis`.
    pub fn expand(&mut self, a: Tensor, axis: usize, size: Dim) -> Tensor {
        let n = &self.tape[a.0];
        let mut tracker = n.tracker;
        tracker.expand(axis, size.expression());
        let mut shape = n.shape.clone();
        shape.insert(axis, size);
        let id = n.id;
        self.push(id, tracker, shape, Op::Expand(axis), vec![a])
    }

    /// Views the data under another shape with the same element count.
    pub fn reshape(&mut self, a: Tensor, shape: &[Dim]) -> Tensor {
        let a = self.materialize(a);
        let id = self.tape[a.0].id;
        self.push(id, contiguous_tracker(shape), shape.to_vec(), Op::Reshape, vec![a])
    }

    /// Forwards `a` without letting gradients through.
    pub fn detach(&mut self, a: Tensor) -> Tensor {
        let n = &self.tape[a.0];
        let (id, tracker, shape) = (n.id, n.tracker, n.shape.clone());
        self.push(id, tracker, shape, Op::Detach, vec![a])
    }

    /// Broadcasts `a` to `shape` with numpy's rules (trailing axes aligned; size-1
    /// axes and missing leading axes repeat).
    pub fn broadcast_to(&mut self, a: Tensor, shape: &[Dim]) -> Tensor {
        let from = self.shape(a).to_vec();
        if from == shape {
            return a;
        }
        assert!(from.len() <= shape.len(), "cannot broadcast {} to {}", describe(&from), describe(shape));
        let lead = shape.len() - from.len();
        // Drop size-1 axes that must repeat, then expand every missing axis.
        let keep: Vec<usize> =
            (0..from.len()).filter(|&i| !(from[i] == Dim::Fixed(1) && shape[lead + i] != Dim::Fixed(1))).collect();
        let mut t = a;
        if keep.len() != from.len() {
            let squeezed: Vec<Dim> = keep.iter().map(|&i| from[i]).collect();
            t = self.reshape(t, &squeezed);
        }
        let kept_targets: Vec<usize> = keep.iter().map(|&i| lead + i).collect();
        for (axis, &dim) in shape.iter().enumerate() {
            if !kept_targets.contains(&axis) {
                t = self.expand(t, axis, dim);
            } else {
                let src = from[axis - lead];
                assert_eq!(src, dim, "cannot broadcast {} to {}", describe(&from), describe(shape));
            }
        }
        t
    }

    /// `[m, k] x [k, n] -> [m, n]`.
    pub fn matmul(&mut self, a: Tensor, b: Tensor) -> Tensor {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        assert!(
            sa.len() == 2 && sb.len() == 2 && sa[1] == sb[0],
            "matmul: shapes {} and {} do not chain",
            describe(&sa),
            describe(&sb)
        );
        let (m, n) = (sa[0], sb[1]);
        // luminal's pattern: A[m,k] -> [m,n,k] (fake n), B[k,n] -> [n,k] -> [m,n,k]
        // (fake m), multiply, sum over k.
        let (na, nb) = (&self.tape[a.0], &self.tape[b.0]);
        let mut ta = na.tracker;
        ta.expand(1, n.expression());
        let mut tb = nb.tracker;
        tb.permute(&[1, 0]);
        tb.expand(0, m.expression());
        let (ia, ib) = (na.id, nb.id);
        let mul = self.graph.add_op(lop::Mul).input(ia, 0, ta).input(ib, 0, tb).finish();
        let product = {
            let mut t = ShapeTracker::new(&[m.expression(), n.expression(), sa[1].expression()]);
            t.fake.iter_mut().for_each(|f| *f = false);
            t
        };
        let id = self.graph.add_op(lop::SumReduce(2)).input(mul, 0, product).finish();
        let shape = vec![m, n];
        self.push(id, contiguous_tracker(&shape), shape, Op::MatMul { mul }, vec![a, b])
    }
}
