//! One training step of an MLP against an independent reference: a plain Rust
//! f64 implementation of the forward pass, backpropagation (the source
//! material's sensitivities) and each optimizer's update. Parameters after the
//! steps must agree to 1e-5 relative (plus 1e-7 absolute for values near zero).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use traintop::engine::mlp::{bias_name, weight_name};
use traintop::engine::{
    Activation, Backend, CompileOptions, MlpSpec, Mode, NoHooks, Objective, Optimizer, Program, Session, StateStore,
};

/// The reference network: weights `[in][out]` per layer, row-major like the engine.
struct Reference {
    widths: Vec<usize>,
    w: Vec<Vec<f64>>,
    b: Vec<Vec<f64>>,
    activation: Activation,
    objective: Objective,
}

fn act(a: Activation, n: f64) -> f64 {
    match a {
        Activation::Relu => n.max(0.0),
        Activation::Tanh => n.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-n).exp()),
        Activation::Linear => n,
    }
}

fn act_derivative(a: Activation, n: f64) -> f64 {
    match a {
        Activation::Relu => (n > 0.0) as u8 as f64,
        Activation::Tanh => 1.0 - n.tanh().powi(2),
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-n).exp());
            s * (1.0 - s)
        }
        Activation::Linear => 1.0,
    }
}

impl Reference {
    /// Mean loss and gradients (dW, db) over a batch.
    fn gradients(&self, x: &[f64], y: &[f64], batch: usize) -> (f64, Vec<Vec<f64>>, Vec<Vec<f64>>) {
        let layers = self.widths.len() - 1;
        let (mut gw, mut gb): (Vec<Vec<f64>>, Vec<Vec<f64>>) =
            (self.w.iter().map(|w| vec![0.0; w.len()]).collect(), self.b.iter().map(|b| vec![0.0; b.len()]).collect());
        let mut loss = 0.0;
        for q in 0..batch {
            // Forward, keeping net inputs n and outputs a per layer.
            let mut a = vec![x[q * self.widths[0]..(q + 1) * self.widths[0]].to_vec()];
            let mut nets = vec![];
            for l in 0..layers {
                let (fi, fo) = (self.widths[l], self.widths[l + 1]);
                let n: Vec<f64> = (0..fo)
                    .map(|j| self.b[l][j] + (0..fi).map(|i| a[l][i] * self.w[l][i * fo + j]).sum::<f64>())
                    .collect();
                let out =
                    if l + 1 == layers { n.clone() } else { n.iter().map(|&v| act(self.activation, v)).collect() };
                nets.push(n);
                a.push(out);
            }
            let out = &a[layers];
            let k = out.len();
            let target = &y[q * k..(q + 1) * k];
            // Sensitivity of the output layer: dL/dn.
            let mut s: Vec<f64> = match self.objective {
                Objective::Classification => {
                    let m = out.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = out.iter().map(|v| (v - m).exp()).collect();
                    let z: f64 = e.iter().sum();
                    loss += -(0..k).map(|c| target[c] * ((out[c] - m) - z.ln())).sum::<f64>();
                    (0..k).map(|c| e[c] / z - target[c]).collect()
                }
                Objective::Regression => {
                    loss += (0..k).map(|c| (out[c] - target[c]).powi(2)).sum::<f64>() / k as f64;
                    (0..k).map(|c| 2.0 * (out[c] - target[c]) / k as f64).collect()
                }
            };
            for l in (0..layers).rev() {
                let (fi, fo) = (self.widths[l], self.widths[l + 1]);
                for j in 0..fo {
                    gb[l][j] += s[j];
                    for i in 0..fi {
                        gw[l][i * fo + j] += a[l][i] * s[j];
                    }
                }
                if l > 0 {
                    // s^(m-1) = F'(n^(m-1)) (W^m)^T s^m
                    s = (0..fi)
                        .map(|i| {
                            act_derivative(self.activation, nets[l - 1][i])
                                * (0..fo).map(|j| self.w[l][i * fo + j] * s[j]).sum::<f64>()
                        })
                        .collect();
                }
            }
        }
        let inv = 1.0 / batch as f64;
        gw.iter_mut().flatten().for_each(|g| *g *= inv);
        gb.iter_mut().flatten().for_each(|g| *g *= inv);
        (loss * inv, gw, gb)
    }
}

/// The reference optimizer's state, one slot per parameter tensor.
struct RefOptimizer {
    kind: Optimizer,
    m: Vec<Vec<f64>>,
    v: Vec<Vec<f64>>,
    t: i32,
}

