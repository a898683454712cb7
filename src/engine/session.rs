//! A model ready to train: its train and eval programs, their shared state, and
//! the per-step figures the trainer reads back (scalars only).

use std::time::{Duration, Instant};

use rand::Rng;

use super::backend::Backend;
use super::cpu::pool::BufferPool;
use super::graph::Capacity;
use super::hooks::{GraphHooks, Mode};
use super::mlp::{outputs, MlpSpec, X_INPUT, Y_INPUT};
use super::optimizer::{Optimizer, ADAM_STEP, LR_INPUT};
use super::program::{Program, ProgramReport, RunError, StateStore, Transfers};
use super::program_cache::ProgramCache;

/// What one training step reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepStats {
    /// Mean loss over the batch (without penalties).
    pub loss: f32,
    /// The optimized objective when a technique adds a penalty.
    pub objective: Option<f32>,
    /// Correct predictions in the batch (classification).
    pub correct: Option<f32>,
    /// Gradient L2 norm per parameter, in parameter order.
    pub grad_norms: Vec<(String, f32)>,
    /// Share of saturated units per hidden layer (sigmoid and tanh only).
    pub saturation: Vec<(usize, f32)>,
    /// Scalars techniques report (`metric.<technique>.<name>`).
    pub metrics: Vec<(String, f32)>,
}

/// Figures of a pass over a data set in eval mode.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalStats {
    pub loss: f32,
    pub accuracy: Option<f32>,
}

/// The train and eval programs of one model over one state store.
pub struct Session {
    pub spec: MlpSpec,
    pub optimizer: Optimizer,
    pub backend: Backend,
    pub store: StateStore,
    train: Program,
    /// The same step, also reading back gradient norms and saturation.
    train_monitored: Program,
    eval: Program,
    param_names: Vec<String>,
    /// How long the last (re)build took.
    pub build_time: Duration,
    /// Tensor buffers shared by the programs (and lent out for input batches).
    pool: BufferPool,
    /// Programs of earlier structures, so toggling a technique back compiles nothing.
    cache: ProgramCache,
    /// How many of the last rebuild's three programs came from the cache.
    pub reused_programs: usize,
    /// The largest sizes the train, monitored and eval graphs have had,
    /// reserved when they are built again.
    sizes: [Capacity; 3],
}

impl Session {
    /// Builds and compiles both programs; states that the store lacks get their
    /// initial values (parameters from `rng`, optimizer moments zero).
    pub fn new(
        spec: MlpSpec,
        optimizer: Optimizer,
        backend: Backend,
        hooks: &mut dyn GraphHooks,
        rng: &mut impl Rng,
    ) -> Self {
        let mut store = StateStore::new();
        for (name, shape, values) in spec.initial_parameters(rng) {
            store.insert(&name, shape, values);
        }
        let mut s = Self {
            spec,
            optimizer,
            backend,
            store,
            train: Program::compile(Default::default(), backend),
            train_monitored: Program::compile(Default::default(), backend),
            eval: Program::compile(Default::default(), backend),
            param_names: vec![],
            build_time: Duration::ZERO,
            pool: BufferPool::default(),
            cache: ProgramCache::default(),
            reused_programs: 0,
            sizes: [Capacity::default(); 3],
        };
        s.rebuild(hooks);
        s
    }

