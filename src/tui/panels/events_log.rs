//! The event log: trainer log lines, command markers and state changes,
//! newest at the bottom. Long lines are cut rather than wrapped so that the
//! newest entry is always on screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::truncate;
use crate::tui::state::{LogEntry, LogKind};
use crate::tui::theme::Theme;

pub struct EventsLog<'a> {
    pub entries: &'a std::collections::VecDeque<LogEntry>,
    pub theme: Theme,
}

impl Widget for EventsLog<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let block = Block::bordered().title(Span::styled(" events ", t.title()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 4 || inner.height == 0 {
            return;
        }
        let w = inner.width as usize;
        let n = inner.height as usize;
        let lines: Vec<Line> = self
            .entries
            .iter()
            .skip(self.entries.len().saturating_sub(n))
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
