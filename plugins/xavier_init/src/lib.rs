//! Xavier initialization: weights with mean 0 and variance 2 / (S_in + S_out),
//! which keeps both the activations' and the sensitivities' variance constant
//! across layers in the linear region of a sigmoid; biases zero. Normal, or
//! uniform on [-a, a] with a = sqrt(6 / (S_in + S_out)) (the same variance).
//! Acts before the first step only.

use traintop_plugin_sdk::{export_technique, Event, Host, Param, ParamValues, Technique, ToggleClass, Toggled};

#[derive(Default)]
pub struct XavierInit;

/// SplitMix64: small, seedable, good enough for initial weights.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

/// Xavier weights for a `fan_in x fan_out` matrix.
pub fn xavier(fan_in: usize, fan_out: usize, uniform: bool, rng: &mut SplitMix) -> Vec<f32> {
    let variance = 2.0 / (fan_in + fan_out) as f64;
    (0..fan_in * fan_out)
        .map(|_| {
            let v = if uniform {
                let a = (3.0 * variance).sqrt();
                (2.0 * rng.uniform() - 1.0) * a
            } else {
                rng.normal() * variance.sqrt()
            };
            v as f32
        })
        .collect()
}

impl Technique for XavierInit {
    const NAME: &'static str = "xavier_init";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
    const DESCRIPTION: &'static str = "Initialize weights with variance 2 / (S_in + S_out)";
    const CLASS: ToggleClass = ToggleClass::InitOnly;

    fn params() -> Vec<Param> {
        vec![Param::choice(
            "distribution",
            "normal,uniform",
            "normal",
            "draw weights from a normal or a uniform distribution",
        )]
    }

    fn on_event(&mut self, host: &mut Host, p: &ParamValues, e: &Event) -> Result<(), String> {
        match e {
            Event::InitParameters(at) => {
                let mut rng = SplitMix(at.seed ^ 0x5851_F42D_4C95_7F2D);
                let uniform = p.choice("distribution") == "uniform";
                for l in 0..host.layer_count() {
                    let name = format!("layer{l}.weight");
                    let shape = host.state_shape(&name).ok_or(format!("no parameter {name}"))?;
                    host.write_state(&name, &xavier(shape[0], shape[1], uniform, &mut rng))?;
                    let bias = format!("layer{l}.bias");
                    let n = host.state_shape(&bias).map(|s| s.iter().product()).unwrap_or(0);
                    host.write_state(&bias, &vec![0.0; n])?;
                }
                let layers = host.layer_count();
                host.set_status(&format!("initialized {layers} layers ({})", p.choice("distribution")));
            }
            Event::Toggled(Toggled { at, on: true }) if at.step > 0 => {
                host.set_status("applies before the first step only");
            }
            _ => {}
        }
        Ok(())
    }
}

export_technique!(XavierInit);
