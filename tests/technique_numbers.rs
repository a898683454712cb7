//! Each technique's numbers, through the real plugin libraries and the engine,
//! against independent references computed here in f64.

mod common;

use common::plugins::host_with;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use traintop::engine::hooks::ParamGrad;
use traintop::engine::{Backend, Dim, GraphBuilder, GraphHooks, Mode, Program, StateStore};
use traintop::plugin::check::{check_library, Point};
use traintop::plugin::{loader, PluginEvent, PluginHost};

fn dims(r: usize, c: usize) -> Vec<Dim> {
    vec![Dim::Fixed(r), Dim::Fixed(c)]
}

fn random(n: usize, lo: f32, hi: f32, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n).map(|_| rng.gen_range(lo..hi)).collect()
}

/// Fills every state a built graph declares that `store` lacks, with the
/// plugin's initial value (as the session does).
fn init_states(g: &GraphBuilder, host: &mut PluginHost, store: &mut StateStore) {
    for s in g.states() {
        if !store.contains(&s.name) {
            let shape = g.shape(s.tensor).to_vec();
            let n = shape.iter().map(|d| d.resolve(0)).product();
            store.insert(&s.name, shape, vec![host.state_init(&s.name).unwrap_or(0.0); n]);
        }
    }
}

/// Feeds the host's inputs and runs.
fn run(p: &mut Program, host: &mut PluginHost, store: &mut StateStore, mode: Mode, rows: usize) {
    let feeds = host.feeds(mode, rows);
    p.run(store, feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect(), rows).unwrap();
}

fn assert_close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}: {a} vs reference {b}");
}

// ---------------------------------------------------------------- batch norm

/// The source material's batch norm, forward and backward, in f64: columns are
/// units, rows the batch.
fn batch_norm_reference(
    x: &[f64],
    rows: usize,
    cols: usize,
    eps: f64,
    upstream: &[f64],
) -> (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
    let (mut y, mut dx, mut means, mut stds) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![], vec![]);
    for j in 0..cols {
        let col: Vec<f64> = (0..rows).map(|i| x[i * cols + j]).collect();
        let mean = col.iter().sum::<f64>() / rows as f64;
        let std = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64 + eps).sqrt();
        let xhat: Vec<f64> = col.iter().map(|v| (v - mean) / std).collect();
        let g: Vec<f64> = (0..rows).map(|i| upstream[i * cols + j]).collect();
        let g_mean = g.iter().sum::<f64>() / rows as f64;
        let gx_mean = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / rows as f64;
        for i in 0..rows {
            y[i * cols + j] = xhat[i];
            // d/dx of w*xhat + b with w = 1: (g - mean(g) - xhat mean(g xhat)) / std
            dx[i * cols + j] = (g[i] - g_mean - xhat[i] * gx_mean) / std;
        }
        means.push(mean);
        stds.push(std);
    }
    (y, dx, means, stds)
}

#[test]
fn batch_norm_train_eval_and_gradients_match_reference() {
    let (rows, cols, eps, d) = (8, 5, 1e-5, 0.9);
    let mut host = host_with("batch_norm", &[("momentum", "0.9")], 2);
    let mut store = StateStore::new();
    // Train graph: y = bn(x), loss = sum(y * w), outputs y and dL/dx.
    let mut g = GraphBuilder::new();
    let x = g.input("x", &dims(rows, cols));
    let xs = g.state("xs", &dims(rows, cols), true);
    let x_used = g.add(x, xs);
    let y = host.net_input(&mut g, Mode::Train, 0, x_used);
    let w = g.input("w", &dims(rows, cols));
    let yw = g.mul(y, w);
    let loss = g.sum_all(yw);
    let grad = g.backward(loss, &[xs])[0].unwrap();
    g.output("y", y);
    g.output("grad", grad);
    init_states(&g, &mut host, &mut store);
    store.insert("xs", dims(rows, cols), vec![0.0; rows * cols]);
    let mut train = Program::compile(g, Backend::Cpu);

    let mut eval_g = GraphBuilder::new();
    let ex = eval_g.input("x", &dims(rows, cols));
    let ey = host.net_input(&mut eval_g, Mode::Eval, 0, ex);
    eval_g.output("y", ey);
    let mut eval = Program::compile(eval_g, Backend::Cpu);

    let (mut run_mean, mut run_std) = (vec![0.0f64; cols], vec![1.0f64; cols]);
    for step in 0..3 {
        let xv = random(rows * cols, -3.0, 5.0, step);
        let wv = random(rows * cols, -1.0, 1.0, 100 + step);
        let feeds = vec![("x", xv.clone()), ("w", wv.clone())];
        train.run(&mut store, feeds, rows).unwrap();
        let xd: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
        let wd: Vec<f64> = wv.iter().map(|&v| v as f64).collect();
        let (y_ref, dx_ref, means, stds) = batch_norm_reference(&xd, rows, cols, eps, &wd);
        for (k, (a, b)) in train.output("y").unwrap().iter().zip(&y_ref).enumerate() {
            assert_close(*a as f64, *b, 1e-5, &format!("train output[{k}]"));
        }
        for (k, (a, b)) in train.output("grad").unwrap().iter().zip(&dx_ref).enumerate() {
            assert_close(*a as f64, *b, 1e-4, &format!("gradient[{k}]"));
        }
        // m_k = d m_(k-1) + (1 - d) batch mean; the first batch sets it.
        for j in 0..cols {
            if step == 0 {
                (run_mean[j], run_std[j]) = (means[j], stds[j]);
            } else {
                run_mean[j] = d * run_mean[j] + (1.0 - d) * means[j];
                run_std[j] = d * run_std[j] + (1.0 - d) * stds[j];
            }
        }
    }
    let xv = random(rows * cols, -3.0, 5.0, 77);
    eval.run(&mut store, vec![("x", xv.clone())], rows).unwrap();
    for (k, a) in eval.output("y").unwrap().iter().enumerate() {
        let j = k % cols;
        let expected = (xv[k] as f64 - run_mean[j]) / run_std[j];
        assert_close(*a as f64, expected, 1e-5, &format!("eval output[{k}] (smoothed statistics)"));
    }
}

