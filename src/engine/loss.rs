//! Losses: softmax cross-entropy for classification, mean squared error for
//! regression. Both average over the batch, so the learning rate does not depend
//! on the batch size.

use super::graph::{GraphBuilder, Tensor};

/// A loss and, for classification, the number of correct predictions in the batch.
pub struct LossOutput {
    pub loss: Tensor,
    pub correct: Option<Tensor>,
}

/// Mean over the batch of -log softmax(logits)[target], with one-hot `targets`
/// of shape `[b, classes]`.
pub fn softmax_cross_entropy(g: &mut GraphBuilder, logits: Tensor, targets: Tensor) -> LossOutput {
    let shape = g.shape(logits).to_vec();
    // Subtracting the row maximum keeps exp from overflowing; it cancels in the
    // loss, so it is treated as a constant.
    let row_max = g.max(logits, 1);
    let row_max = g.detach(row_max);
    let row_max_wide = g.expand(row_max, 1, shape[1]);
    let shifted = g.sub(logits, row_max_wide);
    let e = g.exp(shifted);
    let total = g.sum(e, 1);
    let log_total = g.ln(total);
    let picked = g.mul(targets, shifted);
    let target_logit = g.sum(picked, 1);
    let per_row = g.sub(log_total, target_logit);
    let summed = g.sum(per_row, 0);
    let loss = g.divide_by_dim(summed, shape[0]);

    // A row is correct when the target's logit is the only maximum and the
    // row is finite: a dead net with equal outputs, or NaN logits (every
    // comparison with NaN is false), must not count as right.
    let below_max = g.less_than(logits, row_max_wide);
    let ones = g.constant(1.0, &shape);
    let at_max = g.sub(ones, below_max);
    let hits = g.mul(targets, at_max);
    let hit_rows = g.sum(hits, 1);
    let hit_rows = g.greater_than_scalar(hit_rows, 0.5);
    let maxima = g.sum(at_max, 1);
    let rows = vec![shape[0]];
    let one_and_a_half = g.constant(1.5, &rows);
    let unique = g.less_than(maxima, one_and_a_half);
    let infinity = g.constant(f32::INFINITY, &rows);
    let finite = g.less_than(row_max, infinity);
    let hit_rows = g.mul(hit_rows, unique);
    let hit_rows = g.mul(hit_rows, finite);
    let correct = g.sum(hit_rows, 0);
    let correct = g.detach(correct);
    LossOutput { loss, correct: Some(correct) }
}

/// Mean over the batch and the outputs of (prediction - target)^2.
pub fn mean_squared_error(g: &mut GraphBuilder, prediction: Tensor, target: Tensor) -> LossOutput {
    let shape = g.shape(prediction).to_vec();
    let diff = g.sub(prediction, target);
    let sq = g.square(diff);
    let per_row = g.mean(sq, 1);
    let summed = g.sum(per_row, 0);
    let loss = g.divide_by_dim(summed, shape[0]);
    LossOutput { loss, correct: None }
}
