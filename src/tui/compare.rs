//! `traintop view RUN_A RUN_B ...`: several run folders' curves overlaid on
//! one loss chart and one accuracy chart, to see what a technique did.
//!
//! Each run is replayed from its folder into an [`App`] (the same fold the
//! live dashboard uses), then drawn as one series per chart with its own
//! color AND its own canvas marker (braille, dots, blocks, ...) and a letter
//! in the legend, so the runs stay apart without color. The legend gives each
//! run's name, its final figures and the config keys that differ between the
//! runs. Keys: `x` plots by step or by epoch (runs with other batch sizes line
//! up by epoch), `v` validation or training curves, `l` log-scale loss, `q`.
//!
//! What differs between the configs is worked out by the caller (the
//! dashboard knows run folders only through the protocol's records).

use std::path::PathBuf;
use std::time::Duration;

use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};
use ratatui::Frame;

use super::app::App;
use super::bounded_series::BoundedSeries;
use super::panels::plot::{ChartView, Kind, Plot, Series};
use super::panels::{fmt_sci, truncate};
use super::replay;
use super::terminal_loop::{self, LoopOptions, TerminalScreen};
use super::theme::Theme;

/// Per run, in order: a color and a canvas marker (and a letter).
const COLORS: [Color; 6] =
    [Color::Cyan, Color::Magenta, Color::Yellow, Color::Green, Color::LightBlue, Color::LightRed];
/// Not half blocks: ratatui paints those from the color alone, so without
/// color that run would not be drawn at all.
const MARKERS: [Marker; 4] = [Marker::Braille, Marker::Dot, Marker::Block, Marker::Bar];
/// More would not be told apart on a terminal chart.
pub const MAX_RUNS: usize = 6;

/// A run folder to overlay, as the caller describes it.
#[derive(Clone, Debug, Default)]
pub struct RunToCompare {
    pub dir: PathBuf,
    pub name: String,
    /// `key=value` for each config key that differs between the runs.
    pub differences: Vec<String>,
}

/// One run folder, replayed.
pub struct CompareRun {
    pub name: String,
    app: App,
    /// `key=value` for each config key that differs between the runs.
    pub differences: Vec<String>,
}

/// Which curves the charts show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curves {
    /// Validation loss and accuracy at each epoch end.
    Validation,
    /// The smoothed training loss and accuracy of each logged step.
    Training,
}

/// The comparison screen's state.
pub struct Compare {
    runs: Vec<CompareRun>,
    pub by_epoch: bool,
    pub curves: Curves,
    pub log_scale: bool,
    theme: Theme,
    quit: bool,
}

impl Compare {
    /// Replays every folder; errors name the folder at fault.
    pub fn load(runs: &[RunToCompare], no_color: bool) -> Result<Compare, String> {
        if runs.len() > MAX_RUNS {
            return Err(format!("at most {MAX_RUNS} runs can be overlaid, got {}", runs.len()));
        }
        let mut out = Vec::new();
        for run in runs {
            let app = replay::from_dir(&run.name, &run.dir)?;
            out.push(CompareRun { name: run.name.clone(), app, differences: run.differences.clone() });
        }
        Ok(Compare::new(out, no_color))
    }

    pub fn new(runs: Vec<CompareRun>, no_color: bool) -> Compare {
        Compare {
            runs,
            by_epoch: false,
            curves: Curves::Validation,
            log_scale: false,
            theme: Theme::new(no_color),
            quit: false,
        }
    }

    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind != KeyEventKind::Press {
            return;
        }
        match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => self.quit = true,
            KeyCode::Char('q') | KeyCode::Esc => self.quit = true,
            KeyCode::Char('x') => self.by_epoch = !self.by_epoch,
            KeyCode::Char('v') => {
                self.curves = match self.curves {
                    Curves::Validation => Curves::Training,
                    Curves::Training => Curves::Validation,
                }
            }
            KeyCode::Char('l') => self.log_scale = !self.log_scale,
            _ => {}
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    fn color(&self, i: usize) -> Color {
        self.theme.color(COLORS[i % COLORS.len()])
    }

    fn letter(i: usize) -> char {
        (b'A' + (i % 26) as u8) as char
    }

    /// The points of one run's loss or accuracy curve, x in steps or epochs.
    fn points(&self, run: &CompareRun, accuracy: bool) -> Vec<(f64, f64)> {
        let c = &run.app.charts;
        let pick = |val: &BoundedSeries, train: &BoundedSeries| match self.curves {
            Curves::Validation if !val.is_empty() => val.points(),
            _ => train.points(),
        };
        let pts = if accuracy { pick(&c.val_acc, &c.acc_ema) } else { pick(&c.val_loss, &c.loss_ema) };
        let per_epoch = run.app.info.as_ref().map_or(0, |i| i.steps_per_epoch);
        if self.by_epoch && per_epoch > 0 {
            pts.into_iter().map(|(x, y)| (x / per_epoch as f64, y)).collect()
        } else {
            pts
        }
    }

