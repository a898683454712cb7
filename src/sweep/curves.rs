//! The variants' validation curves as an SVG: per variant, the mean over
//! seeds at each epoch as a line and mean ± one standard deviation as a
//! band, with axes, ticks and a legend. Written by hand (a few polylines)
//! rather than through a plotting crate: no fonts to find on a server.

use std::fmt::Write;

use super::board::{Board, Metric};
use super::probe::Probe;
use super::stats::Spread;

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 30.0;
const BOTTOM: f64 = 44.0;
const COLORS: [&str; 8] = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

/// Mean and spread per epoch of one variant's runs.
fn series(b: &Board, row: usize, probes: &[Probe]) -> Vec<(f64, Spread)> {
    let tasks = &b.rows[row].tasks;
    let longest = tasks.iter().filter_map(|&i| probes.get(i)).map(|p| p.curve.len()).max().unwrap_or(0);
    (0..longest)
        .filter_map(|k| {
            let values: Vec<f64> = tasks
                .iter()
                .filter_map(|&i| probes.get(i)?.curve.get(k))
                .filter_map(|p| if b.metric == Metric::ValAcc { p.val_acc } else { Some(p.val_loss) })
                .filter(|v| v.is_finite())
                .collect();
            Some(((k + 1) as f64, Spread::of(&values)?))
        })
        .collect()
}

fn escape(s: &str) -> String {
    crate::format::clean(s).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The SVG document (probes read with their curves).
pub fn svg(title: &str, b: &Board, probes: &[Probe]) -> String {
    let all: Vec<Vec<(f64, Spread)>> = (0..b.rows.len()).map(|r| series(b, r, probes)).collect();
    let xs = all.iter().flatten().map(|(x, _)| *x);
    let x_max = xs.fold(1.0f64, f64::max);
    let ys: Vec<f64> = all.iter().flatten().flat_map(|(_, s)| [s.mean - s.sd, s.mean + s.sd]).collect();
    let (mut y_min, mut y_max) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, z), &v| (a.min(v), z.max(v)));
    if !y_min.is_finite() || !y_max.is_finite() {
        (y_min, y_max) = (0.0, 1.0);
    }
    if y_max - y_min < 1e-9 {
        y_max = y_min + 1.0;
    }
    let px = |x: f64| LEFT + (x - 1.0) / (x_max - 1.0).max(1.0) * (W - LEFT - RIGHT);
    let py = |y: f64| TOP + (y_max - y) / (y_max - y_min) * (H - TOP - BOTTOM);
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{LEFT}" y="18" font-size="14">{} ({} per epoch, mean ± sd over seeds)</text>"#,
        escape(title),
        b.metric.name()
    );
    axes(&mut o, x_max, y_min, y_max, &px, &py);
    for (r, points) in all.iter().enumerate() {
        variant(&mut o, r, points, &b.rows[r].label, &px, &py);
    }
    o.push_str("</svg>\n");
    o
}

/// One variant's band, mean line and legend entry.
fn variant(
    o: &mut String,
    r: usize,
    points: &[(f64, Spread)],
    label: &str,
    px: &dyn Fn(f64) -> f64,
    py: &dyn Fn(f64) -> f64,
) {
    let color = COLORS[r % COLORS.len()];
    let at = |x: f64, y: f64| format!("{:.1},{:.1}", px(x), py(y));
    let upper: Vec<String> = points.iter().map(|(x, s)| at(*x, s.mean + s.sd)).collect();
    let lower: Vec<String> = points.iter().rev().map(|(x, s)| at(*x, s.mean - s.sd)).collect();
    let line: Vec<String> = points.iter().map(|(x, s)| at(*x, s.mean)).collect();
    let _ = writeln!(
        o,
        r#"<polygon points="{} {}" fill="{color}" fill-opacity="0.18" stroke="none"/>"#,
        upper.join(" "),
        lower.join(" ")
    );
    let _ = writeln!(o, r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#, line.join(" "));
    let ly = TOP + 16.0 * r as f64;
    let _ = writeln!(o, r#"<rect x="{}" y="{}" width="14" height="4" fill="{color}"/>"#, W - RIGHT + 14.0, ly + 4.0);
    let _ = writeln!(o, r#"<text x="{}" y="{}">{}</text>"#, W - RIGHT + 34.0, ly + 10.0, escape(label));
}

fn axes(o: &mut String, x_max: f64, y_min: f64, y_max: f64, px: &dyn Fn(f64) -> f64, py: &dyn Fn(f64) -> f64) {
    let (x0, x1, y0, y1) = (LEFT, W - RIGHT, TOP, H - BOTTOM);
    let _ = writeln!(o, r#"<path d="M{x0},{y0} L{x0},{y1} L{x1},{y1}" fill="none" stroke="black"/>"#);
    for k in 0..=4 {
        let y = y_min + (y_max - y_min) * k as f64 / 4.0;
        let _ = writeln!(o, r#"<text x="{}" y="{:.1}" text-anchor="end">{y:.3}</text>"#, x0 - 6.0, py(y) + 4.0);
        let _ = writeln!(o, r##"<line x1="{x0}" x2="{x1}" y1="{0:.1}" y2="{0:.1}" stroke="#ddd"/>"##, py(y));
        let x = 1.0 + (x_max - 1.0) * k as f64 / 4.0;
        let _ = writeln!(o, r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#, px(x), y1 + 16.0, x.round());
    }
    let _ = writeln!(o, r#"<text x="{:.1}" y="{}" text-anchor="middle">epoch</text>"#, (x0 + x1) / 2.0, H - 8.0);
}