#[test]
fn batch_norm_switched_on_mid_run_leaves_the_batch_unchanged() {
    let (rows, cols) = (16, 6);
    let mut host = host_with("batch_norm", &[], 2);
    host.preset_enabled("batch_norm", false);
    host.set_step(500);
    let mut store = StateStore::new();
    host.set_enabled("batch_norm", true, &mut store).unwrap();
    let mut g = GraphBuilder::new();
    let x = g.input("x", &dims(rows, cols));
    let y = host.net_input(&mut g, Mode::Train, 0, x);
    g.output("y", y);
    init_states(&g, &mut host, &mut store);
    let mut p = Program::compile(g, Backend::Cpu);
    let xv = random(rows * cols, -4.0, 9.0, 3);
    p.run(&mut store, vec![("x", xv.clone())], rows).unwrap();
    for (a, b) in p.output("y").unwrap().iter().zip(&xv) {
        assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "output {a} != input {b}");
    }
    // w_bn = batch std and b_bn = batch mean from now on.
    let (_, _, means, stds) = batch_norm_reference(
        &xv.iter().map(|&v| v as f64).collect::<Vec<_>>(),
        rows,
        cols,
        1e-5,
        &vec![0.0; rows * cols],
    );
    let w_off = store.read("batch_norm.layer0.weight_offset").unwrap();
    let b_off = store.read("batch_norm.layer0.bias_offset").unwrap();
    for j in 0..cols {
        assert_close(w_off[j] as f64, stds[j], 1e-5, "w_bn");
        assert_close(b_off[j] as f64, means[j], 1e-5, "b_bn");
    }
}

// ------------------------------------------------------------------- dropout

#[test]
fn dropout_drops_the_rate_scales_and_is_off_at_eval() {
    let (rows, cols, rate) = (500, 200, 0.3);
    let mut host = host_with("dropout", &[("rate", "0.3")], 2);
    let mut g = GraphBuilder::new();
    let x = g.input("x", &dims(rows, cols));
    let y = host.activation(&mut g, Mode::Train, 0, x);
    g.output("y", y);
    let mut store = StateStore::new();
    let mut p = Program::compile(g, Backend::Cpu);
    let feeds = host.feeds(Mode::Train, rows);
    let mut all: Vec<(&str, Vec<f32>)> = feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
    all.push(("x", vec![1.0; rows * cols]));
    p.run(&mut store, all, rows).unwrap();
    let out = p.output("y").unwrap();
    let n = out.len() as f64;
    let dropped = out.iter().filter(|&&v| v == 0.0).count() as f64 / n;
    // Five standard deviations of a binomial share.
    let bound = 5.0 * (rate * (1.0 - rate) / n).sqrt();
    assert!((dropped - rate).abs() < bound, "dropped {dropped}, expected {rate} +- {bound}");
    let kept_value = 1.0 / (1.0 - rate as f32);
    assert!(out.iter().all(|&v| v == 0.0 || (v - kept_value).abs() < 1e-5), "kept units are scaled by 1/(1-rate)");
    // Eval: the tensor passes through untouched.
    let mut e = GraphBuilder::new();
    let ex = e.input("x", &dims(rows, cols));
    assert_eq!(host.activation(&mut e, Mode::Eval, 0, ex), ex);
    // The output layer is not a hidden layer: untouched too.
    assert_eq!(host.activation(&mut e, Mode::Train, 1, ex), ex);
}

