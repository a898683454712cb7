//! The validation confusion matrix as a small heat map (`C`): rows are the
//! true classes, columns the predicted ones, each cell shaded by its share
//! of its row (` ░▒▓█`, so it reads without color) and, where there is room,
//! its count. Right answers sit on the diagonal; a bright cell off it is a
//! class the model mistakes for another. It follows the latest epoch end.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::{centered, truncate};
use crate::protocol::ConfusionRecord;
use crate::tui::theme::Theme;

/// Longest class label shown at the start of a row.
const LABEL_WIDTH: usize = 8;

pub struct ConfusionPanel<'a> {
    pub record: Option<&'a ConfusionRecord>,
    pub theme: Theme,
}

/// The shade of a cell holding `share` of its row.
pub fn shade(share: f64) -> char {
    match share {
        s if s <= 0.0 => ' ',
        s if s < 0.25 => '░',
        s if s < 0.5 => '▒',
        s if s < 0.75 => '▓',
        _ => '█',
    }
}

/// How one matrix is laid out: the label column, and each cell's width
/// (two shade characters, then the count when `digits > 0`, then a space).
struct Shape {
    label_w: usize,
    digits: usize,
}

impl Shape {
    fn cell_w(&self) -> usize {
        2 + self.digits + 1
    }

    fn width(&self, classes: usize) -> usize {
        self.label_w + 1 + classes * self.cell_w()
    }

    /// With counts if they fit in `room` columns, else shades only; `None`
    /// when not even those fit.
    fn fitting(r: &ConfusionRecord, room: usize) -> Option<Shape> {
        let label_w = r.classes.iter().map(|c| c.chars().count()).max().unwrap_or(1).clamp(1, LABEL_WIDTH);
        let max = r.counts.iter().flatten().copied().max().unwrap_or(0);
        let with_counts = Shape { label_w, digits: max.to_string().len() };
        let shades_only = Shape { label_w, digits: 0 };
        [with_counts, shades_only].into_iter().find(|s| s.width(r.classes.len()) <= room)
    }
}

impl ConfusionPanel<'_> {
    fn row(&self, r: &ConfusionRecord, t: usize, shape: &Shape) -> Line<'static> {
        let theme = self.theme;
        let row = &r.counts[t];
        let total: u64 = row.iter().sum();
        let label = truncate(&r.classes[t], shape.label_w);
        let mut spans = vec![Span::styled(format!("{label:>w$} ", w = shape.label_w), theme.dim())];
        for (p, &n) in row.iter().enumerate() {
            let share = if total > 0 { n as f64 / total as f64 } else { 0.0 };
            let ch = shade(share);
            let style = match (n, p == t) {
                (0, _) => Style::default(),
                (_, true) => theme.good(),
                (_, false) => theme.warn(),
            };
            let count = match (shape.digits, n) {
                (0, _) => String::new(),
                (d, 0) => format!("{:>d$}", "·"),
                (d, n) => format!("{n:>d$}"),
            };
            spans.push(Span::styled(format!("{ch}{ch}{count} "), style));
        }
        Line::from(spans)
    }

    fn header(&self, r: &ConfusionRecord, shape: &Shape) -> Line<'static> {
        let mut s = format!("{:>w$} ", "", w = shape.label_w);
        let w = shape.cell_w() - 1;
        for c in &r.classes {
            s.push_str(&format!("{:>w$} ", truncate(c, w)));
        }
        Line::styled(s, self.theme.dim())
    }

    fn render_note(&self, area: Rect, buf: &mut Buffer, title: &str, note: &str) {
        let popup = centered(area, 60, 5);
        Clear.render(popup, buf);
        let block = Block::bordered().title(Span::styled(format!(" {title} "), self.theme.title()));
        let inner = block.inner(popup);
        block.render(popup, buf);
        Paragraph::new(note.to_string()).wrap(Wrap { trim: true }).render(inner, buf);
    }
}

impl Widget for ConfusionPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let Some(r) = self.record.filter(|r| !r.classes.is_empty() && r.counts.len() == r.classes.len()) else {
            let note = "none yet: it comes at each epoch end of a classification run with validation data (C closes)";
            return self.render_note(area, buf, "confusion matrix", note);
        };
        let classes = r.classes.len();
        let room = area.width.saturating_sub(2) as usize;
        let shape = match Shape::fitting(r, room) {
            Some(s) if classes as u16 + 4 <= area.height => s,
            _ => {
                let note = format!("{classes} classes do not fit here; `traintop evaluate RUN` prints the matrix");
                return self.render_note(area, buf, "confusion matrix", &note);
            }
        };
        let legend = "░ <25%  ▒ <50%  ▓ <75%  █ ≥75% of the row";
        let (right, total) = r.correct_and_total();
        let pct = if total > 0 { 100.0 * right as f64 / total as f64 } else { 0.0 };
        let title = format!(" validation confusion · epoch {} · {pct:.1}% right ", r.epoch);
        let width = shape.width(classes).max(legend.chars().count()).max(title.chars().count()) + 2;
        let popup = centered(area, width as u16, classes as u16 + 4);
        Clear.render(popup, buf);
        let block = Block::bordered()
            .title(Span::styled(truncate(&title, width.saturating_sub(2)), t.title()))
            .title_bottom(Span::styled(" rows true · columns predicted · C closes ", t.dim()));
        let inner = block.inner(popup);
        block.render(popup, buf);
        let mut lines = vec![self.header(r, &shape)];
        lines.extend((0..classes).map(|i| self.row(r, i, &shape)));
        lines.push(Line::styled(legend, t.dim()));
        Paragraph::new(lines).render(inner, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::tests::text;

    fn record(classes: usize) -> ConfusionRecord {
        let counts = (0..classes)
            .map(|t| {
                (0..classes)
                    .map(|p| {
                        if t == p {
                            30
                        } else if (t + 1) % classes == p {
                            10
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        ConfusionRecord { step: 50, epoch: 5, classes: (0..classes).map(|c| c.to_string()).collect(), counts }
    }

    fn draw(r: Option<&ConfusionRecord>, w: u16, h: u16) -> String {
        let area = Rect::new(0, 0, w, h);
        let mut buf = Buffer::empty(area);
        ConfusionPanel { record: r, theme: Theme::plain() }.render(area, &mut buf);
        text(&buf)
    }

    #[test]
    fn shades_follow_the_share_of_the_row() {
        assert_eq!([0.0, 0.1, 0.3, 0.6, 0.75, 1.0].map(shade), [' ', '░', '▒', '▓', '█', '█']);
        // 30 of 40 on the diagonal (█, 75%), 10 beside it (▒, 25%), zeros as dots.
        let s = draw(Some(&record(3)), 60, 12);
        assert!(s.contains("0 ██30 ▒▒10    · "), "{s}");
        assert!(s.contains("2 ▒▒10    · ██30 "), "{s}");
        assert!(s.contains("75.0% right"), "{s}");
    }

    #[test]
    fn many_classes_drop_the_counts_then_say_they_do_not_fit() {
        let ten = draw(Some(&record(10)), 78, 20);
        assert!(ten.contains("██30"), "ten classes fit with counts at 80 columns:\n{ten}");
        let shades = draw(Some(&record(20)), 78, 30);
        assert!(shades.contains(" 0 ██ ▒▒    ") && !shades.contains("30"), "{shades}");
        let too_many = draw(Some(&record(40)), 78, 30);
        assert!(too_many.contains("40 classes do not fit here"), "{too_many}");
        assert!(draw(None, 78, 20).contains("none yet"));
    }
}
