//! A run's charts on one page: loss (train per logged step, validation per
//! epoch end, the markers where commands took effect) and accuracy side by
//! side, the gradient norm history per parameter (log scale) below, and the
//! validation confusion matrix beside it where the run has one. The same
//! panels the dashboard shows, for a report.

use super::confusion;
use super::series::RunSeries;
use crate::chart::plot::{color, legend, Panel, PlotArea, Span};
use crate::chart::{Anchor, Rgb, Scene};

/// Room around a panel's plot: for tick labels left, the title above, the
/// ticks and axis name below.
const LEFT: f64 = 62.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 42.0;
/// The legend's column right of a plot.
const LEGEND: f64 = 150.0;

/// The page of `series`' charts, `width` by `height` pixels.
pub fn page(series: &RunSeries, width: u32, height: u32) -> Scene {
    let mut s = Scene::new(width, height);
    s.text((12.0, 22.0), heading(series), 16.0, Anchor::Start);
    let (w, h) = (f64::from(width), f64::from(height));
    let (top, half_w, half_h) = (34.0, w / 2.0, (h - 34.0) / 2.0);
    let has_accuracy =
        series.steps.iter().any(|r| r.acc.is_some()) || series.epochs.iter().any(|e| e.val_acc.is_some());
    if has_accuracy {
        loss(&mut s, series, (0.0, top, half_w, half_h));
        accuracy(&mut s, series, (half_w, top, half_w, half_h));
    } else {
        // A regression run: the loss takes the row.
        loss(&mut s, series, (0.0, top, w, half_h));
    }
    match &series.confusion {
        Some(c) => {
            gradients(&mut s, series, (0.0, top + half_h, half_w, half_h));
            confusion::panel(&mut s, c, (half_w, top + half_h, half_w, half_h));
        }
        None => gradients(&mut s, series, (0.0, top + half_h, w, half_h)),
    }
    s
}

fn heading(series: &RunSeries) -> String {
    let last = series.steps.last().map_or(0, |s| s.step).max(series.epochs.last().map_or(0, |e| e.step));
    let stop = series.stop.map_or("not finished".to_string(), |r| format!("finished: {}", r.as_str()));
    format!("{} · {stop} · step {last}, {} epochs", series.name, series.epochs.len())
}

/// The plot inside `panel`, its title drawn, leaving a legend column.
fn plot_in(s: &mut Scene, panel: Panel, title: &str, x: Span, y: Span, log_y: bool) -> PlotArea {
    let (l, t, w, h) = panel;
    s.text((l + LEFT, t + 18.0), title, 13.0, Anchor::Start);
    let area = (l + LEFT, t + TOP, (l + w - LEGEND).max(l + LEFT + 10.0), t + h - BOTTOM);
    let plot = PlotArea { area, x, y, log_y };
    plot.axes(s, "step");
    plot
}

/// Every step either series has, for a shared x axis.
fn steps_span(series: &RunSeries) -> Span {
    let xs = series.steps.iter().map(|s| s.step as f64).chain(series.epochs.iter().map(|e| e.step as f64));
    Span::of(xs, Span { lo: 0.0, hi: 1.0 })
}

fn loss(s: &mut Scene, series: &RunSeries, panel: Panel) {
    let train: Vec<(f64, f64)> = series.steps.iter().map(|r| (r.step as f64, f64::from(r.loss))).collect();
    let val: Vec<(f64, f64)> = series.epochs.iter().map(|e| (e.step as f64, f64::from(e.val_loss))).collect();
    let y = Span::of(train.iter().chain(&val).map(|p| p.1), Span { lo: 0.0, hi: 1.0 });
    let plot = plot_in(s, panel, "loss", steps_span(series), y, false);
    for (step, label) in &series.markers {
        plot.marker(s, *step as f64, label);
    }
    train_and_validation(s, &plot, &train, &val);
}

fn accuracy(s: &mut Scene, series: &RunSeries, panel: Panel) {
    let train: Vec<(f64, f64)> = series.steps.iter().filter_map(|r| Some((r.step as f64, f64::from(r.acc?)))).collect();
    let val: Vec<(f64, f64)> =
        series.epochs.iter().filter_map(|e| Some((e.step as f64, f64::from(e.val_acc?)))).collect();
    let y = Span::of(train.iter().chain(&val).map(|p| p.1), Span { lo: 0.0, hi: 1.0 });
    let plot = plot_in(s, panel, "accuracy", steps_span(series), y, false);
    train_and_validation(s, &plot, &train, &val);
}

/// A train curve per step, a validation curve with a dot per epoch end,
/// and their legend.
fn train_and_validation(s: &mut Scene, plot: &PlotArea, train: &[(f64, f64)], val: &[(f64, f64)]) {
    plot.curve(s, train, color(0), 1.5);
    plot.curve(s, val, color(1), 2.0);
    plot.dots(s, val, color(1));
    let names = [("train (per step)".to_string(), color(0)), ("validation (per epoch)".to_string(), color(1))];
    legend(s, (plot.area.2 + 12.0, plot.area.1 + 10.0), &names, 8);
}

fn gradients(s: &mut Scene, series: &RunSeries, panel: Panel) {
    let names = series.parameters();
    let curves: Vec<Vec<(f64, f64)>> = names.iter().map(|n| series.gradient(n)).collect();
    let positive = curves.iter().flatten().map(|p| p.1).filter(|v| v.is_finite() && *v > 0.0);
    let (lo, hi) = positive.fold((f64::INFINITY, 0.0f64), |(a, z), v| (a.min(v), z.max(v)));
    let y = if lo.is_finite() { Span { lo: lo / 1.5, hi: hi * 1.5 } } else { Span { lo: 1e-3, hi: 10.0 } };
    let plot = plot_in(s, panel, "gradient norm per parameter (log scale)", steps_span(series), y, true);
    if names.is_empty() {
        s.text((plot.area.0 + 10.0, plot.area.1 + 20.0), "no gradient norms recorded", 12.0, Anchor::Start);
    }
    for (i, points) in curves.iter().enumerate() {
        plot.curve(s, points, color(i), 1.5);
    }
    let rows = ((plot.area.3 - plot.area.1) / 15.0).floor().max(1.0) as usize;
    let entries: Vec<(String, Rgb)> =
        names.iter().enumerate().map(|(i, n)| (crate::format::truncate(n, 20), color(i))).collect();
    legend(s, (plot.area.2 + 12.0, plot.area.1 + 10.0), &entries, rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chart::Mark;
    use crate::protocol::StepRecord;

    fn texts(s: &Scene) -> Vec<&str> {
        s.shapes
            .iter()
            .filter_map(|sh| match sh {
                Mark::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_run_without_accuracy_or_confusion_gets_loss_and_gradients_only() {
        let step = |n: u64| StepRecord {
            step: n,
            epoch: 1,
            loss: 1.0 / n as f32,
            objective: None,
            acc: None,
            lr: 0.1,
            samples_per_sec: 1.0,
            wall_time: 0.0,
            grad_norms: vec![("w".into(), 0.5)],
            saturation: vec![],
            metrics: vec![],
        };
        let series = RunSeries { name: "r".into(), steps: (1..=5).map(step).collect(), ..RunSeries::default() };
        let page = page(&series, 800, 600);
        let t = texts(&page);
        assert!(t.contains(&"loss") && t.contains(&"gradient norm per parameter (log scale)"), "{t:?}");
        assert!(!t.contains(&"accuracy") && !t.iter().any(|x| x.starts_with("confusion")), "{t:?}");
        assert!(t.contains(&"r · not finished · step 5, 0 epochs"), "{t:?}");
    }
}
