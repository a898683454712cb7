//! The bottom line: the quit question when one is open, else the answer to
//! the last key, else the main keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::truncate;
use crate::train::events::RunState;
use crate::tui::app::{App, Overlay};

pub struct Footer<'a> {
    pub app: &'a App,
}

const HINTS: &[(&str, &str)] = &[
    ("p", "pause"),
    ("n", "step"),
    ("s", "stop"),
    ("c", "ckpt"),
    ("space", "toggle"),
    ("e", "edit"),
    ("L", "lr"),
    ("l", "log"),
    ("m", "smooth"),
    ("?", "help"),
    ("q", "quit"),
];

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let t = app.theme;
        let w = area.width as usize;
        let line = if app.overlay == Overlay::ConfirmQuit {
            let q = if app.state == Some(RunState::Stopping) {
                " The run is still stopping. Quit anyway? y/n "
            } else {
                " Stop the run and quit? y/n "
            };
            Line::styled(truncate(q, w), t.bad())
        } else if let Some(n) = &app.notice {
            Line::styled(truncate(&format!(" {n}"), w), t.warn())
        } else {
            let mut spans = Vec::new();
            let mut used = 0;
            for (k, d) in HINTS {
                let len = k.chars().count() + d.chars().count() + 3;
                if used + len > w {
                    break;
                }
                used += len;
                spans.push(Span::styled(format!(" {k}"), t.key()));
                spans.push(Span::styled(format!(" {d} "), t.dim()));
            }
            Line::from(spans)
        };
        Paragraph::new(line).render(area, buf);
    }
}
