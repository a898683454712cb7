//! `traintop bench --roofline`: the machine's SGEMM rate with the GEMM the
//! engine runs (same library, same threads), and the share of it a training
//! step reaches. An MLP step is nearly all GEMM work, so that share says how
//! far the step is from the bound the hardware and the GEMM set.

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use crate::engine::cpu::gemm;

/// The figures `--roofline` adds to the report.
#[derive(Clone, Debug, Serialize)]
pub struct Roofline {
    /// Side of the square product timed.
    pub sgemm_n: usize,
    /// Best rate of the square product over the repetitions.
    pub sgemm_gflops: f64,
    /// The step's matmul work per second.
    pub step_gflops: f64,
    /// `step_gflops / sgemm_gflops`.
    pub share: f64,
}

/// Side of the square product (2048: large enough to run at the GEMM's peak).
pub const SGEMM_N: usize = 2048;

/// GFLOP/s of an `n x n` by `n x n` product, best of `reps` after a warm-up
/// (a shared machine only ever slows a run down).
pub fn sgemm_gflops(n: usize, reps: usize) -> f64 {
    let a = Array2::from_shape_fn((n, n), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.1 - 0.6);
    let b = Array2::from_shape_fn((n, n), |(i, j)| ((i * 5 + j * 11) % 17) as f32 * 0.1 - 0.8);
    let mut out = vec![0.0f32; n * n];
    let (a, b): (ArrayView2<f32>, ArrayView2<f32>) = (a.view(), b.view());
    gemm(&a, &b, &mut out);
    let flops = 2.0 * (n as f64).powi(3);
    (0..reps.max(1))
        .map(|_| {
            let start = Instant::now();
            gemm(&a, &b, &mut out);
            flops / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// Floating-point operations of the matmuls in one training step of an MLP
/// with these widths: each layer's forward product, its weight gradient and,
/// but for the first layer (whose input needs no gradient), its input gradient.
pub fn step_flops(layers: &[usize], batch: usize) -> f64 {
    let per_product = |l: usize| 2.0 * batch as f64 * layers[l] as f64 * layers[l + 1] as f64;
    (0..layers.len() - 1).map(|l| per_product(l) * if l == 0 { 2.0 } else { 3.0 }).sum()
}

/// The roofline figures for a step of `ms_per_step` milliseconds.
pub fn measure(layers: &[usize], batch: usize, ms_per_step: f64) -> Roofline {
    let sgemm = sgemm_gflops(SGEMM_N, 5);
    let step = step_flops(layers, batch) / (ms_per_step / 1e3) / 1e9;
    Roofline { sgemm_n: SGEMM_N, sgemm_gflops: sgemm, step_gflops: step, share: step / sgemm }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_flops_count_forward_and_both_gradients() {
        // 784-256-10 at batch 128: 2 products for layer 0, 3 for layer 1.
        let expected = 2.0 * 128.0 * (784.0 * 256.0 * 2.0 + 256.0 * 10.0 * 3.0);
        assert_eq!(step_flops(&[784, 256, 10], 128), expected);
    }

    #[test]
    fn a_small_product_reports_a_positive_rate() {
        assert!(sgemm_gflops(64, 2) > 0.0);
    }
}
