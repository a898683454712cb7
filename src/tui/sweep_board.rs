//! A sweep's leaderboard in `top`: its variants ranked by the monitored
//! validation figure (mean, standard deviation and 95% interval over seeds,
//! live as runs progress) and what each varied key did. The figures come
//! from the caller (`cli/top.rs` reads them through `sweep`); this module
//! only draws them.

use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row, Table};
use ratatui::Frame;

use super::theme::Theme;

/// One variant's line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VariantView {
    pub label: String,
    /// Runs with a figure / runs of the variant.
    pub runs: (usize, usize),
    pub done: usize,
    pub running: usize,
    /// Mean, sd and the interval; None before any run reported an epoch.
    pub figures: Option<(f64, f64, f64, f64)>,
}

/// One varied key's main effect.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EffectView {
    pub key: String,
    pub value: String,
    pub baseline: String,
    pub diff: f64,
    pub low: f64,
    pub high: f64,
    pub verdict: String,
}

/// One sweep, ready to draw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BoardView {
    pub name: String,
    pub metric: String,
    pub done: usize,
    pub total: usize,
    pub variants: Vec<VariantView>,
    pub effects: Vec<EffectView>,
}

impl BoardView {
    /// The lines it needs: borders, a header, variants, effects.
    pub fn height(&self) -> u16 {
        (3 + self.variants.len() + self.effects.len()) as u16
    }
}

fn range(low: f64, high: f64) -> String {
    if low.is_finite() && high.is_finite() {
        format!("[{low:.3}, {high:.3}]")
    } else {
        "(1 run)".into()
    }
}

/// One key's effect, colored by its verdict.
fn effect_line(e: &EffectView, theme: &Theme) -> Line<'static> {
    let style = match e.verdict.as_str() {
        "helped" => theme.good(),
        "hurt" => theme.bad(),
        _ => theme.dim(),
    };
    let text =
        format!("{} {} vs {}: {:+.4} {} {}", e.key, e.value, e.baseline, e.diff, range(e.low, e.high), e.verdict);
    Line::styled(text, style)
}

/// Draws `board` in `area`: the ranked variants, then one line per effect.
pub fn draw_board(frame: &mut Frame, area: Rect, board: &BoardView, theme: &Theme) {
    let title = format!(" sweep {} · {}/{} done · ranked by {} ", board.name, board.done, board.total, board.metric);
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let header = Row::new(["#", "variant", "runs", "mean", "sd", "95% interval"]).style(theme.title());
    let rows = board.variants.iter().enumerate().map(|(i, v)| {
        let (mean, sd, ci) = match v.figures {
            Some((m, s, lo, hi)) => (format!("{m:.4}"), format!("{s:.4}"), range(lo, hi)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let runs = if v.running > 0 {
            format!("{}/{} ({} live)", v.runs.0, v.runs.1, v.running)
        } else {
            format!("{}/{}", v.runs.0, v.runs.1)
        };
        Row::new(vec![
            Cell::from((i + 1).to_string()),
            Cell::from(v.label.clone()),
            Cell::from(runs),
            Cell::from(mean),
            Cell::from(sd),
            Cell::from(ci),
        ])
    });
    let widths = [
        Constraint::Length(2),
        Constraint::Min(12),
        Constraint::Length(13),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(17),
    ];
    let [table_area, effects_area] =
        ratatui::layout::Layout::vertical([Constraint::Length(1 + board.variants.len() as u16), Constraint::Min(0)])
            .areas(inner);
    frame.render_widget(Table::new(rows, widths).header(header), table_area);
    let lines: Vec<Line> = board.effects.iter().map(|e| effect_line(e, theme)).collect();
    frame.render_widget(Paragraph::new(lines), effects_area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    #[test]
    fn the_board_ranks_variants_and_says_what_helped_in_80_columns() {
        let board = BoardView {
            name: "deep-sigmoid-sweep-20261207-101010".into(),
            metric: "val_acc".into(),
            done: 5,
            total: 6,
            variants: vec![
                VariantView {
                    label: "batch_norm.enabled=true".into(),
                    runs: (3, 3),
                    done: 2,
                    running: 1,
                    figures: Some((0.9740, 0.0085, 0.9529, 0.9951)),
                },
                VariantView {
                    label: "batch_norm.enabled=false".into(),
                    runs: (3, 3),
                    done: 3,
                    running: 0,
                    figures: Some((0.0994, 0.014, 0.0645, 0.1342)),
                },
            ],
            effects: vec![EffectView {
                key: "batch_norm.enabled".into(),
                value: "true".into(),
                baseline: "false".into(),
                diff: 0.8747,
                low: 0.8445,
                high: 0.9048,
                verdict: "helped".into(),
            }],
        };
        let mut t = Terminal::new(TestBackend::new(80, board.height())).unwrap();
        t.draw(|f| draw_board(f, f.area(), &board, &Theme::plain())).unwrap();
        let text: Vec<String> = (0..board.height())
            .map(|y| (0..80).map(|x| t.backend().buffer()[(x, y)].symbol().to_string()).collect())
            .collect();
        let all = text.join("\n");
        assert!(text[0].contains("sweep deep-sigmoid-sweep-20261207-101010 · 5/6 done · ranked by val_acc"), "{all}");
        assert!(
            text[2].contains("1  batch_norm.enabled=true")
                && text[2].contains("3/3 (1 live)")
                && text[2].contains("[0.953, 0.995]"),
            "{all}"
        );
        assert!(text[3].contains("2  batch_norm.enabled=false"), "{all}");
        assert!(text[4].contains("batch_norm.enabled true vs false: +0.8747 [0.845, 0.905] helped"), "{all}");
    }
}
