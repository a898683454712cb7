//! How much memory a model and batch need, estimated before anything is
//! allocated, and how much the machine has. A model that cannot fit is
//! refused with both figures instead of dying in the allocator (an abort
//! leaves no summary) or in `Vec` arithmetic (a capacity overflow panic).
//!
//! The estimate counts, in f32s: the parameters, their gradients and the
//! optimizer's moments (none for SGD, one set for momentum, two for Adam);
//! and per batch row, [`ACTIVATION_COPIES`] values per unit of every layer
//! (net input, activation and their gradients, plus the executor's
//! intermediate buffers). It is computed in f64, so no width or batch can
//! overflow it; it errs on the high side by design of the copy count, and
//! is compared with the memory available now (`MemAvailable`, or a cgroup
//! limit when lower), not with the machine's total.

use super::{MlpSpec, Optimizer};

/// Buffers per unit per batch row during a train step.
pub const ACTIVATION_COPIES: f64 = 6.0;
/// Rows evaluated at once (the trainer's validation batch is at least this).
pub const EVAL_ROWS: usize = 256;

/// Bytes one training step of `spec` with `batch` rows needs, roughly.
pub fn estimate(spec: &MlpSpec, batch: usize, optimizer: Optimizer) -> f64 {
    let widths: Vec<f64> = std::iter::once(spec.inputs)
        .chain(spec.hidden.iter().copied())
        .chain([spec.outputs])
        .map(|w| w as f64)
        .collect();
    let params: f64 = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let moments = match optimizer {
        Optimizer::Sgd => 0.0,
        Optimizer::Momentum { .. } => 1.0,
        Optimizer::Adam { .. } => 2.0,
    };
    let rows = batch.max(EVAL_ROWS) as f64;
    let activations = rows * widths.iter().sum::<f64>() * ACTIVATION_COPIES;
    4.0 * (params * (2.0 + moments) + activations)
}

/// Bytes this process may still allocate: the lower of `MemAvailable` and
/// the cgroup's remaining limit; `None` where neither can be read.
pub fn available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| meminfo_available(&t));
    let cgroup = cgroup_room();
    match (meminfo, cgroup) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// cgroup v2: `memory.max` minus `memory.current`.
fn cgroup_room() -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/{f}")).ok();
    let max: u64 = read("memory.max")?.trim().parse().ok()?;
    let current: u64 = read("memory.current").and_then(|t| t.trim().parse().ok()).unwrap_or(0);
    Some(max.saturating_sub(current))
}

/// `bytes` as "1.5 GiB".
pub fn human(bytes: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} {}", UNITS[0])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Refuses a model that cannot fit: `Err` says the estimate and what is
/// available. Passes when the available memory cannot be read.
pub fn check_fits(spec: &MlpSpec, batch: usize, optimizer: Optimizer) -> Result<(), String> {
    let need = estimate(spec, batch, optimizer);
    match available() {
        Some(have) if need > have as f64 => {
            let widths: Vec<String> = std::iter::once(spec.inputs)
                .chain(spec.hidden.iter().copied())
                .chain([spec.outputs])
                .map(|w| w.to_string())
                .collect();
            Err(format!(
                "this model and batch need about {} of memory (a {} network, batch {batch}), \
                 the machine has {} available",
                human(need),
                widths.join("-"),
                human(have as f64)
            ))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Activation, Objective};

    fn spec(hidden: &[usize]) -> MlpSpec {
        MlpSpec {
            inputs: 64,
            hidden: hidden.to_vec(),
            outputs: 10,
            activation: Activation::Relu,
            objective: Objective::Classification,
        }
    }

    #[test]
    fn counts_parameters_moments_and_activations() {
        let s = spec(&[32]);
        let params = (64 * 32 + 32 + 32 * 10 + 10) as f64;
        let acts = 256.0 * (64 + 32 + 10) as f64 * ACTIVATION_COPIES;
        assert_eq!(estimate(&s, 16, Optimizer::Sgd), 4.0 * (2.0 * params + acts));
        let adam = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        assert_eq!(estimate(&s, 16, adam), 4.0 * (4.0 * params + acts));
        // No overflow at the limits, and a finite figure.
        let huge = spec(&[1 << 24; 4]);
        assert!(estimate(&huge, 1 << 24, adam).is_finite());
    }

    #[test]
    fn refuses_what_cannot_fit_and_says_why() {
        let e = check_fits(&spec(&[1 << 20, 1 << 20]), 32, Optimizer::Sgd).unwrap_err();
        assert!(e.starts_with("this model and batch need about 8.0 TiB"), "{e}");
        assert!(e.contains("a 64-1048576-1048576-10 network, batch 32"), "{e}");
        assert!(e.contains("available"), "{e}");
        assert!(check_fits(&spec(&[64, 64]), 32, Optimizer::Sgd).is_ok());
    }

    #[test]
    fn reads_meminfo() {
        assert_eq!(meminfo_available("MemTotal: 10 kB\nMemAvailable:    2048 kB\n"), Some(2 << 20));
        assert_eq!(meminfo_available("MemTotal: 10 kB\n"), None);
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(12.0), "12 B");
    }
}
