//! Figures over seeds: mean, sample standard deviation and a 95% confidence
//! interval from Student's t (a sweep has a handful of seeds, where the
//! normal 1.96 would claim too much), and the difference of two groups'
//! means with Welch's interval (their variances need not be equal).

/// Summary of one group of runs' figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub mean: f64,
    /// Sample standard deviation (n - 1); 0 for one run.
    pub sd: f64,
    /// Half the width of the 95% interval; infinite for one run.
    pub half_width: f64,
}

impl Spread {
    pub fn of(values: &[f64]) -> Option<Spread> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        if n == 1 {
            return Some(Spread { n, mean, sd: 0.0, half_width: f64::INFINITY });
        }
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        let sd = var.sqrt();
        Some(Spread { n, mean, sd, half_width: t95(n as f64 - 1.0) * sd / (n as f64).sqrt() })
    }

    pub fn low(&self) -> f64 {
        self.mean - self.half_width
    }

    pub fn high(&self) -> f64 {
        self.mean + self.half_width
    }
}

/// `b`'s mean minus `a`'s, with Welch's 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Difference {
    pub diff: f64,
    pub half_width: f64,
}

impl Difference {
    pub fn between(a: &Spread, b: &Spread) -> Difference {
        let diff = b.mean - a.mean;
        if a.n < 2 || b.n < 2 {
            return Difference { diff, half_width: f64::INFINITY };
        }
        let (va, vb) = (a.sd.powi(2) / a.n as f64, b.sd.powi(2) / b.n as f64);
        let se = (va + vb).sqrt();
        if se == 0.0 {
            return Difference { diff, half_width: 0.0 };
        }
        // Welch–Satterthwaite degrees of freedom.
        let df = (va + vb).powi(2) / (va.powi(2) / (a.n - 1) as f64 + vb.powi(2) / (b.n - 1) as f64);
        Difference { diff, half_width: t95(df) * se }
    }

    /// True when the interval leaves out zero.
    pub fn clear(&self) -> bool {
        self.diff.abs() > self.half_width
    }
}

/// Student's t at 97.5% (two-sided 95%) for `df` degrees of freedom; a
/// fractional df (Welch) takes the next lower whole one, which errs wide.
pub fn t95(df: f64) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    if df.is_nan() || df < 1.0 {
        return f64::INFINITY;
    }
    let whole = df.floor() as usize;
    match whole {
        1..=30 => TABLE[whole - 1],
        31..=60 => 2.021,
        61..=120 => 2.000,
        _ => 1.960,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_matches_a_hand_computation() {
        let s = Spread::of(&[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.mean, 2.0);
        assert!((s.sd - 1.0).abs() < 1e-12);
        // t(2) = 4.303, se = 1/sqrt(3)
        assert!((s.half_width - 4.303 / 3f64.sqrt()).abs() < 1e-9);
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[5.0]).unwrap().half_width.is_infinite());
    }

    #[test]
    fn welch_difference_is_clear_only_when_the_groups_are_apart() {
        let a = Spread::of(&[0.10, 0.11, 0.09]).unwrap();
        let b = Spread::of(&[0.97, 0.96, 0.98]).unwrap();
        let d = Difference::between(&a, &b);
        assert!((d.diff - 0.87).abs() < 1e-9);
        assert!(d.clear());
        let c = Spread::of(&[0.5, 0.9, 0.1]).unwrap();
        assert!(!Difference::between(&a, &c).clear());
        assert_eq!(t95(0.5), f64::INFINITY);
        assert_eq!(t95(2.7), 4.303);
        assert_eq!(t95(500.0), 1.960);
    }
}
