//! The event log: trainer log lines, command markers and state changes,
//! newest at the bottom. Long lines are cut rather than wrapped so that the
//! newest entry is always on screen; scrolled back (Tab, then k or PgUp),
//! the title says how many newer lines are below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{pane_title, truncate};
use crate::tui::state::{LogEntry, LogKind};
use crate::tui::theme::Theme;

pub struct EventsLog<'a> {
    pub entries: &'a std::collections::VecDeque<LogEntry>,
    /// Lines scrolled back from the newest.
    pub back: usize,
    /// The scrolling keys act here.
    pub focused: bool,
    pub theme: Theme,
}

impl Widget for EventsLog<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let n = area.height.saturating_sub(2) as usize;
        let back = self.back.min(self.entries.len().saturating_sub(n));
        let extra = if back > 0 { format!(" ↓{back} newer (End)") } else { String::new() };
        let block = Block::bordered().title(Span::styled(pane_title("events", self.focused, &extra), t.title()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 4 || inner.height == 0 {
            return;
        }
        let w = inner.width as usize;
        let lines: Vec<Line> = self
            .entries
            .iter()
            .rev()
            .skip(back)
            .take(n)
            .rev()
            .map(|e| {
                let style = match e.kind {
                    LogKind::Info => ratatui::style::Style::default(),
                    LogKind::Warn => t.warn(),
                    LogKind::Marker => t.marker(),
                    LogKind::State => t.title(),
                };
                let prefix = e.step.map(|s| format!("{s:>6} ")).unwrap_or_else(|| "       ".into());
                let text = truncate(&e.text, w.saturating_sub(7));
                Line::from(vec![Span::styled(prefix, t.dim()), Span::styled(text, style)])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
