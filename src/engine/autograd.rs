//! Reverse-mode automatic differentiation over the tape.
//!
//! The gradient graph is built from the same primitive ops as the forward graph,
//! so it compiles and runs on every backend, and any fragment a plugin adds is
//! differentiated without a rule of its own. Rules exist only for the primitives,
//! the view nodes and matmul (whose gradients are matmuls again).

use std::f32::consts::{FRAC_PI_2, LN_2};

use super::graph::{BinaryOp, GraphBuilder, Op, ReduceOp, Tensor, UnaryOp};

impl GraphBuilder {
    /// Gradients of the scalar `loss` with respect to each of `wrt` (`None` where
    /// `loss` does not depend on it).
    pub fn backward(&mut self, loss: Tensor, wrt: &[Tensor]) -> Vec<Option<Tensor>> {
        assert!(self.shape(loss).is_empty(), "backward needs a scalar loss");
        let mut grads: Vec<Option<Tensor>> = vec![None; loss.0 + 1];
        grads[loss.0] = Some(self.constant(1.0, &[]));
        for i in (0..=loss.0).rev() {
            let Some(g) = grads[i] else { continue };
            if !self.tape[i].needs_grad {
                continue;
            }
            let node = self.tape[i].clone();
            let y = Tensor(i);
            let contributions = self.local_gradients(&node.op, &node.inputs, y, g);
            for (input, contribution) in node.inputs.iter().zip(contributions) {
                let Some(c) = contribution else { continue };
                if !self.tape[input.0].needs_grad {
                    continue;
                }
                grads[input.0] = Some(match grads[input.0] {
                    None => c,
                    Some(existing) => self.add(existing, c),
                });
            }
        }
        wrt.iter().map(|t| grads.get(t.0).copied().flatten()).collect()
    }

    /// The gradient flowing into each input of one node, given the node's output
    /// gradient `g`.
    fn local_gradients(&mut self, op: &Op, inputs: &[Tensor], y: Tensor, g: Tensor) -> Vec<Option<Tensor>> {
        match op {
            Op::Input | Op::State | Op::Constant(_) | Op::Detach => vec![],
            Op::Unary(u) => {
                let a = inputs[0];
                let local = match u {
                    UnaryOp::Log2 => {
                        let scaled = self.scale(a, LN_2);
                        self.recip(scaled)
                    }
                    UnaryOp::Exp2 => self.scale(y, LN_2),
                    UnaryOp::Sin => {
                        let shifted = self.add_scalar(a, FRAC_PI_2);
                        self.unary(UnaryOp::Sin, shifted)
                    }
                    UnaryOp::Sqrt => {
                        let r = self.recip(y);
                        self.scale(r, 0.5)
                    }
                    UnaryOp::Recip => {
                        let yy = self.mul(y, y);
                        self.neg(yy)
                    }
                };
                vec![Some(self.mul(g, local))]
            }
            Op::Binary(b) => {
                let (a, bb) = (inputs[0], inputs[1]);
                match b {
                    BinaryOp::Add => vec![Some(g), Some(g)],
                    BinaryOp::Mul => {
                        let ga = self.mul(g, bb);
                        let gb = self.mul(g, a);
                        vec![Some(ga), Some(gb)]
                    }
                    BinaryOp::Mod => {
                        // a % b = a - trunc(a / b) * b, and trunc(a / b) is flat.
                        let rem = self.binary(BinaryOp::Mod, a, bb);
                        let whole = self.sub(a, rem);
                        let quotient = self.div(whole, bb);
                        let quotient = self.detach(quotient);
                        let gq = self.mul(g, quotient);
                        let gb = self.neg(gq);
                        vec![Some(g), Some(gb)]
                    }
                    BinaryOp::LessThan => vec![None, None],
                }
            }
            Op::Reduce(r, axis) => {
                let a = inputs[0];
                let size = self.shape(a)[*axis];
                let spread = self.expand(g, *axis, size);
                match r {
                    ReduceOp::Sum => vec![Some(spread)],
                    ReduceOp::Max => {
                        // Every element equal to the maximum receives the gradient.
                        let max = self.expand(y, *axis, size);
                        let below = self.less_than(a, max);
                        let shape = self.shape(a).to_vec();
                        let one = self.constant(1.0, &shape);
                        let at_max = self.sub(one, below);
                        vec![Some(self.mul(spread, at_max))]
                    }
                }
            }
            Op::Contiguous => vec![Some(g)],
            Op::MatMul { .. } => {
                let (a, b) = (inputs[0], inputs[1]);
                let bt = self.permute(b, &[1, 0]);
                let at = self.permute(a, &[1, 0]);
                let ga = self.matmul(g, bt);
                let gb = self.matmul(at, g);
                vec![Some(ga), Some(gb)]
            }
            Op::Permute(axes) => {
                let mut inverse = vec![0; axes.len()];
                for (i, &ax) in axes.iter().enumerate() {
                    inverse[ax] = i;
                }
                vec![Some(self.permute(g, &inverse))]
            }
            Op::Expand(axis) => vec![Some(self.sum(g, *axis))],
            Op::Reshape => {
                let shape = self.shape(inputs[0]).to_vec();
                vec![Some(self.reshape(g, &shape))]
            }
        }
    }
}
