//! The help overlay: every key, from the same table the key mapping uses.
//! It lists what fits and says so when the terminal cuts it short.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::{centered, truncate};
use crate::tui::input::help_rows;
use crate::tui::theme::Theme;

pub struct Help {
    pub theme: Theme,
}

impl Widget for Help {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let rows: Vec<(&str, &str)> = help_rows().collect();
        let key_w = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
        let text_w = rows.iter().map(|(_, d)| d.chars().count()).max().unwrap_or(0);
        let popup = centered(area, (key_w + text_w + 6) as u16, rows.len() as u16 + 2);
        Clear.render(popup, buf);
        let block = Block::bordered()
            .title(Span::styled(" keys ", t.title()))
            .title_bottom(Span::styled(" ? or Esc closes ", t.dim()));
        let inner = block.inner(popup);
        block.render(popup, buf);
        let w = inner.width as usize;
        let lines: Vec<Line> = rows
            .iter()
            .map(|(k, d)| {
                Line::from(vec![
                    Span::styled(format!(" {k:>key_w$}  "), t.key()),
                    Span::raw(truncate(d, w.saturating_sub(key_w + 3))),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
