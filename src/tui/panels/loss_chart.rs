//! The loss chart: training loss per logged step (raw, or an EMA over a faint
//! raw curve), validation loss per epoch, and the command markers. `l`
//! switches a log scale, which is what makes late-training progress visible
//! once the loss has dropped by orders of magnitude. A pinned baseline run's
//! curve (`--baseline`) goes behind the live ones.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::widgets::Widget;

use super::fmt_sci;
use super::plot::{ChartView, Kind, Plot, Series};
use crate::tui::state::Charts;
use crate::tui::theme::Theme;

pub struct LossChart<'a> {
    pub charts: &'a Charts,
    pub log_scale: bool,
    pub smoothing: bool,
    /// Other runs' curves (a pinned run, a fork's branch B), drawn first so
    /// the live curves cover them.
    pub behind: Vec<Series>,
    /// The part shown (`z`) and the cursor (arrow keys).
    pub view: ChartView,
    pub theme: Theme,
}

impl Widget for LossChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let c = self.charts;
        let t = self.theme;
        let mut series: Vec<Series> = self.behind;
        // Without color a faint raw curve would look like a second loss.
        if !self.smoothing || t.is_colored() {
            series.push(Series {
                name: if self.smoothing { "raw" } else { "train" }.into(),
                points: c.train_loss.points(),
                color: if self.smoothing { t.raw_color() } else { t.train_color() },
                marker: Marker::Braille,
                kind: Kind::Line,
            });
        }
        if self.smoothing {
            series.push(Series {
                name: "train ema".into(),
                points: c.loss_ema.points(),
                color: t.train_color(),
                marker: Marker::Braille,
                kind: Kind::Line,
            });
        }
        series.push(Series {
            name: "val".into(),
            points: c.val_loss.points(),
            color: t.val_color(),
            marker: Marker::Dot,
            kind: Kind::Scatter,
        });
        let mut title = String::from("loss");
        if self.log_scale {
            title.push_str(" (log)");
        }
        Plot {
            title,
            series,
            markers: c.markers.iter().map(|(s, l)| (*s as f64, l.as_str())).collect(),
            log_y: self.log_scale,
            // Losses are never negative: no padding below zero.
            clamp: if self.log_scale { None } else { Some((0.0, f64::INFINITY)) },
            fmt_y: fmt_sci,
            x_label: "step",
            empty: "waiting for the first step",
            view: self.view,
            theme: t,
        }
        .render(area, buf);
    }
}
