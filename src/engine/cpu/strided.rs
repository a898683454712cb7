//! Strided views: a resolved luminal `ShapeTracker` turned into sizes and element
//! strides once per op call, so kernels index with additions instead of evaluating
//! luminal's symbolic index expression per element (which allocates).

use luminal::prelude::ShapeTracker;

/// Logical sizes and per-axis element strides (0 on broadcast axes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StridedView {
    pub sizes: Vec<usize>,
    pub strides: Vec<usize>,
}

impl StridedView {
    /// `None` when the tracker slices or pads; callers fall back to luminal's own op.
    pub fn from_tracker(t: &ShapeTracker) -> Option<Self> {
        if t.is_sliced() || t.is_padded() {
            return None;
        }
        let dims: Vec<usize> = t.dims.iter().map(|d| d.to_usize()).collect::<Option<_>>()?;
        let mut physical = vec![0; dims.len()];
        let mut acc = 1;
        for j in (0..dims.len()).rev() {
            physical[j] = acc;
            if !t.fake[j] {
                acc *= dims[j];
            }
        }
        let sizes = t.indexes.iter().map(|&j| dims[j]).collect();
        let strides = t.indexes.iter().map(|&j| if t.fake[j] { 0 } else { physical[j] }).collect();
        Some(Self { sizes, strides })
    }

    pub fn len(&self) -> usize {
        self.sizes.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when element i of the logical order is element i of the buffer.
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&size, &stride) in self.sizes.iter().zip(&self.strides).rev() {
            if size != 1 && stride != expected {
                return false;
            }
            expected *= size;
        }
        true
    }
}

/// Visits every row of `sizes` (all axes but the last), passing the buffer offset
/// of the row's first element in each of `views`. Rank 0 is one row of one.
pub fn for_each_row<const N: usize>(sizes: &[usize], strides: [&[usize]; N], mut f: impl FnMut([usize; N])) {
    if sizes.len() <= 1 {
        f([0; N]);
        return;
    }
    let outer = &sizes[..sizes.len() - 1];
    if outer.contains(&0) {
        return;
    }
    let mut index = vec![0usize; outer.len()];
    let mut offsets = [0usize; N];
    loop {
        f(offsets);
        // Odometer increment, updating offsets incrementally.
        let mut axis = outer.len();
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            for v in 0..N {
                offsets[v] += strides[v][axis];
            }
            if index[axis] < outer[axis] {
                break;
            }
            for v in 0..N {
                offsets[v] -= strides[v][axis] * outer[axis];
            }
            index[axis] = 0;
        }
    }
}

/// Length and per-view stride of the innermost axis.
pub fn inner<const N: usize>(sizes: &[usize], strides: [&[usize]; N]) -> (usize, [usize; N]) {
    match sizes.last() {
        None => (1, [0; N]),
        Some(&n) => {
            let mut s = [0; N];
            for v in 0..N {
                s[v] = *strides[v].last().unwrap();
            }
            (n, s)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use luminal::prelude::symbolic::Expression;

    #[test]
    fn permuted_and_broadcast_views_have_expected_strides() {
        let mut t = ShapeTracker::new(&[Expression::from(2usize), Expression::from(3usize)]);
        t.permute(&[1, 0]);
        t.expand(0, Expression::from(4usize));
        let v = StridedView::from_tracker(&t).unwrap();
        assert_eq!(v.sizes, vec![4, 3, 2]);
        assert_eq!(v.strides, vec![0, 1, 3]);
        assert!(!v.is_contiguous());
    }

    #[test]
    fn rows_are_visited_in_order() {
        let sizes = [2, 3, 4];
        let strides = [12, 4, 1];
        let mut seen = vec![];
        for_each_row(&sizes, [&strides], |[o]| seen.push(o));
        assert_eq!(seen, vec![0, 4, 8, 12, 16, 20]);
    }
}
