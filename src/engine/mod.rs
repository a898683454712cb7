//! The training engine: runtime-shaped graphs over luminal primitive ops,
//! reverse-mode autograd, backends, the MLP, losses and optimizers.

pub(crate) mod autograd;
pub(crate) mod backend;
pub(crate) mod bindings;
pub(crate) mod cpu;
pub mod device_copies;
pub(crate) mod executor;
pub(crate) mod fingerprint;
pub mod graph;
pub(crate) mod guard;
pub mod hooks;
pub mod loss;
pub(crate) mod memory;
pub mod mlp;
pub(crate) mod ops;
pub(crate) mod optimizer;
pub(crate) mod program;
pub(crate) mod program_cache;
pub(crate) mod program_report;
pub(crate) mod session;
pub(crate) mod shape;
pub(crate) mod state_store;

pub use backend::Backend;
pub use graph::{GraphBuilder, Tensor};
pub use hooks::{GraphHooks, Mode, NoHooks};
pub use mlp::{Activation, MlpSpec, Objective};
pub use optimizer::Optimizer;
pub use program::{CompileOptions, Program, ProgramReport, StateReadError, StateStore, Transfers};
pub use session::{EvalStats, Session, StepStats};
pub use shape::Dim;
