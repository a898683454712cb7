//! `top`'s history view: recent finished runs (and dead ones) read from
//! their folders, newest first, with their best validation figure, how they
//! ended, the technique changes made while they trained, how long they
//! trained and when they started. Enter opens the selected run in `view`;
//! space marks runs, and Enter with runs marked opens them compared.
//! The rows come from the caller, already formatted; this module draws them.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::widgets::{Block, Borders, Cell, Row, Table, TableState};
use ratatui::Frame;

use super::theme::Theme;
use crate::format::middle_ellipsis;

/// One past run as the history view shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PastRow {
    pub name: String,
    /// The stop reason, `dead` or `unreadable`.
    pub state: String,
    /// `val_acc 0.9667`, or `-`.
    pub best: String,
    pub changes: usize,
    /// `1m15s`, or `-`.
    pub duration: String,
    /// `3m ago`, or `-`.
    pub when: String,
    pub run_dir: String,
}

/// The name column's least width.
const NAME_MIN: usize = 10;
/// Every column but the name, with the spacing between the seven (6),
/// the cursor (2) and the borders (2).
const FIXED_WIDTH: usize = 1 + 14 + 14 + 7 + 6 + 8 + 6 + 2 + 2;

/// How a run ended, in the theme's words: ended on its own is good, a
/// blow-up or a failure bad, stopped by a person or killed a warning.
fn state_style(state: &str, theme: &Theme) -> Style {
    match state {
        "completed" | "early_stopping" => theme.good(),
        "diverged" | "error" | "crashed" | "unreadable" => theme.bad(),
        _ => theme.warn(),
    }
}

/// Draws `rows` in `area`, `selected` highlighted, `marked` run folders
/// ticked.
pub fn draw_history(frame: &mut Frame, area: Rect, rows: &[PastRow], selected: usize, marked: &[String], t: &Theme) {
    let header = Row::new(["", "run", "state", "best", "changes", "took", "when"]).style(t.title());
    let name_width = (area.width as usize).saturating_sub(FIXED_WIDTH).max(NAME_MIN);
    let lines = rows.iter().map(|r| {
        Row::new(vec![
            Cell::from(if marked.contains(&r.run_dir) { "*" } else { " " }),
            Cell::from(middle_ellipsis(&r.name, name_width)),
            Cell::from(r.state.clone()).style(state_style(&r.state, t)),
            Cell::from(r.best.clone()),
            Cell::from(r.changes.to_string()),
            Cell::from(r.duration.clone()),
            Cell::from(r.when.clone()),
        ])
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Min(NAME_MIN as u16),
        Constraint::Length(14),
        Constraint::Length(14),
        Constraint::Length(7),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    let n = rows.len();
    let title = format!(" traintop top · history · {n} past {} ", if n == 1 { "run" } else { "runs" });
    let table = Table::new(lines, widths)
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(t.selected())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected((!rows.is_empty()).then_some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

/// Marks `run_dir`, or unmarks it; at most `max` runs are marked (the
/// comparison's limit), the oldest mark giving way.
pub fn toggle_mark(marked: &mut Vec<String>, run_dir: &str, max: usize) {
    if let Some(i) = marked.iter().position(|m| m == run_dir) {
        marked.remove(i);
        return;
    }
    if marked.len() >= max {
        marked.remove(0);
    }
    marked.push(run_dir.to_string());
}

#[cfg(test)]
mod tests {
    use super::super::top::{draw, TopCursor, TopRow, TopSnapshot};
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn past(name: &str, state: &str, best: &str, changes: usize, took: &str, when: &str) -> PastRow {
        PastRow {
            name: name.into(),
            state: state.into(),
            best: best.into(),
            changes,
            duration: took.into(),
            when: when.into(),
            run_dir: format!("/runs/{name}"),
        }
    }

    /// A live run, a dead one with its last figures, and four past runs.
    fn snapshot() -> TopSnapshot {
        let live = TopRow {
            name: "deep-sigmoid-20261207-222145".into(),
            state: "running".into(),
            epoch: 3768,
            epochs: 4444,
            step: 169_564,
            loss: Some(0.0412),
            recent_loss: vec![0.9, 0.5, 0.3, 0.2, 0.1],
            samples_per_sec: 86_012.0,
            eta_secs: Some(95.0),
            clients: 1,
            run_dir: "/runs/deep-sigmoid-20261207-222145".into(),
            ..Default::default()
        };
        let dead = TopRow {
            name: "wine-20261207-210000".into(),
            state: "dead".into(),
            epoch: 12,
            epochs: 50,
            step: 240,
            loss: Some(0.3120),
            run_dir: "/runs/wine-20261207-210000".into(),
            ..Default::default()
        };
        TopSnapshot {
            rows: vec![live, dead],
            past: vec![
                past("iris-20261208-021511", "completed", "val_acc 0.9667", 0, "0s", "2m ago"),
                past("deep-sigmoid-bn-20261207-220000", "early_stopping", "val_acc 0.9861", 2, "1m15s", "40m ago"),
                past("digits-20261207-180000", "diverged", "val_acc 0.1012", 1, "12s", "5h ago"),
                past("broken-20261201-000000", "unreadable", "-", 0, "-", "-"),
            ],
            ..Default::default()
        }
    }

    fn render(cursor: &TopCursor, w: u16, h: u16) -> String {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| draw(f, &snapshot(), cursor, &Theme::plain())).unwrap();
        let buffer = terminal.backend().buffer();
        let rows = buffer.content().chunks(w as usize);
        rows.map(|r| r.iter().map(|c| c.symbol()).collect::<String>().trim_end().to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn snapshot_live_and_history_at_80x24_and_120x40() {
        let history = TopCursor {
            history: true,
            past_selected: 1,
            marked: vec!["/runs/iris-20261208-021511".into(), "/runs/deep-sigmoid-bn-20261207-220000".into()],
            ..Default::default()
        };
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(format!("top_live_{w}x{h}"), render(&TopCursor::default(), w, h));
            insta::assert_snapshot!(format!("top_history_{w}x{h}"), render(&history, w, h));
        }
    }

    #[test]
    fn the_history_at_80_columns_keeps_names_ends_and_every_column() {
        let text = render(&TopCursor { history: true, ..Default::default() }, 80, 24);
        assert!(text.contains("· 4 past runs"), "{text}");
        for cell in ["deep-sigmo…07-220000", "early_stopping", "val_acc 0.9861", "1m15s", "40m ago", "unreadable"] {
            assert!(text.contains(cell), "{cell}: {text}");
        }
        let live = render(&TopCursor::default(), 80, 24);
        assert!(live.contains("████░  85%") && live.contains("█░░░░  24%"), "gauges, the dead run's too: {live}");
        assert!(live.contains("0.3120"), "the dead run's last loss: {live}");
        assert!(live.contains("h history (4)"), "{live}");
    }

    #[test]
    fn marks_toggle_and_the_oldest_gives_way() {
        let mut marked = Vec::new();
        toggle_mark(&mut marked, "a", 2);
        toggle_mark(&mut marked, "b", 2);
        toggle_mark(&mut marked, "c", 2);
        assert_eq!(marked, ["b", "c"]);
        toggle_mark(&mut marked, "b", 2);
        assert_eq!(marked, ["c"]);
    }
}
