//! Fast CPU implementations of luminal's primitive ops.
//!
//! Same semantics as `luminal::op::*` (the tests run both and compare), but with
//! strides computed once per call and tight inner loops; buffers the executor hands
//! over as owned are reused in place. Views luminal can express but these kernels
//! do not (slices, padding) fall back to luminal's own implementation.

use luminal::op::{self as lop, InputTensor, Operator};
use luminal::prelude::{ShapeTracker, Tensor};

use super::pool::BufferPool;
use super::strided::{for_each_row, inner, StridedView};
use crate::engine::graph::{BinaryOp, ReduceOp, UnaryOp};

pub(crate) fn data<'a>(t: &'a InputTensor<'a>) -> &'a [f32] {
    lop::get_vec_from_tensor(t)
}

fn tensor(v: Vec<f32>) -> Vec<Tensor> {
    vec![Tensor::new(v)]
}

/// A CPU kernel over plain strided views. The executor calls `run` directly
/// with views it resolved once per batch size; `Operator::process` (used by
/// luminal's own executor and the tests) builds the views from the trackers.
pub trait Kernel {
    /// Computes the output. Owned inputs the kernel does not reuse stay in
    /// `inputs`, for the caller to recycle; new buffers come from `pool`.
    fn run(&mut self, inputs: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32>;
}

/// `Operator::process` for a kernel: views from the trackers, or luminal's own
/// op when one slices or pads (which the kernels do not handle).
pub(crate) fn process_with<K: Kernel>(
    kernel: &mut K,
    inp: Vec<(InputTensor, ShapeTracker)>,
    fallback: impl FnOnce(Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor>,
) -> Vec<Tensor> {
    let views: Option<Vec<StridedView>> = inp.iter().map(|(_, t)| StridedView::from_tracker(t)).collect();
    match views {
        Some(views) => {
            let mut inputs: Vec<InputTensor> = inp.into_iter().map(|(t, _)| t).collect();
            tensor(kernel.run(&mut inputs, &views, &mut BufferPool::default()))
        }
        None => fallback(inp),
    }
}

/// Takes the input's buffer when the executor owns it and it is laid out as the
/// output will be, so elementwise ops can work in place.
fn reusable(input: &mut InputTensor, view: &StridedView) -> Option<Vec<f32>> {
    if !view.is_contiguous() {
        return None;
    }
    match input {
        InputTensor::Owned(t) => {
            let v = t.data.as_any_mut().downcast_mut::<Vec<f32>>()?;
            (v.len() == view.len()).then(|| std::mem::take(v))
        }
        InputTensor::Borrowed(_) => None,
    }
}

/// Copies a view into contiguous order.
pub fn gather(src: &[f32], view: &StridedView, pool: &mut BufferPool) -> Vec<f32> {
    let mut out = pool.empty(view.len());
    let (n, [s]) = inner(&view.sizes, [&view.strides]);
    for_each_row(&view.sizes, [&view.strides], |[o]| {
        if s == 1 {
            out.extend_from_slice(&src[o..o + n]);
        } else {
            out.extend((0..n).map(|k| src[o + k * s]));
        }
    });
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct FastUnary(pub UnaryOp);

impl Operator for FastUnary {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        // luminal's unary ops ignore the view too.
        let mut inputs: Vec<InputTensor> = inp.into_iter().map(|(t, _)| t).collect();
        tensor(self.run(&mut inputs, &[], &mut BufferPool::default()))
    }
}

/// What a unary op computes, element by element.
pub(crate) fn unary_fn(op: UnaryOp) -> fn(f32) -> f32 {
    match op {
        UnaryOp::Log2 => f32::log2,
        UnaryOp::Exp2 => exp2_flushed,
        UnaryOp::Sin => f32::sin,
        UnaryOp::Sqrt => f32::sqrt,
        UnaryOp::Recip => f32::recip,
    }
}

/// 2^x, with the subnormal results (x below -126) as zero: a softmax of a
/// confident net makes them for every wrong class, and both computing them
/// and computing with them cost a hundred times a normal float.
fn exp2_flushed(x: f32) -> f32 {
    if x < -126.0 {
        0.0
    } else {
        x.exp2()
    }
}

impl Kernel for FastUnary {
    fn run(&mut self, inp: &mut [InputTensor], _views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        let f = unary_fn(self.0);
        // luminal's unary ops map the buffer element by element, view untouched.
        let mut buffer = match &mut inp[0] {
            InputTensor::Owned(t) => std::mem::take(lop::get_vec_from_tensor_owned(t)),
            InputTensor::Borrowed(t) => {
                let src = t.data.as_any().downcast_ref::<Vec<f32>>().unwrap();
                let mut out = pool.empty(src.len());
                out.extend(src.iter().map(|&x| f(x)));
                return out;
            }
        };
        buffer.iter_mut().for_each(|x| *x = f(*x));
        buffer
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FastBinary(pub BinaryOp);

impl FastBinary {
    fn fallback(self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        match self.0 {
            BinaryOp::Add => lop::Add.process(inp),
            BinaryOp::Mul => lop::Mul.process(inp),
            BinaryOp::Mod => lop::Mod.process(inp),
            BinaryOp::LessThan => lop::LessThan.process(inp),
        }
    }
}

#[inline(always)]
fn apply(op: BinaryOp, a: f32, b: f32) -> f32 {
    match op {
        BinaryOp::Add => a + b,
        BinaryOp::Mul => a * b,
        BinaryOp::Mod => a % b,
        BinaryOp::LessThan => (a < b) as u8 as f32,
    }
}

/// The inner loop of a binary op, monomorphized per op so it vectorizes.
#[inline(always)]
fn row<const OP: u8>(out: &mut [f32], a: &[f32], sa: usize, b: &[f32], sb: usize) {
    let op = binary_of(OP);
    let n = out.len();
    match (sa, sb) {
        (1, 1) => out.iter_mut().zip(&a[..n]).zip(&b[..n]).for_each(|((o, &x), &y)| *o = apply(op, x, y)),
        (1, 0) => {
            let y = b[0];
            out.iter_mut().zip(&a[..n]).for_each(|(o, &x)| *o = apply(op, x, y))
        }
        (0, 1) => {
            let x = a[0];
            out.iter_mut().zip(&b[..n]).for_each(|(o, &y)| *o = apply(op, x, y))
        }
        _ => out.iter_mut().enumerate().for_each(|(k, o)| *o = apply(op, a[k * sa], b[k * sb])),
    }
}

fn binary_into<const OP: u8>(out: &mut [f32], a: &[f32], va: &StridedView, b: &[f32], vb: &StridedView) {
    let (n, [sa, sb]) = inner(&va.sizes, [&va.strides, &vb.strides]);
    if va.is_contiguous() && vb.is_contiguous() {
        row::<OP>(out, a, 1, b, 1);
        return;
    }
    let mut o = 0;
    for_each_row(&va.sizes, [&va.strides, &vb.strides], |[oa, ob]| {
        let a_end = if sa == 0 { oa + 1 } else { oa + (n - 1) * sa + 1 };
        let b_end = if sb == 0 { ob + 1 } else { ob + (n - 1) * sb + 1 };
        row::<OP>(&mut out[o..o + n], &a[oa..a_end], sa, &b[ob..b_end], sb);
        o += n;
    });
}

impl Operator for FastBinary {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        let op = self.clone();
        process_with(self, inp, |inp| op.fallback(inp))
    }
}

impl Kernel for FastBinary {
    fn run(&mut self, inp: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        let (va, vb) = (&views[0], &views[1]);
        if va.is_empty() {
            return vec![];
        }
        // Reuse an owned operand's buffer as the output: each element is read
        // before it is written, at the same index.
        let op = self.0 as u8;
        if let Some(mut buf) = reusable(&mut inp[0], va) {
            inplace_any::<true>(op, &mut buf, data(&inp[1]), vb);
            buf
        } else if let Some(mut buf) = reusable(&mut inp[1], vb) {
            inplace_any::<false>(op, &mut buf, data(&inp[0]), va);
            buf
        } else {
            let (a, b) = (data(&inp[0]), data(&inp[1]));
            // Every element is written below.
            let mut out = pool.overwritable(va.len());
            match op {
                0 => binary_into::<0>(&mut out, a, va, b, vb),
                1 => binary_into::<1>(&mut out, a, va, b, vb),
                2 => binary_into::<2>(&mut out, a, va, b, vb),
                _ => binary_into::<3>(&mut out, a, va, b, vb),
            }
            out
        }
    }
}

/// `out = out (op) other` (`LEFT`) or `out = other (op) out`, where `out`
/// holds the reused operand contiguously; monomorphized per op and side.
fn inplace<const OP: u8, const LEFT: bool>(out: &mut [f32], other: &[f32], view: &StridedView) {
    let op = binary_of(OP);
    let f = |mine: f32, theirs: f32| if LEFT { apply(op, mine, theirs) } else { apply(op, theirs, mine) };
    let (n, [s]) = inner(&view.sizes, [&view.strides]);
    let mut o = 0;
    for_each_row(&view.sizes, [&view.strides], |[base]| {
        let row_out = &mut out[o..o + n];
        match s {
            1 => row_out.iter_mut().zip(&other[base..base + n]).for_each(|(x, &y)| *x = f(*x, y)),
            0 => {
                let y = other[base];
                row_out.iter_mut().for_each(|x| *x = f(*x, y))
            }
            _ => row_out.iter_mut().enumerate().for_each(|(k, x)| *x = f(*x, other[base + k * s])),
        }
        o += n;
    });
}

fn inplace_any<const LEFT: bool>(op: u8, out: &mut [f32], other: &[f32], view: &StridedView) {
    match op {
        0 => inplace::<0, LEFT>(out, other, view),
        1 => inplace::<1, LEFT>(out, other, view),
        2 => inplace::<2, LEFT>(out, other, view),
        _ => inplace::<3, LEFT>(out, other, view),
    }
}

#[inline(always)]
const fn binary_of(op: u8) -> BinaryOp {
    match op {
        0 => BinaryOp::Add,
        1 => BinaryOp::Mul,
        2 => BinaryOp::Mod,
        _ => BinaryOp::LessThan,
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FastReduce(pub ReduceOp, pub usize);

/// How values combine along the reduced axis; a type parameter, so each
/// reduction compiles to its own inlined, vectorizable loop.
trait Combine {
    const INIT: f32;
    fn combine(a: f32, b: f32) -> f32;
    /// Folds a contiguous run. Eight partial accumulators let the compiler use
    /// SIMD lanes (float addition is not reassociated on its own).
    #[inline(always)]
    fn fold(run: &[f32]) -> f32 {
        let mut lanes = [Self::INIT; 8];
        let chunks = run.chunks_exact(8);
        let tail = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                lanes[i] = Self::combine(lanes[i], c[i]);
            }
        }
        let mut acc = lanes.iter().fold(Self::INIT, |a, &b| Self::combine(a, b));
        for &x in tail {
            acc = Self::combine(acc, x);
        }
        acc
    }
}

struct Sum;
impl Combine for Sum {
    const INIT: f32 = 0.0;
    #[inline(always)]
    fn combine(a: f32, b: f32) -> f32 {
        a + b
    }
}

struct Max;
impl Combine for Max {
    const INIT: f32 = f32::NEG_INFINITY;
    #[inline(always)]
    fn combine(a: f32, b: f32) -> f32 {
        a.max(b)
    }
}

fn reduce<C: Combine>(src: &[f32], view: &StridedView, axis: usize, pool: &mut BufferPool) -> Vec<f32> {
    let k = view.sizes[axis];
    let axis_stride = view.strides[axis];
    let mut out_sizes = view.sizes.clone();
    out_sizes.remove(axis);
    let mut in_strides = view.strides.clone();
    in_strides.remove(axis);
    let out_len: usize = out_sizes.iter().product();
    let mut out = pool.filled(out_len, C::INIT);
    let (n, [s]) = inner(&out_sizes, [&in_strides]);
    if axis_stride == 1 && k > 1 {
        // The reduced axis is innermost in memory: fold each run.
        let mut o = 0;
        for_each_row(&out_sizes, [&in_strides], |[base]| {
            for j in 0..n {
                let start = base + j * s;
                out[o + j] = C::fold(&src[start..start + k]);
            }
            o += n;
        });
    } else {
        // Accumulate whole output rows per step along the axis, so the inner
        // loop runs over consecutive memory.
        for step in 0..k {
            let mut o = 0;
            let shift = step * axis_stride;
            for_each_row(&out_sizes, [&in_strides], |[base]| {
                let row_out = &mut out[o..o + n];
                let start = base + shift;
                if s == 1 {
                    row_out.iter_mut().zip(&src[start..start + n]).for_each(|(a, &x)| *a = C::combine(*a, x));
                } else {
                    row_out.iter_mut().enumerate().for_each(|(j, a)| *a = C::combine(*a, src[start + j * s]));
                }
                o += n;
            });
        }
    }
    out
}

impl Operator for FastReduce {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        let (op, axis) = (self.0, self.1);
        process_with(self, inp, |inp| match op {
            ReduceOp::Sum => lop::SumReduce(axis).process(inp),
            ReduceOp::Max => lop::MaxReduce(axis).process(inp),
        })
    }
}

impl Kernel for FastReduce {
    fn run(&mut self, inp: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        let src = data(&inp[0]);
        match self.0 {
            ReduceOp::Sum => reduce::<Sum>(src, &views[0], self.1, pool),
            ReduceOp::Max => reduce::<Max>(src, &views[0], self.1, pool),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FastContiguous;

impl Operator for FastContiguous {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        process_with(self, inp, |inp| lop::Contiguous.process(inp))
    }
}

impl Kernel for FastContiguous {
    fn run(&mut self, inp: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        gather(data(&inp[0]), &views[0], pool)
    }
}
