//! Runtime shapes: a tensor's logical dimensions, known when the config is read
//! rather than at compile time, with one optional symbolic dimension, the batch.
//!
//! luminal 0.2 types shapes with const generics; layer widths in traintop come from
//! TOML, so the engine keeps its own list of dimensions and converts it to luminal's
//! `ShapeTracker` only where a graph edge needs one.

use luminal::prelude::symbolic::Expression;
use luminal::prelude::ShapeTracker;

/// The luminal dynamic-dimension name used for the batch size.
pub const BATCH_DIM: char = 'b';

/// One logical dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// The mini-batch size, bound at each execution, so one compiled graph serves a
    /// short last batch.
    Batch,
    /// A size fixed when the graph is built.
    Fixed(usize),
}

impl Dim {
    /// The size, given the batch size of the current execution.
    pub fn resolve(self, batch: usize) -> usize {
        match self {
            Dim::Batch => batch,
            Dim::Fixed(n) => n,
        }
    }

    pub(crate) fn expression(self) -> Expression {
        match self {
            Dim::Batch => Expression::from(BATCH_DIM),
            Dim::Fixed(n) => Expression::from(n),
        }
    }
}

impl From<usize> for Dim {
    fn from(n: usize) -> Self {
        Dim::Fixed(n)
    }
}

/// A logical shape.
pub type Shape = Vec<Dim>;

/// Number of elements of a shape for a given batch size.
pub fn element_count(shape: &[Dim], batch: usize) -> usize {
    shape.iter().map(|d| d.resolve(batch)).product()
}

/// A fresh contiguous row-major tracker over `shape`.
pub(crate) fn contiguous_tracker(shape: &[Dim]) -> ShapeTracker {
    let dims: Vec<Expression> = shape.iter().map(|d| d.expression()).collect();
    ShapeTracker::new(&dims)
}

/// Formats a shape the way error messages and debug output show it: `[b, 64]`.
pub fn describe(shape: &[Dim]) -> String {
    let parts: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Batch => "b".to_string(),
            Dim::Fixed(n) => n.to_string(),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}
