//! Optimizers whose updates are part of the compiled train graph: parameters and
//! moments never leave the backend between steps. The learning rate is an input,
//! so it can change mid-run without a rebuild.

use super::graph::{GraphBuilder, Tensor, UpdateRecord, UpdateRule};
use super::shape::Dim;

/// Name of the scalar input carrying the learning rate.
pub const LR_INPUT: &str = "__lr";

/// An optimizer and its hyperparameters (the learning rate is fed per step).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Optimizer {
    /// Steepest descent: p <- p - lr g.
    Sgd,
    /// v <- momentum v + g; p <- p - lr v (the heavy-ball form PyTorch uses).
    Momentum { momentum: f32 },
    /// Adam with bias correction: m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2,
    /// p <- p - lr m^ / (sqrt(v^) + eps), m^ = m / (1-b1^t), v^ = v / (1-b2^t).
    Adam { beta1: f32, beta2: f32, eps: f32 },
}

impl Optimizer {
    /// The names of the state an optimizer keeps for parameter `param`.
    pub fn state_names(&self, param: &str) -> Vec<String> {
        match self {
            Optimizer::Sgd => vec![],
            Optimizer::Momentum { .. } => vec![format!("{param}.velocity")],
            Optimizer::Adam { .. } => vec![format!("{param}.m"), format!("{param}.v")],
        }
    }

    /// Global optimizer state (not per parameter).
    pub fn global_state_names(&self) -> Vec<String> {
        match self {
            Optimizer::Adam { .. } => vec![ADAM_STEP.to_string()],
            _ => vec![],
        }
    }

    /// Adds the update of every `(name, param, grad)` to the graph, as
    /// primitive ops and as an [`UpdateRecord`] per parameter (which the CPU
    /// backend runs as one fused in-place pass).
    pub fn build(&self, g: &mut GraphBuilder, params: &[(String, Tensor, Tensor)]) {
        let lr = match g.inputs().iter().find(|s| s.name == LR_INPUT) {
            Some(s) => s.tensor,
            None => g.input(LR_INPUT, &[]),
        };
        // Negated once as a scalar, so each update is p + (-lr) g: two passes
        // over the parameter instead of three.
        let neg_lr = g.neg(lr);
        match *self {
            Optimizer::Sgd => {
                for (_, p, grad) in params {
                    let step = scaled(g, *grad, neg_lr);
                    let next = g.add(*p, step);
                    g.assign(*p, next);
                    let record = UpdateRecord {
                        rule: UpdateRule::Sgd,
                        grad: *grad,
                        scalars: vec![neg_lr],
                        states: vec![(*p, next)],
                    };
                    g.record_update(record);
                }
            }
            Optimizer::Momentum { momentum } => {
                for (name, p, grad) in params {
                    let shape = g.shape(*p).to_vec();
                    let v = g.state(&format!("{name}.velocity"), &shape, false);
                    let decayed = g.scale(v, momentum);
                    let v_next = g.add(decayed, *grad);
                    g.assign(v, v_next);
                    let step = scaled(g, v_next, neg_lr);
                    let next = g.add(*p, step);
                    g.assign(*p, next);
                    let record = UpdateRecord {
                        rule: UpdateRule::Momentum { momentum },
                        grad: *grad,
                        scalars: vec![neg_lr],
                        states: vec![(*p, next), (v, v_next)],
                    };
                    g.record_update(record);
                }
            }
            Optimizer::Adam { beta1, beta2, eps } => {
                let t = g.state(ADAM_STEP, &[Dim::Fixed(1)], false);
                let t_next = g.add_scalar(t, 1.0);
                g.assign(t, t_next);
                // 1 - beta^t = 1 - 2^(t log2 beta), computed in the graph.
                let correction = |g: &mut GraphBuilder, beta: f32| {
                    let e = g.scale(t_next, beta.log2());
                    let pow = g.unary(super::graph::UnaryOp::Exp2, e);
                    let neg = g.neg(pow);
                    let one_minus = g.add_scalar(neg, 1.0);
                    g.reshape(one_minus, &[])
                };
                let c1 = correction(g, beta1);
                let c2 = correction(g, beta2);
                // lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), eps scaled alike, so the
                // per-element work is m / (sqrt(v) + eps_t): the same update.
                let sqrt_c2 = g.sqrt(c2);
                let inv_c1 = g.recip(c1);
                let lr_c = g.mul(neg_lr, sqrt_c2);
                let neg_lr_t = g.mul(lr_c, inv_c1);
                let eps_t = g.scale(sqrt_c2, eps);
                for (name, p, grad) in params {
                    let shape = g.shape(*p).to_vec();
                    let m = g.state(&format!("{name}.m"), &shape, false);
                    let v = g.state(&format!("{name}.v"), &shape, false);
                    let m_decay = g.scale(m, beta1);
                    let m_new = g.scale(*grad, 1.0 - beta1);
                    let m_next = g.add(m_decay, m_new);
                    let v_decay = g.scale(v, beta2);
                    let g2 = g.square(*grad);
                    let v_new = g.scale(g2, 1.0 - beta2);
                    let v_next = g.add(v_decay, v_new);
                    g.assign(m, m_next);
                    g.assign(v, v_next);
                    let root = g.sqrt(v_next);
                    let eps_wide = g.broadcast_to(eps_t, &shape);
                    let denom = g.add(root, eps_wide);
                    let ratio = g.div(m_next, denom);
                    let step = scaled(g, ratio, neg_lr_t);
                    let next = g.add(*p, step);
                    g.assign(*p, next);
                    let record = UpdateRecord {
                        rule: UpdateRule::Adam { beta1, beta2 },
                        grad: *grad,
                        scalars: vec![neg_lr_t, eps_t],
                        states: vec![(*p, next), (m, m_next), (v, v_next)],
                    };
                    g.record_update(record);
                }
            }
        }
    }
}

/// Name of Adam's step counter state.
pub const ADAM_STEP: &str = "adam.step";

/// `x * s` for a scalar tensor `s`.
fn scaled(g: &mut GraphBuilder, x: Tensor, s: Tensor) -> Tensor {
    let shape = g.shape(x).to_vec();
    let wide = g.broadcast_to(s, &shape);
    g.mul(x, wide)
}
