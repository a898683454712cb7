//! `traintop top`: one screen over many runs, on this machine and on other
//! hosts, each row live (state, progress, a loss sparkline, samples/s, ETA,
//! clients). Enter opens a run's dashboard; leaving it (Esc, `d` or `q`) comes
//! back here. The runs of a sweep come together, and the selected run's
//! sweep shows its leaderboard under the list (`sweep_board.rs`). `h` (or
//! Tab) switches to the history of past runs and back (`top_history.rs`),
//! where Enter opens `view` of a run, or of the runs marked with space. The
//! rows come from the caller (which asks the hosts on its own threads); this
//! module only shows them and picks one.

use std::io;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table, TableState};
use ratatui::Frame;

use super::compare::MAX_RUNS;
use super::sweep_board::{draw_board, BoardView};
use super::terminal_loop::{self, Ending, LoopOptions, TerminalScreen};
use super::theme::Theme;
use super::top_history::{draw_history, toggle_mark, PastRow};
use crate::format::middle_ellipsis;

/// One run as `top` shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopRow {
    /// `None` for this machine.
    pub host: Option<String>,
    pub name: String,
    pub state: String,
    pub epoch: usize,
    pub epochs: usize,
    pub step: u64,
    pub loss: Option<f32>,
    pub recent_loss: Vec<f32>,
    pub samples_per_sec: f64,
    pub eta_secs: Option<f64>,
    pub clients: usize,
    pub run_dir: String,
    /// The sweep it belongs to: an index into [`TopSnapshot::boards`].
    pub sweep: Option<usize>,
}

/// What the screen shows: the rows, and the hosts that could not be asked.
#[derive(Clone, Debug, Default)]
pub struct TopSnapshot {
    pub rows: Vec<TopRow>,
    pub errors: Vec<String>,
    /// The leaderboards of the sweeps the rows belong to.
    pub boards: Vec<BoardView>,
    /// Past runs of this machine, newest first, for the history view.
    pub past: Vec<PastRow>,
}

/// What the user chose.
#[derive(Clone, Debug, PartialEq)]
pub enum TopChoice {
    /// A live run's dashboard.
    Open(TopRow),
    /// `view` of these run folders (one, or several compared).
    View(Vec<String>),
    Quit,
}

/// Where the user is on the screen, kept across the dashboards and views
/// opened from it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopCursor {
    /// The live run selected.
    pub selected: usize,
    /// The history view is up.
    pub history: bool,
    /// The past run selected.
    pub past_selected: usize,
    /// The run folders marked for a comparison.
    pub marked: Vec<String>,
}

/// The last `width` finite `values`, one character each, scaled linearly.
fn sparkline(values: &[f32], width: usize) -> String {
    let values: Vec<f64> = values.iter().filter(|v| v.is_finite()).map(|&v| v as f64).collect();
    crate::format::sparkline(&values[values.len().saturating_sub(width)..])
}

/// The name column's least width.
const NAME_MIN: usize = 10;
/// Every column but the name, with the spacing between the nine (8), the
/// cursor (2) and the borders (2).
const FIXED_WIDTH: usize = 7 + 8 + 11 + 7 + 8 + 9 + 6 + 3 + 8 + 2 + 2;

/// Epochs done as a gauge and a percentage, in the column's 11 characters
/// whatever the counts (`169564/200000` did not fit).
fn progress(epoch: usize, epochs: usize) -> String {
    if epochs == 0 {
        return "-".into();
    }
    let share = (epoch as f64 / epochs as f64).clamp(0.0, 1.0);
    let filled = (share * 5.0).round() as usize;
    format!("{}{} {:>3.0}%", "█".repeat(filled), "░".repeat(5 - filled), 100.0 * share)
}

/// The time left, `-` when unknown.
fn eta(secs: Option<f64>) -> String {
    secs.filter(|s| s.is_finite()).map_or_else(|| "-".into(), crate::format::duration)
}

