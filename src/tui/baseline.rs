//! A finished run pinned behind a live one (`traintop run|resume|attach
//! --baseline RUN`): its loss and accuracy curves drawn under the live
//! curves, by step, so the run being watched can be judged against a known
//! one as it trains ("is it ahead of the run without batch norm yet?").
//!
//! The folder is replayed the way `traintop view` replays it (the same
//! records through the same fold), and only its chart series are kept. It is
//! read once, before the dashboard opens: a folder that cannot be read is an
//! error then, not a blank chart later.

use std::path::Path;

use ratatui::style::Color;
use ratatui::symbols::Marker;

use super::history::History;
use super::panels::plot::{Kind, Series};
use super::replay;
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

impl Baseline {
    /// Replays `dir`; the error names the folder and what is wrong with it.
    pub fn load(dir: &Path) -> Result<Baseline, String> {
        let shown = dir.display();
        if !dir.is_dir() {
            let what = if dir.exists() { "not a folder" } else { "no such folder" };
            return Err(format!("--baseline {shown}: {what} (expected a run folder, e.g. runs/NAME-DATE)"));
        }
        let name = dir.file_name().map_or_else(|| shown.to_string(), |n| n.to_string_lossy().into_owned());
        let app = replay::from_dir(&name, dir).map_err(|e| format!("--baseline {e}"))?;
        let charts = app.charts;
        if charts.train_loss.is_empty() && charts.val_loss.is_empty() {
            return Err(format!("--baseline {shown}: the run recorded no steps, so it has no curves to show"));
        }
        Ok(Baseline { name, charts })
    }

    /// The baseline's series for the loss chart (or the accuracy chart):
    /// the training curve the live chart shows (smoothed or raw), drawn
    /// with `▄` bars so it stays apart from the live braille line and the
    /// validation dots without color. (Not half blocks: ratatui draws those
    /// from the color alone, so without color they vanish.)
    pub fn series(&self, accuracy: bool, smoothing: bool, theme: Theme) -> Series {
        let c = &self.charts;
        let pick =
            |ema: &History, raw: &History| if smoothing && !ema.is_empty() { ema.points() } else { raw.points() };
        let points = if accuracy { pick(&c.acc_ema, &c.train_acc) } else { pick(&c.loss_ema, &c.train_loss) };
        Series {
            name: format!("base {}", crate::format::truncate(&self.name, NAME_WIDTH)),
            points,
            color: theme.color(Color::DarkGray),
            marker: Marker::Bar,
            kind: Kind::Line,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_folders_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let e = Baseline::load(&missing).unwrap_err();
        assert!(e.starts_with("--baseline ") && e.contains("nope: no such folder"), "{e}");
        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(Baseline::load(&file).unwrap_err().contains("file: not a folder"));
        let e = Baseline::load(tmp.path()).unwrap_err();
        assert!(e.ends_with("no metrics.jsonl or events.jsonl"), "{e}");
        std::fs::write(
            tmp.path().join("events.jsonl"),
            "{\"time\":1.0,\"event\":\"log\",\"level\":\"info\",\"message\":\"x\"}\n",
        )
        .unwrap();
        let e = Baseline::load(tmp.path()).unwrap_err();
        assert!(e.ends_with("the run recorded no steps, so it has no curves to show"), "{e}");
    }
}