    fn has_accuracy(&self) -> bool {
        self.runs.iter().any(|r| !r.app.charts.val_acc.is_empty() || !r.app.charts.acc_ema.is_empty())
    }

    fn chart(&self, accuracy: bool, area: Rect, buf: &mut Buffer) {
        let series = self
            .runs
            .iter()
            .enumerate()
            .map(|(i, run)| Series {
                name: Self::letter(i).to_string(),
                points: self.points(run, accuracy),
                color: self.color(i),
                marker: MARKERS[i % MARKERS.len()],
                kind: Kind::Line,
            })
            .collect();
        let which = match self.curves {
            Curves::Validation => "validation",
            Curves::Training => "training",
        };
        let what = if accuracy { "accuracy" } else { "loss" };
        let log = self.log_scale && !accuracy;
        Plot {
            title: format!("{which} {what}{}", if log { " (log)" } else { "" }),
            series,
            markers: vec![],
            log_y: log,
            clamp: Some(if accuracy { (0.0, 1.0) } else { (0.0, f64::INFINITY) }),
            fmt_y: if accuracy { |v| format!("{v:.2}") } else { fmt_sci },
            x_label: if self.by_epoch { "epoch" } else { "step" },
            view: ChartView::default(),
            empty: "no points in these runs",
            theme: self.theme,
        }
        .render(area, buf);
    }

    fn legend_line(&self, i: usize, run: &CompareRun, width: usize) -> Line<'static> {
        let t = self.theme;
        let p = &run.app.progress;
        let mut figures = String::new();
        if let Some(acc) = p.val_acc {
            figures.push_str(&format!("  val_acc {acc:.3}"));
        }
        if let Some(loss) = p.val_loss {
            figures.push_str(&format!("  val_loss {}", fmt_sci(loss as f64)));
        }
        let head = format!(" {} {} ", Self::letter(i), run.name);
        // What differs first: it is what the comparison is about.
        let rest = format!(" {}{figures}", run.differences.join("  "));
        let room = width.saturating_sub(head.chars().count() + 2);
        let sym = match MARKERS[i % MARKERS.len()] {
            Marker::Dot => "•",
            Marker::Block => "█",
            Marker::Bar => "▄",
            _ => "━",
        };
        Line::from(vec![
            Span::styled(format!(" {sym}"), Style::default().fg(self.color(i))),
            Span::styled(head, t.title()),
            Span::raw(truncate(&rest, room)),
        ])
    }
}

impl Widget for &Compare {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        if area.width < 40 || area.height < 12 {
            Paragraph::new("enlarge the terminal to at least 40x12 (q quits)").render(area, buf);
            return;
        }
        let legend_h = self.runs.len().min(MAX_RUNS) as u16 + 2;
        let [header, charts, legend, footer] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Length(legend_h),
            Constraint::Length(1),
        ])
        .areas(area);
        let x = if self.by_epoch { "epoch" } else { "step" };
        let curves = match self.curves {
            Curves::Validation => "validation",
            Curves::Training => "training (smoothed)",
        };
        let title = format!(" traintop view · {} runs · {curves} curves by {x}", self.runs.len());
        Paragraph::new(Line::styled(truncate(&title, area.width as usize), t.title())).render(header, buf);

        if self.has_accuracy() {
            let (loss, acc) = if charts.width >= 100 {
                let [l, a] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
                (l, a)
            } else {
                let [l, a] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(charts);
                (l, a)
            };
            self.chart(false, loss, buf);
            self.chart(true, acc, buf);
        } else {
            self.chart(false, charts, buf);
        }

        let block = Block::bordered().title(Span::styled(" runs (what differs) ", t.title()));
        let inner = block.inner(legend);
        block.render(legend, buf);
        let lines: Vec<Line> =
            self.runs.iter().enumerate().map(|(i, r)| self.legend_line(i, r, inner.width as usize)).collect();
        Paragraph::new(lines).render(inner, buf);

        let keys = [("x", "step/epoch"), ("v", "validation/training"), ("l", "log loss"), ("q", "quit")];
        let mut spans = Vec::new();
        for (k, d) in keys {
            spans.push(Span::styled(format!(" {k}"), t.key()));
            spans.push(Span::styled(format!(" {d} "), t.dim()));
        }
        Paragraph::new(Line::from(spans)).render(footer, buf);
    }
}

impl TerminalScreen for Compare {
    type Outcome = ();

    fn draw(&mut self, frame: &mut Frame) {
        frame.render_widget(&*self, frame.area());
    }

    fn on_key(&mut self, key: KeyEvent) {
        Compare::on_key(self, key);
    }

    fn outcome(&mut self) -> Option<()> {
        self.should_quit().then_some(())
    }
}

