//! Elementwise fusion: chains of elementwise ops whose intermediate results
//! have a single consumer become one node that evaluates the whole chain row by
//! row, in registers of at most `BLOCK` floats that stay in the L1 cache.
//!
//! A sigmoid is a dozen primitive ops and an Adam update twenty; unfused, each
//! op allocates its output and streams the whole tensor through memory.
//! Fused, a chain reads its inputs once and writes its output once. The
//! program is a short list of instructions, each a tight loop over a block, so
//! the interpretation cost is paid per block, not per element.
//!
//! `TRAINTOP_NO_FUSION=1` in the environment skips the pass (to compare or to
//! rule it out when chasing a numerical difference).

use luminal::op::{self as lop, ConstantValue, InputTensor, Operator};
use luminal::prelude::petgraph::visit::EdgeRef;
use luminal::prelude::petgraph::Direction;
use luminal::prelude::{Dependency, Graph, NodeIndex, ShapeTracker, Tensor};

use super::kernels::{data, process_with, unary_fn, FastBinary, FastUnary, Kernel};
use super::pool::BufferPool;
use super::strided::{inner, StridedView};
use crate::engine::graph::{BinaryOp, UnaryOp};

/// Floats per register: small enough for the registers of a long chain to stay
/// in L1, long enough to amortize the dispatch of each instruction.
const BLOCK: usize = 256;

thread_local! {
    /// Each thread's registers, kept across calls: zeroing a fresh set for
    /// every kernel run was a seventh of a small net's step.
    static REGISTERS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One instruction; each writes the register of its own index.
#[derive(Clone, Debug, PartialEq)]
enum Instr {
    Load(usize),
    Const(f32),
    Unary(UnaryOp, usize),
    Binary(BinaryOp, usize, usize),
}

/// A fused chain of elementwise ops. The last instruction is the result.
#[derive(Clone, Debug, PartialEq)]
pub struct FusedElementwise {
    program: Vec<Instr>,
}

#[inline(always)]
fn apply_unary(op: UnaryOp, out: &mut [f32], a: &[f32]) {
    // One loop per op, so each is a direct (vectorizable) loop.
    match op {
        UnaryOp::Recip => out.iter_mut().zip(a).for_each(|(o, &x)| *o = 1.0 / x),
        UnaryOp::Sqrt => out.iter_mut().zip(a).for_each(|(o, &x)| *o = x.sqrt()),
        other => {
            let f = unary_fn(other);
            out.iter_mut().zip(a).for_each(|(o, &x)| *o = f(x))
        }
    }
}

#[inline(always)]
fn apply_binary(op: BinaryOp, out: &mut [f32], a: &[f32], b: &[f32]) {
    let it = out.iter_mut().zip(a.iter().zip(b));
    match op {
        BinaryOp::Add => it.for_each(|(o, (&x, &y))| *o = x + y),
        BinaryOp::Mul => it.for_each(|(o, (&x, &y))| *o = x * y),
        BinaryOp::Mod => it.for_each(|(o, (&x, &y))| *o = x % y),
        BinaryOp::LessThan => it.for_each(|(o, (&x, &y))| *o = (x < y) as u8 as f32),
    }
}

impl Operator for FusedElementwise {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        process_with(self, inp, |_| panic!("fused inputs are plain views (checked when fusing)"))
    }
}

/// Fused ops at least this large split their rows over two threads (a scoped
/// thread costs some tens of microseconds; a pass over this many floats more).
const PARALLEL_MIN: usize = 1 << 16;

impl FusedElementwise {
    /// Evaluates rows `rows` of the output into `out` (which holds exactly
    /// those rows). `reuse` is the input whose buffer `out` is, if any: its
    /// values are read from `out` itself, each block before it is written.
    #[allow(clippy::too_many_arguments)]
    fn rows(
        &self,
        out: &mut [f32],
        rows: std::ops::Range<usize>,
        sizes: &[usize],
        views: &[StridedView],
        sources: &[&[f32]],
        inner_strides: &[usize],
        reuse: Option<usize>,
    ) {
        self.with_registers(|regs| self.rows_in(regs, out, rows, sizes, views, sources, inner_strides, reuse));
    }

