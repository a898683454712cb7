//! The training engine: runtime-shaped graphs over luminal primitive ops,
//! reverse-mode autograd, backends, models, losses and optimizers.

pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod graph;
pub mod loss;
pub mod ops;
pub mod program;
pub mod shape;

pub use backend::Backend;
pub use graph::{GraphBuilder, Tensor};
pub use program::{Program, StateStore};
pub use shape::Dim;
