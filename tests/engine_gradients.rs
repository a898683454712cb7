//! Autograd: finite-difference checks for every primitive op and the composite
//! ops (matmul, activations, losses), on random shapes including broadcasts.
//! Each check also compares the fast CPU kernels with luminal's reference ops.

mod common;

use common::gradcheck::{check, check_with, input, Domain::*};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use traintop::engine::graph::{BinaryOp, UnaryOp};
use traintop::engine::loss;
use traintop::engine::Dim;

fn random_shape(rng: &mut ChaCha8Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.gen_range(1..5)).collect()
}

#[test]
fn unary_primitives() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for (op, domain) in [
        (UnaryOp::Log2, Positive),
        (UnaryOp::Exp2, Signed),
        (UnaryOp::Sin, Signed),
        (UnaryOp::Sqrt, Positive),
        (UnaryOp::Recip, Positive),
    ] {
        for rank in 0..4 {
            let shape = random_shape(&mut rng, rank);
            check(&format!("{op:?} {shape:?}"), &[input(&shape, domain)], rank as u64, |g, x| g.unary(op, x[0]));
        }
    }
}

#[test]
fn binary_primitives_with_broadcasts() {
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    for op in [BinaryOp::Add, BinaryOp::Mul] {
        for rank in 1..4 {
            let shape = random_shape(&mut rng, rank);
            check(&format!("{op:?} {shape:?}"), &[input(&shape, Signed), input(&shape, Signed)], 3, |g, x| {
                g.binary(op, x[0], x[1])
            });
            // Broadcast the second operand along every axis but the last.
            let last = [shape[rank - 1]];
            check(&format!("{op:?} bcast {shape:?}"), &[input(&shape, Signed), input(&last, Signed)], 4, |g, x| {
                let s = g.shape(x[0]).to_vec();
                let b = g.broadcast_to(x[1], &s);
                g.binary(op, x[0], b)
            });
            // And a permuted view as the first operand.
            if rank == 2 {
                let t = [shape[1], shape[0]];
                check(&format!("{op:?} permuted {shape:?}"), &[input(&t, Signed), input(&shape, Signed)], 5, |g, x| {
                    let p = g.permute(x[0], &[1, 0]);
                    g.binary(op, p, x[1])
                });
            }
        }
    }
}

#[test]
fn mod_primitive() {
    // Away from the discontinuities of the remainder: a in [0.5, 2], b in [2.5, 4].
    check("Mod", &[input(&[3, 4], Positive), input(&[3, 4], Positive)], 6, |g, x| {
        let b = g.add_scalar(x[1], 2.0);
        g.binary(BinaryOp::Mod, x[0], b)
    });
}

#[test]
fn less_than_blocks_gradients_but_masks_values() {
    // relu is x * (0 < x): the mask has no gradient, the product does.
    check("relu", &[input(&[4, 5], Signed)], 7, |g, x| g.relu(x[0]));
}

#[test]
fn reductions_over_each_axis() {
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    for rank in 1..4 {
        let shape = random_shape(&mut rng, rank);
        for axis in 0..rank {
            check(&format!("sum {shape:?} axis {axis}"), &[input(&shape, Signed)], 9, |g, x| g.sum(x[0], axis));
            check(&format!("max {shape:?} axis {axis}"), &[input(&shape, Signed)], 10, |g, x| g.max(x[0], axis));
            check(&format!("sum of permuted {shape:?} axis {axis}"), &[input(&shape, Signed)], 11, |g, x| {
                let axes: Vec<usize> = (0..rank).rev().collect();
                let p = g.permute(x[0], &axes);
                g.sum(p, axis)
            });
        }
    }
}

#[test]
fn views_contiguous_and_reshape() {
    check("contiguous of permute", &[input(&[3, 4, 2], Signed)], 12, |g, x| {
        let p = g.permute(x[0], &[2, 0, 1]);
        g.contiguous(p)
    });
    check("reshape", &[input(&[3, 4], Signed)], 13, |g, x| {
        let r = g.reshape(x[0], &[Dim::Fixed(2), Dim::Fixed(6)]);
        let s = g.square(r);
        g.sum(s, 0)
    });
    check("expand", &[input(&[3], Signed)], 14, |g, x| g.expand(x[0], 0, Dim::Fixed(4)));
}

#[test]
fn matmul_and_affine() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    for _ in 0..4 {
        let (m, k, n) = (rng.gen_range(1..7), rng.gen_range(1..7), rng.gen_range(1..7));
        check(&format!("matmul {m}x{k}x{n}"), &[input(&[m, k], Signed), input(&[k, n], Signed)], 16, |g, x| {
            g.matmul(x[0], x[1])
        });
        check(
            &format!("affine {m}x{k}x{n}"),
            &[input(&[m, k], Signed), input(&[k, n], Signed), input(&[n], Signed)],
            17,
            |g, x| g.affine(x[0], x[1], x[2]),
        );
    }
    check("matmul of transposed", &[input(&[4, 3], Signed), input(&[5, 4], Signed)], 18, |g, x| {
        let a = g.permute(x[0], &[1, 0]);
        let b = g.permute(x[1], &[1, 0]);
        g.matmul(a, b)
    });
}

#[test]
fn activations() {
    for (name, scale) in [("sigmoid", 1.0f32), ("sigmoid saturating", 4.0), ("tanh", 1.0), ("tanh saturating", 3.0)] {
        check(name, &[input(&[3, 5], Signed)], 19, |g, x| {
            let s = g.scale(x[0], scale);
            if name.starts_with("sigmoid") {
                g.sigmoid(s)
            } else {
                g.tanh(s)
            }
        });
    }
    check("exp and ln", &[input(&[2, 3], Positive)], 20, |g, x| {
        let l = g.ln(x[0]);
        g.exp(l)
    });
}

#[test]
fn losses() {
    let labels = [0usize, 3, 1, 1, 2];
    let one_hot: Vec<f32> = labels.iter().flat_map(|&l| (0..4).map(move |c| (c == l) as u8 as f32)).collect();
    check_with("softmax cross-entropy", &[input(&[5, 4], Signed)], &[(vec![5, 4], one_hot)], 21, |g, x, fixed| {
        loss::softmax_cross_entropy(g, x[0], fixed[0]).loss
    });
    let target = vec![0.5, -0.25, 1.0, 0.0, 0.3, 0.7, -1.0, 0.2, 0.1, 0.9];
    check_with("mean squared error", &[input(&[5, 2], Signed)], &[(vec![5, 2], target)], 22, |g, x, fixed| {
        loss::mean_squared_error(g, x[0], fixed[0]).loss
    });
}

#[test]
fn large_fused_chains_split_over_threads_agree_with_the_reference() {
    // 512 x 256 elements: above the size at which fused elementwise ops run on
    // two threads; a broadcast operand and a buffer reused in place included.
    check("large fused chain", &[input(&[512, 256], Signed), input(&[256], Signed)], 23, |g, x| {
        let s = g.shape(x[0]).to_vec();
        let b = g.broadcast_to(x[1], &s);
        let shifted = g.add(x[0], b);
        let act = g.sigmoid(shifted);
        let t = g.tanh(x[0]);
        g.mul(act, t)
    });
}