/// Shows the comparison until the user quits or the terminal goes.
pub fn view_runs(runs: &[RunToCompare], no_color: bool, mouse: bool) -> std::io::Result<()> {
    let mut compare = Compare::load(runs, no_color).map_err(std::io::Error::other)?;
    // The screen changes only on keys; the tick only bounds how long a
    // hang-up goes unnoticed.
    let options = LoopOptions { tick: Duration::from_millis(500), mouse, quit_signal: None };
    terminal_loop::run(&mut compare, options).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{EpochRecord, RunEvent, Started};
    use crate::tui::app::tests::{step, text};
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    /// A run whose loss decays at `rate` per step, with `epochs` epochs of 10 steps.
    fn run(name: &str, rate: f32, epochs: usize, differences: &[&str]) -> CompareRun {
        let mut app = App::new(name, true);
        app.apply(RunEvent::Started(Started {
            run_dir: format!("runs/{name}"),
            device: "cpu".into(),
            epochs,
            steps_per_epoch: 10,
            parameters: 100,
            ..Started::default()
        }));
        for s in 1..=(epochs as u64 * 10) {
            let mut r = step(s);
            r.loss = 2.3 * (-(s as f32) * rate).exp() + 0.05;
            r.acc = Some(1.0 - r.loss / 2.4);
            app.apply(RunEvent::Step(r));
            if s % 10 == 0 {
                let loss = 2.3 * (-(s as f32) * rate).exp() + 0.1;
                app.apply(RunEvent::Epoch(EpochRecord {
                    step: s,
                    epoch: s as usize / 10,
                    loss,
                    val_loss: loss,
                    val_acc: Some(1.0 - loss / 2.4),
                    lr: 0.1,
                    samples_per_sec: 1000.0,
                    wall_time: s as f64,
                    eta_secs: 0.0,
                }));
            }
        }
        CompareRun { name: name.into(), app, differences: differences.iter().map(|s| s.to_string()).collect() }
    }

    fn pair() -> Compare {
        Compare::new(
            vec![
                run("deep-sigmoid-a", 0.002, 20, &["batch_norm.enabled=false"]),
                run("deep-sigmoid-b", 0.03, 20, &["batch_norm.enabled=true"]),
            ],
            true,
        )
    }

    fn render(c: &Compare, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| f.render_widget(c, f.area())).unwrap();
        text(t.backend().buffer())
    }

    #[test]
    fn two_runs_overlaid_at_80x24() {
        let c = pair();
        insta::assert_snapshot!("compare_80x24", render(&c, 80, 24));
    }

    #[test]
    fn two_runs_overlaid_at_120x40() {
        let c = pair();
        insta::assert_snapshot!("compare_120x40", render(&c, 120, 40));
    }

    #[test]
    fn runs_differ_by_marker_letter_and_color() {
        let c = pair();
        let s = render(&c, 120, 40);
        // Run B's dots, run A's braille, both letters in the chart legends.
        assert!(s.contains('•'), "{s}");
        assert!(s.chars().any(|ch| ('\u{2801}'..='\u{28ff}').contains(&ch)), "{s}");
        assert!(s.contains("━ A") && s.contains("• B"), "{s}");
        assert!(s.contains("batch_norm.enabled=false") && s.contains("batch_norm.enabled=true"), "{s}");
        // Every run's marker draws without color too.
        let four = Compare::new((0..4).map(|i| run(&format!("r{i}"), 0.01 * (i + 1) as f32, 3, &[])).collect(), true);
        let s = render(&four, 120, 40);
        assert!(s.contains('█') && s.contains('▄') && s.contains("▄ D"), "{s}");
        let colored = Compare::new(vec![run("a", 0.01, 3, &[]), run("b", 0.02, 3, &[])], false);
        assert_ne!(colored.color(0), colored.color(1));
    }

    #[test]
    fn keys_switch_the_x_axis_and_the_curves() {
        let mut c = pair();
        let key = |ch| KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE);
        let by_step = c.points(&c.runs[0], false);
        assert_eq!(by_step.last().unwrap().0, 200.0);
        c.on_key(key('x'));
        assert!(c.by_epoch);
        assert_eq!(c.points(&c.runs[0], false).last().unwrap().0, 20.0);
        assert!(render(&c, 80, 24).contains("by epoch"));
        c.on_key(key('v'));
        assert_eq!(c.curves, Curves::Training);
        assert!(c.points(&c.runs[0], true).len() > 20, "per-step training curve");
        c.on_key(key('q'));
        assert!(c.should_quit());
    }

    #[test]
    fn loading_names_a_folder_without_records() {
        let tmp = tempfile::tempdir().unwrap();
        let one = RunToCompare { dir: tmp.path().to_path_buf(), ..Default::default() };
        let e = Compare::load(std::slice::from_ref(&one), true).err().unwrap();
        assert!(e.ends_with("no metrics.jsonl or events.jsonl"), "{e}");
        let many: Vec<RunToCompare> = (0..=MAX_RUNS).map(|_| one.clone()).collect();
        assert!(Compare::load(&many, true).err().unwrap().starts_with("at most 6 runs"));
    }
}
