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
        let mut out = pool.filled(m * n, 0.0);
        {
            let mut c = ArrayViewMut2::from_shape((m, n), &mut out).expect("output matrix");
            if n > m {
                // matrixmultiply splits work over the output's rows: with few
                // rows (a batch of 128 against 256 units) the second thread idles.
                // C^T = B^T A^T is the same product with the long side as rows;
                // all three are only views with swapped strides.
                let mut ct = c.view_mut().reversed_axes();
                general_mat_mul(1.0, &b.t(), &a.t(), 0.0, &mut ct);
            } else {
                general_mat_mul(1.0, &a, &b, 0.0, &mut c);
            }
        }
        out
    }
}
