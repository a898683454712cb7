//! What a model's outputs say about a labelled data set: the confusion
//! matrix with per-class precision and recall (classification), or mean
//! squared and absolute errors (regression). Computed on the host from the
//! eval graph's output layer, so they can be checked against the graph's own
//! loss and accuracy. The trainer counts the validation split's confusion
//! matrix with them at each epoch end; `traintop evaluate` reports them.

use serde::Serialize;

/// Row-wise softmax of `logits` (`rows x classes`), shifted by the row
/// maximum so that `exp` cannot overflow.
pub fn softmax(logits: &[f32], classes: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks_exact(classes.max(1)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f64> = row.iter().map(|&v| ((v - max) as f64).exp()).collect();
        let total: f64 = exps.iter().sum();
        out.extend(exps.iter().map(|e| (e / total) as f32));
    }
    out
}

/// The predicted class of each row: the first maximum (NaN never wins).
pub fn argmax_rows(values: &[f32], classes: usize) -> Vec<usize> {
    values
        .chunks_exact(classes.max(1))
        .map(|row| {
            row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] || row[best].is_nan() { i } else { best })
        })
        .collect()
}

/// Counts of (true class, predicted class), with the derived rates.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Confusion {
    /// `counts[t][p]`: rows of class `t` predicted as `p`.
    pub counts: Vec<Vec<u64>>,
    /// Per class: correct among those predicted as it (`None` when none was).
    pub precision: Vec<Option<f64>>,
    /// Per class: correct among its rows (`None` when it has none).
    pub recall: Vec<Option<f64>>,
    /// Rows of each class.
    pub support: Vec<u64>,
}

impl Confusion {
    pub fn new(truth: &[usize], predicted: &[usize], classes: usize) -> Self {
        let mut counts = vec![vec![0u64; classes]; classes];
        for (&t, &p) in truth.iter().zip(predicted) {
            if t < classes && p < classes {
                counts[t][p] += 1;
            }
        }
        let support: Vec<u64> = counts.iter().map(|row| row.iter().sum()).collect();
        let predicted_as: Vec<u64> = (0..classes).map(|p| counts.iter().map(|row| row[p]).sum()).collect();
        let rate = |hit: u64, of: u64| (of > 0).then(|| hit as f64 / of as f64);
        let precision = (0..classes).map(|c| rate(counts[c][c], predicted_as[c])).collect();
        let recall = (0..classes).map(|c| rate(counts[c][c], support[c])).collect();
        Confusion { counts, precision, recall, support }
    }

    pub fn correct(&self) -> u64 {
        (0..self.counts.len()).map(|c| self.counts[c][c]).sum()
    }

    pub fn total(&self) -> u64 {
        self.support.iter().sum()
    }
}

/// Mean squared and mean absolute error over every output of every row.
pub fn regression_errors(predicted: &[f32], targets: &[f32]) -> (f64, f64) {
    let n = predicted.len().min(targets.len()).max(1) as f64;
    let (mut sq, mut abs) = (0.0f64, 0.0f64);
    for (&p, &t) in predicted.iter().zip(targets) {
        let d = (p - t) as f64;
        sq += d * d;
        abs += d.abs();
    }
    (sq / n, abs / n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let p = softmax(&[1.0, 2.0, 3.0, 1000.0, 0.0, 0.0], 3);
        assert!((p[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[0] < p[1] && p[1] < p[2]);
        assert!((p[3] - 1.0).abs() < 1e-6, "no overflow: {p:?}");
    }

    #[test]
    fn argmax_takes_the_first_maximum() {
        assert_eq!(argmax_rows(&[0.1, 0.7, 0.2, 0.5, 0.5, 0.0, f32::NAN, 1.0, 0.0], 3), vec![1, 0, 1]);
    }

    #[test]
    fn confusion_matrix_precision_and_recall() {
        // Truth 0,0,1,1,2; predicted 0,1,1,1,0.
        let c = Confusion::new(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0], 3);
        assert_eq!(c.counts, vec![vec![1, 1, 0], vec![0, 2, 0], vec![1, 0, 0]]);
        assert_eq!(c.support, vec![2, 2, 1]);
        assert_eq!(c.precision, vec![Some(0.5), Some(2.0 / 3.0), None]);
        assert_eq!(c.recall, vec![Some(0.5), Some(1.0), Some(0.0)]);
        assert_eq!((c.correct(), c.total()), (3, 5));
    }

    #[test]
    fn regression_errors_average_squares_and_absolutes() {
        let (mse, mae) = regression_errors(&[1.0, 2.0, 4.0], &[1.0, 3.0, 2.0]);
        assert!((mse - 5.0 / 3.0).abs() < 1e-12);
        assert!((mae - 1.0).abs() < 1e-12);
    }
}
