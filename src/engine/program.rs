//! A compiled graph and how it runs: feed inputs, execute, read outputs, carry state.
//!
//! State lives in a [`StateStore`] between executions and moves into a
//! program's graph before it runs and out after. A state's updated value,
//! computed inside the graph, replaces it by a move (`get_tensor` then
//! `set_tensor`): the executor skips nodes that already hold a tensor, so
//! swapping buffers in place would silently train on stale weights.

use std::collections::HashMap;

use luminal::prelude::Tensor as LTensor;

use super::backend::Backend;
use super::bindings::Bindings;
use super::cpu::pool::BufferPool;
use super::executor::Executor;
use super::fingerprint::fingerprint;
use super::graph::{GraphBuilder, Op};
use super::ops::INV_BATCH_INPUT;
pub use super::program_report::ProgramReport;
use super::shape::{describe, element_count};
pub use super::state_store::{StateReadError, StateStore};

/// A graph compiled for a backend, ready to execute repeatedly.
pub struct Program {
    builder: GraphBuilder,
    executor: Executor,
    bindings: Bindings,
    results: HashMap<String, Vec<f32>>,
    /// The fingerprint of the graph this was compiled from.
    fingerprint: u64,
    /// Live matmuls of the graph as built (a backend should run each as one GEMM).
    matmuls: usize,
    transfers: Transfers,
    backend: Backend,
    /// Why the backend cannot run this program (its compilation failed, or
    /// an earlier run did): every run reports it.
    failed: Option<RunError>,
    /// Batch sizes whose tensors were found small enough for a device
    /// backend's 32-bit indexing.
    sized_batches: Vec<usize>,
}

/// luminal_cuda's kernels index with `int`: a tensor (or view) of more
/// elements would be read and written at wrapped indices.
const DEVICE_INDEX_LIMIT: usize = i32::MAX as usize;

/// What crossed between the host and the backend's memory, over all runs of
/// a program: inputs fed in, outputs read back, and the states a backend with
/// memory of its own copies in and out each run. States the backend keeps
/// where they are between runs are not in it (see [`StateStore::copies`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Transfers {
    pub runs: u64,
    pub to_device_bytes: u64,
    pub to_host_bytes: u64,
}

impl std::ops::Add for Transfers {
    type Output = Transfers;
    fn add(self, o: Transfers) -> Transfers {
        Transfers {
            runs: self.runs + o.runs,
            to_device_bytes: self.to_device_bytes + o.to_device_bytes,
            to_host_bytes: self.to_host_bytes + o.to_host_bytes,
        }
    }
}

/// A problem found before execution: a missing feed or state, a wrong length.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no value fed for input `{0}`")]
    MissingInput(String),
    #[error("input `{name}` expects {expected} values for shape {shape} at batch {batch}, got {got}")]
    InputLength { name: String, shape: String, batch: usize, expected: usize, got: usize },
    #[error("unknown input `{0}`")]
    UnknownInput(String),
    #[error("state `{0}` has no value (not initialized or not loaded)")]
    MissingState(String),
    #[error(
        "a tensor of {elements} elements at batch size {batch}: the {backend} backend's kernels index \
         with 32-bit integers (at most 2147483647 elements); use a smaller run.batch_size or narrower layers"
    )]
    TooLarge { backend: Backend, batch: usize, elements: usize },
    /// The backend failed (a kernel that did not compile, device memory
    /// exhausted, a library call that failed): what it said.
    #[error("the {backend} backend failed while {during}: {message}")]
    Backend { backend: Backend, during: &'static str, message: String },
}

/// Which of the CPU backend's optional passes run (all, by default).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Elementwise chains as one node (off with `TRAINTOP_NO_FUSION=1`).
    pub fuse_elementwise: bool,
    /// Optimizer updates as one in-place pass per parameter.
    pub fuse_updates: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        Self { fuse_elementwise: std::env::var_os("TRAINTOP_NO_FUSION").is_none(), fuse_updates: true }
    }
}

impl Program {
    /// Compiles a builder's graph for a backend.
    pub fn compile(builder: GraphBuilder, backend: Backend) -> Self {
        Self::compile_with(builder, backend, CompileOptions::default())
    }