    /// [`FusedElementwise::rows`] with the registers given. They need no
    /// clearing: each instruction writes its register before any reads it
    /// (a contiguous load is read where it lies, never from its register).
    #[allow(clippy::too_many_arguments)]
    fn rows_in(
        &self,
        regs: &mut [f32],
        out: &mut [f32],
        rows: std::ops::Range<usize>,
        sizes: &[usize],
        views: &[StridedView],
        sources: &[&[f32]],
        inner_strides: &[usize],
        reuse: Option<usize>,
    ) {
        let row_len = sizes.last().copied().unwrap_or(1);
        let outer = &sizes[..sizes.len().saturating_sub(1)];
        let mut offsets = vec![0usize; views.len()];
        for (local, r) in rows.enumerate() {
            // Buffer offset of row r in each input: r decomposed over the outer axes.
            offsets.iter_mut().for_each(|o| *o = 0);
            let mut rest = r;
            for axis in (0..outer.len()).rev() {
                let i = rest % outer[axis];
                rest /= outer[axis];
                for (o, v) in offsets.iter_mut().zip(views) {
                    *o += i * v.strides[axis];
                }
            }
            let row_out = &mut out[local * row_len..(local + 1) * row_len];
            let mut start = 0;
            while start < row_len {
                let len = BLOCK.min(row_len - start);
                let result = {
                    // Contiguous inputs are read where they lie; only strided or
                    // broadcast ones are copied into their register.
                    let direct = |k: usize| -> Option<&[f32]> {
                        (inner_strides[k] == 1 && Some(k) != reuse).then(|| {
                            let base = offsets[k] + start;
                            &sources[k][base..base + len]
                        })
                    };
                    let block_out = &row_out[start..start + len];
                    let mut load = |k: usize, dst: &mut [f32]| {
                        let (src, s) = (sources[k], inner_strides[k]);
                        let base = offsets[k] + start * s;
                        match s {
                            _ if Some(k) == reuse => dst.copy_from_slice(block_out),
                            0 => dst.fill(src[base]),
                            _ => dst.iter_mut().enumerate().for_each(|(j, d)| *d = src[base + j * s]),
                        }
                    };
                    run_block(&self.program, regs, len, &direct, &mut load)
                };
                row_out[start..start + len].copy_from_slice(&regs[result..result + len]);
                start += len;
            }
        }
    }

    /// The whole output as one run of blocks of whole rows, for short rows
    /// whose inputs are each contiguous, one broadcast row, or one scalar: a
    /// small net's 64-wide rows would otherwise pay the program's dispatch
    /// once per row rather than once per block.
    fn flat_in(
        &self,
        regs: &mut [f32],
        out: &mut [f32],
        row_len: usize,
        layouts: &[Layout],
        sources: &[&[f32]],
        reuse: Option<usize>,
    ) {
        let per_block = (BLOCK / row_len).max(1) * row_len;
        let mut start = 0;
        while start < out.len() {
            let len = per_block.min(out.len() - start);
            let result = {
                let direct = |k: usize| -> Option<&[f32]> {
                    (layouts[k] == Layout::Contiguous && Some(k) != reuse).then(|| &sources[k][start..start + len])
                };
                let block_out = &out[start..start + len];
                let mut load = |k: usize, dst: &mut [f32]| match layouts[k] {
                    _ if Some(k) == reuse => dst.copy_from_slice(block_out),
                    Layout::Contiguous => dst.copy_from_slice(&sources[k][start..start + len]),
                    Layout::Row => dst.chunks_mut(row_len).for_each(|c| c.copy_from_slice(&sources[k][..c.len()])),
                    Layout::Scalar => dst.fill(sources[k][0]),
                };
                run_block(&self.program, regs, len, &direct, &mut load)
            };
            out[start..start + len].copy_from_slice(&regs[result..result + len]);
            start += len;
        }
    }

    /// [`FusedElementwise::flat_in`] with this thread's registers.
    fn flat(&self, out: &mut [f32], row_len: usize, layouts: &[Layout], sources: &[&[f32]], reuse: Option<usize>) {
        self.with_registers(|regs| self.flat_in(regs, out, row_len, layouts, sources, reuse));
    }

