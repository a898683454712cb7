//! The one font PNG charts are drawn with, embedded in the binary (Go
//! Regular, BSD-3-Clause, assets/fonts/LICENSE-Go-font): a server has no
//! font to find, and a chart must not change with the machine. Glyph
//! outlines (read by skrifa) become tiny-skia paths, so text is
//! anti-aliased like the lines.

use skrifa::instance::{LocationRef, Size};
use skrifa::outline::{DrawSettings, OutlinePen};
use skrifa::prelude::{FontRef, GlyphId, MetadataProvider};
use tiny_skia::{Path, PathBuilder};

static GO_REGULAR: &[u8] = include_bytes!("../../assets/fonts/Go-Regular.ttf");

/// The embedded font; `None` only if the file built in were broken (a unit
/// test reads it), and then the chart is drawn without its text.
pub fn face() -> Option<FontRef<'static>> {
    FontRef::new(GO_REGULAR).ok()
}

/// A character's glyph, `?` for one the font lacks.
fn glyph(face: &FontRef, c: char) -> Option<GlyphId> {
    let map = face.charmap();
    map.map(c).or_else(|| map.map('?'))
}

/// Each glyph of `text` with its advance at `size` pixels.
fn glyphs(face: &FontRef<'static>, text: &str, size: f32) -> Vec<(GlyphId, f32)> {
    let metrics = face.glyph_metrics(Size::new(size), LocationRef::default());
    text.chars().filter_map(|c| glyph(face, c)).map(|g| (g, metrics.advance_width(g).unwrap_or(0.0))).collect()
}

/// How wide `text` is at `size` pixels.
pub fn width(face: &FontRef<'static>, text: &str, size: f32) -> f32 {
    glyphs(face, text, size).iter().map(|(_, advance)| advance).sum()
}

/// The outlines of `text` at `size` pixels, its baseline starting at `(x, y)`.
pub fn text_path(face: &FontRef<'static>, text: &str, size: f32, x: f32, y: f32) -> Option<Path> {
    let outlines = face.outline_glyphs();
    let mut pen = Pen { path: PathBuilder::new(), x, y };
    for (g, advance) in glyphs(face, text, size) {
        if let Some(outline) = outlines.get(g) {
            // A glyph that cannot be drawn is left out, not the whole text.
            let _ = outline.draw(DrawSettings::unhinted(Size::new(size), LocationRef::default()), &mut pen);
        }
        pen.x += advance;
    }
    pen.path.finish()
}

/// Outline points (pixels, y up from the baseline) to page pixels (y down).
struct Pen {
    path: PathBuilder,
    x: f32,
    y: f32,
}

impl OutlinePen for Pen {
    fn move_to(&mut self, x: f32, y: f32) {
        self.path.move_to(self.x + x, self.y - y);
    }

    fn line_to(&mut self, x: f32, y: f32) {
        self.path.line_to(self.x + x, self.y - y);
    }

    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        self.path.quad_to(self.x + x1, self.y - y1, self.x + x, self.y - y);
    }

    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let (ox, oy) = (self.x, self.y);
        self.path.cubic_to(ox + x1, oy - y1, ox + x2, oy - y2, ox + x, oy - y);
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
