//! The keys that read the screen rather than steer the run: scrolling the
//! pane Tab chose, by a line or a page, and moving the charts' cursor over
//! the steps shown. Page sizes come from the last frame's layout.

use super::App;
use crate::tui::layout;
use crate::tui::reading::Pane;

impl App {
    /// Scrolls the focused pane by `lines` (down is positive).
    pub(super) fn scroll(&mut self, lines: isize) {
        let rows = match self.reading.focus {
            Pane::Techniques => return,
            Pane::Gradients => self.grads.norms.len() + self.grads.saturation.len(),
            Pane::Events => self.log.len(),
        };
        // No further than a full last page.
        let rows = rows.saturating_sub(self.pane_rows(self.reading.focus)).saturating_add(1);
        self.reading.scroll(lines, rows);
    }

    /// The rows of text `pane` showed in the last frame.
    pub(super) fn pane_rows(&self, pane: Pane) -> usize {
        let has_acc = !self.charts.train_acc.is_empty() || !self.charts.val_acc.is_empty();
        let Some(areas) = layout::areas(self.last_area.get(), has_acc, self.techniques.len()) else { return 0 };
        let area = match pane {
            Pane::Techniques => Some(areas.techniques),
            Pane::Gradients => areas.gradients,
            Pane::Events => areas.log,
        };
        // Less the borders (and the gradients panel's flag line).
        let extra = if pane == Pane::Gradients { 3 } else { 2 };
        area.map_or(0, |a| (a.height as usize).saturating_sub(extra))
    }

    /// The charts' cursor a notch left or right within the steps shown.
    pub(super) fn move_cursor(&mut self, right: bool) {
        let points = self.charts.train_loss.points();
        let (Some(first), Some(last)) = (points.first(), points.last()) else {
            self.notice = Some("no steps to read yet".into());
            return;
        };
        let last = last.0;
        let first = self.reading.zoom(last).map_or(first.0, |(_, from)| from.max(first.0));
        self.reading.move_cursor(right, first as u64, last as u64);
    }
}
