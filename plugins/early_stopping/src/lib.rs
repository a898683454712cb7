//! Early stopping: watch the validation error after each epoch and stop when it
//! has not improved by `min_delta` for `patience` epochs; keep the best weights
//! (a copy of every model parameter at the best epoch) and restore them when
//! the run stops for any reason.

use traintop_plugin_sdk::{export_technique, Event, EventKind, Host, Param, ParamValues, Technique, ToggleClass};

#[derive(Default)]
pub struct EarlyStopping {
    best: Option<f64>,
    best_epoch: u64,
    wait: i64,
    snapshot: Vec<(String, Vec<f32>)>,
}

impl EarlyStopping {
    fn parameter_names(host: &mut Host) -> Vec<String> {
        (0..host.layer_count()).flat_map(|l| [format!("layer{l}.weight"), format!("layer{l}.bias")]).collect()
    }

    fn status(&self, host: &mut Host, p: &ParamValues) {
        let patience = p.int("patience");
        let text = match self.best {
            Some(b) => format!(
                "wait {}/{patience}, best epoch {} ({} {b:.4})",
                self.wait,
                self.best_epoch,
                p.choice("monitor")
            ),
            None => format!("wait 0/{patience}, no epoch yet"),
        };
        host.set_status(&text);
    }
}

impl Technique for EarlyStopping {
    const NAME: &'static str = "early_stopping";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Stop when the validation error stops improving; keep the best weights";
    const CLASS: ToggleClass = ToggleClass::Live;

    fn params() -> Vec<Param> {
        vec![
            Param::choice("monitor", "val_loss,val_acc", "val_loss", "validation figure to watch"),
            Param::float("min_delta", 0.0, 0.0, 1e9, "smallest change that counts as an improvement"),
            Param::int("patience", 5, 0, 100_000, "epochs without improvement before stopping"),
            Param::boolean("restore_best", true, "restore the best epoch's weights when the run stops"),
            Param::int("start_from_epoch", 0, 0, 100_000, "epochs before patience starts counting"),
        ]
    }

    fn on_event(&mut self, host: &mut Host, p: &ParamValues, e: &Event) -> Result<(), String> {
        match e.kind {
            EventKind::Toggled if e.value == 1.0 => {
                *self = Self::default();
                self.status(host, p);
            }
            EventKind::ValidationEnd => {
                let higher_is_better = p.choice("monitor") == "val_acc";
                let value = if higher_is_better { e.value2 } else { e.value };
                if !value.is_finite() {
                    return Err(format!("{} is not available for this task", p.choice("monitor")));
                }
                let delta = p.float("min_delta");
                let improved = match self.best {
                    None => true,
                    Some(b) if higher_is_better => value > b + delta,
                    Some(b) => value < b - delta,
                };
                if improved {
                    self.best = Some(value);
                    self.best_epoch = e.epoch;
                    self.wait = 0;
                    self.snapshot = Self::parameter_names(host)
                        .into_iter()
                        .filter_map(|n| host.read_state(&n).map(|v| (n, v)))
                        .collect();
                } else if e.epoch as i64 > p.int("start_from_epoch") {
                    self.wait += 1;
                    if self.wait >= p.int("patience") {
                        host.log(&format!(
                            "no improvement for {} epochs; stopping (best epoch {})",
                            self.wait, self.best_epoch
                        ));
                        host.request_stop("early_stopping", p.boolean("restore_best"));
                    }
                }
                self.status(host, p);
            }
            EventKind::RunEnd if p.boolean("restore_best") && !self.snapshot.is_empty() => {
                for (name, values) in &self.snapshot {
                    host.write_state(name, values)?;
                }
                host.log(&format!("restored the weights of epoch {}", self.best_epoch));
            }
            _ => {}
        }
        Ok(())
    }
}

export_technique!(EarlyStopping);
