//! What a chart is made of: shapes in pixel coordinates (y down), on a white
//! page. Both writers (SVG, PNG) draw exactly these, so the two formats show
//! the same chart.

/// A color as 8-bit red, green, blue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    pub const BLACK: Rgb = Rgb(0, 0, 0);
    pub const GREY: Rgb = Rgb(0x88, 0x88, 0x88);
    pub const GRID: Rgb = Rgb(0xdd, 0xdd, 0xdd);

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }
}

/// Where a text's anchor point sits on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// One drawn thing. Points are `(x, y)` in pixels from the top left.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A straight 1-pixel line (axes, ticks, grid, markers).
    Line { from: (f64, f64), to: (f64, f64), color: Rgb, dashed: bool },
    /// An open line through `points` (a series).
    Polyline { points: Vec<(f64, f64)>, color: Rgb, width: f64 },
    /// A closed, filled area.
    Polygon { points: Vec<(f64, f64)>, color: Rgb, opacity: f64 },
    /// A rectangle, filled and/or outlined.
    Rect { x: f64, y: f64, w: f64, h: f64, fill: Option<Rgb>, stroke: Option<Rgb> },
    /// A filled dot (a value at an epoch).
    Dot { at: (f64, f64), r: f64, color: Rgb },
    /// One line of text, `at` its baseline's anchor point.
    Text { at: (f64, f64), text: String, size: f64, anchor: Anchor, color: Rgb },
}

/// A page of shapes, drawn in order (later ones on top).
#[derive(Clone, Debug, PartialEq)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    pub shapes: Vec<Mark>,
}

impl Scene {
    pub fn new(width: u32, height: u32) -> Self {
        Self { width, height, shapes: Vec::new() }
    }

    pub fn push(&mut self, shape: Mark) {
        self.shapes.push(shape);
    }

    /// A black line of text.
    pub fn text(&mut self, at: (f64, f64), text: impl Into<String>, size: f64, anchor: Anchor) {
        self.push(Mark::Text { at, text: text.into(), size, anchor, color: Rgb::BLACK });
    }

    /// A straight line from `a` to `b`.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64), color: Rgb, dashed: bool) {
        self.push(Mark::Line { from: a, to: b, color, dashed });
    }
}
