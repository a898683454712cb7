//! Curves drawn behind the live ones. A [`Baseline`] is a finished run
//! pinned behind a live one (`traintop run|resume|attach --baseline RUN`):
//! its loss and accuracy curves drawn under the live curves, by step, so the
//! run being watched can be judged against a known one as it trains ("is it
//! ahead of the run without batch norm yet?"). [`BranchB`] is a live fork's
//! other branch, filled as it trains; both are drawn through [`Behind`].
//!
//! The folder is replayed the way `traintop view` replays it (the same
//! records through the same fold, [`super::replay::load_baseline`]), and only
//! its chart series are kept. It is read once, before the dashboard opens: a
//! folder that cannot be read is an error then, not a blank chart later.

use ratatui::style::Color;
use ratatui::symbols::Marker;

use super::bounded_series::BoundedSeries;
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
}

/// Branch B of a live fork: its curves, filled as B trains, behind branch
/// A's (this run's). Not a baseline: it trains alongside and ends with the
/// fork.
#[derive(Clone, Debug)]
pub struct BranchB {
    pub name: String,
    pub charts: Charts,
}

/// The curves drawn behind the live ones: the pinned run (when shown) and
/// a fork's branch B.
#[derive(Clone, Copy, Debug, Default)]
pub struct Behind<'a> {
    pub baseline: Option<&'a Baseline>,
    pub branch: Option<&'a BranchB>,
}

impl Baseline {
    /// A finished run's curves.
    pub fn new(name: String, charts: Charts) -> Self {
        Self { name, charts }
    }
}

impl BranchB {
    /// Empty until B's first step.
    pub fn new(name: String) -> Self {
        Self { name, charts: Charts::new() }
    }
}

impl Behind<'_> {
    /// The series for the loss chart (or the accuracy chart): the training
    /// curve the live chart shows (smoothed or raw), a pinned run with `▄`
    /// bars so it stays apart from the live braille line and the validation
    /// dots without color, branch B with `█` blocks, to stay apart from a
    /// pinned run too. (Not half blocks: ratatui draws those from the color
    /// alone, so without color they vanish.)
    pub fn series(&self, accuracy: bool, smoothing: bool, theme: Theme) -> Vec<Series> {
        let baseline = self.baseline.map(|b| {
            let name = format!("base {}", crate::format::truncate(&b.name, NAME_WIDTH));
            curve(&b.charts, name, (Color::DarkGray, Marker::Bar), accuracy, smoothing, theme)
        });
        let branch = self.branch.map(|b| {
            let name = crate::format::truncate(&b.name, NAME_WIDTH);
            curve(&b.charts, name, (Color::Magenta, Marker::Block), accuracy, smoothing, theme)
        });
        baseline.into_iter().chain(branch).collect()
    }
}

/// One run's training curve, drawn behind the live ones in `look`.
fn curve(c: &Charts, name: String, look: (Color, Marker), accuracy: bool, smoothing: bool, theme: Theme) -> Series {
    let pick = |ema: &BoundedSeries, raw: &BoundedSeries| {
        if smoothing && !ema.is_empty() {
            ema.points()
        } else {
            raw.points()
        }
    };
    let points = if accuracy { pick(&c.acc_ema, &c.train_acc) } else { pick(&c.loss_ema, &c.train_loss) };
    Series { name, points, color: theme.color(look.0), marker: look.1, kind: Kind::Line }
}
