//! Mini-batch order for an epoch. The order is a pure function of
//! (seed, epoch), so a run resumed at epoch k sees exactly the batches it
//! would have seen had it never stopped.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dataset::Dataset;

/// A permutation of `0..n` for `epoch`.
pub fn epoch_order(n: usize, seed: u64, epoch: usize) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // One ChaCha stream per epoch: independent orders without having to
    // replay earlier epochs' draws.
    rng.set_stream(epoch as u64);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut rng);
    order
}

/// An epoch's row indices cut into mini-batches; the last may be short.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batches {
    order: Vec<usize>,
    batch_size: usize,
}

impl Batches {
    /// A `batch_size` of 0 is treated as 1.
    pub fn new(n: usize, batch_size: usize, seed: u64, epoch: usize) -> Batches {
        Batches { order: epoch_order(n, seed, epoch), batch_size: batch_size.max(1) }
    }

    /// Number of batches in the epoch.
    pub fn len(&self) -> usize {
        self.order.len().div_ceil(self.batch_size)
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The row indices of batch `i`, or `None` past the end, so a resumed
    /// run can start mid-epoch.
    pub fn get(&self, i: usize) -> Option<&[usize]> {
        self.order.chunks(self.batch_size).nth(i)
    }

    pub fn iter(&self) -> std::slice::Chunks<'_, usize> {
        self.order.chunks(self.batch_size)
    }

    pub fn order(&self) -> &[usize] {
        &self.order
    }
}

/// Copies the rows `idx` of `ds` into `x_out` (row-major) and their targets
/// into `y_out`: one-hot rows of width `n_classes` for classification, one
/// value per row for regression. Both buffers are cleared first and reuse
/// their capacity, so a training loop allocates only on its first batch.
///
/// # Panics
/// If an index is out of range; indices come from the program.
pub fn gather(ds: &Dataset, idx: &[usize], x_out: &mut Vec<f32>, y_out: &mut Vec<f32>) {
    x_out.clear();
    y_out.clear();
    for &i in idx {
        x_out.extend_from_slice(ds.row(i));
    }
    if ds.n_classes == 0 {
        y_out.extend(idx.iter().map(|&i| ds.targets[i]));
    } else {
        let k = ds.n_classes;
        y_out.resize(idx.len() * k, 0.0);
        for (row, &i) in idx.iter().enumerate() {
            // Loaders guarantee labels are in 0..n_classes.
            let class = ds.targets[i] as usize;
            if class < k {
                y_out[row * k + class] = 1.0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::dataset::toy;
    use super::*;

    #[test]
    fn epoch_order_is_a_deterministic_permutation() {
        let a = epoch_order(1000, 42, 3);
        assert_eq!(a, epoch_order(1000, 42, 3));
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
        assert_ne!(a, epoch_order(1000, 42, 4));
        assert_ne!(a, epoch_order(1000, 43, 3));
        assert_ne!(a, (0..1000).collect::<Vec<_>>());
        assert!(epoch_order(0, 1, 0).is_empty());
    }

    #[test]
    fn batches_cover_the_epoch() {
        let b = Batches::new(10, 4, 7, 0);
        assert_eq!(b.len(), 3);
        let sizes: Vec<usize> = b.iter().map(<[usize]>::len).collect();
        assert_eq!(sizes, vec![4, 4, 2]);
        assert_eq!(b.get(2), Some(&b.order()[8..]));
        assert_eq!(b.get(3), None);
        let flat: Vec<usize> = b.iter().flatten().copied().collect();
        assert_eq!(flat, epoch_order(10, 7, 0));
        assert_eq!(Batches::new(3, 0, 0, 0).len(), 3);
        assert!(Batches::new(0, 4, 0, 0).is_empty());
    }

    #[test]
    fn gather_one_hot_without_reallocating() {
        let ds = toy(6);
        let mut x = Vec::with_capacity(64);
        let mut y = Vec::with_capacity(64);
        let (xp, yp) = (x.as_ptr(), y.as_ptr());
        gather(&ds, &[4, 1], &mut x, &mut y);
        assert_eq!(x, vec![8.0, 9.0, 2.0, 3.0]);
        assert_eq!(y, vec![0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
        gather(&ds, &[2], &mut x, &mut y);
        assert_eq!(x, vec![4.0, 5.0]);
        assert_eq!(y, vec![0.0, 0.0, 1.0]);
        assert_eq!((x.as_ptr(), y.as_ptr()), (xp, yp));
    }

    #[test]
    fn gather_regression_values() {
        let mut ds = toy(3);
        ds.n_classes = 0;
        ds.targets = vec![0.5, -1.0, 2.5];
        let (mut x, mut y) = (Vec::new(), Vec::new());
        gather(&ds, &[2, 0], &mut x, &mut y);
        assert_eq!(y, vec![2.5, 0.5]);
        assert_eq!(x.len(), 4);
    }
}
