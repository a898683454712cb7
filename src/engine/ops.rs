//! Composite ops built from the primitives: arithmetic sugar, activations, means.
//! Each is differentiated through its primitives, so none needs a gradient rule.

use super::graph::{BinaryOp, GraphBuilder, ReduceOp, Tensor, UnaryOp};
use super::shape::Dim;

const LOG2_E: f32 = std::f32::consts::LOG2_E;
const LN_2: f32 = std::f32::consts::LN_2;

/// Name of the scalar input that carries 1 / batch size; the executor feeds it.
pub const INV_BATCH_INPUT: &str = "__inv_batch";

impl GraphBuilder {
    pub fn add(&mut self, a: Tensor, b: Tensor) -> Tensor {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn mul(&mut self, a: Tensor, b: Tensor) -> Tensor {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn less_than(&mut self, a: Tensor, b: Tensor) -> Tensor {
        self.binary(BinaryOp::LessThan, a, b)
    }

    pub fn scale(&mut self, a: Tensor, k: f32) -> Tensor {
        let shape = self.shape(a).to_vec();
        let c = self.constant(k, &shape);
        self.mul(a, c)
    }

    pub fn add_scalar(&mut self, a: Tensor, k: f32) -> Tensor {
        let shape = self.shape(a).to_vec();
        let c = self.constant(k, &shape);
        self.add(a, c)
    }

    pub fn neg(&mut self, a: Tensor) -> Tensor {
        self.scale(a, -1.0)
    }

    pub fn sub(&mut self, a: Tensor, b: Tensor) -> Tensor {
        let nb = self.neg(b);
        self.add(a, nb)
    }

    pub fn recip(&mut self, a: Tensor) -> Tensor {
        self.unary(UnaryOp::Recip, a)
    }

    pub fn div(&mut self, a: Tensor, b: Tensor) -> Tensor {
        let rb = self.recip(b);
        self.mul(a, rb)
    }

    pub fn sqrt(&mut self, a: Tensor) -> Tensor {
        self.unary(UnaryOp::Sqrt, a)
    }

    pub fn square(&mut self, a: Tensor) -> Tensor {
        self.mul(a, a)
    }

    pub fn exp(&mut self, a: Tensor) -> Tensor {
        let s = self.scale(a, LOG2_E);
        self.unary(UnaryOp::Exp2, s)
    }

    pub fn ln(&mut self, a: Tensor) -> Tensor {
        let l = self.unary(UnaryOp::Log2, a);
        self.scale(l, LN_2)
    }

    /// 1 where `a > k`, else 0 (no gradient).
    pub fn greater_than_scalar(&mut self, a: Tensor, k: f32) -> Tensor {
        let shape = self.shape(a).to_vec();
        let c = self.constant(k, &shape);
        self.less_than(c, a)
    }

    /// poslin: max(0, x).
    pub fn relu(&mut self, a: Tensor) -> Tensor {
        let positive = self.greater_than_scalar(a, 0.0);
        self.mul(a, positive)
    }

    /// logsig, written so that no intermediate overflows: with e = exp(-|x|),
    /// sigmoid = 1/(1+e) for x >= 0 and 1 - 1/(1+e) for x < 0. A naive
    /// 1/(1+exp(-x)) gives NaN gradients once exp(-x) overflows.
    pub fn sigmoid(&mut self, a: Tensor) -> Tensor {
        let shape = self.shape(a).to_vec();
        let positive = self.greater_than_scalar(a, 0.0);
        let two_pos = self.scale(positive, 2.0);
        let sign = self.add_scalar(two_pos, -1.0);
        let abs = self.mul(a, sign);
        let neg_abs = self.neg(abs);
        let e = self.exp(neg_abs);
        let one_plus = self.add_scalar(e, 1.0);
        let s = self.recip(one_plus);
        let one = self.constant(1.0, &shape);
        let not_pos = self.sub(one, positive);
        let signed = self.mul(s, sign);
        self.add(not_pos, signed)
    }

    /// tansig: tanh(x) = 2 sigmoid(2x) - 1.
    pub fn tanh(&mut self, a: Tensor) -> Tensor {
        let a2 = self.scale(a, 2.0);
        let s = self.sigmoid(a2);
        let s2 = self.scale(s, 2.0);
        self.add_scalar(s2, -1.0)
    }

    pub fn sum(&mut self, a: Tensor, axis: usize) -> Tensor {
        self.reduce(ReduceOp::Sum, a, axis)
    }

    pub fn max(&mut self, a: Tensor, axis: usize) -> Tensor {
        self.reduce(ReduceOp::Max, a, axis)
    }

    /// Sum over every axis: a scalar.
    pub fn sum_all(&mut self, a: Tensor) -> Tensor {
        let mut t = a;
        while !self.shape(t).is_empty() {
            let last = self.shape(t).len() - 1;
            t = self.sum(t, last);
        }
        t
    }

    /// Mean over one axis.
    pub fn mean(&mut self, a: Tensor, axis: usize) -> Tensor {
        let n = self.shape(a)[axis];
        let s = self.sum(a, axis);
        self.divide_by_dim(s, n)
    }

    /// Divides by a dimension's size, which may be the batch size.
    pub fn divide_by_dim(&mut self, a: Tensor, dim: Dim) -> Tensor {
        match dim {
            Dim::Fixed(n) => self.scale(a, 1.0 / n as f32),
            Dim::Batch => {
                let inv = self.inv_batch();
                let shape = self.shape(a).to_vec();
                let inv = self.broadcast_to(inv, &shape);
                self.mul(a, inv)
            }
        }
    }

    /// The scalar 1 / batch size of the current execution.
    pub fn inv_batch(&mut self) -> Tensor {
        if let Some(slot) = self.inputs().iter().find(|s| s.name == INV_BATCH_INPUT) {
            return slot.tensor;
        }
        self.input(INV_BATCH_INPUT, &[])
    }

    /// `a[.., :] * w + b` for a batch `[b, in]`, weight `[in, out]`, bias `[out]`.
    pub fn affine(&mut self, x: Tensor, w: Tensor, bias: Tensor) -> Tensor {
        let xw = self.matmul(x, w);
        let shape = self.shape(xw).to_vec();
        let b = self.broadcast_to(bias, &shape);
        self.add(xw, b)
    }
}
