//! The accuracy chart: training accuracy per logged step (smoothed with the
//! loss chart's `m` toggle) and validation accuracy per epoch, in percent.
//! Regression runs report no accuracy; the layout then gives the loss chart
//! the room. A pinned baseline run's curve goes behind the live ones.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::widgets::Widget;

use super::plot::{ChartView, Kind, Plot, Series};
use crate::tui::state::Charts;
use crate::tui::theme::Theme;

pub struct AccuracyChart<'a> {
    pub charts: &'a Charts,
    pub smoothing: bool,
    /// Other runs' curves (a pinned run, a fork's branch B), drawn first so
    /// the live curves cover them.
    pub behind: Vec<Series>,
    /// The part shown (`z`) and the cursor (arrow keys).
    pub view: ChartView,
    pub theme: Theme,
}

fn percent(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

impl Widget for AccuracyChart<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let c = self.charts;
        let t = self.theme;
        let train = if self.smoothing { &c.acc_ema } else { &c.train_acc };
        let mut series: Vec<Series> = self.behind;
        series.extend([
            Series {
                name: if self.smoothing { "train ema" } else { "train" }.into(),
                points: train.points(),
                color: t.train_color(),
                marker: Marker::Braille,
                kind: Kind::Line,
            },
            Series {
                name: "val".into(),
                points: c.val_acc.points(),
                color: t.val_color(),
                marker: Marker::Dot,
                kind: Kind::Scatter,
            },
        ]);
        Plot {
            title: "accuracy".into(),
            series,
            markers: Vec::new(),
            log_y: false,
            clamp: Some((0.0, 1.0)),
            fmt_y: percent,
            x_label: "step",
            empty: "no accuracy figures",
            view: self.view,
            theme: t,
        }
        .render(area, buf);
    }
}
