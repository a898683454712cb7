//! How much memory a model and batch need, estimated before anything is
//! allocated, and how much this process may still take. A model that cannot fit is
//! refused with both figures instead of dying in the allocator (an abort
//! leaves no summary) or in `Vec` arithmetic (a capacity overflow panic).
//!
//! The estimate counts, in f32s: the parameters, their gradients and the
//! optimizer's moments (none for SGD, one set for momentum, two for Adam);
//! and per batch row, [`ACTIVATION_COPIES`] values per unit of every layer
//! (net input, activation and their gradients, plus the executor's
//! intermediate buffers). It is computed in f64, so no width or batch can
//! overflow it; it errs on the high side by design of the copy count, and
//! is compared with the memory this process may still take ([`room`]: the
//! tightest of `MemAvailable`, the cgroup's limit and `ulimit -v`), not with
//! the machine's total. The data a run loads is estimated in `data::footprint`.

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

/// How much this process may still allocate, and which limit says so.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Room {
    pub bytes: u64,
    /// The limit, in words for a message ("the address-space limit (ulimit -v)").
    pub what: &'static str,
}

/// The tightest of: `MemAvailable`, the cgroup's remaining limit (v2
/// `memory.max`, v1 `memory.limit_in_bytes`) and the address-space limit
/// (`RLIMIT_AS`, `ulimit -v`) less what this process has mapped; `None`
/// where none can be read. A run past any of them dies in the allocator
/// (abort, exit 134) or is killed, with no summary.
pub fn room() -> Option<Room> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| meminfo_available(&t));
    [
        meminfo.map(|bytes| Room { bytes, what: "the machine's available memory (MemAvailable)" }),
        cgroup_room().map(|bytes| Room { bytes, what: "the cgroup's memory limit" }),
        address_space_room().map(|bytes| Room { bytes, what: "the address-space limit (ulimit -v)" }),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|r| r.bytes)
}

fn meminfo_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// The cgroup's limit less its usage: v2 `memory.max` minus
/// `memory.current`, else v1 `memory.limit_in_bytes` minus
/// `memory.usage_in_bytes` ("max", or v1's huge "unlimited", count as none).
fn cgroup_room() -> Option<u64> {
    cgroup_room_in(std::path::Path::new("/sys/fs/cgroup"))
}

fn cgroup_room_in(root: &std::path::Path) -> Option<u64> {
    let read = |f: &str| std::fs::read_to_string(root.join(f)).ok()?.trim().parse::<u64>().ok();
    let (max, used) = match read("memory.max") {
        Some(max) => (max, read("memory.current")),
        None => (read("memory/memory.limit_in_bytes").filter(|&m| m < 1 << 60)?, read("memory/memory.usage_in_bytes")),
    };
    Some(max.saturating_sub(used.unwrap_or(0)))
}

/// `RLIMIT_AS` less this process's mapped size (`VmSize`).
fn address_space_room() -> Option<u64> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As).current?;
    let status = std::fs::read_to_string("/proc/self/status").ok();
    let mapped = status.as_deref().and_then(|t| status_kib(t, "VmSize:")).unwrap_or(0);
    Some(limit.saturating_sub(mapped))
}

/// A `Key:   N kB` line of `/proc/self/status`, in bytes.
fn status_kib(text: &str, key: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse::<u64>().ok()?.checked_mul(1024)
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
    match room() {
        Some(have) if need > have.bytes as f64 => {
            let widths: Vec<String> = std::iter::once(spec.inputs)
                .chain(spec.hidden.iter().copied())
                .chain([spec.outputs])
                .map(|w| w.to_string())
                .collect();
            Err(format!(
                "this model and batch need about {} of memory (a {} network, batch {batch}), {} leaves {} available",
                human(need),
                widths.join("-"),
                have.what,
                human(have.bytes as f64)
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
        assert!(e.contains(" leaves "), "{e}");
        assert!(check_fits(&spec(&[64, 64]), 32, Optimizer::Sgd).is_ok());
    }

    #[test]
    fn reads_cgroup_v2_and_v1_limits() {
        let v2 = tempfile::tempdir().unwrap();
        assert_eq!(cgroup_room_in(v2.path()), None);
        std::fs::write(v2.path().join("memory.max"), "max\n").unwrap();
        assert_eq!(cgroup_room_in(v2.path()), None, "no limit");
        std::fs::write(v2.path().join("memory.max"), "1000\n").unwrap();
        std::fs::write(v2.path().join("memory.current"), "300\n").unwrap();
        assert_eq!(cgroup_room_in(v2.path()), Some(700));
        let v1 = tempfile::tempdir().unwrap();
        std::fs::create_dir(v1.path().join("memory")).unwrap();
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "9223372036854771712\n").unwrap();
        assert_eq!(cgroup_room_in(v1.path()), None, "v1's unlimited");
        std::fs::write(v1.path().join("memory/memory.limit_in_bytes"), "2048\n").unwrap();
        std::fs::write(v1.path().join("memory/memory.usage_in_bytes"), "48\n").unwrap();
        assert_eq!(cgroup_room_in(v1.path()), Some(2000));
    }

    #[test]
    fn reads_meminfo() {
        assert_eq!(meminfo_available("MemTotal: 10 kB\nMemAvailable:    2048 kB\n"), Some(2 << 20));
        assert_eq!(meminfo_available("MemTotal: 10 kB\n"), None);
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(12.0), "12 B");
        assert_eq!(status_kib("VmPeak:\t 10 kB\nVmSize:\t    4 kB\n", "VmSize:"), Some(4096));
    }
}
