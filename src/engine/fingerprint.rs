//! A graph's fingerprint: a digest of its whole tape (every op, operand,
//! shape and view, constants included), its states, inputs, outputs and
//! optimizer updates. Equal fingerprints mean graphs that compile to the same
//! program, so a compiled program can be reused for a graph built again.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::Hasher;

use super::graph::GraphBuilder;

/// Feeds formatted text to a hasher, so fingerprinting allocates nothing.
struct HashWriter(DefaultHasher);

impl std::fmt::Write for HashWriter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write(s.as_bytes());
        Ok(())
    }
}

/// A 64-bit digest of everything that decides what `builder` compiles to,
/// with `how` (the backend and passes) it is compiled.
pub fn fingerprint(builder: &GraphBuilder, how: &dyn std::fmt::Debug) -> u64 {
    let mut w = HashWriter(DefaultHasher::new());
    // Writing to a hasher cannot fail.
    let _ = write!(w, "{how:?}");
    for node in &builder.tape {
        // Formatting a whole node would format its tracker's inline arrays;
        // the fields that matter are hashed directly.
        let _ = write!(w, "{:?}{:?}{:?}", node.op, node.inputs, node.shape);
        w.0.write_usize(node.id.index());
        w.0.write_u8(node.needs_grad as u8);
        let t = &node.tracker;
        t.indexes.iter().for_each(|&i| w.0.write_usize(i));
        t.fake.iter().for_each(|&f| w.0.write_u8(f as u8));
        for d in t.dims.iter() {
            match d.to_usize() {
                Some(n) => w.0.write_usize(n),
                None => {
                    let _ = write!(w, "{d:?}");
                }
            }
        }
        if t.is_sliced() || t.is_padded() {
            let _ = write!(w, "{:?}{:?}", t.slices, t.padding);
        }
    }
    let _ = write!(w, "{:?}{:?}{:?}{:?}", builder.states, builder.inputs, builder.outputs, builder.updates);
    w.0.finish()
}