impl RefOptimizer {
    fn step(&mut self, params: &mut [&mut Vec<f64>], grads: &[Vec<f64>], lr: f64) {
        self.t += 1;
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            match self.kind {
                Optimizer::Sgd => p.iter_mut().zip(g).for_each(|(p, g)| *p -= lr * g),
                Optimizer::Momentum { momentum } => {
                    for i in 0..p.len() {
                        self.m[k][i] = momentum as f64 * self.m[k][i] + g[i];
                        p[i] -= lr * self.m[k][i];
                    }
                }
                Optimizer::Adam { beta1, beta2, eps } => {
                    let (b1, b2) = (beta1 as f64, beta2 as f64);
                    for i in 0..p.len() {
                        self.m[k][i] = b1 * self.m[k][i] + (1.0 - b1) * g[i];
                        self.v[k][i] = b2 * self.v[k][i] + (1.0 - b2) * g[i] * g[i];
                        let mh = self.m[k][i] / (1.0 - b1.powi(self.t));
                        let vh = self.v[k][i] / (1.0 - b2.powi(self.t));
                        p[i] -= lr * mh / (vh.sqrt() + eps as f64);
                    }
                }
            }
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-7 + 1e-5 * b.abs()
}

fn check(optimizer: Optimizer, activation: Activation, objective: Objective, steps: usize) {
    let spec = MlpSpec { inputs: 6, hidden: vec![5, 4], outputs: 3, activation, objective };
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut session = Session::new(spec.clone(), optimizer, Backend::Cpu, &mut NoHooks, &mut rng);
    let layers = spec.layer_count();
    let read =
        |s: &Session, name: &str| -> Vec<f64> { s.store.read(name).unwrap().iter().map(|&v| v as f64).collect() };
    let mut reference = Reference {
        widths: spec.widths(),
        w: (0..layers).map(|l| read(&session, &weight_name(l))).collect(),
        b: (0..layers).map(|l| read(&session, &bias_name(l))).collect(),
        activation,
        objective,
    };
    let n_tensors = 2 * layers;
    let mut ref_opt = RefOptimizer { kind: optimizer, m: vec![vec![]; n_tensors], v: vec![vec![]; n_tensors], t: 0 };
    for l in 0..layers {
        ref_opt.m[2 * l] = vec![0.0; reference.w[l].len()];
        ref_opt.v[2 * l] = vec![0.0; reference.w[l].len()];
        ref_opt.m[2 * l + 1] = vec![0.0; reference.b[l].len()];
        ref_opt.v[2 * l + 1] = vec![0.0; reference.b[l].len()];
    }
    let lr = 0.05;
    let batch = 8;
    for step in 0..steps {
        let x: Vec<f32> = (0..batch * 6).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let y: Vec<f32> = match objective {
            Objective::Classification => {
                (0..batch).flat_map(|q| (0..3).map(move |c| ((q + step) % 3 == c) as u8 as f32)).collect()
            }
            Objective::Regression => (0..batch * 3).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        };
        let stats = session.train_step(x.clone(), y.clone(), batch, lr, true, &mut NoHooks).unwrap();
        let xd: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let yd: Vec<f64> = y.iter().map(|&v| v as f64).collect();
        let (loss, gw, gb) = reference.gradients(&xd, &yd, batch);
        assert!(
            close(stats.loss as f64, loss) || (stats.loss as f64 - loss).abs() < 1e-5,
            "step {step}: loss {} vs reference {loss}",
            stats.loss
        );
        let mut grads = vec![];
        for l in 0..layers {
            grads.push(gw[l].clone());
            grads.push(gb[l].clone());
        }
        let Reference { w, b, .. } = &mut reference;
        let mut params: Vec<&mut Vec<f64>> = vec![];
        for (wl, bl) in w.iter_mut().zip(b.iter_mut()) {
            params.push(wl);
            params.push(bl);
        }
        ref_opt.step(&mut params, &grads, lr as f64);
    }
    for l in 0..layers {
        for (name, expected) in [(weight_name(l), &reference.w[l]), (bias_name(l), &reference.b[l])] {
            let got = read(&session, &name);
            for (i, (g, e)) in got.iter().zip(expected.iter()).enumerate() {
                assert!(close(*g, *e), "{optimizer:?} {activation:?}: {name}[{i}] = {g}, reference {e}");
            }
        }
    }
}

#[test]
fn sgd_step_matches_reference() {
    check(Optimizer::Sgd, Activation::Relu, Objective::Classification, 1);
    check(Optimizer::Sgd, Activation::Sigmoid, Objective::Classification, 1);
    check(Optimizer::Sgd, Activation::Tanh, Objective::Regression, 1);
}

#[test]
fn momentum_steps_match_reference() {
    check(Optimizer::Momentum { momentum: 0.9 }, Activation::Relu, Objective::Classification, 1);
    check(Optimizer::Momentum { momentum: 0.9 }, Activation::Tanh, Objective::Classification, 3);
}

#[test]
fn adam_steps_match_reference() {
    let adam = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
    check(adam, Activation::Relu, Objective::Classification, 1);
    check(adam, Activation::Sigmoid, Objective::Regression, 3);
}

#[test]
fn linear_activation_step_matches_reference() {
    check(Optimizer::Sgd, Activation::Linear, Objective::Regression, 2);
}

/// The CPU backend runs each optimizer update as one fused in-place pass;
/// the same graph lowered without that pass (the primitive ops, fused
/// elementwise) must give the same parameters and moments. The first layer
/// has 76800 weights, enough for the fused pass to split over threads.
#[test]
fn fused_updates_equal_the_unfused_ones() {
    let spec = MlpSpec {
        inputs: 300,
        hidden: vec![256],
        outputs: 10,
        activation: Activation::Tanh,
        objective: Objective::Classification,
    };
    let off = CompileOptions { fuse_updates: false, ..CompileOptions::default() };
    for (optimizer, nodes) in train_both_ways(&spec, off) {
        // SGD's update is a single fused elementwise node either way.
        let (nf, np) = nodes;
        assert!(nf < np || (optimizer == Optimizer::Sgd && nf == np), "{optimizer:?}: {nf} nodes fused, {np} not");
    }
}

/// Elementwise chains run as one fused kernel; a small net's short rows
/// (64 and 10 wide, biases broadcast over the batch) take its whole-block
/// path. Without the pass, every primitive op runs on its own: the same
/// parameters and moments.
#[test]
fn fused_elementwise_chains_equal_the_primitive_ops() {
    let spec = MlpSpec {
        inputs: 64,
        hidden: vec![64, 64, 64],
        outputs: 10,
        activation: Activation::Sigmoid,
        objective: Objective::Classification,
    };
    let off = CompileOptions { fuse_elementwise: false, ..CompileOptions::default() };
    for (optimizer, (nf, np)) in train_both_ways(&spec, off) {
        assert!(nf < np, "{optimizer:?}: {nf} nodes fused, {np} not");
    }
}

/// Trains `spec` four steps with each optimizer, compiled with the default
/// passes and with `off`; asserts every state agrees to 1e-6 and returns
/// each optimizer's node counts (default, `off`).
fn train_both_ways(spec: &MlpSpec, off: CompileOptions) -> Vec<(Optimizer, (usize, usize))> {
    let optimizers = [
        Optimizer::Sgd,
        Optimizer::Momentum { momentum: 0.9 },
        Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
    ];
    let mut counts = vec![];
    for optimizer in optimizers {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let graph = || spec.build(Mode::Train, false, &optimizer, &mut NoHooks);
        let mut initial = StateStore::new();
        for (name, shape, values) in spec.initial_parameters(&mut rng) {
            initial.insert(&name, shape, values);
        }
        for s in graph().states() {
            if !initial.contains(&s.name) {
                let shape = graph().shape(s.tensor).to_vec();
                let n = shape.iter().map(|d| d.resolve(0)).product();
                initial.insert(&s.name, shape, vec![0.0; n]);
            }
        }
        let mut fused = (Program::compile(graph(), Backend::Cpu), initial.clone());
        let mut plain = (Program::compile_with(graph(), Backend::Cpu, off), initial.clone());
        counts.push((optimizer, (fused.0.node_count(), plain.0.node_count())));
        let batch = 16;
        for _ in 0..4 {
            let x: Vec<f32> = (0..batch * spec.inputs).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let y: Vec<f32> = (0..batch * spec.outputs)
                .map(|i| (i % spec.outputs == (i / spec.outputs) % spec.outputs) as u8 as f32)
                .collect();
            for (program, store) in [&mut fused, &mut plain] {
                let feeds = vec![("x", x.clone()), ("y", y.clone()), ("__lr", vec![0.01])];
                program.run(store, feeds, batch).unwrap();
            }
        }
        let mut names: Vec<&str> = initial.names().collect();
        names.sort();
        for name in names {
            let (a, b) = (fused.1.read(name).unwrap(), plain.1.read(name).unwrap());
            for (i, (a, b)) in a.iter().zip(&b).enumerate() {
                assert!((a - b).abs() <= 1e-6 * (1.0 + b.abs()), "{optimizer:?}: {name}[{i}] fused {a}, unfused {b}");
            }
        }
    }
    counts
}
