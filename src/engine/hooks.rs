//! The points where techniques change the model's graph. The plugin host
//! implements [`GraphHooks`] by calling each enabled plugin in order; the engine
//! calls the hooks while it builds the train and eval graphs.

use super::graph::{GraphBuilder, Tensor};

/// Which graph is being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// A trainable parameter and its gradient, as the gradient hook sees them.
#[derive(Clone, Debug)]
pub struct ParamGrad {
    pub name: String,
    pub param: Tensor,
    pub grad: Tensor,
    /// True for weight matrices, false for biases and normalization parameters.
    pub is_weight: bool,
}

/// Graph-building hooks; every method defaults to "no change".
pub trait GraphHooks {
    /// The input batch `[b, features]`.
    fn input(&mut self, _g: &mut GraphBuilder, _mode: Mode, x: Tensor) -> Tensor {
        x
    }
    /// A layer's net input `n = W p + b`, before the activation.
    fn net_input(&mut self, _g: &mut GraphBuilder, _mode: Mode, _layer: usize, n: Tensor) -> Tensor {
        n
    }
    /// A hidden layer's output, after the activation.
    fn activation(&mut self, _g: &mut GraphBuilder, _mode: Mode, _layer: usize, a: Tensor) -> Tensor {
        a
    }
    /// The training loss, with the parameters (for penalties).
    fn loss(&mut self, _g: &mut GraphBuilder, _mode: Mode, loss: Tensor, _params: &[(String, Tensor, bool)]) -> Tensor {
        loss
    }
    /// The gradients, before the optimizer uses them.
    fn gradients(&mut self, _g: &mut GraphBuilder, _grads: &mut [ParamGrad]) {}
    /// True when a hook failed while building (and has been switched off), so
    /// the graphs must be built again without it.
    fn build_failed(&mut self) -> bool {
        false
    }
    /// The initial fill of a state the hooks declared, when the store lacks it.
    fn state_init(&mut self, _name: &str) -> Option<f32> {
        None
    }
    /// Inputs the hooks declared (random masks), filled for each execution.
    fn feeds(&mut self, _mode: Mode, _batch: usize) -> Vec<(String, Vec<f32>)> {
        vec![]
    }
}

/// No techniques.
pub struct NoHooks;

impl GraphHooks for NoHooks {}