    /// Compiles with a choice of the CPU backend's optional passes (to compare
    /// them with the plain lowering).
    pub fn compile_with(mut builder: GraphBuilder, backend: Backend, options: CompileOptions) -> Self {
        let fingerprint = fingerprint(&builder, &(backend, options));
        let matmuls;
        if backend == Backend::Cpu {
            matmuls = live_matmuls(&builder);
            lower_for_cpu(&mut builder, options);
        } else {
            super::cpu::prune(&mut builder);
            matmuls = live_matmuls(&builder);
            if let Err(message) = lower_with_luminal(&mut builder, backend) {
                return Self::failed(backend, fingerprint, options, message);
            }
        }
        let bindings = Bindings::read(&builder);
        if backend.has_device_memory() {
            let unreachable = bindings.unreachable(&builder.graph);
            if !unreachable.is_empty() {
                let message = format!("{} not read back through a copy to the host", unreachable.join(", "));
                return Self::failed(backend, fingerprint, options, message);
            }
        }
        let executor = Executor::plan(&builder.graph);
        // Only the graph is needed from here on; the tape (kilobytes of shape
        // tracker per entry) would only weigh on a cached program.
        builder.tape = Vec::new();
        Self {
            builder,
            executor,
            bindings,
            results: HashMap::new(),
            fingerprint,
            matmuls,
            transfers: Transfers::default(),
            backend,
            failed: None,
            sized_batches: vec![],
        }
    }

    /// A program that reports why `backend` could not compile its graph.
    fn failed(backend: Backend, fingerprint: u64, options: CompileOptions, message: String) -> Self {
        let mut p = Self::compile_with(GraphBuilder::new(), Backend::Cpu, options);
        p.backend = backend;
        p.fingerprint = fingerprint;
        p.failed = Some(RunError::Backend { backend, during: "compiling the graph", message });
        p
    }

    /// Runs once on a batch of `batch` rows. `feeds` gives every input but the
    /// batch scale, which is fed here.
    pub fn run(&mut self, store: &mut StateStore, feeds: Vec<(&str, Vec<f32>)>, batch: usize) -> Result<(), RunError> {
        if let Some(RunError::Backend { backend, during, message }) = &self.failed {
            return Err(RunError::Backend { backend: *backend, during, message: message.clone() });
        }
        self.check_index_range(batch)?;
        self.feed(feeds, batch)?;
        if let Some(missing) = self.bindings.states.iter().find(|s| !store.contains(&s.name)) {
            return Err(RunError::MissingState(missing.name.clone()));
        }
        for s in &self.bindings.states {
            let (_, t) = store.take(&s.name).expect("checked above");
            if s.to_device {
                self.transfers.to_device_bytes += 4 * element_count(&s.shape, 0) as u64;
            }
            self.executor.set(s.node, t);
        }
        // luminal's Constant ops read the batch size from the graph's map.
        self.builder.graph.set_dyn_dim(super::shape::BATCH_DIM, batch);
        if self.backend == Backend::Cpu {
            self.executor.run(&mut self.builder.graph, batch);
        } else if let Err(message) = super::guard::quietly(|| self.executor.run(&mut self.builder.graph, batch)) {
            // The states are still in their slots, as they were before this
            // run (luminal's ops write new tensors): back to the store.
            for s in &self.bindings.states {
                if let Some(t) = self.executor.take(s.node) {
                    store.put(&s.name, s.shape.clone(), t);
                }
            }
            return Err(self.fail("running a step", message));
        }
        self.transfers.runs += 1;
        self.read_outputs()?;
        self.carry_states(store)
    }

    /// On a device backend, refuses a batch size at which some tensor would
    /// outgrow the kernels' 32-bit indices (checked once per batch size).
    fn check_index_range(&mut self, batch: usize) -> Result<(), RunError> {
        if !self.backend.has_device_memory() || self.sized_batches.contains(&batch) {
            return Ok(());
        }
        let largest = self.report(batch).largest_tensor;
        if largest > DEVICE_INDEX_LIMIT {
            return Err(RunError::TooLarge { backend: self.backend, batch, elements: largest });
        }
        self.sized_batches.push(batch);
        Ok(())
    }

