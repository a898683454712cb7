//! The techniques the trainer loaded: on/off, how a switch takes effect
//! (live, structural, init-only, data), the parameters and the live status
//! line, with a `>` cursor for the keys that act on one technique. The list
//! scrolls to keep the cursor in view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::truncate;
use crate::train::events::{TechniqueView, ToggleClass};
use crate::tui::theme::Theme;

pub struct TechniquesPanel<'a> {
    pub techniques: &'a [TechniqueView],
    pub selected: usize,
    pub theme: Theme,
}

pub fn class_word(c: ToggleClass) -> &'static str {
    match c {
        ToggleClass::Live => "live",
        ToggleClass::Structural => "structural",
        ToggleClass::InitOnly => "init-only",
        ToggleClass::Data => "data",
    }
}

impl Widget for TechniquesPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let block = Block::bordered()
            .title(Span::styled(" techniques ", t.title()))
            .title_bottom(Span::styled(" space toggle · e edit ", t.dim()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 6 || inner.height == 0 {
            return;
        }
        let w = inner.width as usize;
        if self.techniques.is_empty() {
            Paragraph::new(Line::styled("no techniques loaded", t.dim())).render(inner, buf);
            return;
        }
        let name_w = self
            .techniques
            .iter()
            .map(|x| x.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(w / 3);
        // Two lines per technique when the status fits under it.
        let per = if inner.height as usize >= 2 * self.techniques.len().min(2) {
            2
        } else {
            1
        };
        let visible = (inner.height as usize / per).max(1);
        let first = (self.selected + 1).saturating_sub(visible);
        let mut lines = Vec::new();
        for (i, tech) in self.techniques.iter().enumerate().skip(first).take(visible) {
            let sel = i == self.selected;
            let (flag, flag_style) = if tech.enabled {
                ("[on ]", t.good())
            } else {
                ("[off]", t.dim())
            };
            let params: Vec<String> = tech
                .params
                .iter()
                .map(|p| format!("{}={}", p.name, p.value))
                .collect();
            let head = format!(
                " {:<name_w$} {:<10} ",
                truncate(&tech.name, name_w),
                class_word(tech.class)
            );
            let used = 2 + 5 + head.chars().count();
            let mut line = Line::from(vec![
                Span::raw(if sel { "> " } else { "  " }),
                Span::styled(flag, flag_style),
                Span::raw(head),
                Span::styled(truncate(&params.join(" "), w.saturating_sub(used)), t.dim()),
            ]);
            if sel {
                line = line.patch_style(t.selected());
            }
            lines.push(line);
            if per == 2 {
                let status = if tech.status.is_empty() {
                    String::new()
                } else {
                    truncate(&tech.status, w.saturating_sub(8))
                };
                lines.push(Line::styled(format!("        {status}"), t.dim()));
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
