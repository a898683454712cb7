//! `traintop plugins check`: load one plugin, build its graph fragment at every
//! build point on random data, and compare the engine's gradients through it
//! with central finite differences. A tool for third-party plugin authors, and
//! the harness the technique tests use.
//!
//! Tolerances: f32 central differences with step H = 1e-2; a gradient element
//! passes when |analytic - numeric| <= 2e-3 + 2e-2 |numeric|.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::host::PluginHost;
use super::loader::LoadedLibrary;
use crate::engine::graph::{GraphBuilder, Tensor};
use crate::engine::hooks::{GraphHooks, Mode};
use crate::engine::shape::Dim;
use crate::engine::{Backend, Program, StateStore};

const H: f32 = 1e-2;
const ATOL: f32 = 2e-3;
const RTOL: f32 = 2e-2;
/// Shape of the test tensor: a batch of 6 rows of 5 units.
const ROWS: usize = 6;
const UNITS: usize = 5;

/// The outcome at one build point.
#[derive(Clone, Debug, serde::Serialize)]
pub struct PointReport {
    pub point: String,
    /// False when the plugin leaves the tensor unchanged there.
    pub used: bool,
    pub checked: usize,
    pub max_abs_error: f32,
    pub passed: bool,
    pub note: String,
}

impl PointReport {
    /// A point checked without finite differences: it passed or failed as a whole.
    fn unchecked(point: String, used: bool, passed: bool, note: impl Into<String>) -> Self {
        let max_abs_error = if passed { 0.0 } else { f32::NAN };
        Self { point, used, checked: 0, max_abs_error, passed, note: note.into() }
    }
}

/// Where a fragment is attached for checking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    Input,
    NetInput,
    Activation,
    Loss,
    Gradients,
}

impl Point {
    pub const ALL: [Point; 5] = [Point::Input, Point::NetInput, Point::Activation, Point::Loss, Point::Gradients];
}

/// Builds `loss(x)` through the plugin at `point`; returns the loss, whether
/// the plugin changed anything, and the gradient of x.
fn build(host: &mut PluginHost, point: Point, mode: Mode) -> (GraphBuilder, Tensor, bool, Option<Tensor>) {
    let mut g = GraphBuilder::new();
    let x = g.state("x", &[Dim::Fixed(ROWS), Dim::Fixed(UNITS)], true);
    let w = g.state("w", &[Dim::Fixed(ROWS), Dim::Fixed(UNITS)], false);
    let (y, changed) = match point {
        Point::Input => {
            let y = host.input(&mut g, mode, x);
            (y, y != x)
        }
        Point::NetInput => {
            let y = host.net_input(&mut g, mode, 0, x);
            (y, y != x)
        }
        Point::Activation => {
            let y = host.activation(&mut g, mode, 0, x);
            (y, y != x)
        }
        Point::Loss | Point::Gradients => (x, false),
    };
    let yw = g.mul(y, w);
    let mut loss = g.sum_all(yw);
    let mut changed = changed;
    if point == Point::Loss {
        let base = loss;
        loss = host.loss(&mut g, mode, loss, &[("layer0.weight".to_string(), x, true)]);
        changed = loss != base;
    }
    let grad = g.backward(loss, &[x])[0];
    let mut grad_out = grad;
    if point == Point::Gradients {
        let mut pg = vec![crate::engine::hooks::ParamGrad {
            name: "layer0.weight".into(),
            param: x,
            grad: grad.expect("x reaches the loss"),
            is_weight: true,
        }];
        host.gradients(&mut g, &mut pg);
        changed = Some(pg[0].grad) != grad;
        grad_out = Some(pg[0].grad);
    }
    g.output("loss", loss);
    if let Some(gr) = grad_out {
        g.output("grad", gr);
    }
    (g, loss, changed, grad_out)
}

/// Checks one point; `seed` fixes the data.
pub fn check_point(host: &mut PluginHost, point: Point, seed: u64) -> PointReport {
    let name = format!("{point:?}");
    let (g, _, used, grad) = build(host, point, Mode::Train);
    let failed = host.any_failed_active();
    let logs = host.take_logs().join("; ");
    if failed {
        return PointReport::unchecked(name, used, false, logs);
    }
    if !used {
        return PointReport::unchecked(name, used, true, "not used");
    }
    let mut initial = StateStore::new();
    for slot in g.states() {
        let shape = g.shape(slot.tensor).to_vec();
        let n: usize = shape.iter().map(|d| d.resolve(ROWS)).product();
        let fill = host.state_init(&slot.name).unwrap_or(0.0);
        initial.insert(&slot.name, shape, vec![fill; n]);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x: Vec<f32> = (0..ROWS * UNITS).map(|_| rng.gen_range(-2.0..2.0)).collect();
    let w: Vec<f32> = (0..ROWS * UNITS).map(|_| rng.gen_range(-1.0..1.0)).collect();
    let shape = vec![Dim::Fixed(ROWS), Dim::Fixed(UNITS)];
    let mut program = Program::compile(g, Backend::Cpu);
    let feeds = host.feeds(Mode::Train, ROWS);
    let mut eval = |xv: &[f32]| -> Result<(f32, Vec<f32>), String> {
        let mut store = initial.clone();
        store.insert("x", shape.clone(), xv.to_vec());
        store.insert("w", shape.clone(), w.clone());
        let feed = feeds.iter().map(|(n, v)| (n.as_str(), v.clone())).collect();
        program.run(&mut store, feed, ROWS).map_err(|e| e.to_string())?;
        Ok((program.scalar("loss"), program.output("grad").map(<[f32]>::to_vec).unwrap_or_default()))
    };
    let (loss, analytic) = match eval(&x) {
        Ok(v) => v,
        Err(e) => return PointReport::unchecked(name, used, false, e),
    };
    if !loss.is_finite() || analytic.iter().any(|v| !v.is_finite()) {
        return PointReport::unchecked(name, used, false, "non-finite output");
    }
    if point == Point::Gradients || grad.is_none() {
        // A gradient hook replaces gradients on purpose: check it runs and stays finite.
        return PointReport::unchecked(name, used, true, "ran; finite");
    }
    let (mut worst, mut passed) = (0.0f32, true);
    for k in 0..x.len() {
        let mut plus = x.clone();
        plus[k] += H;
        let mut minus = x.clone();
        minus[k] -= H;
        let (Ok((lp, _)), Ok((lm, _))) = (eval(&plus), eval(&minus)) else {
            passed = false;
            break;
        };
        let numeric = (lp - lm) / (2.0 * H);
        let err = (analytic[k] - numeric).abs();
        worst = worst.max(err);
        if err > ATOL + RTOL * numeric.abs() {
            passed = false;
        }
    }
    PointReport { point: name, used, checked: x.len(), max_abs_error: worst, passed, note: String::new() }
}

/// Loads `lib` alone, applies `settings`, switches it on and checks every point.
pub fn check_library(lib: LoadedLibrary, settings: &[(String, String)]) -> Result<Vec<PointReport>, String> {
    let name = lib.name.clone();
    let mut host = PluginHost::new(vec![lib], std::slice::from_ref(&name), 1);
    host.set_layers(2);
    for (k, v) in settings {
        host.set_param(&name, k, v).map_err(|e| e.to_string())?;
    }
    host.preset_enabled(&name, true);
    Ok(Point::ALL.iter().map(|&p| check_point(&mut host, p, 11)).collect())
}
