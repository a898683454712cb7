//! The series as one CSV table: a row per logged step (and per epoch end
//! that fell between logged steps), the epoch end's validation figures on
//! the row of the step it ended at, a gradient norm column per parameter.
//! Values are written as the run recorded them (shortest round-trip form),
//! so a spreadsheet reads the run's own numbers; a cell the run did not
//! record is empty.

use std::collections::BTreeMap;

use super::series::RunSeries;
use crate::protocol::{EpochRecord, StepRecord};

/// The columns before the gradient norms.
const FIXED: [&str; 8] = ["step", "epoch", "loss", "acc", "lr", "epoch_loss", "val_loss", "val_acc"];

/// The CSV text of `series`.
pub fn csv(series: &RunSeries) -> Result<Vec<u8>, String> {
    let params = series.parameters();
    let mut rows: BTreeMap<u64, (Option<&StepRecord>, Option<&EpochRecord>)> = BTreeMap::new();
    for s in &series.steps {
        rows.entry(s.step).or_default().0 = Some(s);
    }
    for e in &series.epochs {
        rows.entry(e.step).or_default().1 = Some(e);
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let header = FIXED.iter().map(|c| c.to_string()).chain(params.iter().map(|p| format!("grad_norm:{p}")));
    w.write_record(header.collect::<Vec<_>>()).map_err(|e| e.to_string())?;
    for (step, (s, e)) in rows {
        w.write_record(row(step, s, e, &params)).map_err(|e| e.to_string())?;
    }
    w.into_inner().map_err(|e| e.to_string())
}

fn cell(v: Option<f32>) -> String {
    v.map_or(String::new(), |v| v.to_string())
}

fn row(step: u64, s: Option<&StepRecord>, e: Option<&EpochRecord>, params: &[String]) -> Vec<String> {
    let epoch = s.map(|s| s.epoch).or(e.map(|e| e.epoch)).map_or(String::new(), |n| n.to_string());
    // No validation data is NaN in the record: an empty cell, not a value.
    let val_loss = e.map(|e| e.val_loss).filter(|v| !v.is_nan());
    let mut out = vec![
        step.to_string(),
        epoch,
        cell(s.map(|s| s.loss)),
        cell(s.and_then(|s| s.acc)),
        cell(s.map(|s| s.lr).or(e.map(|e| e.lr))),
        cell(e.map(|e| e.loss)),
        cell(val_loss),
        cell(e.and_then(|e| e.val_acc)),
    ];
    for p in params {
        let norm = s.and_then(|s| s.grad_norms.iter().find(|(n, _)| n == p)).map(|(_, v)| *v);
        out.push(cell(norm));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_end_shares_its_step_row_and_missing_cells_are_empty() {
        let step = StepRecord {
            step: 8,
            epoch: 1,
            loss: 0.77043897,
            objective: None,
            acc: Some(0.75),
            lr: 0.01,
            samples_per_sec: 1.0,
            wall_time: 0.0,
            grad_norms: vec![("layer0.weight".into(), 0.23665532)],
            saturation: vec![],
            metrics: vec![],
        };
        let epoch = EpochRecord {
            step: 8,
            epoch: 1,
            loss: 0.8694987,
            val_loss: f32::NAN,
            val_acc: None,
            lr: 0.01,
            samples_per_sec: 1.0,
            wall_time: 0.0,
            eta_secs: 0.0,
        };
        let later = EpochRecord { step: 9, epoch: 2, ..epoch.clone() };
        let series = RunSeries { steps: vec![step], epochs: vec![epoch, later], ..RunSeries::default() };
        let text = String::from_utf8(csv(&series).unwrap()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "step,epoch,loss,acc,lr,epoch_loss,val_loss,val_acc,grad_norm:layer0.weight");
        assert_eq!(lines[1], "8,1,0.77043897,0.75,0.01,0.8694987,,,0.23665532");
        assert_eq!(lines[2], "9,2,,,0.01,0.8694987,,,");
        assert_eq!(lines.len(), 3);
    }
}
