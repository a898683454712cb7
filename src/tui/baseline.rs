//! A finished run pinned behind a live one (`traintop run|resume|attach
//! --baseline RUN`): its loss and accuracy curves drawn under the live
//! curves, by step, so the run being watched can be judged against a known
//! one as it trains ("is it ahead of the run without batch norm yet?").
//!
//! The folder is replayed the way `traintop view` replays it (the same
//! records through the same fold, [`super::replay::load_baseline`]), and only
//! its chart series are kept. It is read once, before the dashboard opens: a
//! folder that cannot be read is an error then, not a blank chart later.

use ratatui::style::Color;
use ratatui::symbols::Marker;

use super::history::History;
use super::panels::plot::{Kind, Series};
use super::state::Charts;
use super::theme::Theme;

/// Longest run name the chart legends show for the baseline.
const NAME_WIDTH: usize = 18;

/// The pinned run: its name and its chart series.
#[derive(Clone, Debug)]
pub struct Baseline {
    pub name: String,
    pub charts: Charts,
    /// Branch B of a live fork (filled as B trains) rather than a finished run.
    pub branch: bool,
}

impl Baseline {
    /// A finished run's curves.
    pub fn pinned(name: String, charts: Charts) -> Self {
        Self { name, charts, branch: false }
    }

    /// Branch B of a fork, empty until its first step.
    pub fn fork_branch(name: String) -> Self {
        Self { name, charts: Charts::new(), branch: true }
    }

    /// The baseline's series for the loss chart (or the accuracy chart):
    /// the training curve the live chart shows (smoothed or raw), drawn
    /// with `▄` bars so it stays apart from the live braille line and the
    /// validation dots without color (a fork's branch B with `█` blocks, to
    /// stay apart from a pinned run too). (Not half blocks: ratatui draws
    /// those from the color alone, so without color they vanish.)
    pub fn series(&self, accuracy: bool, smoothing: bool, theme: Theme) -> Series {
        let c = &self.charts;
        let pick =
            |ema: &History, raw: &History| if smoothing && !ema.is_empty() { ema.points() } else { raw.points() };
        let points = if accuracy { pick(&c.acc_ema, &c.train_acc) } else { pick(&c.loss_ema, &c.train_loss) };
        let name = crate::format::truncate(&self.name, NAME_WIDTH);
        let (name, color, marker) = match self.branch {
            false => (format!("base {name}"), Color::DarkGray, Marker::Bar),
            true => (name, Color::Magenta, Marker::Block),
        };
        Series { name, points, color: theme.color(color), marker, kind: Kind::Line }
    }
}
