//! Batch normalization of a layer's net input, as the source material defines it:
//! a_mean = mean over the batch, a_std = sqrt(mean((a - a_mean)^2) + eps),
//! out = w_bn * (a - a_mean) / a_std + b_bn, with learned w_bn and b_bn.
//! Inference uses smoothed statistics, m_k = d m_(k-1) + (1 - d) a_mean (same for
//! the std), with d = `momentum`; the first batch sets them directly.
//!
//! Switched on mid-run, it must not disturb training: on the first batch it uses
//! w_bn = batch std and b_bn = batch mean, so the layer's output is unchanged,
//! and keeps those as offsets (w_bn = w_param + w_offset) that the learned
//! parameters then move away from. A flag state marks that first batch; all of
//! this happens inside the graph, with no extra pass.

use traintop_plugin_sdk::{
    export_technique, BuildContext, BuildPoint, Dim, Event, Graph, Host, Mode, Param, ParamValues, Technique, Tensor,
    ToggleClass, Toggled,
};

#[derive(Default)]
pub struct BatchNorm {
    /// Switched on after training started: start from the identity.
    mid_run: bool,
}

/// `a * f + b * (1 - f)` for a flag `f` in {0, 1}.
fn select(g: &mut Graph, flag: Tensor, a: Tensor, b: Tensor) -> Result<Tensor, String> {
    let fa = g.mul(flag, a)?;
    let neg = g.neg(flag)?;
    let one_minus = g.add_scalar(neg, 1.0)?;
    let bb = g.mul(b, one_minus)?;
    g.add(fa, bb).map_err(Into::into)
}

impl BatchNorm {
    fn normalize(
        &mut self,
        g: &mut Graph,
        p: &ParamValues,
        mode: Mode,
        layer: usize,
        n: Tensor,
    ) -> Result<Tensor, String> {
        let Some(&Dim::Fixed(units)) = g.shape(n).get(1) else { return Err("net input is not [batch, units]".into()) };
        let eps = p.float("eps") as f32;
        let d = p.float("momentum") as f32;
        let fresh = if self.mid_run { 0.0 } else { 1.0 };
        let name = |s: &str| format!("layer{layer}.{s}");
        let w = g.state(&name("weight"), &[units], true, fresh)?;
        let b = g.state(&name("bias"), &[units], true, 0.0)?;
        let w_offset = g.state(&name("weight_offset"), &[units], false, 0.0)?;
        let b_offset = g.state(&name("bias_offset"), &[units], false, 0.0)?;
        let affine_ready = g.state(&name("affine_ready"), &[1], false, fresh)?;
        let stats_ready = g.state(&name("stats_ready"), &[1], false, 0.0)?;
        let running_mean = g.state(&name("running_mean"), &[units], false, 0.0)?;
        let running_std = g.state(&name("running_std"), &[units], false, 1.0)?;

        if mode == Mode::Eval {
            let w_eff = g.add(w, w_offset)?;
            let b_eff = g.add(b, b_offset)?;
            let mean = g.broadcast_like(running_mean, n)?;
            let std = g.broadcast_like(running_std, n)?;
            let centered = g.sub(n, mean)?;
            let normalized = g.div(centered, std)?;
            let w_eff = g.broadcast_like(w_eff, n)?;
            let b_eff = g.broadcast_like(b_eff, n)?;
            let scaled = g.mul(normalized, w_eff)?;
            return g.add(scaled, b_eff).map_err(Into::into);
        }

        let mean = g.mean(n, 0)?;
        let mean_wide = g.broadcast_like(mean, n)?;
        let centered = g.sub(n, mean_wide)?;
        let sq = g.square(centered)?;
        let var = g.mean(sq, 0)?;
        let var = g.add_scalar(var, eps)?;
        let std = g.sqrt(var)?;
        let std_wide = g.broadcast_like(std, n)?;
        let normalized = g.div(centered, std_wide)?;

        let mean_d = g.detach(mean)?;
        let std_d = g.detach(std)?;
        let affine = g.broadcast_like(affine_ready, w)?;
        let w_base = select(g, affine, w_offset, std_d)?;
        let b_base = select(g, affine, b_offset, mean_d)?;
        let w_eff = g.add(w, w_base)?;
        let b_eff = g.add(b, b_base)?;
        let w_wide = g.broadcast_like(w_eff, n)?;
        let b_wide = g.broadcast_like(b_eff, n)?;
        let scaled = g.mul(normalized, w_wide)?;
        let out = g.add(scaled, b_wide)?;

        g.assign(w_offset, w_base);
        g.assign(b_offset, b_base);
        let one = g.constant_like(1.0, affine_ready)?;
        g.assign(affine_ready, one);
        let ready = g.broadcast_like(stats_ready, running_mean)?;
        let smooth = |g: &mut Graph, running: Tensor, batch: Tensor| -> Result<Tensor, String> {
            let old = g.scale(running, d)?;
            let new = g.scale(batch, 1.0 - d)?;
            let smoothed = g.add(old, new)?;
            select(g, ready, smoothed, batch)
        };
        let next_mean = smooth(g, running_mean, mean_d)?;
        let next_std = smooth(g, running_std, std_d)?;
        g.assign(running_mean, next_mean);
        g.assign(running_std, next_std);
        let one = g.constant_like(1.0, stats_ready)?;
        g.assign(stats_ready, one);
        Ok(out)
    }
}

impl Technique for BatchNorm {
    const NAME: &'static str = "batch_norm";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Normalize a layer's net input over the batch, with learned scale and shift";
    const CLASS: ToggleClass = ToggleClass::Structural;

    fn params() -> Vec<Param> {
        vec![
            Param::layers("layers", "hidden layers to normalize; empty: every hidden layer").structural(),
            Param::float("eps", 1e-5, 0.0, 1.0, "added to the batch variance before the square root").structural(),
            Param::float("momentum", 0.9, 0.0, 1.0, "smoothing delta of the inference statistics").structural(),
            Param::choice(
                "position",
                "net_input,activation",
                "net_input",
                "normalize the net input (before the activation) or the layer output",
            )
            .structural(),
        ]
    }

    fn on_event(&mut self, _host: &mut Host, _p: &ParamValues, e: &Event) -> Result<(), String> {
        if let Event::Toggled(Toggled { at, on: true }) = e {
            self.mid_run = at.step > 0;
        }
        Ok(())
    }

    fn build(&mut self, g: &mut Graph, at: &BuildContext, n: Tensor) -> Result<Tensor, String> {
        let BuildContext { params: p, point, mode, layer, .. } = *at;
        let wanted = if p.choice("position") == "activation" { BuildPoint::Activation } else { BuildPoint::NetInput };
        let hidden = g.host().layer_count().saturating_sub(1);
        if point != wanted || !p.layers("layers", || (0..hidden).collect()).contains(&layer) {
            return Ok(n);
        }
        self.normalize(g, p, mode, layer, n)
    }
}

export_technique!(BatchNorm);
