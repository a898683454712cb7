//! Gradient health: the latest gradient norm of every parameter as a bar on a
//! fixed log scale (1e-7 .. 1e3, so a bar's length means the same thing from
//! run to run), its recent history as a sparkline, the saturation of
//! sigmoid/tanh layers, and a VANISHING / EXPLODING flag with its reason.

use std::collections::VecDeque;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

use super::{fmt_sci, pane_title, truncate};
use crate::grad_health::{GradFlag, GradWatch};
use crate::protocol::StepRecord;
use crate::tui::theme::Theme;

/// Norms kept per parameter for the sparkline.
const HISTORY: usize = 48;
/// The bar scale, in powers of ten.
const LOG_LO: f64 = -7.0;
const LOG_HI: f64 = 3.0;
/// Saturation share drawn as a warning.
const SATURATION_WARN: f32 = 0.5;

/// The gradient figures of the latest steps.
#[derive(Clone, Debug, Default)]
pub struct GradHealth {
    pub step: u64,
    pub norms: Vec<(String, f32)>,
    pub history: Vec<(String, VecDeque<f32>)>,
    pub saturation: Vec<(usize, f32)>,
    /// The flag as shown ([`GradWatch`]: it changes only once it lasts).
    pub flag: Option<GradFlag>,
    watch: GradWatch,
}

impl GradHealth {
    /// Takes a step's figures; returns the flag to warn about, when the
    /// shown flag just became one worth a warning.
    pub fn apply(&mut self, r: &StepRecord) -> Option<GradFlag> {
        self.step = r.step;
        self.norms = r.grad_norms.clone();
        self.saturation = r.saturation.clone();
        let warning = if r.grad_norms.is_empty() { None } else { self.watch.observe(&r.grad_norms) };
        self.flag = self.watch.shown().cloned();
        for (name, v) in &r.grad_norms {
            let pos = match self.history.iter().position(|(n, _)| n == name) {
                Some(p) => p,
                None => {
                    self.history.push((name.clone(), VecDeque::new()));
                    self.history.len() - 1
                }
            };
            let h = &mut self.history[pos].1;
            if h.len() >= HISTORY {
                h.pop_front();
            }
            h.push_back(*v);
        }
        warning
    }
}

/// Length of a bar for `v` on the fixed log scale, out of `width`.
fn bar_len(v: f32, width: usize) -> usize {
    if !v.is_finite() {
        return width;
    }
    if v <= 0.0 {
        return 0;
    }
    let f = ((v as f64).log10() - LOG_LO) / (LOG_HI - LOG_LO);
    (f.clamp(0.0, 1.0) * width as f64).round() as usize
}

/// A sparkline of the last `width` values, scaled in log space between the
/// row's own extremes so the trend shows whatever the magnitude: a zero
/// gradient (no log) is a blank, a non-finite one `!`.
fn sparkline(values: &VecDeque<f32>, width: usize) -> String {
    let logs: Vec<f64> = values
        .iter()
        .skip(values.len().saturating_sub(width))
        .map(|&v| match v {
            v if !v.is_finite() => f64::INFINITY,
            v if v > 0.0 => (v as f64).log10(),
            _ => f64::NAN,
        })
        .collect();
    crate::format::sparkline(&logs)
}

/// The panel.
pub struct GradientsPanel<'a> {
    pub health: &'a GradHealth,
    /// Rows scrolled past (the flag line stays on top).
    pub from: usize,
    /// The scrolling keys act here.
    pub focused: bool,
    pub theme: Theme,
}

impl Widget for GradientsPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let rows = self.rows(area.width.saturating_sub(2) as usize);
        // The flag (or "ok") line stays on top; the rows scroll under it.
        let room = (area.height as usize).saturating_sub(3);
        let from = self.from.min(rows.len().saturating_sub(room));
        let extra = match rows.len() > room {
            true => format!(" {}-{}/{}", from + 1, (from + room).min(rows.len()), rows.len()),
            false => String::new(),
        };
        let block = Block::bordered()
            .title(Span::styled(pane_title("gradients", self.focused, &extra), t.title()))
            .title_bottom(Span::styled(" |g| log 1e-7..1e3 ", t.dim()));
        let inner = block.inner(area);
        block.render(area, buf);
        if inner.width < 8 || inner.height == 0 {
            return;
        }
        let mut lines = self.flag_line(inner.width as usize);
        lines.extend(rows.into_iter().skip(from));
        Paragraph::new(lines).render(inner, buf);
    }
}

