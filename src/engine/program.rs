//! A compiled graph and how it runs: feed inputs, execute, read outputs, carry state.
//!
//! State (parameters, optimizer moments, running statistics) lives in a
//! [`StateStore`] between executions as luminal tensors, and moves into a program's
//! graph before it runs and out after, so train and eval programs share it without
//! a copy. A state's updated value, computed inside the graph, replaces it by a move
//! (`get_tensor` then `set_tensor`): the executor skips nodes that already hold a
//! tensor, so swapping buffers in place would silently train on stale weights.

use std::collections::HashMap;

use luminal::prelude::{NodeIndex, Tensor as LTensor};

use super::backend::Backend;
use super::cpu::pool::BufferPool;
use super::executor::Executor;
use super::fingerprint::fingerprint;
use super::graph::GraphBuilder;
use super::ops::INV_BATCH_INPUT;
use super::shape::{describe, element_count, Shape, BATCH_DIM};

/// Persistent tensors by name, shared by the programs of one model.
#[derive(Debug, Default, Clone)]
pub struct StateStore {
    values: HashMap<String, (Shape, LTensor)>,
    /// States copied out to the host so far (checkpoints, plugins, tests):
    /// training itself copies none.
    copies: std::cell::Cell<u64>,
}

impl StateStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a state's value from host data.
    pub fn insert(&mut self, name: &str, shape: Shape, values: Vec<f32>) {
        assert_eq!(element_count(&shape, 0), values.len(), "state `{name}` {}: wrong length", describe(&shape));
        self.values.insert(name.to_string(), (shape, LTensor::new(values)));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }

    /// A copy of a state's values on the host (checkpoints, tests).
    pub fn read(&self, name: &str) -> Option<Vec<f32>> {
        let (_, t) = self.values.get(name)?;
        self.copies.set(self.copies.get() + 1);
        t.data.as_any().downcast_ref::<Vec<f32>>().cloned()
    }

    /// How many times a state was copied out with [`StateStore::read`].
    pub fn copies(&self) -> u64 {
        self.copies.get()
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.values.get(name).map(|(s, _)| s)
    }

    /// Removes every state whose name starts with `prefix` (a technique switched
    /// back on starts from fresh state).
    pub fn remove_prefix(&mut self, prefix: &str) {
        self.values.retain(|k, _| !k.starts_with(prefix));
    }

    fn take(&mut self, name: &str) -> Option<(Shape, LTensor)> {
        self.values.remove(name)
    }

    fn put(&mut self, name: &str, shape: Shape, t: LTensor) {
        self.values.insert(name.to_string(), (shape, t));
    }
}

struct StateBinding {
    name: String,
    shape: Shape,
    node: NodeIndex,
    next: Option<NodeIndex>,
}

/// A graph compiled for a backend, ready to execute repeatedly.
pub struct Program {
    builder: GraphBuilder,
    executor: Executor,
    inputs: HashMap<String, (NodeIndex, Shape)>,
    unused_inputs: std::collections::HashSet<String>,
    states: Vec<StateBinding>,
    outputs: Vec<(String, NodeIndex)>,
    results: HashMap<String, Vec<f32>>,
    /// The fingerprint of the graph this was compiled from.
    fingerprint: u64,
    transfers: Transfers,
    backend: Backend,
    /// Why the backend cannot run this program (its compilation failed, or
    /// an earlier run did): every run reports it.
    failed: Option<RunError>,
}

