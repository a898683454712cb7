//! Where each panel goes for a given terminal size, and the drawing of the
//! whole frame. Three shapes: wide (three panels under the charts), normal
//! (80x24: the techniques and the log share a column), and narrow or short
//! (the charts, the techniques and the log only). Below 40x12 only a note is
//! drawn, since cut-off panels would mislead more than they tell.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::{Paragraph, Widget, Wrap};
use ratatui::Frame;

use std::collections::VecDeque;

use super::baseline::Behind;
use super::panels::accuracy_chart::AccuracyChart;
use super::panels::confusion::ConfusionPanel;
use super::panels::divergence::DivergenceBanner;
use super::panels::editor::EditorPopup;
use super::panels::events_log::EventsLog;
use super::panels::footer::Footer;
use super::panels::gradients::{GradHealth, GradientsPanel};
use super::panels::header::{state_word, Header};
use super::panels::help::Help;
use super::panels::loss_chart::LossChart;
use super::panels::plot::ChartView;
use super::panels::techniques::TechniquesPanel;
use super::reading::{Pane, Reading};
use super::state::{Charts, GradClip, LogEntry, Overlay, Rollback};
use super::theme::Theme;
use crate::protocol::{ConfusionRecord, TechniqueView};

/// Everything one frame shows, borrowed from the dashboard's state.
pub struct Screen<'a> {
    pub header: Header<'a>,
    pub footer: Footer<'a>,
    pub charts: &'a Charts,
    pub log_scale: bool,
    pub smoothing: bool,
    pub grads: &'a GradHealth,
    pub techniques: &'a [TechniqueView],
    pub technique_metrics: &'a [(String, f32)],
    pub selected: usize,
    pub log: &'a VecDeque<LogEntry>,
    pub overlay: &'a Overlay,
    /// Curves drawn behind the live ones.
    pub behind: Behind<'a>,
    /// The confusion matrix popup, when shown (`Some(None)`: none yet).
    pub confusion: Option<Option<&'a ConfusionRecord>>,
    /// The divergence banner, while the run waits at it.
    pub divergence: Option<(&'a Rollback, GradClip)>,
    /// Scrolled panes, the focus, the charts' cursor and zoom.
    pub reading: Reading,
    pub theme: Theme,
}

pub const MIN_WIDTH: u16 = 40;
pub const MIN_HEIGHT: u16 = 12;

/// The panels' rectangles; `None` for a panel that does not fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Areas {
    pub header: Rect,
    pub loss: Rect,
    pub accuracy: Option<Rect>,
    pub gradients: Option<Rect>,
    pub techniques: Rect,
    pub log: Option<Rect>,
    pub footer: Rect,
}

/// `None` when the terminal is too small for the dashboard.
pub fn areas(area: Rect, has_accuracy: bool, n_techniques: usize) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(2), Constraint::Min(0), Constraint::Length(1)]).areas(area);
    // Rows the techniques panel wants: two per technique plus borders.
    let tech_rows = (n_techniques.max(1) * 2 + 2) as u16;

    let charts_row = |r: Rect| -> (Rect, Option<Rect>) {
        if has_accuracy && r.width >= 60 {
            let [l, a] = Layout::horizontal([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(r);
            (l, Some(a))
        } else {
            (r, None)
        }
    };

    if area.width < 70 || body.height < 16 {
        // Narrow or short: charts on top, techniques and log below.
        let [top, bottom] = Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let (loss, accuracy) = charts_row(top);
        let (techniques, log) = if bottom.width >= 70 {
            let [t, l] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(bottom);
            (t, Some(l))
        } else if bottom.height >= 8 {
            let tech_h = tech_rows.min(bottom.height - 4);
            let [t, l] = Layout::vertical([Constraint::Length(tech_h), Constraint::Min(4)]).areas(bottom);
            (t, Some(l))
        } else {
            (bottom, None)
        };
        return Some(Areas { header, loss, accuracy, gradients: None, techniques, log, footer });
    }

    let chart_share = if body.height >= 36 { 50 } else { 45 };
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(chart_share), Constraint::Percentage(100 - chart_share)]).areas(body);
    let (loss, accuracy) = charts_row(top);
    let (gradients, techniques, log) = if area.width >= 110 {
        let [g, t, l] =
            Layout::horizontal([Constraint::Percentage(34), Constraint::Percentage(36), Constraint::Percentage(30)])
                .areas(bottom);
        (g, t, l)
    } else {
        let [g, right] = Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
        let mut tech_h = tech_rows.min(right.height * 3 / 5).max(3);
        // Whole techniques only (two rows each); the spare row goes to the log.
        if tech_h < tech_rows && tech_h % 2 == 1 {
            tech_h -= 1;
        }
        let [t, l] = Layout::vertical([Constraint::Length(tech_h), Constraint::Min(0)]).areas(right);
        (g, t, l)
    };
    Some(Areas { header, loss, accuracy, gradients: Some(gradients), techniques, log: Some(log), footer })
}

/// Draws the whole frame for `app`.
pub fn draw(screen: Screen, frame: &mut Frame) {
    let area = frame.area();
    render(screen, area, frame.buffer_mut());
}

