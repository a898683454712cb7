//! Input normalization, from the training split only and applied to every
//! batch (validation included) with the same statistics:
//! `minmax` maps each feature to [-1, 1]: p' = 2 (p - min) / (max - min) - 1;
//! `zscore` to zero mean and unit variance: p' = (p - mean) / std.
//! A constant feature maps to 0. Both are p' = (p - offset) * scale + shift, so
//! the graph fragment is the same and only the state vectors differ. For minmax
//! the offset is the minimum itself (a data value, exact in f32) and the shift
//! -1, so the extremes land on -1 and 1 to the last bit rather than through a
//! rounded midpoint.

use traintop_plugin_sdk::{
    export_technique, BuildContext, BuildPoint, Dim, Event, Graph, Host, Param, ParamValues, Technique, Tensor,
    ToggleClass,
};

#[derive(Default)]
pub struct InputNorm;

/// Per-feature (offset, scale, shift) of a row-major `rows x cols` matrix.
pub fn statistics(data: &[f32], rows: usize, cols: usize, method: &str) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (mut offset, mut scale, mut shift) = (vec![0.0; cols], vec![1.0; cols], vec![0.0; cols]);
    for j in 0..cols {
        let column = (0..rows).map(|i| data[i * cols + j] as f64);
        if method == "minmax" {
            let (lo, hi) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
            offset[j] = lo as f32;
            scale[j] = if hi > lo { (2.0 / (hi - lo)) as f32 } else { 0.0 };
            shift[j] = if hi > lo { -1.0 } else { 0.0 };
        } else {
            let values: Vec<f64> = column.collect();
            let mean = values.iter().sum::<f64>() / rows.max(1) as f64;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / rows.max(1) as f64;
            offset[j] = mean as f32;
            scale[j] = if var > 0.0 { (1.0 / var.sqrt()) as f32 } else { 0.0 };
        }
    }
    (offset, scale, shift)
}

impl Technique for InputNorm {
    const NAME: &'static str = "input_norm";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Normalize inputs to [-1, 1] or to zero mean and unit variance";
    const CLASS: ToggleClass = ToggleClass::Data;

    fn params() -> Vec<Param> {
        vec![Param::choice(
            "method",
            "zscore,minmax",
            "zscore",
            "zscore: zero mean, unit variance; minmax: each feature to [-1, 1]",
        )]
    }

    fn on_event(&mut self, host: &mut Host, p: &ParamValues, e: &Event) -> Result<(), String> {
        if let Event::TrainData(e) = e {
            let (offset, scale, shift) = statistics(e.data, e.rows, e.cols, p.choice("method"));
            host.write_state("offset", &offset)?;
            host.write_state("scale", &scale)?;
            host.write_state("shift", &shift)?;
            host.set_status(&format!("{} over {} training rows", p.choice("method"), e.rows));
        }
        Ok(())
    }

    fn build(&mut self, g: &mut Graph, at: &BuildContext, x: Tensor) -> Result<Tensor, String> {
        let BuildContext { point, .. } = *at;
        if point != BuildPoint::Input {
            return Ok(x);
        }
        let Some(&Dim::Fixed(features)) = g.shape(x).get(1) else {
            return Err("input is not [batch, features]".into());
        };
        let offset = g.state("offset", &[features], false, 0.0)?;
        let scale = g.state("scale", &[features], false, 1.0)?;
        let shift = g.state("shift", &[features], false, 0.0)?;
        let offset = g.broadcast_like(offset, x)?;
        let scale = g.broadcast_like(scale, x)?;
        let shift = g.broadcast_like(shift, x)?;
        let centered = g.sub(x, offset)?;
        let scaled = g.mul(centered, scale)?;
        g.add(scaled, shift).map_err(Into::into)
    }
}

export_technique!(InputNorm);
