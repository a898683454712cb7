//! The variants' validation curves as an SVG: per variant, the mean over
//! seeds at each epoch as a line and mean ± one standard deviation as a
//! band, with axes, ticks and a legend. Drawn through `chart` (a few
//! polylines written by hand, no fonts to find on a server).

use super::board::Board;
use super::probe::Probe;
use super::stats::Spread;
use crate::chart::plot::{color, legend, PlotArea, Span};
use crate::chart::{svg, Anchor, Mark, Scene};
use crate::protocol::ValMetric;

const W: u32 = 720;
const H: u32 = 420;
/// The plot's edges; the legend sits right of it.
const AREA: (f64, f64, f64, f64) = (64.0, 30.0, 500.0, 376.0);

/// Mean and spread per epoch of one variant's runs.
fn series(b: &Board, row: usize, probes: &[Probe]) -> Vec<(f64, Spread)> {
    let tasks = &b.rows[row].tasks;
    let longest = tasks.iter().filter_map(|&i| probes.get(i)).map(|p| p.curve.len()).max().unwrap_or(0);
    (0..longest)
        .filter_map(|k| {
            let values: Vec<f64> = tasks
                .iter()
                .filter_map(|&i| probes.get(i)?.curve.get(k))
                .filter_map(|p| if b.metric == ValMetric::ValAcc { p.val_acc } else { Some(p.val_loss) })
                .filter(|v| v.is_finite())
                .collect();
            Some(((k + 1) as f64, Spread::of(&values)?))
        })
        .collect()
}

/// The SVG document (probes read with their curves).
pub fn svg(title: &str, b: &Board, probes: &[Probe]) -> String {
    let all: Vec<Vec<(f64, Spread)>> = (0..b.rows.len()).map(|r| series(b, r, probes)).collect();
    let x_max = all.iter().flatten().map(|(x, _)| *x).fold(1.0f64, f64::max);
    let ys = all.iter().flatten().flat_map(|(_, s)| [s.mean - s.sd, s.mean + s.sd]);
    let plot = PlotArea {
        area: AREA,
        x: Span { lo: 1.0, hi: x_max.max(2.0) },
        y: Span::of(ys, Span { lo: 0.0, hi: 1.0 }),
        log_y: false,
    };
    let mut scene = Scene::new(W, H);
    let heading = format!("{title} ({} per epoch, mean ± sd over seeds)", b.metric.name());
    scene.text((AREA.0, 18.0), heading, 14.0, Anchor::Start);
    plot.axes(&mut scene, "epoch");
    for (r, points) in all.iter().enumerate() {
        variant(&mut scene, &plot, r, points);
    }
    let names: Vec<_> = b.rows.iter().enumerate().map(|(r, row)| (row.label.clone(), color(r))).collect();
    legend(&mut scene, (AREA.2 + 14.0, AREA.1 + 10.0), &names, 22);
    svg::render(&scene)
}

/// One variant's band and mean line.
fn variant(scene: &mut Scene, plot: &PlotArea, r: usize, points: &[(f64, Spread)]) {
    let at = |x: f64, y: f64| (plot.px(x), plot.py(y));
    let upper = points.iter().map(|(x, s)| at(*x, s.mean + s.sd));
    let lower = points.iter().rev().map(|(x, s)| at(*x, s.mean - s.sd));
    scene.push(Mark::Polygon { points: upper.chain(lower).collect(), color: color(r), opacity: 0.18 });
    let line: Vec<(f64, f64)> = points.iter().map(|(x, s)| (*x, s.mean)).collect();
    plot.curve(scene, &line, color(r), 2.0);
}
