//! `traintop bench`: throughput of a full training step (forward, backward,
//! update) of an MLP on random data, the figure compared with PyTorch in
//! `benches/`.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::roofline::{self, Roofline};
use crate::config::limits::{MAX_BATCH, MAX_LAYERS, MAX_WIDTH};
use crate::engine::memory;
use crate::engine::{Activation, Backend, MlpSpec, NoHooks, Objective, Optimizer, Session};

/// `traintop bench`'s arguments.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Layer widths, input to output.
    #[arg(long, value_delimiter = ',', default_value = "784,256,10")]
    layers: Vec<usize>,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = 300)]
    steps: usize,
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    #[arg(long, value_enum, default_value_t = BenchOptimizer::Sgd)]
    optimizer: BenchOptimizer,
    #[arg(long, value_enum, default_value_t = BenchDevice::Cpu)]
    device: BenchDevice,
    /// Hidden-layer activation.
    #[arg(long, value_enum, default_value_t = Activation::Relu)]
    activation: Activation,
    /// Also time a 2048 x 2048 SGEMM with the engine's GEMM (same threads)
    /// and print the step's share of that rate.
    #[arg(long)]
    roofline: bool,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// The optimizers `--optimizer` names, with the settings the bench uses.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum BenchOptimizer {
    Sgd,
    Momentum,
    Adam,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum BenchDevice {
    Cpu,
    Cuda,
}

impl BenchArgs {
    /// `traintop bench`: the engine's throughput on random data, as a
    /// sentence or JSON.
    pub fn call(self) -> Result<(), super::ExitError> {
        let json = self.json;
        let report = run(&self.options()).map_err(|e| super::ExitError::input(format!("{e:#}")))?;
        match json {
            true => println!("{}", serde_json::to_string(&report).expect("report serializes")),
            false => print!("{}", report.to_text()),
        }
        Ok(())
    }

    fn options(self) -> BenchOptions {
        let Self { layers, batch, steps, warmup, optimizer, device, activation, roofline, json: _ } = self;
        let optimizer = match optimizer {
            BenchOptimizer::Sgd => Optimizer::Sgd,
            BenchOptimizer::Momentum => Optimizer::Momentum { momentum: 0.9 },
            BenchOptimizer::Adam => Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 },
        };
        let backend = match device {
            BenchDevice::Cpu => Backend::Cpu,
            BenchDevice::Cuda => Backend::Cuda,
        };
        BenchOptions { layers, batch, steps, warmup, optimizer, backend, seed: 1, activation, roofline }
    }
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    pub layers: Vec<usize>,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub optimizer: Optimizer,
    pub backend: Backend,
    pub seed: u64,
    /// Hidden-layer activation (ReLU by default, as in benches/torch_mlp.py).
    pub activation: Activation,
    /// Also time the machine's SGEMM and report the step's share of it.
    pub roofline: bool,
}

/// The figures `--json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub layers: Vec<usize>,
    pub batch: usize,
    pub steps: usize,
    pub optimizer: String,
    pub device: String,
    pub samples_per_sec: f64,
    pub ms_per_step: f64,
    pub build_ms: f64,
    pub graph_nodes: usize,
    pub final_loss: f32,
    /// Bytes fed to the backend per step (the batch and a few scalars).
    pub h2d_bytes_per_step: f64,
    /// Bytes read back per step (the loss and the step's other scalars).
    pub d2h_bytes_per_step: f64,
    /// Parameters, moments or other states copied to the host per step.
    pub state_copies_per_step: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roofline: Option<Roofline>,
}

impl BenchReport {
    /// The report as `bench` prints it without `--json`: a sentence, and the
    /// roofline's when it was measured.
    pub fn to_text(&self) -> String {
        let r = self;
        let mut text = format!(
            "{:?} batch {} {}: {:.0} samples/s ({:.3} ms/step, {} graph nodes)\n",
            r.layers, r.batch, r.optimizer, r.samples_per_sec, r.ms_per_step, r.graph_nodes
        );
        if let Some(f) = &r.roofline {
            text += &format!(
                "roofline: SGEMM {n}x{n} {:.1} GFLOP/s; the step's matmuls {:.1} GFLOP/s = {:.0}% of it\n",
                f.sgemm_gflops,
                f.step_gflops,
                100.0 * f.share,
                n = f.sgemm_n
            );
        }
        text
    }
}

/// Longest timed run, in steps.
const MAX_STEPS: usize = 1_000_000_000;

