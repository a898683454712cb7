//! A line plot shared by the loss and accuracy charts. It draws its own axes
//! (rather than ratatui's `Chart`) because it must know exactly which column
//! a step lands in: command markers are drawn there as a vertical line with
//! their label at the top. Series are drawn one canvas each, so each keeps
//! its marker shape and the plot stays readable without color.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::canvas::{Canvas, Line as CanvasLine, Points};
use ratatui::widgets::{Block, Widget};

use super::{thousands, truncate};
use crate::tui::reading::value_at;
use crate::tui::theme::Theme;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Line,
    Scatter,
}

/// One curve: its points in data space (x = step).
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: Color,
    pub marker: Marker,
    pub kind: Kind,
}

/// The widget.
pub struct Plot<'a> {
    pub title: String,
    pub series: Vec<Series>,
    /// Vertical markers: (step, label), oldest first.
    pub markers: Vec<(f64, &'a str)>,
    pub log_y: bool,
    /// Limits the y range is never padded beyond (accuracy: 0 and 1).
    pub clamp: Option<(f64, f64)>,
    pub fmt_y: fn(f64) -> String,
    /// What x counts ("step", or "epoch" when comparing runs).
    pub x_label: &'a str,
    /// Shown when there is nothing to plot yet.
    pub empty: &'a str,
    /// Where the x axis starts and the cursor stands (the dashboard's `z`
    /// and arrow keys).
    pub view: ChartView,
    pub theme: Theme,
}

/// What part of a chart is shown, and the cursor's step: its value on
/// each curve goes into the title.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChartView {
    /// The last N steps shown, from this one (`None`: all of them).
    pub zoom: Option<(u64, f64)>,
    pub cursor: Option<f64>,
}

/// The step axis: `12.5k` beyond ten thousand.
fn fmt_x(x: f64) -> String {
    if x.abs() >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The legend's names, the longest shortened first until the legend (each
/// entry ` s name `) fits in `room` columns.
fn fit_names(names: Vec<&str>, room: usize) -> Vec<String> {
    let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
    while widths.iter().map(|w| w + 4).sum::<usize>() > room {
        let Some((i, &w)) = widths.iter().enumerate().max_by_key(|(_, w)| **w) else { break };
        if w <= 2 {
            break;
        }
        widths[i] = w - 1;
    }
    names.iter().zip(widths).map(|(n, w)| truncate(n, w)).collect()
}

impl Plot<'_> {
    fn plot_y(&self, y: f64) -> Option<f64> {
        let v = if self.log_y { (y > 0.0).then(|| y.log10())? } else { y };
        v.is_finite().then_some(v)
    }

    fn data_y(&self, v: f64) -> f64 {
        if self.log_y {
            10f64.powf(v)
        } else {
            v
        }
    }
}

/// The data ranges the plot spans, after padding and clamping.
#[derive(Clone, Copy)]
struct Bounds {
    x: (f64, f64),
    y: (f64, f64),
}

/// A series' points as plotted (log-scaled where asked, finite only).
type Visible<'s> = Vec<(&'s Series, Vec<(f64, f64)>)>;

impl Widget for Plot<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = self.block(area.width);
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 12 || inner.height < 3 {
            return;
        }
        let series = self.visible();
        if series.iter().all(|(_, p)| p.is_empty()) {
            self.render_empty(inner, buf);
            return;
        }
        let bounds = Bounds { x: self.x_range(&series), y: self.y_range(&series) };
        let Some(plot) = self.render_axes(inner, bounds, buf) else {
            return;
        };
        // Marker lines first, so the data draws over them; their labels
        // last, so nothing covers them.
        let col_of = |x: f64| {
            let (x0, x1) = bounds.x;
            plot.x + (((x - x0) / (x1 - x0)) * (plot.width - 1) as f64).round() as u16
        };
        let marker_cols: Vec<(u16, &str)> = self
            .markers
            .iter()
            .chain(self.view.cursor.map(|c| (c, "▼")).as_ref())
            .filter(|(x, _)| self.shows(*x))
            .map(|(x, label)| (col_of(*x), *label))
            .collect();
        self.render_marker_lines(&marker_cols, plot, buf);
        render_series(&series, bounds, plot, buf);
        self.render_marker_labels(marker_cols, plot, buf);
    }
}

