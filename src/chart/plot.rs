//! A plot on a [`Scene`]: a rectangle that maps data to pixels (linear, or
//! log10 for values spanning decades such as gradient norms), the axes with
//! round tick values and their labels, curves, and a legend. Every chart
//! traintop writes is made of these.

use super::scene::{Anchor, Mark, Rgb, Scene};
use crate::format::fmt_sci;

/// Distinct line colors, in the order series take them.
pub const PALETTE: [Rgb; 8] = [
    Rgb(0x1f, 0x77, 0xb4),
    Rgb(0xd6, 0x27, 0x28),
    Rgb(0x2c, 0xa0, 0x2c),
    Rgb(0xff, 0x7f, 0x0e),
    Rgb(0x94, 0x67, 0xbd),
    Rgb(0x8c, 0x56, 0x4b),
    Rgb(0xe3, 0x77, 0xc2),
    Rgb(0x17, 0xbe, 0xcf),
];

/// A part of the page a chart is drawn in: left, top, width, height.
pub type Panel = (f64, f64, f64, f64);

/// The `i`th series' color.
pub fn color(i: usize) -> Rgb {
    PALETTE[i % PALETTE.len()]
}

/// A closed interval of data values, never empty.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub lo: f64,
    pub hi: f64,
}

impl Span {
    /// The finite values' extent; `fallback` when there are none, widened
    /// around a single value so it is drawn mid-height.
    pub fn of(values: impl IntoIterator<Item = f64>, fallback: Span) -> Span {
        let (lo, hi) = values
            .into_iter()
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), v| (a.min(v), z.max(v)));
        if !lo.is_finite() {
            return fallback;
        }
        if hi - lo < 1e-12 * lo.abs().max(1.0) {
            let pad = (lo.abs() * 0.1).max(0.5);
            return Span { lo: lo - pad, hi: hi + pad };
        }
        Span { lo, hi }
    }
}

/// A plot area in pixels and the data it shows.
#[derive(Clone, Copy, Debug)]
pub struct PlotArea {
    /// Left, top, right, bottom edges of the area inside the axes.
    pub area: (f64, f64, f64, f64),
    pub x: Span,
    /// In data values; with `log_y` both ends must be positive.
    pub y: Span,
    pub log_y: bool,
}

impl PlotArea {
    fn y_value(&self, y: f64) -> f64 {
        if self.log_y {
            y.log10()
        } else {
            y
        }
    }

    pub fn px(&self, x: f64) -> f64 {
        let (l, _, r, _) = self.area;
        l + (x - self.x.lo) / (self.x.hi - self.x.lo) * (r - l)
    }

    pub fn py(&self, y: f64) -> f64 {
        let (_, t, _, b) = self.area;
        let (lo, hi) = (self.y_value(self.y.lo), self.y_value(self.y.hi));
        b - (self.y_value(y) - lo) / (hi - lo) * (b - t)
    }

    /// Whether `y` can be placed (finite, and positive on a log scale).
    fn shows(&self, y: f64) -> bool {
        y.is_finite() && (!self.log_y || y > 0.0)
    }

    /// The frame, grid lines and tick labels, and `x_label` under the x axis.
    pub fn axes(&self, s: &mut Scene, x_label: &str) {
        let (l, t, r, b) = self.area;
        s.line((l, t), (l, b), Rgb::BLACK, false);
        s.line((l, b), (r, b), Rgb::BLACK, false);
        let y_ticks = if self.log_y { decades(self.y) } else { ticks(self.y, 5) };
        let y_labels = if self.log_y {
            y_ticks.iter().map(|y| format!("1e{}", y.log10().round())).collect()
        } else {
            labels(&y_ticks)
        };
        for (y, label) in y_ticks.iter().zip(y_labels) {
            let at = self.py(*y);
            s.line((l, at), (r, at), Rgb::GRID, false);
            s.text((l - 5.0, at + 4.0), label, 11.0, Anchor::End);
        }
        let x_ticks = ticks(self.x, 5);
        for (x, label) in x_ticks.iter().zip(labels(&x_ticks)) {
            let at = self.px(*x);
            s.line((at, b), (at, b + 4.0), Rgb::BLACK, false);
            s.text((at, b + 16.0), label, 11.0, Anchor::Middle);
        }
        s.text(((l + r) / 2.0, b + 30.0), x_label, 12.0, Anchor::Middle);
    }

    /// `points` as a line, broken where a value cannot be placed (NaN, or
    /// not positive on a log scale); long series are thinned to about two
    /// points a pixel, keeping each pixel's lowest and highest value.
    pub fn curve(&self, s: &mut Scene, points: &[(f64, f64)], color: Rgb, width: f64) {
        let mut run: Vec<(f64, f64)> = Vec::new();
        for &(x, y) in &thin(self, points) {
            if self.shows(y) {
                run.push((self.px(x), self.py(y)));
            } else if !run.is_empty() {
                s.push(Mark::Polyline { points: std::mem::take(&mut run), color, width });
            }
        }
        if !run.is_empty() {
            s.push(Mark::Polyline { points: run, color, width });
        }
    }

    /// A dot at each value that can be placed.
    pub fn dots(&self, s: &mut Scene, points: &[(f64, f64)], color: Rgb) {
        for &(x, y) in points.iter().filter(|(_, y)| self.shows(*y)) {
            s.push(Mark::Dot { at: (self.px(x), self.py(y)), r: 2.5, color });
        }
    }

    /// A dashed vertical line at `x` with `label` at its top.
    pub fn marker(&self, s: &mut Scene, x: f64, label: &str) {
        let (_, t, _, b) = self.area;
        let at = self.px(x);
        s.line((at, t), (at, b), Rgb::GREY, true);
        s.push(Mark::Text {
            at: (at + 3.0, t + 10.0),
            text: label.into(),
            size: 10.0,
            anchor: Anchor::Start,
            color: Rgb::GREY,
        });
    }
}