    /// Sets every input's value (and the batch scale) in its slot.
    fn feed(&mut self, feeds: Vec<(&str, Vec<f32>)>, batch: usize) -> Result<(), RunError> {
        let exec = &mut self.executor;
        let inputs = &self.bindings.inputs;
        let mut fed = 0;
        for (name, values) in feeds {
            if self.bindings.unused_inputs.contains(name) {
                continue;
            }
            let (node, shape) = inputs.get(name).ok_or_else(|| RunError::UnknownInput(name.to_string()))?;
            let expected = element_count(shape, batch);
            if values.len() != expected {
                return Err(RunError::InputLength {
                    name: name.to_string(),
                    shape: describe(shape),
                    batch,
                    expected,
                    got: values.len(),
                });
            }
            self.transfers.to_device_bytes += 4 * values.len() as u64;
            exec.set(*node, LTensor::new(values));
            fed += 1;
        }
        if let Some((node, _)) = inputs.get(INV_BATCH_INPUT) {
            exec.set(*node, LTensor::new(vec![1.0 / batch.max(1) as f32]));
            self.transfers.to_device_bytes += 4;
            fed += 1;
        }
        if fed < inputs.len() {
            let missing = inputs.iter().find(|(_, (n, _))| !exec.has(*n));
            return Err(RunError::MissingInput(missing.map(|(k, _)| k.clone()).unwrap_or_default()));
        }
        Ok(())
    }

    /// Copies the outputs of the run that just ended. They stay in their
    /// slots (each run recomputes them), so an output that is also a state's
    /// new value is still there for the state.
    fn read_outputs(&mut self) -> Result<(), RunError> {
        self.results.clear();
        for (name, node) in &self.bindings.outputs {
            let Some(t) = self.executor.get(*node) else { continue };
            let Some(v) = t.data.as_any().downcast_ref::<Vec<f32>>() else {
                let message = format!("output `{name}` is not in host memory");
                return Err(self.fail("reading the outputs", message));
            };
            self.transfers.to_host_bytes += 4 * v.len() as u64;
            self.results.insert(name.clone(), v.clone());
        }
        Ok(())
    }

    /// Moves each state's new value (or, without one, its value) back to the
    /// store. A next value the backend did not keep leaves the state as it
    /// was and fails the program, naming the state.
    fn carry_states(&mut self, store: &mut StateStore) -> Result<(), RunError> {
        let mut lost = vec![];
        for s in &self.bindings.states {
            let next = s.next.and_then(|n| self.executor.take(n));
            if s.next.is_some() && next.is_none() {
                lost.push(format!("`{}`", s.name));
            }
            let value = match next {
                Some(t) => {
                    self.executor.discard(s.node);
                    if s.to_host {
                        self.transfers.to_host_bytes += 4 * element_count(&s.shape, 0) as u64;
                    }
                    Some(t)
                }
                None => self.executor.take(s.node),
            };
            match value {
                Some(t) => store.put(&s.name, s.shape.clone(), t),
                None => lost.push(format!("`{}` (and its value before the step)", s.name)),
            }
        }
        if lost.is_empty() {
            return Ok(());
        }
        let message = format!("the new value of state {} was not kept by the backend", lost.join(", "));
        Err(self.fail("reading back the states", message))
    }

    /// Records a backend failure: this program reports it from now on.
    fn fail(&mut self, during: &'static str, message: String) -> RunError {
        let backend = self.backend;
        self.failed = Some(RunError::Backend { backend, during, message: message.clone() });
        RunError::Backend { backend, during, message }
    }

    /// Swaps in a buffer pool, returning the program's previous one: a
    /// session lends its pool to whichever program runs, so buffers freed by
    /// one serve the next.
    pub fn swap_pool(&mut self, pool: &mut BufferPool) {
        std::mem::swap(self.executor.pool_mut(), pool);
    }

    /// An output of the last run.
    pub fn output(&self, name: &str) -> Option<&[f32]> {
        self.results.get(name).map(Vec::as_slice)
    }

    /// Names of the outputs this program produces.
    pub fn output_names(&self) -> impl Iterator<Item = &str> {
        self.bindings.outputs.iter().map(|(n, _)| n.as_str())
    }

    /// The first value of a scalar output of the last run (NaN if absent).
    pub fn scalar(&self, name: &str) -> f32 {
        self.output(name).and_then(|v| v.first().copied()).unwrap_or(f32::NAN)
    }

    /// Bytes fed in and read back over all runs so far.
    pub fn transfers(&self) -> Transfers {
        self.transfers
    }

    /// The fingerprint of the graph this program was compiled from.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Number of luminal nodes after compilation (for logs and benchmarks).
    pub fn node_count(&self) -> usize {
        self.builder.graph.graph.node_count()
    }

    /// What the compiled graph is made of, with the batch dimension bound to
    /// `batch` (see [`ProgramReport`]).
    pub fn report(&self, batch: usize) -> ProgramReport {
        ProgramReport::of(&self.builder.graph, self.matmuls, batch, self.failed.as_ref().map(ToString::to_string))
    }
}

