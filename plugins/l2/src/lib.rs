//! L2 regularization: lambda * (sum of squared weights) added to the loss, so
//! the gradient gains 2 lambda w. Biases are left alone unless asked. lambda is
//! fed each step: editing it needs no rebuild.

use traintop_plugin_sdk::{
    export_technique, BuildContext, BuildPoint, Graph, Mode, Param, Technique, Tensor, ToggleClass,
};

#[derive(Default)]
pub struct L2;

impl Technique for L2 {
    const NAME: &'static str = "l2";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Add lambda * sum of squared weights to the loss";
    const CLASS: ToggleClass = ToggleClass::Structural;

    fn params() -> Vec<Param> {
        vec![
            Param::float("lambda", 1e-4, 0.0, 10.0, "penalty weight"),
            Param::boolean("include_bias", false, "penalize biases too").structural(),
        ]
    }

    fn build(&mut self, g: &mut Graph, at: &BuildContext, loss: Tensor) -> Result<Tensor, String> {
        let BuildContext { params: p, point, mode, .. } = *at;
        if point != BuildPoint::Loss || mode != Mode::Train {
            return Ok(loss);
        }
        let include_bias = p.boolean("include_bias");
        let mut total: Option<Tensor> = None;
        for (_, t, is_weight) in g.model_params() {
            if !is_weight && !include_bias {
                continue;
            }
            let sq = g.square(t)?;
            let s = g.sum_all(sq)?;
            total = Some(match total {
                None => s,
                Some(acc) => g.add(acc, s)?,
            });
        }
        let Some(total) = total else { return Ok(loss) };
        let lambda = g.param_input("lambda")?;
        let penalty = g.mul(lambda, total)?;
        g.metric("penalty", penalty);
        g.add(loss, penalty).map_err(Into::into)
    }
}

export_technique!(L2);
