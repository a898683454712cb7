//! Dropout: at each training step a random share `rate` of a layer's outputs is
//! set to zero and the rest scaled by 1/(1-rate) ("inverted" dropout, so eval
//! needs no rescaling); off at evaluation. The rate is fed each step, so editing
//! it applies at once; switching dropout on or off rebuilds the graph.

use traintop_plugin_sdk::{
    export_technique, BuildContext, BuildPoint, Graph, Mode, Param, Technique, Tensor, ToggleClass,
};

#[derive(Default)]
pub struct Dropout;

impl Technique for Dropout {
    const NAME: &'static str = "dropout";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Randomly deactivate a share of a layer's neurons each training step";
    const CLASS: ToggleClass = ToggleClass::Structural;

    fn params() -> Vec<Param> {
        vec![
            Param::float("rate", 0.5, 0.0, 0.95, "share of units dropped at each training step"),
            Param::layers("layers", "hidden layers to apply it to, e.g. [0, 1]; empty: every hidden layer")
                .structural(),
        ]
    }

    fn build(&mut self, g: &mut Graph, at: &BuildContext, a: Tensor) -> Result<Tensor, String> {
        let BuildContext { params: p, point, mode, layer, .. } = *at;
        if point != BuildPoint::Activation || mode != Mode::Train {
            return Ok(a);
        }
        let hidden = g.host().layer_count().saturating_sub(1);
        if !p.layers("layers", || (0..hidden).collect()).contains(&layer) {
            return Ok(a);
        }
        let rate = g.param_input("rate")?;
        let neg = g.neg(rate)?;
        let keep = g.add_scalar(neg, 1.0)?;
        let keep = g.broadcast_like(keep, a)?;
        let r = g.random_like(a)?;
        let mask = g.less_than(r, keep)?;
        let kept = g.mul(a, mask)?;
        let out = g.div(kept, keep)?;
        // Share of units dropped in this batch, for the dashboard.
        let kept_share = g.mean(mask, 1)?;
        let kept_share = g.mean(kept_share, 0)?;
        let dropped = g.neg(kept_share)?;
        let dropped = g.add_scalar(dropped, 1.0)?;
        g.metric(&format!("dropped.{layer}"), dropped);
        Ok(out)
    }
}

export_technique!(Dropout);