// ------------------------------------------------------------ grad clipping

fn clipped_gradients(settings: &[(&str, &str)], scale: f32) -> (Vec<f32>, Vec<f32>) {
    let mut host = host_with("grad_clip", settings, 2);
    let mut g = GraphBuilder::new();
    let a = g.state("a", &dims(4, 5), true);
    let b = g.state("b", &[Dim::Fixed(7)], true);
    let wa = g.input("wa", &dims(4, 5));
    let wb = g.input("wb", &[Dim::Fixed(7)]);
    let la = g.mul(a, wa);
    let la = g.sum_all(la);
    let lb = g.mul(b, wb);
    let lb = g.sum_all(lb);
    let loss = g.add(la, lb);
    let grads = g.backward(loss, &[a, b]);
    let mut pg: Vec<ParamGrad> = [("a", a, grads[0]), ("b", b, grads[1])]
        .into_iter()
        .map(|(n, p, gr)| ParamGrad { name: n.into(), param: p, grad: gr.unwrap(), is_weight: true })
        .collect();
    host.gradients(&mut g, &mut pg);
    g.output("ga", pg[0].grad);
    g.output("gb", pg[1].grad);
    let mut store = StateStore::new();
    store.insert("a", dims(4, 5), vec![0.0; 20]);
    store.insert("b", vec![Dim::Fixed(7)], vec![0.0; 7]);
    let mut p = Program::compile(g, Backend::Cpu);
    let wa: Vec<f32> = random(20, -1.0, 1.0, 9).iter().map(|v| v * scale).collect();
    let wb: Vec<f32> = random(7, -1.0, 1.0, 10).iter().map(|v| v * scale).collect();
    let mut feeds: Vec<(&str, Vec<f32>)> = host.feeds(Mode::Train, 1).into_iter().map(|(n, v)| (leak(n), v)).collect();
    feeds.push(("wa", wa.clone()));
    feeds.push(("wb", wb.clone()));
    p.run(&mut store, feeds, 1).unwrap();
    let mut raw = wa;
    raw.extend(wb);
    let mut clipped = p.output("ga").unwrap().to_vec();
    clipped.extend(p.output("gb").unwrap());
    (raw, clipped)
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn clipping_brings_the_global_norm_to_max_norm_only_when_above() {
    let (raw, clipped) = clipped_gradients(&[("max_norm", "1.5")], 10.0);
    assert!(norm(&raw) > 1.5);
    assert_close(norm(&clipped), 1.5, 1e-5, "clipped global norm");
    // Direction kept: every element scaled by the same factor.
    let factor = 1.5 / norm(&raw);
    for (r, c) in raw.iter().zip(&clipped) {
        assert_close(*c as f64, *r as f64 * factor, 1e-5, "scaled element");
    }
    let (raw, clipped) = clipped_gradients(&[("max_norm", "100")], 1.0);
    assert_eq!(raw, clipped, "below max_norm the gradient is unchanged");
    let (raw, clipped) = clipped_gradients(&[("max_norm", "0.25"), ("mode", "value")], 1.0);
    for (r, c) in raw.iter().zip(&clipped) {
        assert_close(*c as f64, r.clamp(-0.25, 0.25) as f64, 1e-6, "clamped element");
    }
}

// ------------------------------------------------------------------------ L2

#[test]
fn l2_adds_lambda_sum_of_squares_and_two_lambda_w() {
    for include_bias in [false, true] {
        let lambda = 0.03;
        let mut host = host_with("l2", &[("lambda", "0.03"), ("include_bias", &include_bias.to_string())], 2);
        let mut g = GraphBuilder::new();
        let w = g.state("w", &dims(3, 4), true);
        let b = g.state("b", &[Dim::Fixed(4)], true);
        let base = g.sum_all(w);
        let bsum = g.sum_all(b);
        let base = g.add(base, bsum);
        let loss = host.loss(&mut g, Mode::Train, base, &[("w".into(), w, true), ("b".into(), b, false)]);
        let grads = g.backward(loss, &[w, b]);
        g.output("base", base);
        g.output("loss", loss);
        g.output("gw", grads[0].unwrap());
        g.output("gb", grads[1].unwrap());
        let mut store = StateStore::new();
        let (wv, bv) = (random(12, -2.0, 2.0, 1), random(4, -2.0, 2.0, 2));
        store.insert("w", dims(3, 4), wv.clone());
        store.insert("b", vec![Dim::Fixed(4)], bv.clone());
        let mut p = Program::compile(g, Backend::Cpu);
        run(&mut p, &mut host, &mut store, Mode::Train, 1);
        let sq = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let penalty = lambda * (sq(&wv) + if include_bias { sq(&bv) } else { 0.0 });
        assert_close((p.scalar("loss") - p.scalar("base")) as f64, penalty, 1e-5, "penalty");
        for (g, w) in p.output("gw").unwrap().iter().zip(&wv) {
            assert_close(*g as f64, 1.0 + 2.0 * lambda * *w as f64, 1e-5, "weight gradient");
        }
        for (g, b) in p.output("gb").unwrap().iter().zip(&bv) {
            let expected = 1.0 + if include_bias { 2.0 * lambda * *b as f64 } else { 0.0 };
            assert_close(*g as f64, expected, 1e-5, "bias gradient");
        }
    }
}

// ------------------------------------------------------------ early stopping

fn store_with_layers(layers: usize) -> StateStore {
    let mut s = StateStore::new();
    for l in 0..layers {
        s.insert(&format!("layer{l}.weight"), dims(2, 2), vec![0.0; 4]);
        s.insert(&format!("layer{l}.bias"), vec![Dim::Fixed(2)], vec![0.0; 2]);
    }
    s
}

/// Feeds a scripted validation curve; returns the epoch at which a stop was
/// requested and the weights left in the store after the run ends.
fn early_stopping_on(curve: &[(f64, f64)], settings: &[(&str, &str)]) -> (Option<u64>, Vec<f32>) {
    let mut host = host_with("early_stopping", settings, 2);
    let mut store = store_with_layers(2);
    let mut stopped = None;
    for (i, &(loss, acc)) in curve.iter().enumerate() {
        let epoch = i as u64 + 1;
        // The weights after epoch e are all e, so a restore is visible.
        store.insert("layer0.weight", dims(2, 2), vec![epoch as f32; 4]);
        host.dispatch(
            PluginEvent::ValidationEnd { epoch, val_loss: loss, val_acc: (!acc.is_nan()).then_some(acc) },
            &mut store,
        );
        if host.take_stop_request().is_some() {
            stopped = Some(epoch);
            break;
        }
    }
    host.dispatch(PluginEvent::RunEnd { epoch: 0 }, &mut store);
    (stopped, store.read("layer0.weight").unwrap())
}

#[test]
fn early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights() {
    let curve = [(1.0, 0.5), (0.8, 0.6), (0.7, 0.7), (0.72, 0.72), (0.69, 0.71), (0.75, 0.7), (0.8, 0.69), (0.9, 0.6)];
    // Best 0.69 at epoch 5; two worse epochs (6, 7) end it with patience 2.
    let (stopped, weights) = early_stopping_on(&curve, &[("patience", "2")]);
    assert_eq!(stopped, Some(7));
    assert_eq!(weights, vec![5.0; 4], "weights of the best epoch restored");
    // min_delta: 0.69 is not 0.05 better than 0.7, so epoch 3 stays best and
    // epochs 4, 5 are the patience.
    let (stopped, weights) = early_stopping_on(&curve, &[("patience", "2"), ("min_delta", "0.05")]);
    assert_eq!((stopped, weights), (Some(5), vec![3.0; 4]));
    // Monitoring accuracy: best 0.72 at epoch 4.
    let (stopped, weights) = early_stopping_on(&curve, &[("patience", "3"), ("monitor", "val_acc")]);
    assert_eq!((stopped, weights), (Some(7), vec![4.0; 4]));
    // start_from_epoch: the worse epochs 6 and 7 do not count; epoch 8 does.
    let (stopped, _) = early_stopping_on(&curve, &[("patience", "1"), ("start_from_epoch", "7")]);
    assert_eq!(stopped, Some(8));
    let (stopped, _) = early_stopping_on(&curve, &[("patience", "2"), ("start_from_epoch", "7")]);
    assert_eq!(stopped, None);
    // restore_best = false leaves the last weights.
    let (_, weights) = early_stopping_on(&curve, &[("patience", "2"), ("restore_best", "false")]);
    assert_eq!(weights, vec![7.0; 4]);
}

// ------------------------------------------------------- input normalization

fn normalized_training_split(method: &str) -> (Vec<f32>, usize, usize) {
    let (rows, cols) = (300, 4);
    let mut data = random(rows * cols, 0.0, 1.0, 4);
    // Features on very different scales, as in the wine data.
    for (k, v) in data.iter_mut().enumerate() {
        *v = *v * [1.0, 100.0, 0.01, 5000.0][k % cols] + [0.0, -30.0, 2.0, 1e4][k % cols];
    }
    let mut host = host_with("input_norm", &[("method", method)], 2);
    let mut g = GraphBuilder::new();
    let x = g.input("x", &dims(rows, cols));
    let y = host.input(&mut g, Mode::Eval, x);
    g.output("y", y);
    let mut store = StateStore::new();
    init_states(&g, &mut host, &mut store);
    host.dispatch_train_data(&data, rows, cols, &mut store);
    let mut p = Program::compile(g, Backend::Cpu);
    p.run(&mut store, vec![("x", data)], rows).unwrap();
    (p.output("y").unwrap().to_vec(), rows, cols)
}

#[test]
fn input_normalization_maps_the_training_split_exactly() {
    let (y, rows, cols) = normalized_training_split("minmax");
    for j in 0..cols {
        let col: Vec<f32> = (0..rows).map(|i| y[i * cols + j]).collect();
        let (lo, hi) = col.iter().fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        assert!((lo + 1.0).abs() < 1e-6 && (hi - 1.0).abs() < 1e-6, "feature {j}: [{lo}, {hi}]");
    }
    let (y, rows, cols) = normalized_training_split("zscore");
    for j in 0..cols {
        let col: Vec<f64> = (0..rows).map(|i| y[i * cols + j] as f64).collect();
        let mean = col.iter().sum::<f64>() / rows as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows as f64;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "feature {j}: mean {mean}, variance {var}");
    }
}

