//! Early stopping: watch the validation error after each epoch and stop when it
//! has not improved by `min_delta` for `patience` epochs; keep the best weights
//! (a copy of every parameter and technique state at the best epoch) and
//! restore them when the run ends, whatever stopped it.
//!
//! Its tracking (best value, best epoch, epochs waited) and the copy live in the
//! host's state store, not in this library: checkpoints carry them, so a
//! resumed run goes on counting patience where it stopped.

use traintop_plugin_sdk::{export_technique, Event, Host, Param, ParamValues, Technique, ToggleClass};

/// Store entry: [best value (NaN before the first epoch), best epoch, epochs waited].
const TRACKING: &str = "tracking";
/// Prefix of the copies of the best epoch's states.
const BEST: &str = "best.";
const OWN_PREFIX: &str = "early_stopping.";

#[derive(Default)]
pub struct EarlyStopping;

struct Tracking {
    best: f64,
    best_epoch: u64,
    wait: i64,
}

impl Tracking {
    fn load(host: &mut Host) -> Result<Self, String> {
        host.ensure_state(TRACKING, &[3], f32::NAN)?;
        let v = host.read_state(TRACKING).ok_or("tracking state unreadable")?;
        Ok(Self { best: v[0] as f64, best_epoch: v[1] as u64, wait: v[2] as i64 })
    }

    fn save(&self, host: &mut Host) -> Result<(), String> {
        host.write_state(TRACKING, &[self.best as f32, self.best_epoch as f32, self.wait as f32]).map_err(Into::into)
    }
}

/// The states a restore puts back: parameters and techniques' states, not
/// optimizer moments (they belong to the step count, which goes on) and not
/// this technique's own.
fn restorable(name: &str) -> bool {
    !name.starts_with(OWN_PREFIX)
        && name != "adam.step"
        && !name.ends_with(".m")
        && !name.ends_with(".v")
        && !name.ends_with(".velocity")
}

fn status(host: &mut Host, p: &ParamValues, t: &Tracking) {
    let patience = p.int("patience");
    let text = if t.best.is_nan() {
        format!("wait 0/{patience}, no epoch yet")
    } else {
        format!("wait {}/{patience}, best epoch {} ({} {:.4})", t.wait, t.best_epoch, p.choice("monitor"), t.best)
    };
    host.set_status(&text);
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
        match e {
            Event::RunStart(_) | Event::Toggled(_) => {
                let t = Tracking::load(host)?;
                status(host, p, &t);
            }
            Event::ValidationEnd(e) => {
                let higher_is_better = p.choice("monitor") == "val_acc";
                let value = if higher_is_better { e.val_acc.unwrap_or(f64::NAN) } else { e.val_loss };
                if !value.is_finite() {
                    return Err(format!("{} is not available for this task", p.choice("monitor")));
                }
                let mut t = Tracking::load(host)?;
                let delta = p.float("min_delta");
                let improved =
                    t.best.is_nan() || if higher_is_better { value > t.best + delta } else { value < t.best - delta };
                if improved {
                    t.best = value;
                    t.best_epoch = e.at.epoch;
                    t.wait = 0;
                    for name in host.state_names().into_iter().filter(|n| restorable(n)) {
                        let (Some(shape), Some(values)) = (host.state_shape(&name), host.read_state(&name)) else {
                            continue;
                        };
                        let copy = format!("{BEST}{name}");
                        host.ensure_state(&copy, &shape, 0.0)?;
                        host.write_state(&copy, &values)?;
                    }
                } else if e.at.epoch as i64 > p.int("start_from_epoch") {
                    t.wait += 1;
                    if t.wait >= p.int("patience") {
                        host.log(&format!(
                            "no improvement for {} epochs; stopping (best epoch {})",
                            t.wait, t.best_epoch
                        ));
                        host.request_stop("early_stopping", p.boolean("restore_best"));
                    }
                }
                t.save(host)?;
                status(host, p, &t);
            }
            Event::RunEnd(_) if p.boolean("restore_best") => {
                let t = Tracking::load(host)?;
                if t.best.is_nan() {
                    return Ok(());
                }
                let copies: Vec<String> = host
                    .state_names()
                    .into_iter()
                    .filter_map(|n| n.strip_prefix(OWN_PREFIX).and_then(|s| s.strip_prefix(BEST)).map(str::to_string))
                    .collect();
                for name in copies {
                    if let Some(values) = host.read_state(&format!("{BEST}{name}")) {
                        host.write_state(&name, &values)?;
                    }
                }
                host.log(&format!("restored the weights of epoch {}", t.best_epoch));
            }
            _ => {}
        }
        Ok(())
    }
}

export_technique!(EarlyStopping);
