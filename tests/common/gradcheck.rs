//! Finite-difference gradient checking for graph fragments.
//!
//! The loss is `sum(f(x...) * w)` with a fixed random `w`, so every output element
//! contributes a distinct weight. Analytic gradients come from the engine's
//! autograd; numeric ones from central differences in f32 with step `H`. With
//! H = 1e-2 the truncation error is O(H^2 f''') and the rounding error about
//! 1e-7 |L| / H, so a gradient passes when |analytic - numeric| <= ATOL + RTOL |numeric|.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use traintop::engine::{Backend, Dim, GraphBuilder, Program, StateStore, Tensor};

pub const H: f32 = 1e-2;
pub const ATOL: f32 = 2e-3;
pub const RTOL: f32 = 2e-2;

/// Value domain of a checked input.
#[derive(Clone, Copy)]
pub enum Domain {
    /// Uniform in [-1, 1].
    Signed,
    /// Uniform in [0.5, 2]: for log, sqrt, reciprocal.
    Positive,
}

pub struct Checked {
    pub shape: Vec<usize>,
    pub domain: Domain,
}

pub fn input(shape: &[usize], domain: Domain) -> Checked {
    Checked { shape: shape.to_vec(), domain }
}

fn dims(shape: &[usize]) -> Vec<Dim> {
    shape.iter().map(|&n| Dim::Fixed(n)).collect()
}

/// Builds `f`, checks its gradient numerically, and checks that the CPU kernels
/// and luminal's reference ops agree on loss and gradients.
pub fn check(label: &str, inputs: &[Checked], seed: u64, f: impl Fn(&mut GraphBuilder, &[Tensor]) -> Tensor) {
    check_with(label, inputs, &[], seed, |g, x, _| f(g, x))
}

/// Like [`check`], with `fixed` tensors (shape, values) that are not differentiated.
pub fn check_with(
    label: &str,
    inputs: &[Checked],
    fixed: &[(Vec<usize>, Vec<f32>)],
    seed: u64,
    f: impl Fn(&mut GraphBuilder, &[Tensor], &[Tensor]) -> Tensor,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let values: Vec<Vec<f32>> = inputs
        .iter()
        .map(|c| {
            let n: usize = c.shape.iter().product();
            (0..n)
                .map(|_| match c.domain {
                    Domain::Signed => rng.gen_range(-1.0..1.0),
                    Domain::Positive => rng.gen_range(0.5..2.0),
                })
                .collect()
        })
        .collect();
    let build = |backend: Backend| {
        let mut g = GraphBuilder::new();
        let xs: Vec<Tensor> =
            inputs.iter().enumerate().map(|(i, c)| g.state(&format!("x{i}"), &dims(&c.shape), true)).collect();
        let constants: Vec<Tensor> = fixed
            .iter()
            .enumerate()
            .map(|(i, (shape, _))| g.state(&format!("fixed{i}"), &dims(shape), false))
            .collect();
        let y = f(&mut g, &xs, &constants);
        let out_shape = g.shape(y).to_vec();
        let w = g.input("w", &out_shape);
        let yw = g.mul(y, w);
        let loss = g.sum_all(yw);
        let grads = g.backward(loss, &xs);
        g.output("loss", loss);
        for (i, gr) in grads.into_iter().enumerate() {
            let gr = gr.unwrap_or_else(|| panic!("{label}: no gradient for input {i}"));
            g.output(&format!("g{i}"), gr);
        }
        let n: usize = out_shape.iter().map(|d| d.resolve(1)).product();
        (Program::compile(g, backend), n)
    };
    let (mut fast, n_out) = build(Backend::Cpu);
    let (mut reference, _) = build(Backend::Reference);
    let w: Vec<f32> = (0..n_out).map(|_| rng.gen_range(-1.0..1.0)).collect();

    let mut store = StateStore::new();
    let load = |store: &mut StateStore, values: &[Vec<f32>]| {
        for (i, (c, v)) in inputs.iter().zip(values).enumerate() {
            store.insert(&format!("x{i}"), dims(&c.shape), v.clone());
        }
        for (i, (shape, v)) in fixed.iter().enumerate() {
            store.insert(&format!("fixed{i}"), dims(shape), v.clone());
        }
    };
    load(&mut store, &values);
    fast.run(&mut store, vec![("w", w.clone())], 1).unwrap();
    reference.run(&mut store, vec![("w", w.clone())], 1).unwrap();
    let loss = fast.scalar("loss");
    assert!(
        close(loss, reference.scalar("loss"), 1e-5, 1e-4),
        "{label}: fast loss {loss} != reference {}",
        reference.scalar("loss")
    );
    // Read every analytic gradient before the finite differences rerun the program.
    let analytic_all: Vec<Vec<f32>> =
        (0..values.len()).map(|i| fast.output(&format!("g{i}")).unwrap().to_vec()).collect();
    for (i, v) in values.iter().enumerate() {
        let analytic = &analytic_all[i];
        let reference_grad = reference.output(&format!("g{i}")).unwrap();
        assert_eq!(analytic.len(), v.len(), "{label}: gradient {i} has the wrong size");
        // Check up to 24 elements per input, spread over the tensor.
        let step = (v.len() / 24).max(1);
        for k in (0..v.len()).step_by(step) {
            let mut eval = |delta: f32| {
                let mut perturbed = values.clone();
                perturbed[i][k] += delta;
                load(&mut store, &perturbed);
                fast.run(&mut store, vec![("w", w.clone())], 1).unwrap();
                fast.scalar("loss")
            };
            let numeric = (eval(H) - eval(-H)) / (2.0 * H);
            let a = analytic[k];
            assert!(
                (a - numeric).abs() <= ATOL + RTOL * numeric.abs(),
                "{label}: input {i}[{k}]: analytic {a} vs numeric {numeric}"
            );
        }
        for (k, (a, r)) in analytic.iter().zip(reference_grad).enumerate() {
            assert!(close(*a, *r, 1e-5, 1e-4), "{label}: input {i}[{k}]: fast grad {a} != reference {r}");
        }
    }
}

pub fn close(a: f32, b: f32, atol: f32, rtol: f32) -> bool {
    (a - b).abs() <= atol + rtol * b.abs().max(a.abs()) || (a.is_nan() && b.is_nan())
}