// ------------------------------------------------------------------- Xavier

#[test]
fn xavier_variance_is_two_over_fan_in_plus_fan_out() {
    for distribution in ["normal", "uniform"] {
        let (fan_in, fan_out) = (800, 1200);
        let mut host = host_with("xavier_init", &[("distribution", distribution)], 1);
        let mut store = StateStore::new();
        store.insert("layer0.weight", dims(fan_in, fan_out), vec![0.0; fan_in * fan_out]);
        store.insert("layer0.bias", vec![Dim::Fixed(fan_out)], vec![1.0; fan_out]);
        host.dispatch(PluginEvent::InitParameters, &mut store);
        let w = store.read("layer0.weight").unwrap();
        let n = w.len() as f64;
        let mean = w.iter().map(|&v| v as f64).sum::<f64>() / n;
        let var = w.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
        let expected = 2.0 / (fan_in + fan_out) as f64;
        assert!((var / expected - 1.0).abs() < 0.05, "{distribution}: variance {var}, expected {expected}");
        assert!(mean.abs() < 0.01 * expected.sqrt() * 10.0, "{distribution}: mean {mean}");
        assert!(store.read("layer0.bias").unwrap().iter().all(|&b| b == 0.0), "biases start at zero");
    }
}

// --------------------------------------------------------------- layer norm