/// The CPU backend's lowering: our kernels, fused updates and elementwise
/// chains, then dead nodes pruned.
fn lower_for_cpu(builder: &mut GraphBuilder, options: CompileOptions) {
    super::cpu::compile(builder);
    if options.fuse_updates {
        super::cpu::update::fuse_updates(builder);
    }
    super::cpu::prune(builder);
    if options.fuse_elementwise {
        super::cpu::fusion::fuse(&mut builder.graph);
    }
    super::cpu::update::order_updates(&mut builder.graph);
}

/// Matmuls of the tape whose product is still in the graph (autograd records
/// some that nothing reads, which pruning removes).
fn live_matmuls(builder: &GraphBuilder) -> usize {
    let live = |mul: &luminal::prelude::NodeIndex| builder.graph.graph.contains_node(*mul);
    builder.tape.iter().filter(|n| matches!(&n.op, Op::MatMul { mul } if live(mul))).count()
}

/// Lowering by luminal's compilers (reference ops, luminal_cuda), after dead
/// nodes were pruned, so the compiler neither compiles kernels nor inserts
/// copies for them; every tape id follows the nodes the compiler moves.
/// luminal_cuda unwraps its failures: a panic comes back as its message.
fn lower_with_luminal(builder: &mut GraphBuilder, backend: Backend) -> Result<(), String> {
    let (graph, tape) = (&mut builder.graph, &mut builder.tape);
    super::guard::quietly(|| backend.compile_graph(graph, tape.iter_mut().map(|n| &mut n.id).collect()))?;
    super::cpu::prune(builder);
    Ok(())
}

#[cfg(test)]
mod tests {
    use luminal::op::{InputTensor, Operator};
    use luminal::prelude::{ShapeTracker, Tensor};

    use super::*;
    use crate::engine::Dim;

    /// Stands for a luminal_cuda kernel whose device allocation fails.
    #[derive(Debug, PartialEq)]
    struct OutOfMemory;

    impl Operator for OutOfMemory {
        fn process(&mut self, _: Vec<(InputTensor, ShapeTracker)>) -> Vec<Tensor> {
            panic!("CUDA_ERROR_OUT_OF_MEMORY")
        }
    }

    /// A batch at which a tensor would outgrow 32-bit indices is refused on a
    /// device backend before anything is fed or run; the CPU backend indexes
    /// with usize and is not limited.
    #[test]
    fn a_tensor_past_32_bit_indices_is_refused_on_a_device_backend() {
        let build = || {
            let mut b = GraphBuilder::new();
            let x = b.input("x", &[Dim::Batch, Dim::Fixed(1 << 16)]);
            let doubled = b.add_scalar(x, 1.0);
            b.output("y", doubled);
            b
        };
        let mut device = Program::compile(build(), Backend::CopyingReference);
        let err = device.run(&mut StateStore::new(), vec![], 1 << 15).unwrap_err();
        assert!(matches!(err, RunError::TooLarge { batch: 32768, elements: 2147483648, .. }), "{err}");
        assert!(err.to_string().contains("run.batch_size"), "{err}");
        // One row less fits: the run goes on to the feeds (none given here).
        let err = device.run(&mut StateStore::new(), vec![], (1 << 15) - 1).unwrap_err();
        assert!(matches!(err, RunError::MissingInput(_)), "{err}");
        let mut cpu = Program::compile(build(), Backend::Cpu);
        let err = cpu.run(&mut StateStore::new(), vec![], 1 << 15).unwrap_err();
        assert!(matches!(err, RunError::MissingInput(_)), "{err}");
    }

    /// A backend op that panics mid-step is an error naming the backend and
    /// what it said; the states are as they were before the step, and the
    /// program keeps reporting the failure.
    #[test]
    fn a_failing_backend_is_an_error_and_keeps_the_states() {
        let mut b = GraphBuilder::new();
        let p = b.state("p", &[Dim::Fixed(2)], false);
        let next = b.add_scalar(p, 1.0);
        b.output("next", next);
        b.assign(p, next);
        let node = b.tape[next.0].id;
        b.graph.graph[node] = Box::new(OutOfMemory);
        let mut program = Program::compile(b, Backend::Reference);
        let mut store = StateStore::new();
        store.insert("p", vec![Dim::Fixed(2)], vec![1.0, 2.0]);
        for _ in 0..2 {
            let err = program.run(&mut store, vec![], 1).unwrap_err();
            let text = err.to_string();
            assert!(text.contains("reference backend failed") && text.contains("CUDA_ERROR_OUT_OF_MEMORY"), "{text}");
            assert_eq!(store.read("p"), Ok(vec![1.0, 2.0]));
        }
    }
}
