//! The multilayer perceptron: widths from the config, one activation for the
//! hidden layers, a linear output layer, and the loss of the task.

use rand::Rng;
use rand_distr::{Distribution, Uniform};

use super::graph::{Capacity, GraphBuilder, Tensor};
use super::hooks::{GraphHooks, Mode, ParamGrad};
use super::loss::{mean_squared_error, softmax_cross_entropy};
use super::optimizer::Optimizer;
use super::shape::Dim;
pub use crate::activation::Activation;

/// What the network predicts and how it is scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Objective {
    /// Softmax cross-entropy over one-hot targets; accuracy reported.
    Classification,
    /// Mean squared error.
    Regression,
}

/// The shape of an MLP.
#[derive(Clone, Debug, PartialEq)]
pub struct MlpSpec {
    pub inputs: usize,
    pub hidden: Vec<usize>,
    pub outputs: usize,
    pub activation: Activation,
    pub objective: Objective,
}

/// Names of the state tensors of layer `l`.
pub fn weight_name(l: usize) -> String {
    format!("layer{l}.weight")
}
pub fn bias_name(l: usize) -> String {
    format!("layer{l}.bias")
}

/// Names of the graph outputs a train step reports.
pub mod outputs {
    pub const LOSS: &str = "loss";
    pub const CORRECT: &str = "correct";
    /// The eval graph's output layer: logits for classification, the value
    /// for regression (`[batch, outputs]`).
    pub const PREDICTION: &str = "prediction";
    /// Prefix of the scalars techniques report.
    pub const METRIC_PREFIX: &str = "metric.";
    pub fn grad_sq(param: &str) -> String {
        format!("grad_sq.{param}")
    }
    pub fn saturation(layer: usize) -> String {
        format!("saturation.{layer}")
    }
}

/// Input names.
pub const X_INPUT: &str = "x";
pub const Y_INPUT: &str = "y";

impl MlpSpec {
    /// Layer widths from input to output.
    pub fn widths(&self) -> Vec<usize> {
        let mut w = vec![self.inputs];
        w.extend(&self.hidden);
        w.push(self.outputs);
        w
    }

    pub fn layer_count(&self) -> usize {
        self.hidden.len() + 1
    }

    /// The default initialization: weights uniform in +-1/sqrt(fan_in) (PyTorch's
    /// `Linear` default), biases zero. Techniques (xavier_init) may replace it.
    pub fn initial_parameters(&self, rng: &mut impl Rng) -> Vec<(String, Vec<Dim>, Vec<f32>)> {
        let widths = self.widths();
        let mut out = vec![];
        for l in 0..self.layer_count() {
            let (fan_in, fan_out) = (widths[l], widths[l + 1]);
            let bound = 1.0 / (fan_in as f32).sqrt();
            let dist = Uniform::new_inclusive(-bound, bound);
            let w: Vec<f32> = (0..fan_in * fan_out).map(|_| dist.sample(rng)).collect();
            out.push((weight_name(l), vec![Dim::Fixed(fan_in), Dim::Fixed(fan_out)], w));
            out.push((bias_name(l), vec![Dim::Fixed(fan_out)], vec![0.0; fan_out]));
        }
        out
    }

    /// Builds the train graph (forward, loss, backward, update) or the eval graph
    /// (forward and loss). A `monitored` train graph also reports each
    /// parameter's gradient norm and the sigmoid layers' saturation: the
    /// dashboard's figures, computed only on the steps that are logged.
    pub fn build(
        &self,
        mode: Mode,
        monitored: bool,
        optimizer: &Optimizer,
        hooks: &mut dyn GraphHooks,
    ) -> GraphBuilder {
        self.build_with(Capacity::default(), mode, monitored, optimizer, hooks)
    }

    /// [`MlpSpec::build`] into a builder with `room` reserved (the size the
    /// same graph had when it was last built).
    pub fn build_with(
        &self,
        room: Capacity,
        mode: Mode,
        monitored: bool,
        optimizer: &Optimizer,
        hooks: &mut dyn GraphHooks,
    ) -> GraphBuilder {
        let mut g = GraphBuilder::with_capacity(room);
        let widths = self.widths();
        let x = g.input(X_INPUT, &[Dim::Batch, Dim::Fixed(self.inputs)]);
        let y = g.input(Y_INPUT, &[Dim::Batch, Dim::Fixed(self.outputs)]);
        let mut params: Vec<(String, Tensor, bool)> = vec![];
        let mut h = hooks.input(&mut g, mode, x);
        for l in 0..self.layer_count() {
            let w = g.state(&weight_name(l), &[Dim::Fixed(widths[l]), Dim::Fixed(widths[l + 1])], true);
            let b = g.state(&bias_name(l), &[Dim::Fixed(widths[l + 1])], true);
            params.push((weight_name(l), w, true));
            params.push((bias_name(l), b, false));
            let n = g.affine(h, w, b);
            let n = hooks.net_input(&mut g, mode, l, n);
            if l + 1 == self.layer_count() {
                h = n;
                break;
            }
            if mode == Mode::Train && monitored && self.activation.saturates() {
                // Share of units with |n| > 3, where sigmoids are flat.
                let sq = g.square(n);
                let flat = g.greater_than_scalar(sq, 9.0);
                let per_unit = g.mean(flat, 1);
                let share = g.mean(per_unit, 0);
                g.output(&outputs::saturation(l), share);
            }
            let a = match self.activation {
                Activation::Relu => g.relu(n),
                Activation::Tanh => g.tanh(n),
                Activation::Sigmoid => g.sigmoid(n),
                Activation::Linear => n,
            };
            h = hooks.activation(&mut g, mode, l, a);
        }
        if mode == Mode::Eval {
            g.output(outputs::PREDICTION, h);
        }
        let scored = match self.objective {
            Objective::Classification => softmax_cross_entropy(&mut g, h, y),
            Objective::Regression => mean_squared_error(&mut g, h, y),
        };
        g.output(outputs::LOSS, scored.loss);
        if let Some(c) = scored.correct {
            g.output(outputs::CORRECT, c);
        }
        if mode == Mode::Train {
            // Every trainable state is a parameter, including the ones techniques add.
            for s in g.states().to_vec() {
                if s.trainable && !params.iter().any(|(n, _, _)| *n == s.name) {
                    params.push((s.name.clone(), s.tensor, false));
                }
            }
            let objective = hooks.loss(&mut g, mode, scored.loss, &params);
            if objective != scored.loss {
                g.output("objective", objective);
            }
            let tensors: Vec<Tensor> = params.iter().map(|(_, t, _)| *t).collect();
            let grads = g.backward(objective, &tensors);
            let mut pg: Vec<ParamGrad> = params
                .iter()
                .zip(grads)
                .filter_map(|((name, param, is_weight), grad)| {
                    grad.map(|grad| ParamGrad { name: name.clone(), param: *param, grad, is_weight: *is_weight })
                })
                .collect();
            // Gradient health is the backward pass's own, before a technique
            // (clipping) rescales it: an exploding gradient stays visible.
            for p in pg.iter().filter(|_| monitored) {
                let sq = g.square(p.grad);
                let total = g.sum_all(sq);
                g.output(&outputs::grad_sq(&p.name), total);
            }
            hooks.gradients(&mut g, &mut pg);
            let updates: Vec<(String, Tensor, Tensor)> = pg.iter().map(|p| (p.name.clone(), p.param, p.grad)).collect();
            optimizer.build(&mut g, &updates);
        }
        g
    }
}
