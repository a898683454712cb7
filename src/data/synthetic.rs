//! Generated toy data sets, so a run can be tried without any files.
//!
//! All are a pure function of their parameters and the seed:
//! - `spirals`: `classes` interleaved spiral arms in 2-D (`features` ignored);
//!   `noise` is the std-dev of Gaussian jitter on each coordinate.
//! - `blobs`: `classes` Gaussian clusters in `features` dimensions with
//!   centres drawn uniformly in [-4, 4]; each cluster's std-dev is
//!   `0.5 + 5 * noise`, so the default noise (0.1) gives std-dev 1.
//! - `xor`: 2-D points in [-1, 1]², class 1 where the signs differ, plus
//!   Gaussian jitter (`features`/`classes` ignored; always 2 classes).
//! - `sine`: regression, x uniform in [-pi, pi], y = sin(x) + noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::dataset::{Dataset, Task, MAX_CLASSES};
use super::encoding::Encoding;
use super::error::DataError;

/// Generated arrays beyond this many values would be a typo, not a wish.
const MAX_VALUES: usize = 1 << 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyntheticKind {
    Spirals,
    Blobs,
    Xor,
    Sine,
}

impl SyntheticKind {
    pub const NAMES: &'static [&'static str] = &["spirals", "blobs", "xor", "sine"];

    pub fn from_name(name: &str) -> Option<SyntheticKind> {
        match name {
            "spirals" => Some(SyntheticKind::Spirals),
            "blobs" => Some(SyntheticKind::Blobs),
            "xor" => Some(SyntheticKind::Xor),
            "sine" => Some(SyntheticKind::Sine),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SyntheticKind::Spirals => "spirals",
            SyntheticKind::Blobs => "blobs",
            SyntheticKind::Xor => "xor",
            SyntheticKind::Sine => "sine",
        }
    }

    pub fn task(self) -> Task {
        match self {
            SyntheticKind::Sine => Task::Regression,
            _ => Task::Classification,
        }
    }
}

