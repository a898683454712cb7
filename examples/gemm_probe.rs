use ndarray::{linalg::general_mat_mul, Array2, ShapeBuilder};
use std::time::Instant;
fn main() {
    let (m, k, n) = (128usize, 784usize, 256usize);
    let a = Array2::<f32>::from_shape_fn((m, k), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.01);
    let b = Array2::<f32>::from_shape_fn((k, n), |(i, j)| ((i * 3 + j) % 11) as f32 * 0.01);
    let mut c = Array2::<f32>::zeros((m, n));
    let reps = 2000;
    for _ in 0..50 {
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    }
    let t = Instant::now();
    for _ in 0..reps {
        general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!("fwd {m}x{k}x{n}: {:.3} ms, {:.1} GFLOPS", s * 1e3, 2.0 * (m * k * n) as f64 / s / 1e9);
    // dW = A^T G: [k, m] x [m, n]
    let g = Array2::<f32>::from_shape_fn((m, n), |(i, j)| ((i + j) % 5) as f32 * 0.01);
    let mut dw = Array2::<f32>::zeros((k, n));
    let at = a.t();
    let t = Instant::now();
    for _ in 0..reps {
        general_mat_mul(1.0, &at, &g, 0.0, &mut dw);
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!("dW {k}x{m}x{n}: {:.3} ms, {:.1} GFLOPS", s * 1e3, 2.0 * (m * k * n) as f64 / s / 1e9);
    // fwd as C^T = B^T A^T
    let t = Instant::now();
    for _ in 0..reps {
        let mut ct = c.view_mut().reversed_axes();
        general_mat_mul(1.0, &b.t(), &a.t(), 0.0, &mut ct);
    }
    let s = t.elapsed().as_secs_f64() / reps as f64;
    println!("fwd transposed: {:.3} ms, {:.1} GFLOPS", s * 1e3, 2.0 * (m * k * n) as f64 / s / 1e9);
    for (mm, kk, nn) in [(128usize, 256usize, 10usize), (128, 10, 256), (256, 128, 10)] {
        let a = Array2::<f32>::from_shape_fn((mm, kk), |(i, j)| ((i * 7 + j) % 13) as f32 * 0.01);
        let b = Array2::<f32>::from_shape_fn((kk, nn), |(i, j)| ((i * 3 + j) % 11) as f32 * 0.01);
        let mut c = Array2::<f32>::zeros((mm, nn));
        let t = Instant::now();
        for _ in 0..reps {
            general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        }
        let s = t.elapsed().as_secs_f64() / reps as f64;
        println!("{mm}x{kk}x{nn}: {:.4} ms", s * 1e3);
    }
    let _ = ShapeBuilder::f((1usize, 1usize));
}
