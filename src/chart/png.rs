//! A [`Scene`] as a PNG: each shape rasterized with anti-aliasing by
//! tiny-skia, text through the embedded font (`font.rs`), so the picture is
//! the SVG's, pixel for pixel the same on every machine.

use skrifa::FontRef;
use tiny_skia::{Color, FillRule, Paint, PathBuilder, Pixmap, Rect, Stroke, StrokeDash, Transform};

use super::font;
use super::scene::{Anchor, Mark, Rgb, Scene};

/// The PNG file of `scene`; the error says what failed.
pub fn render(scene: &Scene) -> Result<Vec<u8>, String> {
    let mut pixmap = Pixmap::new(scene.width, scene.height)
        .ok_or_else(|| format!("cannot make a {}x{} picture", scene.width, scene.height))?;
    pixmap.fill(Color::WHITE);
    let face = font::face();
    for shape in &scene.shapes {
        draw(&mut pixmap, face.as_ref(), shape);
    }
    pixmap.encode_png().map_err(|e| format!("encoding the PNG: {e}"))
}

fn paint(color: Rgb, opacity: f64) -> Paint<'static> {
    let mut p = Paint { anti_alias: true, ..Paint::default() };
    p.set_color_rgba8(color.0, color.1, color.2, (opacity.clamp(0.0, 1.0) * 255.0).round() as u8);
    p
}

fn outline(points: &[(f64, f64)], close: bool) -> Option<tiny_skia::Path> {
    let mut b = PathBuilder::new();
    let (first, rest) = points.split_first()?;
    b.move_to(first.0 as f32, first.1 as f32);
    for (x, y) in rest {
        b.line_to(*x as f32, *y as f32);
    }
    if close {
        b.close();
    }
    b.finish()
}

fn draw(pixmap: &mut Pixmap, face: Option<&FontRef<'static>>, shape: &Mark) {
    let id = Transform::identity();
    match shape {
        Mark::Line { from, to, color, dashed } => line(pixmap, &[*from, *to], *color, 1.0, *dashed),
        Mark::Polyline { points, color, width } => line(pixmap, points, *color, *width, false),
        Mark::Polygon { points, color, opacity } => {
            if let Some(path) = outline(points, true) {
                pixmap.fill_path(&path, &paint(*color, *opacity), FillRule::Winding, id, None);
            }
        }
        Mark::Rect { x, y, w, h, fill, stroke } => rect(pixmap, (*x, *y, *w, *h), *fill, *stroke),
        Mark::Dot { at, r, color } => {
            if let Some(path) = PathBuilder::from_circle(at.0 as f32, at.1 as f32, *r as f32) {
                pixmap.fill_path(&path, &paint(*color, 1.0), FillRule::Winding, id, None);
            }
        }
        Mark::Text { at, text, size, anchor, color } => {
            if let Some(face) = face {
                let text = crate::format::clean(text);
                let size = *size as f32;
                let w = font::width(face, &text, size);
                let x = at.0 as f32
                    - match anchor {
                        Anchor::Start => 0.0,
                        Anchor::Middle => w / 2.0,
                        Anchor::End => w,
                    };
                if let Some(path) = font::text_path(face, &text, size, x, at.1 as f32) {
                    pixmap.fill_path(&path, &paint(*color, 1.0), FillRule::Winding, id, None);
                }
            }
        }
    }
}

fn line(pixmap: &mut Pixmap, points: &[(f64, f64)], color: Rgb, width: f64, dashed: bool) {
    let dash = if dashed { StrokeDash::new(vec![4.0, 3.0], 0.0) } else { None };
    let stroke = Stroke { width: width as f32, dash, ..Stroke::default() };
    if let Some(path) = outline(points, false) {
        pixmap.stroke_path(&path, &paint(color, 1.0), &stroke, Transform::identity(), None);
    }
}

fn rect(pixmap: &mut Pixmap, (x, y, w, h): (f64, f64, f64, f64), fill: Option<Rgb>, stroke: Option<Rgb>) {
    let Some(r) = Rect::from_xywh(x as f32, y as f32, w as f32, h as f32) else { return };
    if let Some(c) = fill {
        pixmap.fill_rect(r, &paint(c, 1.0), Transform::identity(), None);
    }
    if let Some(c) = stroke {
        let path = PathBuilder::from_rect(r);
        pixmap.stroke_path(&path, &paint(c, 1.0), &Stroke::default(), Transform::identity(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scene_becomes_a_png_of_its_size_with_ink() {
        let mut s = Scene::new(120, 40);
        s.text((4.0, 20.0), "loss 0.25", 14.0, Anchor::Start);
        s.line((0.0, 35.0), (120.0, 35.0), Rgb(255, 0, 0), false);
        let png = render(&s).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let pixmap = Pixmap::decode_png(&png).unwrap();
        assert_eq!((pixmap.width(), pixmap.height()), (120, 40));
        let dark = pixmap.pixels().iter().filter(|p| p.red() < 128 && p.green() < 128).count();
        assert!(dark > 30, "the text left {dark} dark pixels");
    }
}