/// Draws the live list or the history, as `cursor` says.
pub fn draw(frame: &mut Frame, snapshot: &TopSnapshot, cursor: &TopCursor, theme: &Theme) {
    // The selected run's sweep (else the first), under the runs: the rows
    // keep at least five lines. The history has no sweep board.
    let board = snapshot.rows.get(cursor.selected).and_then(|r| r.sweep).or((!snapshot.boards.is_empty()).then_some(0));
    let board = board.and_then(|b| snapshot.boards.get(b)).filter(|_| !cursor.history);
    let board_height = board.map_or(0, |b| b.height().min(frame.area().height.saturating_sub(7)));
    let [body, board_area, errors, footer] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(board_height),
        Constraint::Length(snapshot.errors.len().min(4) as u16),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    if let Some(b) = board {
        draw_board(frame, board_area, b, theme);
    }
    match cursor.history {
        true => draw_history(frame, body, &snapshot.past, cursor.past_selected, &cursor.marked, theme),
        false => draw_live(frame, body, snapshot, cursor.selected, theme),
    }
    let lines: Vec<Line> = snapshot.errors.iter().take(4).map(|e| Line::styled(e.clone(), theme.warn())).collect();
    frame.render_widget(Paragraph::new(lines), errors);
    frame.render_widget(Paragraph::new(keys(snapshot, cursor, theme)), footer);
}

/// The live runs, `selected` highlighted. The host column shows only when
/// a row is another host's: its 8 characters go to the names otherwise.
fn draw_live(frame: &mut Frame, body: ratatui::layout::Rect, snapshot: &TopSnapshot, selected: usize, theme: &Theme) {
    let skip = usize::from(snapshot.rows.iter().all(|r| r.host.is_none()));
    let header = ["host", "run", "state", "progress", "loss", "recent", "samples/s", "ETA", "cl"];
    let header = Row::new(header.into_iter().skip(skip)).style(theme.title());
    // The name takes what the fixed columns leave (borders, the cursor,
    // the spacing between the columns).
    let name_width = (body.width as usize + skip * 8).saturating_sub(FIXED_WIDTH).max(NAME_MIN);
    let rows = snapshot.rows.iter().map(|r| {
        let cells = [
            r.host.clone().unwrap_or_else(|| "here".into()),
            middle_ellipsis(&r.name, name_width),
            r.state.clone(),
            progress(r.epoch, r.epochs),
            r.loss.map(|l| format!("{l:.4}")).unwrap_or_else(|| "-".into()),
            sparkline(&r.recent_loss, 8),
            format!("{:.0}", r.samples_per_sec),
            eta(r.eta_secs),
            r.clients.to_string(),
        ];
        Row::new(cells.into_iter().skip(skip).map(Cell::from))
    });
    // 80 columns hold every column; more room goes to the run's name.
    let widths = [
        Constraint::Length(7),
        Constraint::Min(NAME_MIN as u16),
        Constraint::Length(8),
        Constraint::Length(11),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(6),
        Constraint::Length(3),
    ];
    let n = snapshot.rows.len();
    let title = format!(" traintop top · {n} {} ", if n == 1 { "run" } else { "runs" });
    let table = Table::new(rows, widths.into_iter().skip(skip))
        .header(header)
        .block(Block::default().borders(Borders::ALL).title(title))
        .row_highlight_style(theme.selected())
        .highlight_symbol("> ");
    let mut state = TableState::default().with_selected((!snapshot.rows.is_empty()).then_some(selected));
    frame.render_stateful_widget(table, body, &mut state);
}

/// The footer: the keys of the view that is up.
fn keys<'a>(snapshot: &TopSnapshot, cursor: &TopCursor, theme: &Theme) -> Line<'a> {
    let key = |k: &'a str| Span::styled(k, theme.key());
    if cursor.history {
        let enter = match cursor.marked.len() {
            0 | 1 => " view · ",
            _ => " compare the marked · ",
        };
        return Line::from(vec![
            key("Enter"),
            Span::raw(enter),
            key("space"),
            Span::raw(" mark · "),
            key("h"),
            Span::raw(" live runs · "),
            key("q"),
            Span::raw(" quit"),
        ]);
    }
    Line::from(vec![
        key("Enter"),
        Span::raw(" open the dashboard (Esc or d comes back) · "),
        key("h"),
        Span::raw(format!(" history ({}) · ", snapshot.past.len())),
        key("q"),
        Span::raw(" quit"),
    ])
}

/// `top` as a [`TerminalScreen`]: the rows asked for each tick, and the cursor.
struct TopList<'a> {
    snapshot: &'a dyn Fn() -> TopSnapshot,
    current: TopSnapshot,
    cursor: &'a mut TopCursor,
    theme: Theme,
    choice: Option<TopChoice>,
}

