//! Backend selection: which compiler lowers the primitive graph.

use std::fmt;

use luminal::prelude::{Graph, NodeIndex};

/// Where a model trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Backend {
    /// The primitive graph lowered by traintop's CPU passes (the default).
    #[default]
    Cpu,
    /// luminal's stock primitive ops, unoptimized: the reference the fast
    /// kernels are tested against.
    Reference,
    /// luminal_cuda's compilers (`--features cuda`).
    Cuda,
    /// The reference ops behind the graph surgery luminal_cuda performs (copy
    /// nodes after host-fed nodes and before retrieved ones, ids remapped):
    /// tests a program's bindings the way the CUDA backend needs them, on any
    /// machine (tests only: no config selects it).
    CopyingReference,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Cpu => "cpu",
            Backend::Reference => "reference",
            Backend::Cuda => "cuda",
            Backend::CopyingReference => "reference with copies",
        })
    }
}

/// Why a backend cannot be used in this build or on this machine.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(
        "device = \"cuda\" needs a binary built with the `cuda` feature: \
         build with `cargo build --release --features cuda` (or scripts/build-cuda.sh), \
         or set run.device = \"cpu\""
    )]
    CudaNotBuilt,
    #[error("device = \"cuda\": no usable NVIDIA GPU found ({0})")]
    NoGpu(String),
}

impl Backend {
    /// Checks that the backend can run here, before any work starts.
    pub fn check_available(self) -> Result<(), BackendError> {
        match self {
            Backend::Cpu | Backend::Reference | Backend::CopyingReference => Ok(()),
            Backend::Cuda => cuda_available(),
        }
    }

    /// True when the backend computes in memory of its own, reached through
    /// copy nodes (see [`super::device_copies`]).
    pub fn has_device_memory(self) -> bool {
        matches!(self, Backend::Cuda | Backend::CopyingReference)
    }

    /// Lowers a primitive graph with luminal's compilers (every backend but
    /// the CPU one, which lowers the builder itself), moving `remap`'s ids
    /// wherever the compilers move the nodes they name.
    pub(crate) fn compile_graph(self, graph: &mut Graph, remap: Vec<&mut NodeIndex>) {
        match self {
            Backend::Cpu | Backend::Reference => {}
            Backend::CopyingReference => super::device_copies::insert(graph, remap),
            Backend::Cuda => compile_cuda(graph, remap),
        }
    }
}

#[cfg(feature = "cuda")]
fn cuda_available() -> Result<(), BackendError> {
    // Creating the device initializes the driver; any failure means no usable
    // GPU. The error is shown by its code: its Debug output asks the driver for
    // a message, which itself fails when there is no driver.
    // luminal_cudarc unwraps some driver errors; keep that panic's message off
    // the terminal, the error below says it better.
    super::guard::quietly(|| luminal_cudarc::driver::CudaDevice::new(0).map(|_| ()).map_err(|e| e.0))
        .map_err(|_| BackendError::NoGpu("the CUDA driver could not be initialized".into()))?
        .map_err(|code| BackendError::NoGpu(format!("CUDA driver error {code:?}")))
}

#[cfg(not(feature = "cuda"))]
fn cuda_available() -> Result<(), BackendError> {
    Err(BackendError::CudaNotBuilt)
}

#[cfg(feature = "cuda")]
fn compile_cuda(graph: &mut Graph, remap: Vec<&mut NodeIndex>) {
    use luminal::prelude::Compiler;
    luminal_cuda::CudaCompiler::<f32>::default().compile(graph, remap);
}

#[cfg(not(feature = "cuda"))]
fn compile_cuda(_: &mut Graph, _: Vec<&mut NodeIndex>) {
    unreachable!("check_available rejects cuda in builds without the feature")
}
