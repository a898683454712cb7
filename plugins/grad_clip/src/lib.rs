//! Gradient clipping: scale the gradient to limit its norm. In `norm` mode the
//! global L2 norm over every parameter's gradient is brought down to `max_norm`
//! when above it (direction kept); in `value` mode each element is clamped to
//! [-max_norm, max_norm]. Reports the pre-clipping norm and whether it clipped.

use traintop_plugin_sdk::{export_technique, GradRef, Graph, Param, ParamValues, Technique, ToggleClass};

#[derive(Default)]
pub struct GradClip;

impl Technique for GradClip {
    const NAME: &'static str = "grad_clip";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Scale the gradient to limit its norm";
    const CLASS: ToggleClass = ToggleClass::Structural;

    fn params() -> Vec<Param> {
        vec![
            Param::float(
                "max_norm",
                1.0,
                1e-6,
                1e6,
                "largest allowed global gradient norm (or element, in value mode)",
            ),
            Param::choice("mode", "norm,value", "norm", "norm: rescale the global L2 norm; value: clamp each element")
                .structural(),
        ]
    }

    fn build_gradients(&mut self, g: &mut Graph, p: &ParamValues, grads: &mut [GradRef]) -> Result<(), String> {
        let limit = g.param_input("max_norm")?;
        let mut total = None;
        for r in grads.iter() {
            let sq = g.square(r.grad)?;
            let s = g.sum_all(sq)?;
            total = Some(match total {
                None => s,
                Some(acc) => g.add(acc, s)?,
            });
        }
        let Some(total) = total else { return Ok(()) };
        let norm = g.sqrt(total)?;
        g.metric("grad_norm", norm);
        if p.choice("mode") == "value" {
            let mut any = None;
            for r in grads.iter_mut() {
                let v = g.broadcast_like(limit, r.grad)?;
                let over = g.sub(r.grad, v)?;
                let over = g.relu(over)?;
                let neg = g.neg(r.grad)?;
                let under = g.sub(neg, v)?;
                let under = g.relu(under)?;
                let clipped = g.sub(r.grad, over)?;
                r.grad = g.add(clipped, under)?;
                let hit = g.add(over, under)?;
                let hit = g.sum_all(hit)?;
                any = Some(match any {
                    None => hit,
                    Some(acc) => g.add(acc, hit)?,
                });
            }
            if let Some(any) = any {
                let zero = g.constant_like(0.0, any)?;
                let clipped = g.less_than(zero, any)?;
                g.metric("clipped", clipped);
            }
            return Ok(());
        }
        // scale = min(1, max_norm / norm) = 1 - relu(1 - max_norm / norm)
        let eps = g.add_scalar(norm, 1e-12)?;
        let ratio = g.div(limit, eps)?;
        let neg = g.neg(ratio)?;
        let short = g.add_scalar(neg, 1.0)?;
        let short = g.relu(short)?;
        let neg_short = g.neg(short)?;
        let scale = g.add_scalar(neg_short, 1.0)?;
        let clipped = g.less_than(limit, norm)?;
        g.metric("clipped", clipped);
        for r in grads.iter_mut() {
            let s = g.broadcast_like(scale, r.grad)?;
            r.grad = g.mul(r.grad, s)?;
        }
        Ok(())
    }
}

export_technique!(GradClip);