    /// Runs `f` with this thread's registers, grown to this program's size.
    fn with_registers(&self, f: impl FnOnce(&mut [f32])) {
        REGISTERS.with(|cell| {
            let mut regs = cell.borrow_mut();
            let need = self.program.len() * BLOCK;
            if regs.len() < need {
                regs.resize(need, 0.0);
            }
            f(&mut regs[..need]);
        });
    }
}

/// How an input of a short-row kernel lies in its buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Element i of the output's order is element i of the buffer.
    Contiguous,
    /// One row, repeated for every row (a bias).
    Row,
    /// One value for every element.
    Scalar,
}

fn layout(v: &StridedView) -> Option<Layout> {
    let (last, outer) = v.strides.split_last()?;
    match () {
        _ if v.is_contiguous() => Some(Layout::Contiguous),
        _ if *last == 0 && outer.iter().all(|&s| s == 0) => Some(Layout::Scalar),
        _ if *last == 1 && outer.iter().all(|&s| s == 0) => Some(Layout::Row),
        _ => None,
    }
}

/// Runs `program` over one block of `len` elements into `regs`; returns
/// where the result's register starts. `direct(k)` is input k's block where
/// it lies, when it can be read in place; otherwise `load(k, register)`
/// copies it.
fn run_block<'a>(
    program: &[Instr],
    regs: &mut [f32],
    len: usize,
    direct: &dyn Fn(usize) -> Option<&'a [f32]>,
    load: &mut dyn FnMut(usize, &mut [f32]),
) -> usize {
    for (i, ins) in program.iter().enumerate() {
        let (before, rest) = regs.split_at_mut(i * BLOCK);
        let dst = &mut rest[..len];
        let reg = |r: usize| match program[r] {
            Instr::Load(k) => direct(k).unwrap_or(&before[r * BLOCK..r * BLOCK + len]),
            _ => &before[r * BLOCK..r * BLOCK + len],
        };
        match *ins {
            Instr::Load(k) if direct(k).is_none() => load(k, dst),
            Instr::Load(_) => {}
            Instr::Const(v) => dst.fill(v),
            Instr::Unary(op, a) => apply_unary(op, dst, reg(a)),
            Instr::Binary(op, a, b) => apply_binary(op, dst, reg(a), reg(b)),
        }
    }
    (program.len() - 1) * BLOCK
}

impl Kernel for FusedElementwise {
    fn run(&mut self, inp: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        let sizes = views[0].sizes.clone();
        let total: usize = sizes.iter().product();
        // Write into an input's buffer when the executor hands one over in the
        // output's layout: each block is read before it is overwritten.
        let reuse = (0..inp.len()).find(|&k| {
            matches!(inp[k], InputTensor::Owned(_)) && views[k].is_contiguous() && data(&inp[k]).len() == total
        });
        let mut out: Vec<f32> = match reuse {
            Some(k) => match &mut inp[k] {
                InputTensor::Owned(t) => std::mem::take(lop::get_vec_from_tensor_owned(t)),
                InputTensor::Borrowed(_) => unreachable!("checked above"),
            },
            // Every element is written below.
            None => pool.overwritable(total),
        };
        if total == 0 {
            return out;
        }
        let sources: Vec<&[f32]> = inp.iter().map(|t| data(t)).collect();
        let inner_strides: Vec<usize> = views.iter().map(|v| inner(&v.sizes, [&v.strides]).1[0]).collect();
        let row_len = sizes.last().copied().unwrap_or(1);
        let rows = total / row_len;
        if row_len < BLOCK && total < PARALLEL_MIN {
            if let Some(layouts) = views.iter().map(layout).collect::<Option<Vec<Layout>>>() {
                self.flat(&mut out, row_len, &layouts, &sources, reuse);
                return out;
            }
        }
        if total >= PARALLEL_MIN && rows >= 2 {
            let mid = rows / 2;
            let (first, second) = out.split_at_mut(mid * row_len);
            let this = &*self;
            let (sizes, sources, strides) = (&sizes, &sources, &inner_strides);
            std::thread::scope(|scope| {
                scope.spawn(|| this.rows(second, mid..rows, sizes, views, sources, strides, reuse));
                this.rows(first, 0..mid, sizes, views, sources, strides, reuse);
            });
        } else {
            self.rows(&mut out, 0..rows, &sizes, views, &sources, &inner_strides, reuse);
        }
        out
    }
}

