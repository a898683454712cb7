//! Train/validation split: a seeded shuffle, so the same seed always holds
//! out the same rows (a resumed run must validate on the same data).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dataset::Dataset;

/// The two halves of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Dataset,
    pub validation: Dataset,
}

/// Holds out `round(len * validation)` rows, but never all of them, so a
/// non-empty data set always leaves something to train on. Rows keep their
/// file order within each half; `validation` outside [0, 1) is clamped.
pub fn split(ds: &Dataset, validation: f64, seed: u64) -> Split {
    let n = ds.len();
    let fraction = if validation.is_finite() { validation.clamp(0.0, 1.0) } else { 0.0 };
    let n_val = ((n as f64 * fraction).round() as usize).min(n.saturating_sub(1));

    let mut order: Vec<usize> = (0..n).collect();
    // Offset the seed so the split does not reuse the stream that epoch
    // shuffling or weight init may draw from the same run seed.
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_5911_7000_0001));
    let (val_idx, train_idx) = order.split_at_mut(n_val);
    val_idx.sort_unstable();
    train_idx.sort_unstable();

    Split { train: ds.subset(train_idx), validation: ds.subset(val_idx) }
}

#[cfg(test)]
mod tests {
    use super::super::dataset::toy;
    use super::*;

    fn ids(ds: &Dataset) -> Vec<usize> {
        // toy rows are [2i, 2i+1], so the first feature identifies the row.
        (0..ds.len()).map(|i| ds.row(i)[0] as usize / 2).collect()
    }

    #[test]
    fn sizes_disjoint_and_complete() {
        let ds = toy(100);
        let s = split(&ds, 0.2, 42);
        assert_eq!(s.train.len(), 80);
        assert_eq!(s.validation.len(), 20);
        let mut all: Vec<usize> = ids(&s.train).into_iter().chain(ids(&s.validation)).collect();
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(s.train.n_classes, 3);
        assert_eq!(s.validation.n_features, 2);
    }

    #[test]
    fn seeded() {
        let ds = toy(50);
        assert_eq!(split(&ds, 0.3, 1), split(&ds, 0.3, 1));
        assert_ne!(ids(&split(&ds, 0.3, 1).validation), ids(&split(&ds, 0.3, 2).validation));
    }

    #[test]
    fn edge_fractions() {
        let ds = toy(10);
        assert_eq!(split(&ds, 0.0, 0).validation.len(), 0);
        assert_eq!(split(&ds, 0.0, 0).train.len(), 10);
        assert_eq!(split(&ds, 0.99, 0).train.len(), 1);
        assert_eq!(split(&ds, 5.0, 0).train.len(), 1);
        assert_eq!(split(&ds, f64::NAN, 0).validation.len(), 0);
        let one = toy(1);
        assert_eq!(split(&one, 0.6, 0).train.len(), 1);
        let none = toy(0);
        let s = split(&none, 0.2, 0);
        assert!(s.train.is_empty() && s.validation.is_empty());
    }
}