impl Plot<'_> {
    /// The border with the title, and a legend that shows each series'
    /// symbol, so that series are told apart without color too.
    fn block(&self, width: u16) -> Block<'static> {
        let shown: Vec<&Series> = self.series.iter().filter(|s| !s.points.is_empty()).collect();
        let names = fit_names(shown.iter().map(|s| s.name.as_str()).collect(), width.saturating_sub(2) as usize);
        let legend: Vec<Span> = shown
            .iter()
            .zip(names)
            .map(|(s, name)| {
                let sym = match (s.kind, s.marker) {
                    (Kind::Scatter, _) | (_, Marker::Dot) => "•",
                    (_, Marker::Block) => "█",
                    (_, Marker::HalfBlock) => "▀",
                    (_, Marker::Bar) => "▄",
                    _ => "━",
                };
                Span::styled(format!(" {sym} {name} "), ratatui::style::Style::default().fg(s.color))
            })
            .collect();
        Block::bordered()
            .title(Span::styled(format!(" {}{} ", self.title, self.readout()), self.theme.title()))
            .title_bottom(Line::from(legend).right_aligned())
    }

    /// Whether step `x` is in the part shown.
    fn shows(&self, x: f64) -> bool {
        x.is_finite() && self.view.zoom.is_none_or(|(_, from)| x >= from)
    }

    /// The zoom, then the cursor's step and each curve's value there.
    fn readout(&self) -> String {
        let mut text = match self.view.zoom {
            Some((n, _)) => format!(" · last {}", thousands(n)),
            None => String::new(),
        };
        let Some(at) = self.view.cursor else { return text };
        let values = self
            .series
            .iter()
            .filter_map(|s| value_at(&s.points, at).map(|v| format!("{} {}", s.name, (self.fmt_y)(v))));
        text.push_str(&format!(" · {} {}: ", self.x_label, thousands(at as u64)));
        text.push_str(&values.collect::<Vec<_>>().join(" · "));
        text
    }

    fn visible(&self) -> Visible<'_> {
        self.series
            .iter()
            .map(|s| {
                let pts = s
                    .points
                    .iter()
                    .filter_map(|&(x, y)| Some((x, self.plot_y(y)?)))
                    .filter(|(x, _)| self.shows(*x))
                    .collect();
                (s, pts)
            })
            .collect()
    }

    fn render_empty(&self, inner: Rect, buf: &mut Buffer) {
        let y = inner.y + inner.height / 2;
        let text = truncate(self.empty, inner.width as usize);
        let x = inner.x + (inner.width - text.chars().count() as u16) / 2;
        buf.set_string(x, y, text, self.theme.dim());
    }

    /// The steps the data and the markers span (never a zero-wide range).
    fn x_range(&self, series: &Visible) -> (f64, f64) {
        let xs = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.0));
        let marks = self.markers.iter().map(|(m, _)| *m).filter(|m| self.shows(*m));
        let (x0, x1) = xs.chain(marks).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        if x1 - x0 < 1e-9 {
            (x0 - 1.0, x1 + 1.0)
        } else {
            (x0, x1)
        }
    }

    /// The values' range padded by 5% (or a little around a flat line), and
    /// kept within `clamp`.
    fn y_range(&self, series: &Visible) -> (f64, f64) {
        let ys = series.iter().flat_map(|(_, p)| p.iter().map(|p| p.1));
        let (y0, y1) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
        let span = y1 - y0;
        let pad = match () {
            _ if span >= 1e-12 => span * 0.05,
            _ if self.log_y => 0.1,
            _ => (y0.abs() * 0.1).max(1e-3),
        };
        let (lo, hi) = self.clamp.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        ((y0 - pad).max(lo), (y1 + pad).min(hi))
    }

    /// Y labels (top, middle when there is room, bottom), the axes and the
    /// x labels. Returns the area left for the data, or `None` when the
    /// labels leave too little.
    fn render_axes(&self, inner: Rect, b: Bounds, buf: &mut Buffer) -> Option<Rect> {
        let dim = self.theme.dim();
        let (y0, y1) = b.y;
        let plot_h = inner.height - 1;
        let label = |v: f64| (self.fmt_y)(self.data_y(v));
        let mut ylabels: Vec<(u16, String)> = vec![(0, label(y1)), (plot_h - 1, label(y0))];
        if plot_h >= 5 {
            ylabels.push((plot_h / 2, label((y0 + y1) / 2.0)));
        }
        let label_w = ylabels.iter().map(|(_, s)| s.chars().count()).max().unwrap_or(0).min(9) as u16;
        if inner.width <= label_w + 8 {
            return None;
        }
        let plot = Rect { x: inner.x + label_w + 1, y: inner.y, width: inner.width - label_w - 1, height: plot_h };
        for (row, s) in &ylabels {
            let s = truncate(s, label_w as usize);
            let x = inner.x + label_w - s.chars().count() as u16;
            buf.set_string(x, plot.y + row, s, dim);
        }
        for row in 0..plot.height {
            buf.set_string(inner.x + label_w, plot.y + row, "│", dim);
        }
        let axis_y = plot.bottom();
        buf.set_string(inner.x + label_w, axis_y, "└", dim);
        let (lx, rx) = (fmt_x(b.x.0.max(0.0).round()), fmt_x(b.x.1.round()));
        let rx_w = rx.chars().count() as u16;
        if plot.width > rx_w + lx.chars().count() as u16 + 1 {
            buf.set_string(plot.x, axis_y, &lx, dim);
            buf.set_string(plot.right() - rx_w, axis_y, &rx, dim);
        }
        let axis = self.x_label;
        if plot.width > rx_w + 2 * (axis.len() as u16 + 8) {
            let x = plot.x + (plot.width - axis.len() as u16) / 2;
            buf.set_string(x, axis_y, axis, dim);
        }
        Some(plot)
    }

    fn render_marker_lines(&self, marker_cols: &[(u16, &str)], plot: Rect, buf: &mut Buffer) {
        for (col, _) in marker_cols {
            for row in plot.top()..plot.bottom() {
                let cell = &mut buf[(*col, row)];
                if cell.symbol() == " " {
                    cell.set_symbol("┆").set_style(self.theme.marker());
                }
            }
        }
    }

    /// Newest first: each label gets the room up to the next one on its
    /// right.
    fn render_marker_labels(&self, mut marker_cols: Vec<(u16, &str)>, plot: Rect, buf: &mut Buffer) {
        marker_cols.sort_by_key(|(c, _)| std::cmp::Reverse(*c));
        let mut limit = plot.right();
        for (col, label) in marker_cols {
            let start = col + 1;
            let avail = limit.saturating_sub(start + 1) as usize;
            if avail >= 3 && start < limit {
                buf.set_string(start, plot.y, truncate(label, avail), self.theme.marker());
                limit = col;
            }
        }
    }
}