impl TopList<'_> {
    /// Enter in the history: two or more marked runs compared, else the
    /// selected one.
    fn view_choice(&self) -> Option<TopChoice> {
        if self.cursor.marked.len() >= 2 {
            return Some(TopChoice::View(self.cursor.marked.clone()));
        }
        self.current.past.get(self.cursor.past_selected).map(|r| TopChoice::View(vec![r.run_dir.clone()]))
    }

    /// The keys of the history view; false for a key it does not take.
    fn history_key(&mut self, code: KeyCode) -> bool {
        let last = self.current.past.len().saturating_sub(1);
        let c = &mut *self.cursor;
        match code {
            KeyCode::Char('j') | KeyCode::Down => c.past_selected = (c.past_selected + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => c.past_selected = c.past_selected.saturating_sub(1),
            KeyCode::Char(' ') => {
                if let Some(r) = self.current.past.get(c.past_selected) {
                    toggle_mark(&mut c.marked, &r.run_dir, MAX_RUNS);
                }
            }
            KeyCode::Enter => self.choice = self.view_choice(),
            _ => return false,
        }
        true
    }

    /// The keys of the live list; false for a key it does not take.
    fn live_key(&mut self, code: KeyCode) -> bool {
        let last = self.current.rows.len().saturating_sub(1);
        let c = &mut *self.cursor;
        match code {
            KeyCode::Char('j') | KeyCode::Down => c.selected = (c.selected + 1).min(last),
            KeyCode::Char('k') | KeyCode::Up => c.selected = c.selected.saturating_sub(1),
            KeyCode::Enter => self.choice = self.current.rows.get(c.selected).cloned().map(TopChoice::Open),
            _ => return false,
        }
        true
    }
}

impl TerminalScreen for TopList<'_> {
    type Outcome = TopChoice;

    fn on_tick(&mut self) {
        self.current = (self.snapshot)();
        let c = &mut *self.cursor;
        c.selected = c.selected.min(self.current.rows.len().saturating_sub(1));
        c.past_selected = c.past_selected.min(self.current.past.len().saturating_sub(1));
    }

    fn draw(&mut self, frame: &mut Frame) {
        draw(frame, &self.current, self.cursor, &self.theme);
    }

    fn on_key(&mut self, key: KeyEvent) {
        if key.kind != KeyEventKind::Press {
            return;
        }
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c');
        let taken = match self.cursor.history {
            true => self.history_key(key.code),
            false => self.live_key(key.code),
        };
        match key.code {
            _ if ctrl_c => self.choice = Some(TopChoice::Quit),
            _ if taken => {}
            KeyCode::Char('q') | KeyCode::Esc => self.choice = Some(TopChoice::Quit),
            KeyCode::Char('h') | KeyCode::Tab => self.cursor.history = !self.cursor.history,
            _ => {}
        }
    }

    fn outcome(&mut self) -> Option<TopChoice> {
        self.choice.take()
    }
}