pub fn run(opts: &BenchOptions) -> anyhow::Result<BenchReport> {
    anyhow::ensure!(opts.layers.len() >= 2, "--layers needs at least an input and an output width, e.g. 784,256,10");
    anyhow::ensure!(opts.layers.iter().all(|&w| w > 0), "--layers: every width must be at least 1");
    anyhow::ensure!(opts.layers.len() <= MAX_LAYERS + 2, "--layers: at most {} hidden layers", MAX_LAYERS);
    if let Some(w) = opts.layers.iter().find(|&&w| w > MAX_WIDTH) {
        anyhow::bail!("--layers: width {w} is above the limit of {MAX_WIDTH}");
    }
    anyhow::ensure!(opts.batch > 0 && opts.steps > 0, "--batch and --steps must be at least 1");
    anyhow::ensure!(opts.batch <= MAX_BATCH, "--batch: must be at most {MAX_BATCH}, got {}", opts.batch);
    anyhow::ensure!(opts.steps <= MAX_STEPS, "--steps: must be at most {MAX_STEPS}, got {}", opts.steps);
    anyhow::ensure!(opts.warmup <= MAX_STEPS, "--warmup: must be at most {MAX_STEPS}, got {}", opts.warmup);
    opts.backend.check_available()?;
    let spec = MlpSpec {
        inputs: opts.layers[0],
        hidden: opts.layers[1..opts.layers.len() - 1].to_vec(),
        outputs: *opts.layers.last().unwrap(),
        activation: opts.activation,
        objective: Objective::Classification,
    };
    memory::check_fits(&spec, opts.batch, opts.optimizer).map_err(|m| anyhow::anyhow!("--layers and --batch: {m}"))?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut session = Session::new(spec.clone(), opts.optimizer, opts.backend, &mut NoHooks, &mut rng);
    let build_ms = session.build_time.as_secs_f64() * 1e3;
    // A handful of distinct random batches, cycled: data generation stays out of
    // the timed loop, as in the PyTorch script.
    let batches: Vec<(Vec<f32>, Vec<f32>)> = (0..4)
        .map(|_| {
            let x = (0..opts.batch * spec.inputs).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let mut y = vec![0.0; opts.batch * spec.outputs];
            for r in 0..opts.batch {
                y[r * spec.outputs + rng.gen_range(0..spec.outputs)] = 1.0;
            }
            (x, y)
        })
        .collect();
    let lr = match opts.optimizer {
        Optimizer::Adam { .. } => 1e-3,
        _ => 0.01,
    };
    let mut last = 0.0;
    // Each step copies its batch into a buffer, as training does.
    let step = |session: &mut Session, i: usize| -> anyhow::Result<f32> {
        let (bx, by) = &batches[i % batches.len()];
        let mut x = session.buffer(bx.len());
        x.extend_from_slice(bx);
        let mut y = session.buffer(by.len());
        y.extend_from_slice(by);
        Ok(session.train_step(x, y, opts.batch, lr, false, &mut NoHooks)?.loss)
    };
    for i in 0..opts.warmup {
        last = step(&mut session, i)?;
    }
    let (before, copies) = (session.transfers().0, session.store.copies());
    let start = Instant::now();
    for i in 0..opts.steps {
        last = step(&mut session, i)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let moved = session.transfers().0;
    let per_step = |bytes: u64| bytes as f64 / opts.steps as f64;
    let ms_per_step = secs * 1e3 / opts.steps as f64;
    Ok(BenchReport {
        layers: opts.layers.clone(),
        batch: opts.batch,
        steps: opts.steps,
        optimizer: format!("{:?}", opts.optimizer),
        device: opts.backend.to_string(),
        samples_per_sec: (opts.steps * opts.batch) as f64 / secs,
        ms_per_step,
        build_ms,
        graph_nodes: session.node_counts().0,
        final_loss: last,
        h2d_bytes_per_step: per_step(moved.to_device_bytes - before.to_device_bytes),
        d2h_bytes_per_step: per_step(moved.to_host_bytes - before.to_host_bytes),
        state_copies_per_step: per_step(session.store.copies() - copies),
        roofline: opts.roofline.then(|| roofline::measure(&opts.layers, opts.batch, ms_per_step)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_reads_as_one_sentence_and_the_roofline_as_another() {
        let mut report = BenchReport {
            layers: vec![784, 256, 10],
            batch: 128,
            steps: 300,
            optimizer: "Sgd".into(),
            device: "cpu".into(),
            samples_per_sec: 51234.4,
            ms_per_step: 2.49836,
            build_ms: 1.0,
            graph_nodes: 97,
            final_loss: 0.5,
            h2d_bytes_per_step: 0.0,
            d2h_bytes_per_step: 0.0,
            state_copies_per_step: 0.0,
            roofline: None,
        };
        assert_eq!(report.to_text(), "[784, 256, 10] batch 128 Sgd: 51234 samples/s (2.498 ms/step, 97 graph nodes)\n");
        report.roofline = Some(Roofline { sgemm_n: 2048, sgemm_gflops: 101.26, step_gflops: 50.5, share: 0.4987 });
        let text = report.to_text();
        let second = text.lines().nth(1).unwrap();
        assert_eq!(second, "roofline: SGEMM 2048x2048 101.3 GFLOP/s; the step's matmuls 50.5 GFLOP/s = 50% of it");
    }
}
