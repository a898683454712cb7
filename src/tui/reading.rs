//! Reading the screen: which pane the scrolling keys move (Tab), how far the
//! gradients and events panes are scrolled, the charts' cursor (the step and
//! each curve's value there) and zoom (the last N steps). The view's own
//! state: nothing here reaches the run.

/// The panes Tab moves between; j/k and the page keys act on the one with
/// the focus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    #[default]
    Techniques,
    Gradients,
    Events,
}

impl Pane {
    pub fn next(self) -> Self {
        match self {
            Pane::Techniques => Pane::Gradients,
            Pane::Gradients => Pane::Events,
            Pane::Events => Pane::Techniques,
        }
    }
}

/// The zooms `z` steps through: everything, then the last N steps.
pub const ZOOMS: [Option<u64>; 4] = [None, Some(10_000), Some(1_000), Some(100)];

/// How the screen is being read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reading {
    pub focus: Pane,
    /// Gradient rows scrolled past at the top.
    pub gradients_from: usize,
    /// Event lines scrolled back from the newest (0: following it).
    pub events_back: usize,
    /// The charts' cursor, a step (`None`: hidden).
    pub cursor: Option<u64>,
    /// Index into [`ZOOMS`].
    pub zoom: usize,
}

impl Reading {
    /// Scrolls the focused pane by `lines` (down is positive: newer
    /// events, later gradient rows), within `rows` rows of content.
    pub fn scroll(&mut self, lines: isize, rows: usize) {
        match self.focus {
            Pane::Techniques => {}
            Pane::Gradients => self.gradients_from = moved(self.gradients_from, lines, rows.saturating_sub(1)),
            Pane::Events => self.events_back = moved(self.events_back, -lines, rows.saturating_sub(1)),
        }
    }

    /// A new event line arrived: a log scrolled back stays on what it shows.
    pub fn event_added(&mut self) {
        if self.events_back > 0 {
            self.events_back += 1;
        }
    }

    /// The last N steps the charts show and the first of them (`None`:
    /// all of them), given the newest step.
    pub fn zoom(&self, last_step: f64) -> Option<(u64, f64)> {
        ZOOMS[self.zoom].map(|n| (n, last_step - n as f64))
    }

    pub fn next_zoom(&mut self) {
        self.zoom = (self.zoom + 1) % ZOOMS.len();
    }

    /// Moves the cursor one fortieth of the shown steps (`first..=last`)
    /// left or right; it appears at the newest step.
    pub fn move_cursor(&mut self, right: bool, first: u64, last: u64) {
        let span = last.saturating_sub(first);
        let by = (span / 40).max(1);
        let at = self.cursor.unwrap_or(last);
        let to = if right { at.saturating_add(by) } else { at.saturating_sub(by) };
        self.cursor = Some(to.clamp(first, last));
    }
}

fn moved(at: usize, by: isize, max: usize) -> usize {
    at.saturating_add_signed(by).min(max)
}

/// The value of a curve at `step`: its last point at or before it.
pub fn value_at(points: &[(f64, f64)], step: f64) -> Option<f64> {
    let n = points.partition_point(|p| p.0 <= step);
    n.checked_sub(1).map(|i| points[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panes_scroll_within_their_rows_and_a_scrolled_log_stays_put() {
        let mut r = Reading { focus: Pane::Events, ..Reading::default() };
        r.scroll(-5, 20);
        assert_eq!(r.events_back, 5, "up is older");
        r.event_added();
        assert_eq!(r.events_back, 6, "the same lines stay in view");
        r.scroll(100, 20);
        assert_eq!(r.events_back, 0, "back to following the newest");
        r.event_added();
        assert_eq!(r.events_back, 0);
        r.focus = r.focus.next().next();
        assert_eq!(r.focus, Pane::Gradients);
        r.scroll(50, 12);
        assert_eq!(r.gradients_from, 11);
    }

    #[test]
    fn the_cursor_walks_the_shown_steps_and_reads_each_curve() {
        let mut r = Reading::default();
        r.move_cursor(false, 0, 4000);
        assert_eq!(r.cursor, Some(3900), "appears at the newest step, then moves a fortieth");
        r.move_cursor(true, 0, 4000);
        r.move_cursor(true, 0, 4000);
        assert_eq!(r.cursor, Some(4000), "never past the newest");
        let curve = [(10.0, 1.0), (20.0, 0.5), (30.0, 0.25)];
        assert_eq!(value_at(&curve, 25.0), Some(0.5));
        assert_eq!(value_at(&curve, 30.0), Some(0.25));
        assert_eq!(value_at(&curve, 5.0), None);
        r.next_zoom();
        assert_eq!(r.zoom(50_000.0), Some((10_000, 40_000.0)));
        for _ in 0..3 {
            r.next_zoom();
        }
        assert_eq!(r.zoom(50_000.0), None, "back to everything");
    }
}