/// Each series on its own canvas, so each keeps its marker shape.
fn render_series(series: &Visible, b: Bounds, plot: Rect, buf: &mut Buffer) {
    for (s, pts) in series {
        let (color, kind) = (s.color, s.kind);
        Canvas::default()
            .marker(s.marker)
            .x_bounds([b.x.0, b.x.1])
            .y_bounds([b.y.0, b.y.1])
            .paint(|ctx| match kind {
                Kind::Line if pts.len() > 1 => {
                    for w in pts.windows(2) {
                        ctx.draw(&CanvasLine { x1: w[0].0, y1: w[0].1, x2: w[1].0, y2: w[1].1, color });
                    }
                }
                _ => ctx.draw(&Points { coords: pts, color }),
            })
            .render(plot, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::text;
    use crate::tui::panels::fmt_sci;

    fn plot(points: Vec<(f64, f64)>, markers: Vec<(f64, &str)>, log_y: bool) -> Buffer {
        let area = Rect::new(0, 0, 40, 10);
        let mut buf = Buffer::empty(area);
        Plot {
            title: "loss".into(),
            series: vec![Series {
                name: "train".into(),
                points,
                color: Color::Reset,
                marker: Marker::Braille,
                kind: Kind::Line,
            }],
            markers,
            log_y,
            clamp: None,
            fmt_y: fmt_sci,
            x_label: "step",
            view: ChartView::default(),
            empty: "waiting",
            theme: Theme::plain(),
        }
        .render(area, &mut buf);
        buf
    }

    #[test]
    fn empty_note() {
        assert!(text(&plot(vec![], vec![], false)).contains("waiting"));
        // Log scale drops what it cannot show.
        assert!(text(&plot(vec![(1.0, 0.0), (2.0, -1.0)], vec![], true)).contains("waiting"));
    }

    #[test]
    fn axes_and_marker() {
        let pts: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 1.0 / (1.0 + i as f64))).collect();
        let s = text(&plot(pts, vec![(50.0, "lr 0.1")], false));
        assert!(s.contains("lr 0.1"), "{s}");
        assert!(s.contains('┆'), "{s}");
        assert!(s.contains("100"), "{s}");
        assert!(s.contains("1.0"), "{s}");
    }

    #[test]
    fn log_scale_labels_are_values() {
        let pts = vec![(0.0, 1.0), (10.0, 0.01)];
        let s = text(&plot(pts, vec![], true));
        assert!(s.contains("1.26") || s.contains("1.25"), "{s}");
    }

    #[test]
    fn legend_names_shrink_to_fit() {
        assert_eq!(fit_names(vec!["base demo-no-bn", "val"], 40), ["base demo-no-bn", "val"]);
        let fitted = fit_names(vec!["base demo-no-bn", "train ema", "val"], 30);
        assert_eq!(fitted.iter().map(|n| n.chars().count() + 4).sum::<usize>(), 30, "{fitted:?}");
        assert!(fitted[0].ends_with('…') && fitted[2] == "val", "{fitted:?}");
    }

    #[test]
    fn tiny_areas() {
        for (w, h) in [(0, 0), (3, 3), (13, 5), (20, 4)] {
            let area = Rect::new(0, 0, w, h);
            let mut buf = Buffer::empty(area);
            Plot {
                title: "loss".into(),
                series: vec![],
                markers: vec![(1.0, "x")],
                log_y: false,
                clamp: None,
                fmt_y: fmt_sci,
                x_label: "step",
                view: ChartView::default(),
                empty: "waiting for data",
                theme: Theme::plain(),
            }
            .render(area, &mut buf);
        }
    }
}
