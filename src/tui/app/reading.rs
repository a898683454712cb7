//! The keys (and, with `--mouse`, the wheel and clicks) that read the
//! screen rather than steer the run: scrolling the pane Tab chose, by a
//! line or a page, selecting a technique, and moving the charts' cursor
//! over the steps shown. Page sizes and what is under the mouse come from
//! the last frame's layout.

use ratatui::crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};

use super::App;
use crate::tui::layout::{self, Areas};
use crate::tui::reading::Pane;

/// Lines the mouse wheel scrolls per notch.
const WHEEL_LINES: isize = 3;

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

    /// The panels' places in the last frame.
    fn last_areas(&self) -> Option<Areas> {
        let has_acc = !self.charts.train_acc.is_empty() || !self.charts.val_acc.is_empty();
        layout::areas(self.last_area.get(), has_acc, self.techniques.len())
    }

    /// The wheel scrolls the pane under it (which takes the keys too); a
    /// click selects a technique, or puts the charts' cursor at that step.
    pub fn on_mouse(&mut self, mouse: MouseEvent) {
        let Some(areas) = self.last_areas() else { return };
        let at = Position::new(mouse.column, mouse.row);
        let pane =
            [(Pane::Techniques, Some(areas.techniques)), (Pane::Gradients, areas.gradients), (Pane::Events, areas.log)]
                .into_iter()
                .find_map(|(pane, area)| area.filter(|a| a.contains(at)).map(|a| (pane, a)));
        match (mouse.kind, pane) {
            (MouseEventKind::ScrollDown | MouseEventKind::ScrollUp, Some((pane, _))) => {
                self.reading.focus = pane;
                let down = mouse.kind == MouseEventKind::ScrollDown;
                match pane {
                    Pane::Techniques => self.change_selection(down),
                    _ => self.scroll(if down { WHEEL_LINES } else { -WHEEL_LINES }),
                }
            }
            (MouseEventKind::Down(MouseButton::Left), Some((Pane::Techniques, area))) => {
                self.reading.focus = Pane::Techniques;
                self.click_technique(area, mouse.row);
            }
            (MouseEventKind::Down(MouseButton::Left), None) if areas.loss.contains(at) => {
                self.click_chart(areas.loss, mouse.column);
            }
            _ => return,
        }
        self.mark_dirty();
    }

    /// The technique on row `row` of the panel at `area`, as it lays them
    /// out (one or two rows each, scrolled to keep the selection in view).
    fn click_technique(&mut self, area: Rect, row: u16) {
        let n = self.techniques.len();
        let rows = area.height.saturating_sub(2) as usize;
        let per = if rows >= 2 * n.min(2) { 2 } else { 1 };
        let first = (self.selected + 1).saturating_sub((rows / per).max(1));
        let line = row.saturating_sub(area.y + 1) as usize;
        let index = first + line / per;
        if row > area.y && index < n {
            self.selected = index;
        }
    }

    /// The cursor at the step under column `column` of the loss chart (its
    /// axis labels take about six columns on the left).
    fn click_chart(&mut self, area: Rect, column: u16) {
        let Some((first, last)) = self.shown_steps() else { return };
        let left = area.x + 7;
        let width = area.width.saturating_sub(9).max(1) as f64;
        let share = (column.saturating_sub(left) as f64 / width).clamp(0.0, 1.0);
        self.reading.cursor = Some((first + share * (last - first)).round() as u64);
    }

    /// The first and last steps the charts show, as zoomed.
    fn shown_steps(&self) -> Option<(f64, f64)> {
        let (first, last) = self.charts.train_loss.x_range()?;
        Some((self.reading.zoom(last).map_or(first, |(_, from)| from.max(first)), last))
    }

    /// The rows of text `pane` showed in the last frame.
    pub(super) fn pane_rows(&self, pane: Pane) -> usize {
        let Some(areas) = self.last_areas() else { return 0 };
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
        let Some((first, last)) = self.shown_steps() else {
            self.notice = Some("no steps to read yet".into());
            return;
        };
        self.reading.move_cursor(right, first as u64, last as u64);
    }
}
