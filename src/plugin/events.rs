//! The trainer's events for plugins, typed on the host side: each kind
//! carries exactly the figures it has, so a caller can neither forget one
//! nor pass a placeholder. The C ABI's one `Event` layout (with `value` and
//! `value2` NaN where a kind has no figure) is made here and only here.

use traintop_plugin_abi as abi;

/// A trainer event the plugins hear, with the epoch it belongs to.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PluginEvent {
    /// Parameters exist and may be rewritten (fresh runs only).
    InitParameters,
    RunStart {
        epoch: u64,
    },
    EpochStart {
        epoch: u64,
    },
    BatchStart {
        epoch: u64,
    },
    /// After the update: the batch's loss.
    BatchEnd {
        epoch: u64,
        loss: f64,
    },
    /// After validation; `val_acc` is `None` for regression.
    ValidationEnd {
        epoch: u64,
        val_loss: f64,
        val_acc: Option<f64>,
    },
    EpochEnd {
        epoch: u64,
    },
    Paused {
        epoch: u64,
    },
    Resumed {
        epoch: u64,
    },
    Stopping {
        epoch: u64,
    },
    RunEnd {
        epoch: u64,
    },
}

impl PluginEvent {
    /// The ABI's payload on `base` (step, seed): kind, epoch and figures.
    pub(super) fn to_abi(self, base: abi::Event) -> abi::Event {
        use abi::EventKind as K;
        let (kind, epoch, value, value2) = match self {
            PluginEvent::InitParameters => (K::InitParameters, 0, f64::NAN, f64::NAN),
            PluginEvent::RunStart { epoch } => (K::RunStart, epoch, f64::NAN, f64::NAN),
            PluginEvent::EpochStart { epoch } => (K::EpochStart, epoch, f64::NAN, f64::NAN),
            PluginEvent::BatchStart { epoch } => (K::BatchStart, epoch, f64::NAN, f64::NAN),
            PluginEvent::BatchEnd { epoch, loss } => (K::BatchEnd, epoch, loss, f64::NAN),
            PluginEvent::ValidationEnd { epoch, val_loss, val_acc } => {
                (K::ValidationEnd, epoch, val_loss, val_acc.unwrap_or(f64::NAN))
            }
            PluginEvent::EpochEnd { epoch } => (K::EpochEnd, epoch, f64::NAN, f64::NAN),
            PluginEvent::Paused { epoch } => (K::Paused, epoch, f64::NAN, f64::NAN),
            PluginEvent::Resumed { epoch } => (K::Resumed, epoch, f64::NAN, f64::NAN),
            PluginEvent::Stopping { epoch } => (K::Stopping, epoch, f64::NAN, f64::NAN),
            PluginEvent::RunEnd { epoch } => (K::RunEnd, epoch, f64::NAN, f64::NAN),
        };
        abi::Event { kind: kind.into(), epoch, value, value2, ..base }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> abi::Event {
        abi::Event {
            kind: 0,
            epoch: 0,
            step: 12,
            value: f64::NAN,
            value2: f64::NAN,
            seed: 7,
            data: std::ptr::null(),
            rows: 0,
            cols: 0,
        }
    }

    /// The layout plugins read is the one the untyped calls made.
    #[test]
    fn figures_land_where_the_abi_puts_them() {
        let e = PluginEvent::ValidationEnd { epoch: 3, val_loss: 0.5, val_acc: None }.to_abi(base());
        assert_eq!((e.kind, e.epoch, e.value, e.step, e.seed), (abi::EventKind::ValidationEnd.into(), 3, 0.5, 12, 7));
        assert!(e.value2.is_nan(), "regression: no accuracy");
        let e = PluginEvent::BatchEnd { epoch: 1, loss: 2.0 }.to_abi(base());
        assert_eq!((e.kind, e.value), (abi::EventKind::BatchEnd.into(), 2.0));
        assert!(e.value2.is_nan());
        let e = PluginEvent::Paused { epoch: 4 }.to_abi(base());
        assert_eq!((e.kind, e.epoch), (abi::EventKind::Paused.into(), 4));
        assert!(e.value.is_nan() && e.value2.is_nan());
    }
}