fn render(app: Screen, area: Rect, buf: &mut Buffer) {
    if area.is_empty() {
        return;
    }
    let has_acc = !app.charts.train_acc.is_empty() || !app.charts.val_acc.is_empty();
    let Some(a) = areas(area, has_acc, app.techniques.len()) else {
        let note = format!(
            "terminal too small ({}x{}); need {MIN_WIDTH}x{MIN_HEIGHT}. {} · q quits",
            area.width,
            area.height,
            state_word(app.header.state, app.header.finished)
        );
        Paragraph::new(note).style(app.theme.warn()).wrap(Wrap { trim: true }).render(area, buf);
        return;
    };
    render_charts(&app, &a, buf);
    render_panes(&app, &a, buf);
    render_overlays(&app, Rect { y: area.y + 2, height: area.height.saturating_sub(3), ..area }, buf);
    // Last: rendering moves the header and the footer out of `app`.
    app.header.render(a.header, buf);
    app.footer.render(a.footer, buf);
}

/// The loss and accuracy charts, zoomed and with the cursor as the
/// reading keys left them.
fn render_charts(app: &Screen, a: &Areas, buf: &mut Buffer) {
    let t = app.theme;
    let behind = |accuracy| app.behind.series(accuracy, app.smoothing, t);
    let reading = app.reading;
    let last_step = app.charts.train_loss.x_range().map_or(0.0, |(_, last)| last);
    let view = ChartView { zoom: reading.zoom(last_step), cursor: reading.cursor.map(|c| c as f64) };
    let (charts, log_scale, smoothing) = (app.charts, app.log_scale, app.smoothing);
    LossChart { charts, log_scale, smoothing, behind: behind(false), view, theme: t }.render(a.loss, buf);
    if let Some(r) = a.accuracy {
        AccuracyChart { charts, smoothing, behind: behind(true), view, theme: t }.render(r, buf);
    }
}

/// The gradients, techniques and events panes, scrolled as read.
fn render_panes(app: &Screen, a: &Areas, buf: &mut Buffer) {
    let (t, reading) = (app.theme, app.reading);
    let focused = |pane| reading.focus == pane;
    if let Some(r) = a.gradients {
        let from = reading.gradients_from;
        GradientsPanel { health: app.grads, from, focused: focused(Pane::Gradients), theme: t }.render(r, buf);
    }
    TechniquesPanel {
        techniques: app.techniques,
        metrics: app.technique_metrics,
        selected: app.selected,
        focused: focused(Pane::Techniques),
        theme: t,
    }
    .render(a.techniques, buf);
    if let Some(r) = a.log {
        EventsLog { entries: app.log, back: reading.events_back, focused: focused(Pane::Events), theme: t }
            .render(r, buf);
    }
}

/// What covers the panels: the confusion matrix, the divergence banner,
/// the help or the editor.
fn render_overlays(app: &Screen, body: Rect, buf: &mut Buffer) {
    let t = app.theme;
    if let Some(record) = app.confusion {
        ConfusionPanel { record, theme: t }.render(body, buf);
    }
    if let Some((divergence, grad_clip)) = app.divergence {
        DivergenceBanner { divergence, grad_clip, theme: t }.render(body, buf);
    }
    match app.overlay {
        Overlay::Help => Help { theme: t }.render(body, buf),
        Overlay::Editor(ed) => EditorPopup { editor: ed, theme: t }.render(body, buf),
        Overlay::None | Overlay::ConfirmQuit | Overlay::ConfirmStop => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(inner: Rect, outer: Rect) -> bool {
        inner.x >= outer.x && inner.y >= outer.y && inner.right() <= outer.right() && inner.bottom() <= outer.bottom()
    }

    #[test]
    fn shapes() {
        assert_eq!(areas(Rect::new(0, 0, 20, 5), true, 2), None);
        let normal = areas(Rect::new(0, 0, 80, 24), true, 2).unwrap();
        assert!(normal.accuracy.is_some() && normal.gradients.is_some() && normal.log.is_some());
        let wide = areas(Rect::new(0, 0, 120, 40), true, 2).unwrap();
        assert_eq!(wide.gradients.unwrap().y, wide.techniques.y);
        let regression = areas(Rect::new(0, 0, 80, 24), false, 2).unwrap();
        assert_eq!(regression.loss.width, 80);
        let narrow = areas(Rect::new(0, 0, 50, 20), true, 2).unwrap();
        assert!(narrow.gradients.is_none() && narrow.accuracy.is_none());
    }

    #[test]
    fn panels_stay_inside_the_screen() {
        for w in [40, 45, 60, 69, 70, 80, 109, 110, 200] {
            for h in [12, 13, 18, 19, 24, 40, 60] {
                let screen = Rect::new(0, 0, w, h);
                let a = areas(screen, true, 5).unwrap();
                for r in
                    [Some(a.header), Some(a.loss), a.accuracy, a.gradients, Some(a.techniques), a.log, Some(a.footer)]
                        .into_iter()
                        .flatten()
                {
                    assert!(inside(r, screen), "{w}x{h}: {r:?}");
                }
            }
        }
    }
}