    /// Rebuilds both programs (a technique changed the graph), keeping every
    /// state the store holds, so weights and optimizer moments carry over.
    pub fn rebuild(&mut self, hooks: &mut dyn GraphHooks) {
        let start = Instant::now();
        // A hook that fails while building is switched off; all three graphs
        // are then built again without it, so they describe the same model.
        let (train, monitored, eval) = loop {
            let [t, m, e] = self.sizes;
            let train = self.spec.build_with(t, Mode::Train, false, &self.optimizer, hooks);
            let monitored = self.spec.build_with(m, Mode::Train, true, &self.optimizer, hooks);
            let eval = self.spec.build_with(e, Mode::Eval, false, &self.optimizer, hooks);
            // The largest each graph has been, so that a technique switched
            // back on finds its room reserved too.
            for (kept, built) in self.sizes.iter_mut().zip([train.size(), monitored.size(), eval.size()]) {
                *kept = kept.max(built);
            }
            if !hooks.build_failed() {
                break (train, monitored, eval);
            }
        };
        let slots = train.states().iter().map(|s| (s, &train)).chain(eval.states().iter().map(|s| (s, &eval)));
        for (slot, builder) in slots {
            if self.store.contains(&slot.name) {
                continue;
            }
            let shape = builder.shape(slot.tensor).to_vec();
            let n = shape.iter().map(|d| d.resolve(0)).product();
            // New optimizer moments and step counters start at zero; techniques
            // initialize their own states through the store before the first step.
            let fill = hooks.state_init(&slot.name).unwrap_or(0.0);
            self.store.insert(&slot.name, shape, vec![fill; n]);
        }
        self.param_names = train.states().iter().filter(|s| s.trainable).map(|s| s.name.clone()).collect();
        let mut reused = 0;
        let mut program = |cache: &mut ProgramCache, old: &mut Program, builder| {
            let (new, hit) = cache.get_or_compile(builder, self.backend);
            reused += hit as usize;
            cache.put(std::mem::replace(old, new));
        };
        program(&mut self.cache, &mut self.train, train);
        program(&mut self.cache, &mut self.train_monitored, monitored);
        program(&mut self.cache, &mut self.eval, eval);
        self.reused_programs = reused;
        self.build_time = start.elapsed();
    }

    /// The trainable parameters' names, in graph order.
    pub fn parameter_names(&self) -> &[String] {
        &self.param_names
    }

    /// One optimizer step on a batch of `batch` rows; `monitored` also reads
    /// back gradient norms and saturation (a little slower).
    pub fn train_step(
        &mut self,
        x: Vec<f32>,
        y: Vec<f32>,
        batch: usize,
        lr: f32,
        monitored: bool,
        hooks: &mut dyn GraphHooks,
    ) -> Result<StepStats, RunError> {
        let mut feeds: Vec<(String, Vec<f32>)> = hooks.feeds(Mode::Train, batch);
        feeds.push((X_INPUT.into(), x));
        feeds.push((Y_INPUT.into(), y));
        feeds.push((LR_INPUT.into(), vec![lr]));
        let p = if monitored { &mut self.train_monitored } else { &mut self.train };
        p.swap_pool(&mut self.pool);
        let ran =
            p.run(&mut self.store, feeds.iter_mut().map(|(n, v)| (n.as_str(), std::mem::take(v))).collect(), batch);
        p.swap_pool(&mut self.pool);
        ran?;
        let p = &*p;
        Ok(StepStats {
            loss: p.scalar(outputs::LOSS),
            objective: p.output("objective").map(|v| v[0]),
            correct: p.output(outputs::CORRECT).map(|v| v[0]),
            grad_norms: self
                .param_names
                .iter()
                .filter_map(|n| p.output(&outputs::grad_sq(n)).map(|v| (n.clone(), v[0].max(0.0).sqrt())))
                .collect(),
            saturation: (0..self.spec.hidden.len())
                .filter_map(|l| p.output(&outputs::saturation(l)).map(|v| (l, v[0])))
                .collect(),
            metrics: p
                .output_names()
                .filter_map(|n| n.strip_prefix(outputs::METRIC_PREFIX).map(|short| (short.to_string(), p.scalar(n))))
                .collect(),
        })
    }

    /// An empty buffer with room for `n` values, recycled from earlier steps:
    /// fill it with a batch and pass it to [`Session::train_step`].
    pub fn buffer(&mut self, n: usize) -> Vec<f32> {
        self.pool.empty(n)
    }

    /// Loss and accuracy over a whole data set, `batch` rows at a time.
    pub fn evaluate(
        &mut self,
        x: &[f32],
        y: &[f32],
        rows: usize,
        batch: usize,
        hooks: &mut dyn GraphHooks,
    ) -> Result<EvalStats, RunError> {
        self.eval_pass(x, y, rows, batch, hooks, None)
    }

    /// [`Session::evaluate`], also returning the output layer for every row
    /// (row-major, `rows x outputs`): logits or predicted values.
    pub fn evaluate_with_outputs(
        &mut self,
        x: &[f32],
        y: &[f32],
        rows: usize,
        batch: usize,
        hooks: &mut dyn GraphHooks,
    ) -> Result<(EvalStats, Vec<f32>), RunError> {
        let mut outputs = Vec::with_capacity(rows * self.spec.outputs);
        let stats = self.eval_pass(x, y, rows, batch, hooks, Some(&mut outputs))?;
        Ok((stats, outputs))
    }

