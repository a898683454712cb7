//! A graph's fingerprint: a digest of its whole tape (every op, operand,
//! shape and view, constants included), its states, inputs, outputs and
//! optimizer updates. Equal fingerprints mean graphs that compile to the same
//! program, so a compiled program can be reused for a graph built again.

use std::collections::hash_map::DefaultHasher;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use luminal::prelude::symbolic::Expression;

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
        node.op.hash(&mut w.0);
        node.inputs.hash(&mut w.0);
        node.shape.hash(&mut w.0);
        w.0.write_usize(node.id.index());
        w.0.write_u8(node.needs_grad as u8);
        // The tracker's expressions by their terms, as they are: evaluating
        // them (`to_usize`, `is_padded`) cost more than the rest of the
        // fingerprint, and two graphs equal up to simplification are rare
        // enough to compile twice.
        let t = &node.tracker;
        t.indexes.iter().for_each(|&i| w.0.write_usize(i));
        t.fake.iter().for_each(|&f| w.0.write_u8(f as u8));
        t.dims.iter().for_each(|d| hash_expression(d, &mut w.0));
        for (a, b) in t.slices.iter().chain(t.padding.iter()) {
            hash_expression(a, &mut w.0);
            hash_expression(b, &mut w.0);
        }
    }
    let _ = write!(w, "{:?}{:?}{:?}{:?}", builder.states, builder.inputs, builder.outputs, builder.updates);
    w.0.finish()
}

fn hash_expression(e: &Expression, h: &mut DefaultHasher) {
    h.write_usize(e.terms.len());
    e.terms.iter().for_each(|term| term.hash(h));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::graph::BinaryOp;
    use crate::engine::shape::Dim;

    /// x + k x, transposed or not: a small graph whose constant and view vary.
    fn graph(k: f32, transposed: bool) -> GraphBuilder {
        graph_in(GraphBuilder::new(), k, transposed)
    }

    fn graph_in(mut g: GraphBuilder, k: f32, transposed: bool) -> GraphBuilder {
        let x = g.input("x", &[Dim::Batch, Dim::Fixed(3)]);
        let y = g.scale(x, k);
        let z = g.binary(BinaryOp::Add, x, y);
        let out = if transposed { g.permute(z, &[1, 0]) } else { z };
        g.output("out", out);
        g
    }

    #[test]
    fn equal_graphs_agree_and_any_change_shows() {
        let fp = |g: &GraphBuilder| fingerprint(g, &"cpu");
        assert_eq!(fp(&graph(2.0, false)), fp(&graph(2.0, false)));
        assert_ne!(fp(&graph(2.0, false)), fp(&graph(2.5, false)), "a constant");
        assert_ne!(fp(&graph(2.0, false)), fp(&graph(2.0, true)), "a view");
        assert_ne!(fingerprint(&graph(2.0, false), &"cpu"), fingerprint(&graph(2.0, false), &"cuda"), "the backend");
        // Reserved room changes nothing but speed.
        let roomy = graph_in(GraphBuilder::with_capacity(graph(2.0, false).size()), 2.0, false);
        assert_eq!(fp(&roomy), fp(&graph(2.0, false)));
    }
}
