//! A [`Scene`] as SVG text: one element per shape, text escaped (labels come
//! from data files and configs). The text is set in the viewer's sans-serif
//! font; nothing here measures glyphs.

use std::fmt::Write;

use super::scene::{Anchor, Mark, Scene};

/// `s` safe inside an SVG text node or attribute.
pub fn escape(s: &str) -> String {
    crate::format::clean(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn points(ps: &[(f64, f64)]) -> String {
    ps.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
}

/// The SVG document of `scene`.
pub fn render(scene: &Scene) -> String {
    let (w, h) = (scene.width, scene.height);
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for shape in &scene.shapes {
        element(&mut o, shape);
    }
    o.push_str("</svg>\n");
    o
}

fn element(o: &mut String, shape: &Mark) {
    let _ = match shape {
        Mark::Line { from: (x1, y1), to: (x2, y2), color, dashed } => {
            let dash = if *dashed { r#" stroke-dasharray="4 3""# } else { "" };
            writeln!(o, r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}"{dash}/>"#, color.hex())
        }
        Mark::Polyline { points: ps, color, width } => writeln!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="{width}"/>"#,
            points(ps),
            color.hex()
        ),
        Mark::Polygon { points: ps, color, opacity } => writeln!(
            o,
            r#"<polygon points="{}" fill="{}" fill-opacity="{opacity}" stroke="none"/>"#,
            points(ps),
            color.hex()
        ),
        Mark::Rect { x, y, w, h, fill, stroke } => {
            let fill = fill.map_or("none".to_string(), |c| c.hex());
            let stroke = stroke.map_or("none".to_string(), |c| c.hex());
            writeln!(
                o,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}" fill="{fill}" stroke="{stroke}"/>"#
            )
        }
        Mark::Dot { at: (x, y), r, color } => {
            writeln!(o, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{r}" fill="{}"/>"#, color.hex())
        }
        Mark::Text { at: (x, y), text, size, anchor, color } => {
            let anchor = match anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            writeln!(
                o,
                r#"<text x="{x:.1}" y="{y:.1}" font-size="{size}" text-anchor="{anchor}" fill="{}">{}</text>"#,
                color.hex(),
                escape(text)
            )
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Rgb;

    #[test]
    fn shapes_become_elements_and_text_is_escaped() {
        let mut s = Scene::new(200, 100);
        s.push(Mark::Polyline { points: vec![(0.0, 1.0), (2.5, 3.0)], color: Rgb(255, 0, 0), width: 2.0 });
        s.text((10.0, 20.0), "a<b & \"c\"\u{1b}", 12.0, Anchor::End);
        let svg = render(&s);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains(r#"width="200" height="100""#), "{svg}");
        assert!(svg.contains(r##"<polyline points="0.0,1.0 2.5,3.0" fill="none" stroke="#ff0000""##), "{svg}");
        assert!(
            svg.contains(r#"text-anchor="end""#) && svg.contains(">a&lt;b &amp; &quot;c&quot;\\x1b</text>"),
            "{svg}"
        );
    }
}
