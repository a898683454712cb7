//! The value editor popup: the fields of one technique (or the learning
//! rate) with their current values and ranges, the typed value, the selected
//! field's help and the last validation error.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget};

use super::{centered, truncate};
use crate::tui::editor::Editor;
use crate::tui::theme::Theme;

pub struct EditorPopup<'a> {
    pub editor: &'a Editor,
    pub theme: Theme,
}

impl Widget for EditorPopup<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let ed = self.editor;
        let popup = centered(area, 64, ed.fields.len() as u16 + 4);
        Clear.render(popup, buf);
        let block = Block::bordered()
            .title(Span::styled(format!(" {} ", ed.title()), t.title()))
            .title_bottom(Span::styled(" Tab field · Enter send · Esc cancel ", t.dim()));
        let inner = block.inner(popup);
        block.render(popup, buf);
        if inner.width < 4 || inner.height == 0 {
            return;
        }
        let w = inner.width as usize;
        let name_w = ed.fields.iter().map(|f| f.name.chars().count()).max().unwrap_or(0).min(w / 3);
        let value_w = 14.min(w.saturating_sub(name_w + 4));
        let mut lines: Vec<Line> = Vec::new();
        // The error first: at small heights it is what must stay visible.
        if let Some(err) = &ed.error {
            lines.push(Line::styled(truncate(&format!("! {err}"), w), t.bad()));
        }
        for (i, f) in ed.fields.iter().enumerate() {
            let sel = i == ed.index;
            let value = if sel { format!("{}_", ed.buffer) } else { f.current.clone() };
            // Keep the end of a long typed value, where the cursor is.
            let shown: String = if value.chars().count() > value_w {
                value.chars().skip(value.chars().count() - value_w).collect()
            } else {
                value
            };
            let mut spans = vec![
                Span::raw(if sel { "> " } else { "  " }),
                Span::raw(format!("{:<name_w$} ", truncate(&f.name, name_w))),
                Span::styled(format!("[{shown:<value_w$}]"), if sel { t.selected() } else { t.dim() }),
            ];
            let used = 2 + name_w + 1 + value_w + 2;
            spans.push(Span::styled(truncate(&format!(" {}", f.range), w.saturating_sub(used)), t.dim()));
            lines.push(Line::from(spans));
        }
        let f = ed.field();
        let help = if f.current.is_empty() { f.help.clone() } else { format!("now {} · {}", f.current, f.help) };
        lines.push(Line::styled(truncate(&help, w), t.dim()));
        Paragraph::new(lines).render(inner, buf);
    }
}
