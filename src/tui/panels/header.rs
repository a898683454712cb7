//! The two header lines: what runs where and in which state, then how far it
//! got (epoch, step, a progress bar) and how fast. The second line drops its
//! least useful figures first when the terminal is narrow.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{fmt_sci, thousands, truncate};
use crate::format::duration;
use crate::protocol::{LinkState, RunState, StopReason};
use crate::tui::state::{Progress, RunInfo};
use crate::tui::theme::Theme;

/// What the header shows.
pub struct Header<'a> {
    pub title: &'a str,
    /// `None` until the run started.
    pub info: Option<&'a RunInfo>,
    pub state: Option<RunState>,
    pub finished: Option<StopReason>,
    pub progress: &'a Progress,
    /// What the header says of a client's link instead of the run's
    /// state while it is lost.
    pub link: Option<String>,
    pub eta: Option<f64>,
    pub theme: Theme,
}

/// The state word, as the header and the tests read it.
pub fn state_word(state: Option<RunState>, finished: Option<StopReason>) -> String {
    match (state, finished) {
        (None, _) => "starting".into(),
        (Some(RunState::Running), _) => "running".into(),
        (Some(RunState::Paused), _) => "paused".into(),
        (Some(RunState::Stopping), _) => "stopping".into(),
        (Some(RunState::Finished), Some(r)) => format!("finished: {}", r.as_str()),
        (Some(RunState::Finished), None) => "finished".into(),
    }
}

/// The header's word for a lost link (`None` while it is up).
pub fn link_word(state: &LinkState) -> Option<String> {
    match state {
        LinkState::Up => None,
        LinkState::Reconnecting(d) => Some(format!("connection lost, reconnecting {}s", d.as_secs())),
        LinkState::GaveUp(_) => Some("connection lost".into()),
    }
}

impl Widget for Header<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = &self;
        let t = app.theme;
        let w = area.width as usize;
        if w == 0 || area.height == 0 {
            return;
        }
        let state = format!(" [{}] ", app.link.clone().unwrap_or_else(|| state_word(app.state, app.finished)));
        let state_style = match app.state {
            _ if app.link.is_some() => t.bad(),
            Some(RunState::Running) => t.good(),
            Some(RunState::Paused) | Some(RunState::Stopping) => t.warn(),
            Some(RunState::Finished) => match app.finished {
                Some(StopReason::Completed) | Some(StopReason::EarlyStopping) | Some(StopReason::User) => t.title(),
                _ => t.bad(),
            },
            None => t.dim(),
        };
        let title = format!(" {} · ", app.title);
        let details = match app.info {
            Some(i) => format!("{} · {} params · {}", i.device, thousands(i.parameters as u64), i.run_dir),
            None => "waiting for the trainer".into(),
        };
        let room = w.saturating_sub(title.chars().count() + state.chars().count());
        let pad = room.saturating_sub(details.chars().count().min(room));
        let line1 = Line::from(vec![
            Span::styled(truncate(&title, w), t.title()),
            Span::raw(truncate(&details, room)),
            Span::raw(" ".repeat(pad)),
            Span::styled(state, state_style),
        ]);

        let p = app.progress;
        let (epochs, total) =
            app.info.as_ref().map(|i| (i.epochs, (i.epochs * i.steps_per_epoch) as u64)).unwrap_or((0, 0));
        let left = if total > 0 {
            format!(" epoch {}/{} step {}/{} ", p.epoch, epochs, p.step, total)
        } else {
            format!(" epoch {} step {} ", p.epoch, p.step)
        };
        let frac = if total > 0 { (p.step as f64 / total as f64).clamp(0.0, 1.0) } else { 0.0 };
        let mut extras = vec![format!(" {:>3.0}%", frac * 100.0)];
        extras.push(format!("  {} elapsed", duration(p.wall_time)));
        if let Some(eta) = app.eta {
            extras.push(format!("  ETA {}", duration(eta)));
        }
        if p.samples_per_sec > 0.0 {
            extras.push(format!("  {} samples/s", thousands(p.samples_per_sec.round() as u64)));
        }
        if let Some(lr) = p.lr {
            extras.push(format!("  lr {}", fmt_sci(lr as f64)));
        }
        if let Some(v) = p.val_loss {
            extras.push(format!("  val {}", fmt_sci(v as f64)));
        }
        const MIN_BAR: usize = 10;
        let left_w = left.chars().count();
        let mut used = left_w + MIN_BAR;
        let mut keep = 0;
        for e in &extras {
            let ew = e.chars().count();
            if used + ew > w {
                break;
            }
            used += ew;
            keep += 1;
        }
        let mut spans = vec![Span::raw(truncate(&left, w))];
        if left_w + MIN_BAR <= w {
            let bar = MIN_BAR + (w - used);
            let filled = (frac * bar as f64).round() as usize;
            spans.push(Span::styled("█".repeat(filled), t.gauge()));
            spans.push(Span::styled("░".repeat(bar - filled), t.dim()));
            spans.extend(extras.into_iter().take(keep).map(Span::raw));
        }
        Paragraph::new(vec![line1, Line::from(spans)]).render(area, buf);
    }
}
