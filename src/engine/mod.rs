//! The training engine: runtime-shaped graphs over luminal primitive ops,
//! reverse-mode autograd, backends, the MLP, losses and optimizers.

pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod executor;
pub mod fingerprint;
pub mod graph;
pub mod guard;
pub mod hooks;
pub mod loss;
pub mod memory;
pub mod mlp;
pub mod ops;
pub mod optimizer;
pub mod program;
pub mod program_cache;
pub mod session;
pub mod shape;

pub use backend::Backend;
pub use graph::{GraphBuilder, Tensor};
pub use hooks::{GraphHooks, Mode, NoHooks};
pub use mlp::{Activation, MlpSpec, Objective};
pub use optimizer::Optimizer;
pub use program::{CompileOptions, Program, StateStore, Transfers};
pub use session::{EvalStats, Session, StepStats};
pub use shape::Dim;
