//! The techniques the trainer loaded: on/off, how a switch takes effect
//! (live, structural, init-only, data), the parameters and the live status
//! line, with a `>` cursor for the keys that act on one technique. The list
//! scrolls to keep the cursor in view.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{fmt_sci, pane_title, truncate};
use crate::protocol::{ParamView, TechniqueView, ToggleClass};
use crate::tui::theme::Theme;

pub struct TechniquesPanel<'a> {
    pub techniques: &'a [TechniqueView],
    /// The latest step's technique scalars, named `technique.what`.
    pub metrics: &'a [(String, f32)],
    pub selected: usize,
    /// The scrolling keys act here (j/k select).
    pub focused: bool,
    pub theme: Theme,
}

pub fn class_word(c: ToggleClass) -> &'static str {
    match c {
        ToggleClass::Live => "live",
        ToggleClass::Structural => "structural",
        ToggleClass::InitOnly => "init-only",
        ToggleClass::Unknown => "?",
        ToggleClass::Data => "data",
    }
}

impl Widget for TechniquesPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let n = self.techniques.len();
        // Two lines per technique when there is room: the switch, name and
        // parameters, then the class and the live status.
        let rows = area.height.saturating_sub(2) as usize;
        let per = if rows >= 2 * n.min(2) { 2 } else { 1 };
        let visible = (rows / per).max(1);
        let first = (self.selected + 1).saturating_sub(visible);
        let extra =
            if n > visible { format!(" {}-{}/{n}", first + 1, (first + visible).min(n)) } else { String::new() };
        let title = pane_title("techniques", self.focused, &extra);
        let block = Block::bordered()
            .title(Span::styled(title, t.title()))
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
            .min(w.saturating_sub(8) / 2)
            .max(1);
        let mut lines = Vec::new();
        for (i, tech) in self.techniques.iter().enumerate().skip(first).take(visible) {
            let sel = i == self.selected;
            let (flag, flag_style) = if tech.enabled { ("[on ]", t.good()) } else { ("[off]", t.dim()) };
            let mut params: Vec<String> = Vec::new();
            if per == 1 {
                params.push(class_word(tech.class).to_string());
            }
            params.extend(tech.params.iter().map(|p| format!("{}={}", p.name, shown_value(p))));
            let used = 2 + 5 + 1 + name_w + 1;
            let mut line = Line::from(vec![
                Span::raw(if sel { "> " } else { "  " }),
                Span::styled(flag, flag_style),
                Span::raw(format!(" {:<name_w$} ", truncate(&tech.name, name_w))),
                Span::styled(truncate(&params.join(" "), w.saturating_sub(used)), t.dim()),
            ]);
            if sel {
                line = line.patch_style(t.selected());
            }
            lines.push(line);
            if per == 2 {
                let prefix = format!("{}.", tech.name);
                let mut parts = vec![class_word(tech.class).to_string()];
                if !tech.status.is_empty() {
                    parts.push(tech.status.clone());
                }
                parts.extend(self.metrics.iter().filter_map(|(n, v)| {
                    let what = n.strip_prefix(&prefix)?;
                    Some(format!("{what}={}", fmt_sci(*v as f64)))
                }));
                let status = truncate(&parts.join(" · "), w.saturating_sub(8));
                lines.push(Line::styled(format!("        {status}"), t.dim()));
            }
        }
        Paragraph::new(lines).render(inner, buf);
    }
}

/// A parameter's value as the panel shows it: an empty layer list means
/// every hidden layer (the plugins' documented default), so it says "all"
/// rather than `[]`, which read as "none".
fn shown_value(p: &ParamView) -> &str {
    if p.value == "[]" && p.range.starts_with("[layer") {
        "all"
    } else {
        &p.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(value: &str, range: &str) -> ParamView {
        ParamView { name: "layers".into(), value: value.into(), range: range.into(), help: String::new() }
    }

    #[test]
    fn an_empty_layer_list_shows_as_all() {
        assert_eq!(shown_value(&param("[]", "[layer, ...] (empty: default)")), "all");
        assert_eq!(shown_value(&param("[0, 1]", "[layer, ...] (empty: default)")), "[0, 1]");
        assert_eq!(shown_value(&param("[]", "anything else")), "[]");
    }
}
