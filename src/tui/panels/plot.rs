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

use super::truncate;
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
    pub theme: Theme,
}

/// The step axis: `12.5k` beyond ten thousand.
fn fmt_x(x: f64) -> String {
    if x.abs() >= 1e4 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
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

impl Widget for Plot<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let legend: Vec<Span> = self
            .series
            .iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| {
                // The symbol the canvas draws with, so that the legend
                // tells series apart without color too.
                let sym = match (s.kind, s.marker) {
                    (Kind::Scatter, _) | (_, Marker::Dot) => "•",
                    (_, Marker::Block) => "█",
                    (_, Marker::HalfBlock) => "▀",
                    (_, Marker::Bar) => "▄",
                    _ => "━",
                };
                Span::styled(format!(" {sym} {} ", s.name), ratatui::style::Style::default().fg(s.color))
            })
            .collect();
        let block = Block::bordered()
            .title(Span::styled(format!(" {} ", self.title), t.title()))
            .title_bottom(Line::from(legend).right_aligned());
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 12 || inner.height < 3 {
            return;
        }

        let series: Vec<(&Series, Vec<(f64, f64)>)> = self
            .series
            .iter()
            .map(|s| {
                let pts = s
                    .points
                    .iter()
                    .filter_map(|&(x, y)| Some((x, self.plot_y(y)?)))
                    .filter(|(x, _)| x.is_finite())
                    .collect();
                (s, pts)
            })
            .collect();
        let all = || series.iter().flat_map(|(_, p)| p.iter());
        if all().next().is_none() {
            let y = inner.y + inner.height / 2;
            let text = truncate(self.empty, inner.width as usize);
            let x = inner.x + (inner.width - text.chars().count() as u16) / 2;
            buf.set_string(x, y, text, t.dim());
            return;
        }
        let (mut x0, mut x1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.0), b.max(p.0)));
        for (m, _) in &self.markers {
            if m.is_finite() {
                x0 = x0.min(*m);
                x1 = x1.max(*m);
            }
        }
        if x1 - x0 < 1e-9 {
            x0 -= 1.0;
            x1 += 1.0;
        }
        let (mut y0, mut y1) = all().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let span = y1 - y0;
        let pad = if span < 1e-12 {
            if self.log_y {
                0.1
            } else {
                (y0.abs() * 0.1).max(1e-3)
            }
        } else {
            span * 0.05
        };
        y0 -= pad;
        y1 += pad;
        if let Some((lo, hi)) = self.clamp {
            y0 = y0.max(lo);
            y1 = y1.min(hi);
        }

        // Y labels: top, middle (when there is room) and bottom.
        let plot_h = inner.height - 1;
        let mut ylabels: Vec<(u16, String)> =
            vec![(0, (self.fmt_y)(self.data_y(y1))), (plot_h - 1, (self.fmt_y)(self.data_y(y0)))];
        if plot_h >= 5 {
            ylabels.push((plot_h / 2, (self.fmt_y)(self.data_y((y0 + y1) / 2.0))));
        }
        let label_w = ylabels.iter().map(|(_, s)| s.chars().count()).max().unwrap_or(0).min(9) as u16;
        if inner.width <= label_w + 8 {
            return;
        }
        let plot = Rect { x: inner.x + label_w + 1, y: inner.y, width: inner.width - label_w - 1, height: plot_h };
        for (row, s) in &ylabels {
            let s = truncate(s, label_w as usize);
            let x = inner.x + label_w - s.chars().count() as u16;
            buf.set_string(x, plot.y + row, s, t.dim());
        }
        for row in 0..plot.height {
            buf.set_string(inner.x + label_w, plot.y + row, "│", t.dim());
        }
        let axis_y = plot.bottom();
        buf.set_string(inner.x + label_w, axis_y, "└", t.dim());
        let (lx, rx) = (fmt_x(x0.max(0.0).round()), fmt_x(x1.round()));
        let rx_w = rx.chars().count() as u16;
        if plot.width > rx_w + lx.chars().count() as u16 + 1 {
            buf.set_string(plot.x, axis_y, &lx, t.dim());
            buf.set_string(plot.right() - rx_w, axis_y, &rx, t.dim());
        }
        let axis = self.x_label;
        if plot.width > rx_w + 2 * (axis.len() as u16 + 8) {
            let x = plot.x + (plot.width - axis.len() as u16) / 2;
            buf.set_string(x, axis_y, axis, t.dim());
        }

        // Marker lines first, so the data draws over them.
        let col_of = |x: f64| plot.x + (((x - x0) / (x1 - x0)) * (plot.width - 1) as f64).round() as u16;
        let mut marker_cols: Vec<(u16, &str)> =
            self.markers.iter().filter(|(x, _)| x.is_finite()).map(|(x, label)| (col_of(*x), *label)).collect();
        for (col, _) in &marker_cols {
            for row in plot.top()..plot.bottom() {
                let cell = &mut buf[(*col, row)];
                if cell.symbol() == " " {
                    cell.set_symbol("┆").set_style(t.marker());
                }
            }
        }

        for (s, pts) in &series {
            let color = s.color;
            let kind = s.kind;
            Canvas::default()
                .marker(s.marker)
                .x_bounds([x0, x1])
                .y_bounds([y0, y1])
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

        // Labels last, newest first: each gets the room up to the next
        // label on its right.
        marker_cols.sort_by_key(|(c, _)| std::cmp::Reverse(*c));
        let mut limit = plot.right();
        for (col, label) in marker_cols {
            let start = col + 1;
            let avail = limit.saturating_sub(start + 1) as usize;
            if avail >= 3 && start < limit {
                buf.set_string(start, plot.y, truncate(label, avail), t.marker());
                limit = col;
            }
        }
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
                empty: "waiting for data",
                theme: Theme::plain(),
            }
            .render(area, &mut buf);
        }
    }
}
