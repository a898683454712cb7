//! Bounded chart series. A long run logs far more steps than a terminal has
//! columns, so a series keeps at most `cap` points: when full, neighbouring
//! points are averaged pairwise and later points are averaged in buckets of
//! the same (doubled) width, so the whole run stays evenly sampled and memory
//! and drawing cost stay flat however long the run.

/// A series of (x, y) points with a fixed upper bound on its length.
#[derive(Clone, Debug)]
pub struct BoundedSeries {
    points: Vec<(f64, f64)>,
    cap: usize,
    stride: usize,
    bucket: (f64, f64, usize),
}

impl BoundedSeries {
    /// `cap` is rounded up to an even number of at least 4 so halving always
    /// leaves room.
    pub fn new(cap: usize) -> Self {
        let cap = cap.max(4).next_multiple_of(2);
        Self { points: Vec::with_capacity(cap), cap, stride: 1, bucket: (0.0, 0.0, 0) }
    }

    /// Adds a point; non-finite values are left out since they cannot be
    /// plotted (the header and log still report them).
    pub fn push(&mut self, x: f64, y: f64) {
        if !x.is_finite() || !y.is_finite() {
            return;
        }
        let (sx, sy, n) = &mut self.bucket;
        *sx += x;
        *sy += y;
        *n += 1;
        if *n >= self.stride {
            let p = (*sx / *n as f64, *sy / *n as f64);
            self.bucket = (0.0, 0.0, 0);
            self.points.push(p);
            if self.points.len() >= self.cap {
                self.compact();
            }
        }
    }

    fn compact(&mut self) {
        self.points = self
            .points
            .chunks(2)
            .map(|c| {
                let n = c.len() as f64;
                (c.iter().map(|p| p.0).sum::<f64>() / n, c.iter().map(|p| p.1).sum::<f64>() / n)
            })
            .collect();
        self.stride *= 2;
    }

    /// The points, including a partly filled bucket so the newest step shows
    /// at once.
    pub fn points(&self) -> Vec<(f64, f64)> {
        let mut out = self.points.clone();
        let (sx, sy, n) = self.bucket;
        if n > 0 {
            out.push((sx / n as f64, sy / n as f64));
        }
        out
    }

    /// The first and the last x (the newest one in a partly filled bucket
    /// too), without copying the points: the frame and the cursor keys
    /// need only these.
    pub fn x_range(&self) -> Option<(f64, f64)> {
        let (sx, _, n) = self.bucket;
        let pending = (n > 0).then(|| sx / n as f64);
        let first = self.points.first().map(|p| p.0).or(pending)?;
        let last = pending.or(self.points.last().map(|p| p.0))?;
        Some((first, last))
    }

    /// Forgets the points after step `x` (the run went back to it).
    pub fn rewind(&mut self, x: f64) {
        self.points.retain(|p| p.0 <= x);
        self.bucket = (0.0, 0.0, 0);
    }

    pub fn len(&self) -> usize {
        self.points.len() + usize::from(self.bucket.2 > 0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An exponential moving average, seeded with the first value.
#[derive(Clone, Copy, Debug)]
pub struct Ema {
    alpha: f64,
    value: Option<f64>,
}

impl Ema {
    pub fn new(alpha: f64) -> Self {
        Self { alpha, value: None }
    }

    /// Folds in `y` and returns the new average; non-finite values are
    /// skipped so one bad step does not poison the curve for good.
    pub fn update(&mut self, y: f64) -> Option<f64> {
        if y.is_finite() {
            self.value = Some(match self.value {
                None => y,
                Some(v) => v + self.alpha * (y - v),
            });
        }
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_and_keeps_the_span() {
        let mut h = BoundedSeries::new(100);
        for i in 0..10_000 {
            h.push(i as f64, 1.0);
        }
        let p = h.points();
        assert!(p.len() <= 101, "{}", p.len());
        assert!(p.len() >= 50);
        assert!(p[0].0 < 100.0);
        assert!(p.last().unwrap().0 > 9_800.0);
        assert!(p.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn the_x_range_is_the_points_first_and_last() {
        let mut h = BoundedSeries::new(4);
        assert_eq!(h.x_range(), None);
        for x in 1..=9 {
            h.push(x as f64, 1.0);
            let p = h.points();
            assert_eq!(h.x_range(), Some((p[0].0, p[p.len() - 1].0)), "after {x}");
        }
    }

    #[test]
    fn rewinding_forgets_the_later_points() {
        let mut h = BoundedSeries::new(10);
        for i in 1..=5 {
            h.push(i as f64, 1e12);
        }
        h.rewind(2.0);
        assert_eq!(h.points(), vec![(1.0, 1e12), (2.0, 1e12)]);
        h.push(3.0, 0.5);
        assert_eq!(h.points().last(), Some(&(3.0, 0.5)));
    }

    #[test]
    fn skips_non_finite() {
        let mut h = BoundedSeries::new(10);
        h.push(1.0, f64::NAN);
        h.push(2.0, f64::INFINITY);
        assert!(h.is_empty());
        h.push(3.0, 1.0);
        assert_eq!(h.points(), vec![(3.0, 1.0)]);
    }

    #[test]
    fn ema_follows() {
        let mut e = Ema::new(0.5);
        assert_eq!(e.update(2.0), Some(2.0));
        assert_eq!(e.update(f64::NAN), Some(2.0));
        assert_eq!(e.update(4.0), Some(3.0));
    }
}
