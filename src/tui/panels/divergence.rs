//! The divergence banner: the run diverged, went back to its last good
//! state and paused; what happened, and the one-key fixes (`h`, `g`, `p`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Padding, Paragraph, Widget, Wrap};

use super::fmt_sci;
use crate::tui::state::{GradClip, Rollback};
use crate::tui::theme::Theme;

/// Widest the banner gets; it takes the whole width below that (80
/// columns: covering the charts whole reads better than a sliver of them).
const MAX_WIDTH: u16 = 84;

pub struct DivergenceBanner<'a> {
    pub divergence: &'a Rollback,
    pub grad_clip: GradClip,
    pub theme: Theme,
}

impl DivergenceBanner<'_> {
    fn lines(&self) -> Vec<Line<'static>> {
        let t = self.theme;
        let d = self.divergence;
        let fix = |key: &'static str, what: String| {
            Line::from(vec![Span::styled(format!("{key}  "), t.key()), Span::raw(what)])
        };
        let half = fmt_sci(d.lr as f64 / 2.0);
        let clip = match self.grad_clip {
            GradClip::Off => "switch grad_clip on and resume".to_string(),
            GradClip::On => "grad_clip is on already".to_string(),
            GradClip::NotLoaded => "grad_clip: not in this run (add a [[technique]] entry)".to_string(),
        };
        vec![
            Line::styled(d.cause.clone(), t.warn()),
            Line::raw(""),
            fix("h", format!("halve the learning rate ({} -> {half}) and resume", fmt_sci(d.lr as f64))),
            fix("g", clip),
            fix("p", "resume as is".to_string()),
        ]
    }
}

impl Widget for DivergenceBanner<'_> {
    /// Across the top of `area` (the panels under the header).
    fn render(self, area: Rect, buf: &mut Buffer) {
        let d = self.divergence;
        let width = area.width.min(MAX_WIDTH);
        let lines = self.lines();
        // The cause wraps (at words, so a row or so more than its length
        // says); the rest is four rows, the borders two.
        let inner_w = width.saturating_sub(4).max(1) as usize;
        let cause_rows = (d.cause.chars().count() * 11 / 10).div_ceil(inner_w) as u16;
        let height = (cause_rows + 4 + 2).min(area.height);
        let banner = Rect { x: area.x + (area.width - width) / 2, y: area.y, width, height };
        Clear.render(banner, buf);
        let title = format!(" diverged at step {}: back at step {}, paused ", d.step, d.to_step);
        let block = Block::bordered()
            .padding(Padding::horizontal(1))
            .border_style(self.theme.bad())
            .title(Span::styled(title, self.theme.bad()));
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block).render(banner, buf);
    }
}
