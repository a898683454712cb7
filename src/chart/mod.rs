//! Charts drawn for people outside the terminal: a [`Scene`] of shapes
//! (lines, polylines, filled polygons, rectangles, text) in pixels, written
//! as SVG text ([`svg`]) or rasterized to PNG ([`png`], with a font embedded
//! in the binary, so nothing is looked up on a server). [`plot`] lays out
//! axes, ticks and legends on a scene. The sweep's curves and `view
//! --export` both draw through it, so there is one SVG writer.
//!
//! A floor of its own: it imports only `format` (labels).

mod font;
pub mod plot;
pub mod png;
mod scene;
pub mod svg;

pub use scene::{Anchor, Mark, Rgb, Scene};