#[test]
fn layer_norm_passes_the_gradient_check_and_normalizes_each_row() {
    let lib = loader::load(&common::plugins::plugin_path("layer_norm")).unwrap();
    let reports = check_library(lib, &[]).unwrap();
    let net = reports.iter().find(|r| r.point == format!("{:?}", Point::NetInput)).unwrap();
    assert!(net.used && net.passed && net.checked > 0, "{net:?}");
    // Forward: each row has mean 0 and variance var/(var+eps) ~ 1.
    let mut host = host_with("layer_norm", &[], 2);
    let mut g = GraphBuilder::new();
    let x = g.input("x", &dims(4, 10));
    let y = host.net_input(&mut g, Mode::Train, 0, x);
    g.output("y", y);
    let mut store = StateStore::new();
    init_states(&g, &mut host, &mut store);
    let mut p = Program::compile(g, Backend::Cpu);
    p.run(&mut store, vec![("x", random(40, -5.0, 20.0, 8))], 4).unwrap();
    for row in p.output("y").unwrap().chunks(10) {
        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / 10.0;
        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / 10.0;
        assert!(mean.abs() < 1e-5 && (var - 1.0).abs() < 1e-3, "row mean {mean}, variance {var}");
    }
}

#[test]
fn every_shipped_plugin_passes_plugins_check() {
    for name in
        ["batch_norm", "dropout", "grad_clip", "l2", "early_stopping", "input_norm", "xavier_init", "layer_norm"]
    {
        let lib = loader::load(&common::plugins::plugin_path(name)).unwrap();
        let reports = check_library(lib, &[]).unwrap();
        assert!(reports.iter().all(|r| r.passed), "{name}: {reports:?}");
    }
}