/// Generates the synthetic set `name` (one of [`SyntheticKind::NAMES`]).
pub fn synthetic(
    name: &str,
    samples: usize,
    features: usize,
    classes: usize,
    noise: f64,
    seed: u64,
) -> Result<Dataset, DataError> {
    let source = format!("synthetic:{name}");
    let err = |msg: String| DataError::new(&source, msg);
    let kind = SyntheticKind::from_name(name).ok_or_else(|| {
        err(format!("unknown synthetic data set, expected one of {}", SyntheticKind::NAMES.join(", ")))
    })?;
    if samples == 0 {
        return Err(err("samples must be at least 1".into()));
    }
    if !(noise.is_finite() && noise >= 0.0) {
        return Err(err(format!("noise must be a finite number >= 0, got {noise}")));
    }
    let dims = match kind {
        SyntheticKind::Blobs => features,
        SyntheticKind::Sine => 1,
        _ => 2,
    };
    if dims == 0 {
        return Err(err("features must be at least 1".into()));
    }
    if matches!(kind, SyntheticKind::Spirals | SyntheticKind::Blobs) && !(2..=MAX_CLASSES).contains(&classes) {
        return Err(err(format!("classes must be between 2 and {MAX_CLASSES}, got {classes}")));
    }
    // Blob centres take classes x dims values on top of the samples.
    let centres = if kind == SyntheticKind::Blobs { classes } else { 0 };
    let values = samples.checked_add(centres).and_then(|rows| rows.checked_mul(dims));
    if values.is_none_or(|v| v > MAX_VALUES) {
        return Err(err(format!("{samples} samples x {dims} features is too large (at most {MAX_VALUES} values)")));
    }

    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // `noise` was checked finite and non-negative, so these cannot fail.
    let jitter = Normal::new(0.0, noise).map_err(|e| err(e.to_string()))?;
    let mut x = Vec::with_capacity(samples * dims);
    let mut y = Vec::with_capacity(samples);
    let n_classes = match kind {
        SyntheticKind::Spirals => {
            for i in 0..samples {
                let class = i % classes;
                let t: f64 = rng.gen_range(0.0..1.0);
                let angle = class as f64 * std::f64::consts::TAU / classes as f64 + t * 4.0;
                x.push((t * angle.sin() + jitter.sample(&mut rng)) as f32);
                x.push((t * angle.cos() + jitter.sample(&mut rng)) as f32);
                y.push(class as f32);
            }
            classes
        }
        SyntheticKind::Blobs => {
            let centres: Vec<f64> = (0..classes * dims).map(|_| rng.gen_range(-4.0..4.0)).collect();
            let spread = Normal::new(0.0, 0.5 + 5.0 * noise).map_err(|e| err(e.to_string()))?;
            for i in 0..samples {
                let class = i % classes;
                for c in &centres[class * dims..(class + 1) * dims] {
                    x.push((c + spread.sample(&mut rng)) as f32);
                }
                y.push(class as f32);
            }
            classes
        }
        SyntheticKind::Xor => {
            for _ in 0..samples {
                let a: f64 = rng.gen_range(-1.0..1.0);
                let b: f64 = rng.gen_range(-1.0..1.0);
                x.push((a + jitter.sample(&mut rng)) as f32);
                x.push((b + jitter.sample(&mut rng)) as f32);
                y.push(if (a > 0.0) != (b > 0.0) { 1.0 } else { 0.0 });
            }
            2
        }
        SyntheticKind::Sine => {
            for _ in 0..samples {
                let a = rng.gen_range(-std::f64::consts::PI..std::f64::consts::PI);
                x.push(a as f32);
                y.push((a.sin() + jitter.sample(&mut rng)) as f32);
            }
            0
        }
    };

    let feature_names: Vec<String> = (0..dims).map(|i| format!("x{i}")).collect();
    Ok(Dataset {
        features: x,
        targets: y,
        n_features: dims,
        n_classes,
        encoding: Encoding::numeric("", &feature_names),
        feature_names,
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_for_a_seed_and_different_across_seeds() {
        for name in SyntheticKind::NAMES {
            let a = synthetic(name, 200, 3, 4, 0.1, 7).unwrap();
            let b = synthetic(name, 200, 3, 4, 0.1, 7).unwrap();
            let c = synthetic(name, 200, 3, 4, 0.1, 8).unwrap();
            assert_eq!(a, b, "{name}");
            assert_ne!(a.features, c.features, "{name}");
        }
    }

    #[test]
    fn shapes_and_labels() {
        let s = synthetic("spirals", 30, 9, 3, 0.0, 1).unwrap();
        assert_eq!((s.len(), s.n_features, s.n_classes), (30, 2, 3));
        assert!(s.targets.iter().all(|&t| t < 3.0 && t.fract() == 0.0));
        assert_eq!(s.source, "synthetic:spirals");

        let b = synthetic("blobs", 50, 5, 4, 0.1, 1).unwrap();
        assert_eq!((b.len(), b.n_features, b.n_classes), (50, 5, 4));
        assert_eq!(b.features.len(), 250);

        let x = synthetic("xor", 100, 1, 9, 0.0, 1).unwrap();
        assert_eq!((x.n_features, x.n_classes), (2, 2));
        for i in 0..x.len() {
            let r = x.row(i);
            assert_eq!(x.targets[i] == 1.0, (r[0] > 0.0) != (r[1] > 0.0));
        }

        let s = synthetic("sine", 40, 1, 1, 0.0, 1).unwrap();
        assert_eq!((s.n_features, s.n_classes), (1, 0));
        assert_eq!(s.task(), Task::Regression);
        for i in 0..s.len() {
            assert!((s.row(i)[0].sin() - s.targets[i]).abs() < 1e-5);
        }
    }

    #[test]
    fn rejects_bad_parameters() {
        let cases = [
            (
                synthetic("moons", 10, 2, 2, 0.1, 0),
                "synthetic:moons: unknown synthetic data set, expected one of spirals, blobs, xor, sine",
            ),
            (synthetic("blobs", 0, 2, 2, 0.1, 0), "synthetic:blobs: samples must be at least 1"),
            (synthetic("blobs", 10, 0, 2, 0.1, 0), "synthetic:blobs: features must be at least 1"),
            (synthetic("spirals", 10, 2, 1, 0.1, 0), "synthetic:spirals: classes must be between 2 and 65536, got 1"),
            (synthetic("xor", 10, 2, 2, -1.0, 0), "synthetic:xor: noise must be a finite number >= 0, got -1"),
            (synthetic("sine", 10, 2, 2, f64::NAN, 0), "synthetic:sine: noise must be a finite number >= 0, got NaN"),
        ];
        for (got, want) in cases {
            assert_eq!(got.unwrap_err().to_string(), want);
        }
        let huge = synthetic("blobs", usize::MAX, 2, 2, 0.1, 0).unwrap_err();
        assert!(huge.to_string().contains("too large"));
        let wide = synthetic("blobs", 1, 1 << 20, 1000, 0.1, 0).unwrap_err();
        assert!(wide.to_string().contains("too large"));
    }

    #[test]
    fn names_round_trip() {
        for name in SyntheticKind::NAMES {
            assert_eq!(SyntheticKind::from_name(name).unwrap().name(), *name);
        }
        assert_eq!(SyntheticKind::Sine.task(), Task::Regression);
    }
}