/// What crossed between the host and the backend's memory, over all runs of
/// a program: inputs fed in, outputs read back. States are not in it: they stay
/// where the backend keeps them between runs (see [`StateStore::copies`]).
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
        if backend != Backend::Cpu {
            // luminal's own compilers (CUDA) unwrap their failures.
            if let Err(message) = super::guard::quietly(|| backend.compile(&mut builder)) {
                let mut p = Self::compile_with(GraphBuilder::new(), Backend::Cpu, options);
                p.backend = backend;
                p.fingerprint = fingerprint;
                p.failed = Some(RunError::Backend { backend, during: "compiling the graph", message });
                return p;
            }
        } else {
            backend.compile(&mut builder);
        }
        let cpu = backend == Backend::Cpu;
        if cpu && options.fuse_updates {
            super::cpu::update::fuse_updates(&mut builder);
        }
        super::cpu::prune(&mut builder);
        if cpu && options.fuse_elementwise {
            super::cpu::fusion::fuse(&mut builder.graph);
        }
        if cpu {
            super::cpu::update::order_updates(&mut builder.graph);
        }
        let executor = Executor::plan(&builder.graph);
        // Inputs nothing reads any more (a plugin's unused random tensor) are
        // accepted and dropped.
        let unused_inputs = builder
            .inputs
            .iter()
            .filter(|s| !builder.graph.graph.contains_node(builder.tape[s.tensor.0].id))
            .map(|s| s.name.clone())
            .collect();
        let inputs = builder
            .inputs
            .iter()
            .filter(|s| builder.graph.graph.contains_node(builder.tape[s.tensor.0].id))
            .map(|s| (s.name.clone(), (builder.tape[s.tensor.0].id, builder.tape[s.tensor.0].shape.clone())))
            .collect();
        let states = builder
            .states
            .iter()
            .map(|s| StateBinding {
                name: s.name.clone(),
                shape: builder.tape[s.tensor.0].shape.clone(),
                node: builder.tape[s.tensor.0].id,
                next: s.next.map(|n| builder.tape[n.0].id),
            })
            .collect();
        let outputs = builder.outputs.iter().map(|(n, t)| (n.clone(), builder.tape[t.0].id)).collect();
        // Only the graph is needed from here on; the tape (kilobytes of shape
        // tracker per entry) would only weigh on a cached program.
        builder.tape = Vec::new();
        Self {
            builder,
            executor,
            inputs,
            unused_inputs,
            states,
            outputs,
            results: HashMap::new(),
            fingerprint,
            transfers: Transfers::default(),
            backend,
            failed: None,
        }
    }

    /// Runs once on a batch of `batch` rows. `feeds` gives every input but the
    /// batch scale, which is fed here.
    pub fn run(&mut self, store: &mut StateStore, feeds: Vec<(&str, Vec<f32>)>, batch: usize) -> Result<(), RunError> {
        if let Some(RunError::Backend { backend, during, message }) = &self.failed {
            return Err(RunError::Backend { backend: *backend, during, message: message.clone() });
        }
        let exec = &mut self.executor;
        let mut fed = 0;
        for (name, values) in feeds {
            if self.unused_inputs.contains(name) {
                continue;
            }
            let (node, shape) = self.inputs.get(name).ok_or_else(|| RunError::UnknownInput(name.to_string()))?;
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
        if let Some((node, _)) = self.inputs.get(INV_BATCH_INPUT) {
            exec.set(*node, LTensor::new(vec![1.0 / batch.max(1) as f32]));
            self.transfers.to_device_bytes += 4;
            fed += 1;
        }
        if fed < self.inputs.len() {
            let missing = self.inputs.iter().find(|(_, (n, _))| !exec.has(*n));
            return Err(RunError::MissingInput(missing.map(|(k, _)| k.clone()).unwrap_or_default()));
        }
        if let Some(missing) = self.states.iter().find(|s| !store.contains(&s.name)) {
            return Err(RunError::MissingState(missing.name.clone()));
        }
        for s in &self.states {
            let (_, t) = store.take(&s.name).expect("checked above");
            exec.set(s.node, t);
        }
        // luminal's Constant ops read the batch size from the graph's map.
        self.builder.graph.set_dyn_dim(BATCH_DIM, batch);
        if self.backend == Backend::Cpu {
            exec.run(&mut self.builder.graph, batch);
        } else if let Err(message) = super::guard::quietly(|| exec.run(&mut self.builder.graph, batch)) {
            // The states are still in their slots, as they were before this
            // run (luminal's ops write new tensors): back to the store.
            for s in &self.states {
                if let Some(t) = exec.take(s.node) {
                    store.put(&s.name, s.shape.clone(), t);
                }
            }
            let backend = self.backend;
            self.failed = Some(RunError::Backend { backend, during: "running a step", message: message.clone() });
            return Err(RunError::Backend { backend, during: "running a step", message });
        }
        self.transfers.runs += 1;
        self.results.clear();
        // Outputs stay in their slots (each run recomputes them), so an output
        // that is also a state's new value is still there for the state.
        for (name, node) in &self.outputs {
            if let Some(t) = exec.get(*node) {
                let v = t.data.as_any().downcast_ref::<Vec<f32>>().cloned().unwrap_or_default();
                self.transfers.to_host_bytes += 4 * v.len() as u64;
                self.results.insert(name.clone(), v);
            }
        }
        for s in &self.states {
            let t = match s.next {
                Some(next) => {
                    exec.discard(s.node);
                    exec.take(next)
                }
                None => exec.take(s.node),
            };
            store.put(&s.name, s.shape.clone(), t.expect("state survives execution"));
        }
        Ok(())
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
        self.outputs.iter().map(|(n, _)| n.as_str())
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
            assert_eq!(store.read("p"), Some(vec![1.0, 2.0]));
        }
    }
}
