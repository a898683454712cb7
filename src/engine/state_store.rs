//! Persistent tensors by name (parameters, optimizer moments, running
//! statistics), shared by the programs of one model.
//!
//! A state lives here between executions as a luminal tensor and moves into a
//! program's graph before it runs and out after, so train and eval programs
//! share it without a copy.

use std::collections::HashMap;

use luminal::prelude::Tensor as LTensor;

use super::shape::{describe, element_count, Shape};

/// Why a state's values could not be copied to the host.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateReadError {
    #[error("state `{0}` has no value")]
    Missing(String),
    /// The backend kept the tensor in memory the host cannot read: a
    /// checkpoint of it would be empty.
    #[error("state `{0}` is not in host memory (the backend kept it on the device)")]
    NotOnHost(String),
}

/// Persistent tensors by name.
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

    /// A copy of a state's values on the host (checkpoints, plugins, tests).
    pub fn read(&self, name: &str) -> Result<Vec<f32>, StateReadError> {
        let (_, t) = self.values.get(name).ok_or_else(|| StateReadError::Missing(name.to_string()))?;
        let values =
            t.data.as_any().downcast_ref::<Vec<f32>>().ok_or_else(|| StateReadError::NotOnHost(name.into()))?;
        self.copies.set(self.copies.get() + 1);
        Ok(values.clone())
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

    pub(crate) fn take(&mut self, name: &str) -> Option<(Shape, LTensor)> {
        self.values.remove(name)
    }

    pub(crate) fn put(&mut self, name: &str, shape: Shape, t: LTensor) {
        self.values.insert(name.to_string(), (shape, t));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Dim;

    /// A tensor the host cannot read is an error naming the state, never an
    /// empty vector (which a checkpoint would write silently).
    #[test]
    fn a_state_off_the_host_is_an_error_naming_it() {
        #[derive(Debug, Clone)]
        struct DeviceOnly;
        impl luminal::prelude::Data for DeviceOnly {
            fn as_any(&self) -> &dyn std::any::Any {
                self
            }
            fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
                self
            }
        }
        let mut store = StateStore::new();
        store.insert("w", vec![Dim::Fixed(2)], vec![1.0, 2.0]);
        assert_eq!(store.read("w"), Ok(vec![1.0, 2.0]));
        store.put("w", vec![Dim::Fixed(2)], LTensor { data: Box::new(DeviceOnly) });
        assert_eq!(store.read("w"), Err(StateReadError::NotOnHost("w".into())));
        assert_eq!(store.read("b"), Err(StateReadError::Missing("b".into())));
        assert_eq!(store.copies(), 1);
    }
}
