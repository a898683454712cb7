//! Compiled programs kept for reuse, found by a fingerprint of the graph they
//! were compiled from.
//!
//! A technique toggle rebuilds the train and eval graphs; switching it back
//! builds graphs equal to ones compiled before. Building is cheap next to
//! compiling (luminal passes, fusion, planning), so the graphs are always built
//! again (techniques see every build, as they always have) and only their
//! compilation is skipped when an equal graph was compiled before. Equal means
//! the same tape (every op, operand, shape and view, constants included), the
//! same states, inputs, outputs and optimizer updates, for the same backend and
//! passes (see `fingerprint`).

use super::backend::Backend;
use super::fingerprint::fingerprint;
use super::graph::GraphBuilder;
use super::program::{CompileOptions, Program};

/// Programs kept: the three of the current structure and of two others, so
/// a technique toggled off and on again, or two toggled in turn, compile nothing.
const CAPACITY: usize = 9;

/// The most recently used programs, by fingerprint.
#[derive(Default)]
pub struct ProgramCache {
    /// Least recently used first.
    entries: Vec<Program>,
}

impl ProgramCache {
    /// Takes out the program compiled from a graph with this fingerprint.
    pub fn take(&mut self, key: u64) -> Option<Program> {
        let i = self.entries.iter().position(|p| p.fingerprint() == key)?;
        Some(self.entries.remove(i))
    }

    /// Keeps a program for later, dropping the least recently used beyond capacity.
    pub fn put(&mut self, program: Program) {
        self.entries.retain(|p| p.fingerprint() != program.fingerprint());
        self.entries.push(program);
        if self.entries.len() > CAPACITY {
            self.entries.remove(0);
        }
    }

    /// A program for `builder`: the cached one when an equal graph was compiled
    /// before, else a new compilation. The flag tells which.
    pub fn get_or_compile(&mut self, builder: GraphBuilder, backend: Backend) -> (Program, bool) {
        let key = fingerprint(&builder, &(backend, CompileOptions::default()));
        match self.take(key) {
            Some(p) => (p, true),
            None => (Program::compile(builder, backend), false),
        }
    }
}
