//! The bottom line: the quit question when one is open, else the answer to
//! the last key, else the main keys.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::truncate;
use crate::protocol::RunState;
use crate::tui::input::footer_hints;
use crate::tui::theme::Theme;

/// What the footer shows.
pub struct Footer<'a> {
    pub state: Option<RunState>,
    /// The quit question is open.
    pub confirm_quit: bool,
    /// The stop question (`s`) is open.
    pub confirm_stop: bool,
    /// The answer to the last key.
    pub notice: Option<&'a str>,
    /// The config's hint, until the run has been steered.
    pub hint: Option<&'a str>,
    /// A run server's client: the quit question is "detach or stop?".
    pub attached: bool,
    pub theme: Theme,
}

fn hint_width(k: &str, d: &str) -> usize {
    k.chars().count() + d.chars().count() + 3
}

impl Widget for Footer<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = &self;
        let t = app.theme;
        let w = area.width as usize;
        let (always, hints) = footer_hints();
        let line = if app.confirm_stop {
            Line::styled(truncate(" Stop the run (checkpoint and summary)? y stop · Esc no ", w), t.bad())
        } else if app.confirm_quit {
            let q = match app.state {
                Some(RunState::Stopping) if app.attached => " The run is stopping. d detach now · Esc wait ",
                Some(RunState::Stopping) => " The run is still stopping. Quit anyway? y/n ",
                Some(RunState::Finished) => " The run has finished. Quit? y/n ",
                _ if app.attached => " Detach (the run goes on) or stop it? d detach · s stop · Esc stay ",
                _ => " Stop the run and quit? y/n ",
            };
            Line::styled(truncate(q, w), t.bad())
        } else if let Some(n) = app.notice {
            Line::styled(truncate(&format!(" {n}"), w), t.warn())
        } else if let Some(hint) = app.hint.filter(|h| !h.is_empty()) {
            // The hint first, then the keys that always show.
            let keys: usize = always.iter().map(|(k, d)| hint_width(k, d)).sum();
            let room = w.saturating_sub(keys);
            let mut spans = vec![Span::styled(truncate(&format!(" ▸ {hint} "), room), t.warn())];
            for (k, d) in &always {
                spans.push(Span::styled(format!(" {k}"), t.key()));
                spans.push(Span::styled(format!(" {d} "), t.dim()));
            }
            Line::from(spans)
        } else {
            let mut spans = Vec::new();
            let mut used: usize = always.iter().map(|(k, d)| hint_width(k, d)).sum();
            let mut push = |k: &str, d: &str| {
                spans.push(Span::styled(format!(" {k}"), t.key()));
                spans.push(Span::styled(format!(" {d} "), t.dim()));
            };
            for (k, d) in &always {
                push(k, d);
            }
            for (k, d) in &hints {
                let len = hint_width(k, d);
                if used + len > w {
                    break;
                }
                used += len;
                push(k, d);
            }
            Line::from(spans)
        };
        Paragraph::new(line).render(area, buf);
    }
}
