//! The matmul kernel: luminal's expand-multiply-reduce pattern for `[m,k] x [k,n]`
//! executed as one SGEMM. Transposed operands (the gradient matmuls) are just
//! other strides, so no transpose is ever copied.

use luminal::op::{InputTensor, Operator};
use luminal::prelude::{ShapeTracker, Tensor};
use ndarray::{linalg::general_mat_mul, ArrayView2, ArrayViewMut2, ShapeBuilder};

use super::kernels::{data, gather, process_with, Kernel};
use super::pool::BufferPool;
use super::strided::StridedView;

/// `C[m,n] = A[m,k] B[k,n]` over strided 2-D views.
#[derive(Debug, Clone, PartialEq)]
pub struct FastMatMul;

/// A 2-D view of a buffer; views with a broadcast axis are gathered first, since
/// a zero stride would alias the output of no use to SGEMM.
fn view2<'a>(
    src: &'a [f32],
    view: &StridedView,
    storage: &'a mut Vec<f32>,
    pool: &mut BufferPool,
) -> ArrayView2<'a, f32> {
    let (rows, cols) = (view.sizes[0], view.sizes[1]);
    if view.strides.contains(&0) && rows * cols > 0 {
        *storage = gather(src, view, pool);
        return ArrayView2::from_shape((rows, cols), storage).expect("gathered matrix");
    }
    let extent = if rows * cols == 0 { 0 } else { (rows - 1) * view.strides[0] + (cols - 1) * view.strides[1] + 1 };
    ArrayView2::from_shape((rows, cols).strides((view.strides[0], view.strides[1])), &src[..extent])
        .expect("strided matrix view")
}

impl Operator for FastMatMul {
    fn process(&mut self, inp: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
        process_with(self, inp, |_| panic!("matmul operands are plain views (the builder makes them)"))
    }
}

impl Kernel for FastMatMul {
    fn run(&mut self, inp: &mut [InputTensor], views: &[StridedView], pool: &mut BufferPool) -> Vec<f32> {
        let (va, vb) = (&views[0], &views[1]);
        let (m, n) = (va.sizes[0], vb.sizes[1]);
        let (mut sa, mut sb) = (Vec::new(), Vec::new());
        let a = view2(data(&inp[0]), va, &mut sa, pool);
        let b = view2(data(&inp[1]), vb, &mut sb, pool);
        // beta = 0: the GEMM writes every element without reading it.
        let mut out = pool.overwritable(m * n);
        gemm(&a, &b, &mut out);
        out
    }
}

/// `out = a b` (row-major `out`, every element overwritten): the GEMM every
/// matmul node runs, also timed by `traintop bench --roofline`.
pub fn gemm(a: &ArrayView2<f32>, b: &ArrayView2<f32>, out: &mut [f32]) {
    let (m, n) = (a.nrows(), b.ncols());
    let mut c = ArrayViewMut2::from_shape((m, n), out).expect("output matrix");
    if n > m {
        // matrixmultiply splits work over the output's rows: with few
        // rows (a batch of 128 against 256 units) the second thread idles.
        // C^T = B^T A^T is the same product with the long side as rows;
        // all three are only views with swapped strides.
        let mut ct = c.view_mut().reversed_axes();
        general_mat_mul(1.0, &b.t(), &a.t(), 0.0, &mut ct);
    } else {
        general_mat_mul(1.0, a, b, 0.0, &mut c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output buffer may hold an earlier tensor's values, even NaN: the
    /// GEMM must overwrite them, not scale them by beta = 0 (NaN * 0 is NaN).
    #[test]
    fn stale_output_buffers_are_overwritten() {
        // Both orientations: rows >= columns, and the transposed product.
        for (m, k, n) in [(40, 7, 30), (30, 7, 40)] {
            check(m, k, n);
        }
    }

    fn check(m: usize, k: usize, n: usize) {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 5) as f32 - 2.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 3) as f32 * 0.5).collect();
        let mut pool = BufferPool::default();
        pool.recycle(vec![f32::NAN; m * n]);
        let (ta, tb) = (Tensor::new(a.clone()), Tensor::new(b.clone()));
        let mut inputs = vec![InputTensor::Borrowed(&ta), InputTensor::Borrowed(&tb)];
        let views = [
            StridedView { sizes: vec![m, k], strides: vec![k, 1] },
            StridedView { sizes: vec![k, n], strides: vec![n, 1] },
        ];
        let c = FastMatMul.run(&mut inputs, &views, &mut pool);
        for i in 0..m {
            for j in 0..n {
                let expected: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((c[i * n + j] - expected).abs() < 1e-4, "c[{i}][{j}] = {}, expected {expected}", c[i * n + j]);
            }
        }
    }
}