/// At most about two points per pixel column: each column's first, lowest
/// and highest value, so spikes survive the thinning.
fn thin(plot: &PlotArea, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let columns = (plot.area.2 - plot.area.0).max(1.0);
    if points.len() as f64 <= 2.0 * columns {
        return points.to_vec();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let col = plot.px(points[i].0).floor();
        let j = (i..points.len()).find(|&k| plot.px(points[k].0).floor() != col).unwrap_or(points.len());
        let group = &points[i..j];
        let lo = group.iter().filter(|p| p.1.is_finite()).min_by(|a, b| a.1.total_cmp(&b.1));
        let hi = group.iter().filter(|p| p.1.is_finite()).max_by(|a, b| a.1.total_cmp(&b.1));
        out.push(group[0]);
        out.extend(lo.into_iter().chain(hi).filter(|p| **p != group[0]).copied());
        i = j;
    }
    out
}

/// Round values (1, 2 or 5 times a power of ten) inside `span`, about `n`.
pub fn ticks(span: Span, n: usize) -> Vec<f64> {
    let raw = (span.hi - span.lo) / n.max(1) as f64;
    if !(raw.is_finite() && raw > 0.0) {
        return vec![span.lo];
    }
    let mag = 10f64.powf(raw.log10().floor());
    // A little under `raw` is allowed, so 3..97 gets 20, 40, 60, 80 rather than 50 alone.
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= 0.75 * raw).unwrap_or(10.0 * mag);
    let first = (span.lo / step).ceil() as i64;
    let last = (span.hi / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Tick labels with the decimals their spacing needs, all alike (`0.2`,
/// `0.4`; `50`, `100`); very large or small values as `1.2e6`.
fn labels(ticks: &[f64]) -> Vec<String> {
    let step = match ticks {
        [a, b, ..] => b - a,
        _ => 1.0,
    };
    let biggest = ticks.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if biggest >= 1e6 || (biggest > 0.0 && biggest < 1e-4) {
        return ticks.iter().map(|v| fmt_sci(*v)).collect();
    }
    let decimals = (-step.log10().floor()).clamp(0.0, 6.0) as usize;
    ticks.iter().map(|v| format!("{v:.decimals$}")).collect()
}

/// The powers of ten inside `span` (positive), at most about eight.
fn decades(span: Span) -> Vec<f64> {
    let (lo, hi) = (span.lo.log10().ceil() as i32, span.hi.log10().floor() as i32);
    let every = ((hi - lo) / 8 + 1).max(1);
    (lo..=hi).filter(|e| (e - lo) % every == 0).map(|e| 10f64.powi(e)).collect()
}

/// The legend, a colored swatch and a name per row from `(x, y)` down;
/// rows past `max_rows` are counted in a last row.
pub fn legend(s: &mut Scene, (x, y): (f64, f64), entries: &[(String, Rgb)], max_rows: usize) {
    let shown = if entries.len() > max_rows { max_rows.saturating_sub(1) } else { entries.len() };
    for (i, (name, color)) in entries.iter().take(shown).enumerate() {
        let row = y + 15.0 * i as f64;
        s.push(Mark::Rect { x, y: row - 6.0, w: 14.0, h: 4.0, fill: Some(*color), stroke: None });
        s.text((x + 20.0, row), name.clone(), 11.0, Anchor::Start);
    }
    if shown < entries.len() {
        s.text((x, y + 15.0 * shown as f64), format!("+{} more", entries.len() - shown), 11.0, Anchor::Start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        assert_eq!(ticks(Span { lo: 0.0, hi: 1.0 }, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(Span { lo: 3.0, hi: 97.0 }, 4), vec![20.0, 40.0, 60.0, 80.0]);
        assert_eq!(labels(&[0.0, 0.2, 0.4]), ["0.0", "0.2", "0.4"]);
        assert_eq!(labels(&[50.0, 100.0, 150.0]), ["50", "100", "150"]);
        assert_eq!(labels(&[0.0, 0.05]), ["0.00", "0.05"]);
        assert_eq!(decades(Span { lo: 0.005, hi: 20.0 }), vec![0.01, 0.1, 1.0, 10.0]);
    }

    #[test]
    fn spans_survive_single_and_missing_values() {
        let fallback = Span { lo: 0.0, hi: 1.0 };
        assert_eq!(Span::of([f64::NAN], fallback), fallback);
        let one = Span::of([2.0, 2.0], fallback);
        assert!(one.lo < 2.0 && one.hi > 2.0);
    }

    #[test]
    fn a_curve_breaks_at_nan_and_long_curves_are_thinned_keeping_spikes() {
        let plot = PlotArea {
            area: (0.0, 0.0, 100.0, 100.0),
            x: Span { lo: 0.0, hi: 10_000.0 },
            y: Span { lo: 0.0, hi: 10.0 },
            log_y: false,
        };
        let mut s = Scene::new(100, 100);
        plot.curve(&mut s, &[(0.0, 1.0), (1.0, 2.0), (2.0, f64::NAN), (3.0, 1.0), (4.0, 1.0)], Rgb::BLACK, 1.0);
        assert_eq!(s.shapes.len(), 2);
        let long: Vec<(f64, f64)> = (0..10_000).map(|i| (i as f64, if i == 5_000 { 9.0 } else { 1.0 })).collect();
        let thinned = thin(&plot, &long);
        assert!(thinned.len() <= 300, "{}", thinned.len());
        assert!(thinned.contains(&(5_000.0, 9.0)), "the spike is kept");
    }
}