/// What a node computes, if it is elementwise.
enum Kind {
    Unary(UnaryOp),
    Binary(BinaryOp),
}

fn kind(graph: &Graph, n: NodeIndex) -> Option<Kind> {
    let op = graph.graph.node_weight(n)?;
    if let Some(u) = op.as_any().downcast_ref::<FastUnary>() {
        return Some(Kind::Unary(u.0));
    }
    op.as_any().downcast_ref::<FastBinary>().map(|b| Kind::Binary(b.0))
}

fn constant_value(graph: &Graph, n: NodeIndex) -> Option<f32> {
    match &graph.graph.node_weight(n)?.as_any().downcast_ref::<lop::Constant>()?.0 {
        ConstantValue::Float(v) => Some(*v),
        ConstantValue::Expression(_) => None,
    }
}

/// Incoming data edges of `n`, by operand order. The trackers are borrowed:
/// each is some kilobytes (luminal keeps its symbolic dimensions inline), and
/// copying them was most of this pass's time.
fn operands(graph: &Graph, n: NodeIndex) -> Vec<(NodeIndex, u8, u8, &ShapeTracker)> {
    let mut v: Vec<_> = graph
        .graph
        .edges_directed(n, Direction::Incoming)
        .filter_map(|e| match e.weight() {
            Dependency::Data { input_order, output_order, shape } => {
                Some((e.source(), *input_order, *output_order, shape))
            }
            Dependency::Schedule => None,
        })
        .collect();
    v.sort_by_key(|x| x.1);
    v
}

fn plain(t: &ShapeTracker) -> bool {
    !t.is_sliced() && !t.is_padded()
}

/// True when the producer's contiguous output is read in its own layout.
fn same_layout(t: &ShapeTracker) -> bool {
    plain(t) && t.is_contiguous()
}

/// True when `producer` computes over the shape its consumer reads it as (not
/// through a reshape), so one loop over the consumer's shape covers both.
fn same_shape(graph: &Graph, producer: NodeIndex, edge: &ShapeTracker) -> bool {
    let shape = edge.shape();
    operands(graph, producer).iter().all(|(_, _, _, t)| t.shape() == shape)
}

