//! The one font PNG charts are drawn with, embedded in the binary (Go
//! Regular, BSD-3-Clause, assets/fonts/LICENSE-Go-font): a server has no
//! font to find, and a chart must not change with the machine. Glyph
//! outlines become tiny-skia paths, so text is anti-aliased like the lines.

use tiny_skia::{Path, PathBuilder};
use ttf_parser::{Face, GlyphId, OutlineBuilder};

static GO_REGULAR: &[u8] = include_bytes!("../../assets/fonts/Go-Regular.ttf");

/// The embedded font; `None` only if the file built in were broken (a unit
/// test reads it), and then the chart is drawn without its text.
pub fn face() -> Option<Face<'static>> {
    Face::parse(GO_REGULAR, 0).ok()
}

/// A character's glyph, `?` for one the font lacks.
fn glyph(face: &Face, c: char) -> Option<GlyphId> {
    face.glyph_index(c).or_else(|| face.glyph_index('?'))
}

/// How wide `text` is at `size` pixels.
pub fn width(face: &Face, text: &str, size: f32) -> f32 {
    let scale = size / f32::from(face.units_per_em());
    let units: u32 =
        text.chars().filter_map(|c| glyph(face, c)).map(|g| u32::from(face.glyph_hor_advance(g).unwrap_or(0))).sum();
    units as f32 * scale
}

/// The outlines of `text` at `size` pixels, its baseline starting at `(x, y)`.
pub fn text_path(face: &Face, text: &str, size: f32, x: f32, y: f32) -> Option<Path> {
    let scale = size / f32::from(face.units_per_em());
    let mut pen = Pen { path: PathBuilder::new(), x, y, scale };
    for c in text.chars() {
        let Some(g) = glyph(face, c) else { continue };
        face.outline_glyph(g, &mut pen);
        pen.x += f32::from(face.glyph_hor_advance(g).unwrap_or(0)) * scale;
    }
    pen.path.finish()
}

/// Font units to pixels: scaled, y flipped (fonts count up, pixels down).
struct Pen {
    path: PathBuilder,
    x: f32,
    y: f32,
    scale: f32,
}

impl Pen {
    fn at(&self, fx: f32, fy: f32) -> (f32, f32) {
        (self.x + fx * self.scale, self.y - fy * self.scale)
    }
}

impl OutlineBuilder for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.move_to(x, y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        let (x, y) = self.at(x, y);
        self.path.line_to(x, y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        let ((x1, y1), (x, y)) = (self.at(x1, y1), self.at(x, y));
        self.path.quad_to(x1, y1, x, y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let ((x1, y1), (x2, y2), (x, y)) = (self.at(x1, y1), self.at(x2, y2), self.at(x, y));
        self.path.cubic_to(x1, y1, x2, y2, x, y);
    }

    fn close(&mut self) {
        self.path.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_font_reads_and_draws_digits() {
        let face = face().expect("Go-Regular.ttf parses");
        let w = width(&face, "0.125", 12.0);
        assert!((15.0..40.0).contains(&w), "{w}");
        let path = text_path(&face, "1e-3", 12.0, 10.0, 20.0).expect("outlines");
        let b = path.bounds();
        assert!(b.left() >= 10.0 && b.bottom() <= 20.5 && b.top() > 8.0, "{b:?}");
        assert_eq!(width(&face, "\u{1F600}", 12.0), width(&face, "?", 12.0), "a missing glyph draws as ?");
    }
}