    fn eval_pass(
        &mut self,
        x: &[f32],
        y: &[f32],
        rows: usize,
        batch: usize,
        hooks: &mut dyn GraphHooks,
        mut keep: Option<&mut Vec<f32>>,
    ) -> Result<EvalStats, RunError> {
        let (d_in, d_out) = (self.spec.inputs, self.spec.outputs);
        let (mut loss, mut correct, mut seen) = (0.0f64, 0.0f64, 0usize);
        let mut has_correct = false;
        let mut start = 0;
        while start < rows {
            let n = batch.min(rows - start);
            let mut feeds: Vec<(String, Vec<f32>)> = hooks.feeds(Mode::Eval, n);
            feeds.push((X_INPUT.into(), x[start * d_in..(start + n) * d_in].to_vec()));
            feeds.push((Y_INPUT.into(), y[start * d_out..(start + n) * d_out].to_vec()));
            self.eval.run(
                &mut self.store,
                feeds.iter_mut().map(|(k, v)| (k.as_str(), std::mem::take(v))).collect(),
                n,
            )?;
            loss += self.eval.scalar(outputs::LOSS) as f64 * n as f64;
            if let Some(c) = self.eval.output(outputs::CORRECT) {
                correct += c[0] as f64;
                has_correct = true;
            }
            if let (Some(keep), Some(out)) = (keep.as_deref_mut(), self.eval.output(outputs::PREDICTION)) {
                keep.extend_from_slice(&out[..n * d_out]);
            }
            seen += n;
            start += n;
        }
        let seen = seen.max(1) as f64;
        Ok(EvalStats { loss: (loss / seen) as f32, accuracy: has_correct.then_some((correct / seen) as f32) })
    }

    /// Host-backend traffic of the train programs (both) and the eval program so far.
    pub fn transfers(&self) -> (Transfers, Transfers) {
        (self.train.transfers() + self.train_monitored.transfers(), self.eval.transfers())
    }

    /// Number of optimizer steps taken so far (Adam's counter when present).
    pub fn adam_steps(&self) -> Option<f32> {
        self.store.read(ADAM_STEP).ok().map(|v| v[0])
    }

    /// What the train, monitored train and eval programs are made of, with
    /// the batch dimension bound to `batch`.
    pub fn program_reports(&self, batch: usize) -> [(&'static str, ProgramReport); 3] {
        [
            ("train", self.train.report(batch)),
            ("monitored", self.train_monitored.report(batch)),
            ("eval", self.eval.report(batch)),
        ]
    }

    /// Luminal node counts of the train and eval programs.
    pub fn node_counts(&self) -> (usize, usize) {
        (self.train.node_count(), self.eval.node_count())
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::engine::{Activation, NoHooks, Objective};

    /// Parameters, moments and the step counter stay in the backend's memory:
    /// a step feeds the batch and two scalars and reads back a few scalars;
    /// no state is copied out (the store counts every copy).
    #[test]
    fn training_copies_no_state_to_the_host() {
        let spec = MlpSpec {
            inputs: 6,
            hidden: vec![8, 8],
            outputs: 3,
            activation: Activation::Sigmoid,
            objective: Objective::Classification,
        };
        let adam = Optimizer::Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 };
        let mut s = Session::new(spec, adam, Backend::Cpu, &mut NoHooks, &mut ChaCha8Rng::seed_from_u64(1));
        let batch = 4;
        let (x, y) = (vec![0.5; batch * 6], [0.0, 1.0, 0.0].repeat(batch));
        for step in 0..6 {
            s.train_step(x.clone(), y.clone(), batch, 0.01, step % 3 == 0, &mut NoHooks).unwrap();
        }
        s.evaluate(&x, &y, batch, batch, &mut NoHooks).unwrap();
        assert_eq!(s.store.copies(), 0, "no state was copied to the host");
        let (train, eval) = s.transfers();
        assert_eq!((train.runs, eval.runs), (6, 1));
        // x, y, the learning rate and the batch scale, 4 bytes each.
        assert_eq!(train.to_device_bytes, 6 * 4 * (batch as u64 * 9 + 2));
        // Scalars only: loss and correct count, plus on monitored steps the six
        // gradient norms and two saturation shares.
        assert_eq!(train.to_host_bytes, 4 * (6 * 2 + 2 * 8));
        // Evaluation also reads the predictions (for `traintop predict`).
        assert_eq!(eval.to_host_bytes, 4 * (2 + batch as u64 * 3));
    }
}