/// Fuses elementwise chains in place. Call after the kernels are assigned and
/// dead nodes pruned.
pub fn fuse(graph: &mut Graph) {
    let Ok(order) = luminal::prelude::petgraph::algo::toposort(&graph.graph, None) else { return };
    let position: std::collections::HashMap<NodeIndex, usize> =
        order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut assigned = std::collections::HashSet::new();
    // Roots from the end, so each group grows backwards from its consumer.
    for &root in order.iter().rev() {
        if assigned.contains(&root) || kind(graph, root).is_none() {
            continue;
        }
        let mut members = vec![root];
        let mut frontier = vec![root];
        while let Some(n) = frontier.pop() {
            for (src, _, out, tracker) in operands(graph, n) {
                let single_consumer = graph.graph.edges_directed(src, Direction::Outgoing).count() == 1;
                if out == 0
                    && kind(graph, src).is_some()
                    && single_consumer
                    && !graph.no_delete.contains(&src)
                    && !assigned.contains(&src)
                    && same_layout(tracker)
                    && same_shape(graph, src, tracker)
                {
                    members.push(src);
                    frontier.push(src);
                }
            }
        }
        // Every input of the fused node must be a plain strided view.
        let all_plain = members.iter().all(|&m| operands(graph, m).iter().all(|(_, _, _, t)| plain(t)));
        if members.len() < 2 || !all_plain {
            continue;
        }
        members.sort_by_key(|m| position[m]);
        assigned.extend(members.iter().copied());
        let mut program = vec![];
        let mut register = std::collections::HashMap::new();
        let mut inputs: Vec<(NodeIndex, u8, ShapeTracker)> = vec![];
        for &m in &members {
            let mut regs = vec![];
            for (src, _, out, tracker) in operands(graph, m) {
                let r = if let Some(&r) = register.get(&src).filter(|_| members.contains(&src)) {
                    r
                } else if let Some(v) = constant_value(graph, src).filter(|_| tracker.fake.iter().all(|&f| f)) {
                    program.push(Instr::Const(v));
                    program.len() - 1
                } else {
                    inputs.push((src, out, *tracker));
                    program.push(Instr::Load(inputs.len() - 1));
                    program.len() - 1
                };
                regs.push(r);
            }
            program.push(match kind(graph, m).expect("member is elementwise") {
                Kind::Unary(op) => Instr::Unary(op, regs[0]),
                Kind::Binary(op) => Instr::Binary(op, regs[0], regs[1]),
            });
            register.insert(m, program.len() - 1);
        }
        // A fused node needs a loaded input to know its shape, and operand
        // numbers are bytes.
        if inputs.is_empty() || inputs.len() > 64 {
            continue;
        }
        let incoming: Vec<_> = graph.graph.edges_directed(root, Direction::Incoming).map(|e| e.id()).collect();
        for e in incoming {
            graph.graph.remove_edge(e);
        }
        for &m in members.iter().filter(|&&m| m != root) {
            graph.graph.remove_node(m);
        }
        for (i, (src, out, tracker)) in inputs.into_iter().enumerate() {
            graph.graph.add_edge(
                src,
                root,
                Dependency::Data { input_order: i as u8, output_order: out, shape: tracker },
            );
        }
        graph.graph[root] = Box::new(FusedElementwise { program });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(sizes: &[usize], strides: &[usize]) -> StridedView {
        StridedView { sizes: sizes.to_vec(), strides: strides.to_vec() }
    }

    /// x * bias + c, over rows of 3: the whole-block path (a contiguous x,
    /// a broadcast row, a scalar) and the row-by-row path (x read through a
    /// transposed view) give what the ops say.
    #[test]
    fn short_rows_with_broadcast_rows_and_scalars() {
        let kernel = FusedElementwise {
            program: vec![
                Instr::Load(0),
                Instr::Load(1),
                Instr::Binary(BinaryOp::Mul, 0, 1),
                Instr::Load(2),
                Instr::Binary(BinaryOp::Add, 2, 3),
            ],
        };
        let (rows, cols) = (100, 3);
        let x: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let bias = vec![1.0, 10.0, 100.0];
        let expected: Vec<f32> = (0..rows * cols).map(|i| x[i] * bias[i % cols] + 0.5).collect();
        let (x_t, b_t, c_t) = (Tensor::new(x.clone()), Tensor::new(bias.clone()), Tensor::new(vec![0.5f32]));
        let broadcast = [view(&[rows, cols], &[0, 1]), view(&[rows, cols], &[0, 0])];
        let flat = [view(&[rows, cols], &[cols, 1]), broadcast[0].clone(), broadcast[1].clone()];
        assert!(flat.iter().all(|v| layout(v).is_some()));
        let mut inputs = vec![InputTensor::Borrowed(&x_t), InputTensor::Borrowed(&b_t), InputTensor::Borrowed(&c_t)];
        let got = kernel.clone().run(&mut inputs, &flat, &mut BufferPool::default());
        assert_eq!(got, expected);

        // The same x stored transposed: only the row path can read it.
        let xt: Vec<f32> = (0..rows * cols).map(|j| x[(j % rows) * cols + j / rows]).collect();
        let xt_t = Tensor::new(xt);
        let strided = [view(&[rows, cols], &[1, rows]), broadcast[0].clone(), broadcast[1].clone()];
        assert!(layout(&strided[0]).is_none());
        let mut inputs = vec![InputTensor::Borrowed(&xt_t), InputTensor::Borrowed(&b_t), InputTensor::Borrowed(&c_t)];
        let got = kernel.clone().run(&mut inputs, &strided, &mut BufferPool::default());
        assert_eq!(got, expected);
    }
}
