//! Layer normalization: each sample's net input normalized over the layer's
//! units (mean 0, std sqrt(var + eps)), then a learned gain and bias per unit.
//! Unlike batch norm it does not mix samples, so train and eval are the same.

use traintop_plugin_sdk::{
    export_technique, BuildContext, BuildPoint, Dim, Graph, Param, Technique, Tensor, ToggleClass,
};

#[derive(Default)]
pub struct LayerNorm;

/// The normalization of a `[b, units]` tensor with gain and bias `[units]`.
pub fn layer_norm(g: &mut Graph, n: Tensor, gain: Tensor, bias: Tensor, eps: f32) -> Result<Tensor, String> {
    let mean = g.mean(n, 1)?;
    let mean = g.expand(mean, 1, n, 1)?;
    let centered = g.sub(n, mean)?;
    let sq = g.square(centered)?;
    let var = g.mean(sq, 1)?;
    let var = g.add_scalar(var, eps)?;
    let std = g.sqrt(var)?;
    let std = g.expand(std, 1, n, 1)?;
    let normalized = g.div(centered, std)?;
    let gain = g.broadcast_like(gain, n)?;
    let bias = g.broadcast_like(bias, n)?;
    let scaled = g.mul(normalized, gain)?;
    g.add(scaled, bias).map_err(Into::into)
}

impl Technique for LayerNorm {
    const NAME: &'static str = "layer_norm";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Normalize each sample over a layer's units, with learned gain and bias";
    const CLASS: ToggleClass = ToggleClass::Structural;

    fn params() -> Vec<Param> {
        vec![
            Param::layers("layers", "hidden layers to normalize; empty: every hidden layer").structural(),
            Param::float("eps", 1e-5, 0.0, 1.0, "added to the variance").structural(),
        ]
    }

    fn build(&mut self, g: &mut Graph, at: &BuildContext, n: Tensor) -> Result<Tensor, String> {
        let BuildContext { params: p, point, layer, .. } = *at;
        if point != BuildPoint::NetInput {
            return Ok(n);
        }
        let hidden = g.host().layer_count().saturating_sub(1);
        if !p.layers("layers", || (0..hidden).collect()).contains(&layer) {
            return Ok(n);
        }
        let Some(&Dim::Fixed(units)) = g.shape(n).get(1) else { return Err("net input is not [batch, units]".into()) };
        let gain = g.state(&format!("layer{layer}.gain"), &[units], true, 1.0)?;
        let bias = g.state(&format!("layer{layer}.bias"), &[units], true, 0.0)?;
        layer_norm(g, n, gain, bias, p.float("eps") as f32)
    }
}

export_technique!(LayerNorm);