impl GradientsPanel<'_> {
    /// The flag, "ok at step N", or "no gradient figures yet".
    fn flag_line(&self, w: usize) -> Vec<Line<'static>> {
        let (t, h) = (self.theme, self.health);
        let mut lines: Vec<Line> = Vec::new();
        match &h.flag {
            Some(flag @ GradFlag::Exploding(_)) => {
                lines.push(Line::styled(truncate(&format!("!! {flag}"), w), t.bad()))
            }
            Some(flag @ GradFlag::Vanishing(_)) => {
                lines.push(Line::styled(truncate(&format!("!! {flag}"), w), t.warn()))
            }
            None if !h.norms.is_empty() => {
                lines.push(Line::styled(truncate(&format!("ok at step {}", h.step), w), t.good()))
            }
            None => {}
        }
        if h.norms.is_empty() {
            lines.push(Line::styled("no gradient figures yet", t.dim()));
        }
        lines
    }

    /// A row per parameter (bar, value, sparkline), then the saturation rows.
    fn rows(&self, w: usize) -> Vec<Line<'static>> {
        let (t, h) = (self.theme, self.health);
        let mut lines: Vec<Line> = Vec::new();
        let name_w = h.norms.iter().map(|(n, _)| n.chars().count()).max().unwrap_or(0).min(w * 2 / 5).max(4);
        // name, space, bar, space, value (8), space, sparkline
        let rest = w.saturating_sub(name_w + 1 + 1 + 8);
        let spark_w = if rest >= 18 { (rest / 3).min(HISTORY) } else { 0 };
        let bar_w = rest.saturating_sub(spark_w + usize::from(spark_w > 0)).max(1);
        for (name, v) in &h.norms {
            let filled = bar_len(*v, bar_w);
            let style = if !v.is_finite() || *v > 1e3 {
                t.bad()
            } else if *v < 1e-7 {
                t.warn()
            } else {
                t.gauge()
            };
            let mut spans = vec![
                Span::raw(format!("{:<name_w$} ", truncate(name, name_w))),
                Span::styled("█".repeat(filled), style),
                Span::styled("░".repeat(bar_w - filled), t.dim()),
                Span::raw(format!(" {:>8}", fmt_sci(*v as f64))),
            ];
            if spark_w > 0 {
                if let Some((_, hist)) = h.history.iter().find(|(n, _)| n == name) {
                    spans.push(Span::styled(format!(" {}", sparkline(hist, spark_w)), t.dim()));
                }
            }
            lines.push(Line::from(spans));
        }
        if !h.saturation.is_empty() {
            let label_w = name_w;
            let bar_w = w.saturating_sub(label_w + 1 + 1 + 5).max(1);
            for (layer, share) in &h.saturation {
                let filled = ((share.clamp(0.0, 1.0) * bar_w as f32).round()) as usize;
                let style = if *share > SATURATION_WARN { t.warn() } else { t.gauge() };
                lines.push(Line::from(vec![
                    Span::raw(format!("{:<label_w$} ", truncate(&format!("sat {layer}"), label_w))),
                    Span::styled("█".repeat(filled), style),
                    Span::styled("░".repeat(bar_w - filled), t.dim()),
                    Span::raw(format!(" {:>4.0}%", share * 100.0)),
                ]));
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_and_sparklines() {
        assert_eq!(bar_len(1e3, 10), 10);
        assert_eq!(bar_len(1e-7, 10), 0);
        assert_eq!(bar_len(0.01, 10), 5);
        assert_eq!(bar_len(f32::INFINITY, 10), 10);
        let h: VecDeque<f32> = [1.0, 10.0, 100.0].into_iter().collect();
        assert_eq!(sparkline(&h, 10), "▁▅█");
        assert_eq!(sparkline(&h, 2), "▁█");
    }
}