/// Shows the rows `snapshot` gives (asked again every `refresh`) until the
/// user opens one or quits. `cursor` carries the view and selection across
/// calls.
pub fn run_top(
    snapshot: &dyn Fn() -> TopSnapshot,
    cursor: &mut TopCursor,
    refresh: Duration,
    no_color: bool,
    quit: &AtomicBool,
) -> io::Result<TopChoice> {
    let mut screen =
        TopList { snapshot, current: TopSnapshot::default(), cursor, theme: Theme::new(no_color), choice: None };
    let options = LoopOptions { tick: refresh, mouse: false, quit_signal: Some(quit) };
    match terminal_loop::run(&mut screen, options)? {
        Ending::Done(choice) => Ok(choice),
        // A signal or a hang-up: `top` has nothing of its own to stop.
        Ending::TerminalGone => Ok(TopChoice::Quit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    /// The list over `snapshot`, after its first tick.
    fn ticked<'a>(snapshot: &'a dyn Fn() -> TopSnapshot, cursor: &'a mut TopCursor) -> TopList<'a> {
        let mut list =
            TopList { snapshot, current: TopSnapshot::default(), cursor, theme: Theme::plain(), choice: None };
        list.on_tick();
        list
    }

    #[test]
    fn sparkline_scales_between_min_and_max() {
        assert_eq!(sparkline(&[1.0, 0.5, 0.0], 10), "█▅▁");
        assert_eq!(sparkline(&[2.0, 2.0], 10), "▄▄", "flat: the middle block, as in the gradients panel");
        assert_eq!(sparkline(&[3.0, 2.0, 1.0, 0.0], 2), "█▁");
        assert_eq!(sparkline(&[], 4), "");
    }

    #[test]
    fn progress_is_a_gauge_and_a_percentage_that_fit_the_column() {
        assert_eq!(progress(169_564, 200_000), "████░  85%");
        assert_eq!(progress(0, 10), "░░░░░   0%");
        assert_eq!(progress(10, 10), "█████ 100%");
        assert_eq!(progress(3, 0), "-");
        assert!(progress(169_564, 200_000).chars().count() <= 11);
    }

    /// The keys `top` takes, through the screen the terminal loop drives:
    /// the cursor stays on the rows, Enter opens the selected one, q quits.
    #[test]
    fn keys_move_within_the_rows_and_enter_opens_the_selected_one() {
        let rows =
            vec![TopRow { name: "a".into(), ..Default::default() }, TopRow { name: "b".into(), ..Default::default() }];
        let snapshot = || TopSnapshot { rows: rows.clone(), ..Default::default() };
        let mut cursor = TopCursor::default();
        let mut list = ticked(&snapshot, &mut cursor);
        for _ in 0..3 {
            list.on_key(press('j'));
        }
        assert_eq!(list.cursor.selected, 1, "the cursor stops at the last row");
        assert_eq!(list.outcome(), None);
        list.on_key(press('k'));
        list.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
        assert_eq!(list.outcome(), Some(TopChoice::Open(rows[0].clone())));
        assert_eq!(list.outcome(), None, "taken once");
        list.on_key(press('q'));
        assert_eq!(list.outcome(), Some(TopChoice::Quit));
    }

    /// `h` shows the history, where Enter views the selected run, space
    /// marks, and Enter with two marked compares them; `h` goes back.
    #[test]
    fn the_history_views_a_run_and_compares_two_marked() {
        let past = |d: &str| PastRow { name: d.into(), run_dir: d.into(), ..Default::default() };
        let snapshot = || TopSnapshot { past: vec![past("/a"), past("/b"), past("/c")], ..Default::default() };
        let mut cursor = TopCursor::default();
        let mut list = ticked(&snapshot, &mut cursor);
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        list.on_key(enter);
        assert_eq!(list.outcome(), None, "no live run to open");
        list.on_key(press('h'));
        list.on_key(press('j'));
        list.on_key(enter);
        assert_eq!(list.outcome(), Some(TopChoice::View(vec!["/b".into()])));
        list.on_key(press(' '));
        list.on_key(press('j'));
        list.on_key(press(' '));
        list.on_key(enter);
        assert_eq!(list.outcome(), Some(TopChoice::View(vec!["/b".into(), "/c".into()])));
        list.on_key(press('h'));
        assert!(!list.cursor.history);
        assert_eq!(list.cursor.marked.len(), 2, "marks stay for the next visit");
    }

    #[test]
    fn rows_and_host_errors_fit_80_columns() {
        let snapshot = TopSnapshot {
            rows: vec![
                TopRow {
                    name: "digits-20261202-060000".into(),
                    state: "running".into(),
                    epoch: 3,
                    epochs: 10,
                    step: 120,
                    loss: Some(0.25),
                    recent_loss: vec![1.0, 0.5, 0.25],
                    samples_per_sec: 12345.0,
                    eta_secs: Some(75.0),
                    clients: 2,
                    ..Default::default()
                },
                TopRow { host: Some("gpu1".into()), name: "wine".into(), state: "dead".into(), ..Default::default() },
            ],
            errors: vec!["gpu2: ssh could not connect".into()],
            ..Default::default()
        };
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        terminal
            .draw(|f| draw(f, &snapshot, &TopCursor { selected: 1, ..Default::default() }, &Theme::plain()))
            .unwrap();
        let text: String = terminal.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        // Both ends of the name: the config's and the start time's.
        assert!(text.contains("digit…0000"), "{text}");
        assert!(text.contains("██░░░  30%"), "the progress gauge: {text}");
        assert!(text.contains("2 runs"), "{text}");
        assert!(text.contains("running"));
        assert!(text.contains("1m15s"));
        assert!(text.contains("> gpu1"));
        assert!(text.contains("gpu2: ssh could not connect"));
    }
}
