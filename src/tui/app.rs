//! The dashboard's state: what the trainer reported (folded in by `apply`),
//! what the user is doing (overlays, selection, view toggles) and whether
//! anything changed since the last frame. Histories are bounded, so a burst
//! of events costs a little memory and one redraw, never a backlog.

use std::collections::VecDeque;

use crossterm::event::KeyEvent;
use ratatui::Frame;

use super::editor::Editor;
use super::input::{map_key, Action, EditKey, InputMode};
use super::layout::{self, Screen};
use super::panels::footer::Footer;
use super::panels::gradients::GradHealth;
use super::panels::header::Header;
use super::state::{Charts, LogEntry, LogKind, Overlay, Progress, RunInfo};
use super::theme::Theme;
use crate::format::thousands;
use crate::grad_health::worth_warning;
use crate::protocol::{
    Command, EpochRecord, LogLevel, RunEvent, RunState, Started, StepRecord, StopReason, TechniqueView,
};

/// Event log lines kept.
const LOG_CAP: usize = 500;
/// Command markers kept for the loss chart.
const MARKER_CAP: usize = 200;

/// The dashboard state. Feed it events with [`App::apply`] and keys with
/// [`App::on_key`]; draw it with [`App::draw`] when [`App::is_dirty`].
pub struct App {
    pub(super) title: String,
    pub(super) theme: Theme,
    pub(super) info: Option<RunInfo>,
    /// `None` until `Started` arrives.
    pub(super) state: Option<RunState>,
    pub(super) finished: Option<StopReason>,
    pub(super) progress: Progress,
    pub(super) charts: Charts,
    pub(super) grads: GradHealth,
    pub(super) techniques: Vec<TechniqueView>,
    /// The techniques' own scalars from the latest step, e.g.
    /// `grad_clip.clipped`, shown beside each technique's status.
    pub(super) technique_metrics: Vec<(String, f32)>,
    pub(super) selected: usize,
    pub(super) log: VecDeque<LogEntry>,
    pub(super) log_scale: bool,
    pub(super) smoothing: bool,
    pub(super) overlay: Overlay,
    /// A one-line answer to the last key, shown in the footer until the
    /// next key.
    pub(super) notice: Option<String>,
    /// Showing a finished run from its files: no trainer listens.
    pub(super) replay: bool,
    disconnected: bool,
    quit: bool,
    dirty: bool,
}

impl App {
    /// `no_color` forces the plain theme; `NO_COLOR` in the environment does
    /// too.
    pub fn new(title: &str, no_color: bool) -> Self {
        Self {
            title: title.to_string(),
            theme: Theme::new(no_color),
            info: None,
            state: None,
            finished: None,
            progress: Progress::default(),
            charts: Charts::new(),
            grads: GradHealth::default(),
            techniques: Vec::new(),
            technique_metrics: Vec::new(),
            selected: 0,
            log: VecDeque::new(),
            log_scale: false,
            smoothing: true,
            overlay: Overlay::None,
            notice: None,
            replay: false,
            disconnected: false,
            quit: false,
            dirty: true,
        }
    }

    /// Folds one trainer event into the state. Live and replayed runs go
    /// through here alike, so `view` shows what the live dashboard showed.
    pub fn apply(&mut self, e: RunEvent) {
        self.dirty = true;
        match e {
            RunEvent::Hello(_) | RunEvent::Unknown | RunEvent::Accepted { .. } => {}
            RunEvent::Started(started) => self.start(started),
            RunEvent::Techniques { techniques } => self.set_techniques(techniques),
            RunEvent::Marker { step, label } => {
                // The run has been steered: the hint has done its job.
                if let Some(info) = &mut self.info {
                    info.hint.clear();
                }
                if self.charts.markers.len() >= MARKER_CAP {
                    self.charts.markers.pop_front();
                }
                self.charts.markers.push_back((step, label.clone()));
                self.push_log(Some(step), label, LogKind::Marker);
            }
            RunEvent::Step(r) => self.step(r),
            RunEvent::Epoch(r) => self.epoch(r),
            RunEvent::State { state, .. } => self.set_state(state),
            RunEvent::Log { level, message } => {
                let kind = match level {
                    LogLevel::Warn => LogKind::Warn,
                    LogLevel::Info => LogKind::Info,
                };
                self.push_log(None, message, kind);
            }
            RunEvent::Rebuild { step, reason, rebuild_ms } => {
                self.push_log(Some(step), format!("graph rebuilt in {rebuild_ms:.1} ms ({reason})"), LogKind::Info)
            }
            RunEvent::Rejected { step, reason, .. } => {
                self.push_log(Some(step), format!("rejected: {reason}"), LogKind::Warn)
            }
            RunEvent::Override { step, set, .. } => {
                self.push_log(Some(step), format!("resume: --set {set}"), LogKind::State)
            }
            RunEvent::StopRequested { step, by, .. } => {
                self.push_log(Some(step), format!("stop requested by {by}"), LogKind::State)
            }
            RunEvent::Diverged { step, loss } => {
                self.push_log(Some(step), format!("diverged: loss {loss}"), LogKind::Warn)
            }
            RunEvent::Finished { reason, run_dir, error, .. } => self.finish(reason, run_dir, error),
        }
    }

    fn start(&mut self, s: Started) {
        let Started { run_dir, device, epochs, steps_per_epoch, parameters, resumed, step, hint, .. } = s;
        let what = if resumed { format!("resumed at step {step}") } else { "started".into() };
        self.push_log(
            None,
            format!(
                "{what} on {device}: {} parameters, {epochs} epochs of {steps_per_epoch} steps",
                thousands(parameters as u64)
            ),
            LogKind::State,
        );
        self.info = Some(RunInfo { run_dir, device, epochs, steps_per_epoch, parameters, hint });
        self.state = Some(RunState::Running);
        self.finished = None;
    }

    fn step(&mut self, r: StepRecord) {
        let x = r.step as f64;
        let p = &mut self.progress;
        p.step = r.step;
        p.epoch = r.epoch;
        p.loss = Some(r.loss);
        p.lr = Some(r.lr);
        p.samples_per_sec = r.samples_per_sec;
        p.wall_time = r.wall_time;
        let c = &mut self.charts;
        c.train_loss.push(x, r.loss as f64);
        if let Some(v) = c.loss_ema_state.update(r.loss as f64) {
            c.loss_ema.push(x, v);
        }
        if let Some(acc) = r.acc {
            c.train_acc.push(x, acc as f64);
            if let Some(v) = c.acc_ema_state.update(acc as f64) {
                c.acc_ema.push(x, v);
            }
        }
        self.technique_metrics = r.metrics.clone();
        let before = self.grads.flag.clone();
        self.grads.apply(&r);
        if let Some(flag) = worth_warning(before.as_ref(), self.grads.flag.as_ref()) {
            let text = format!("gradients {flag}");
            self.push_log(Some(r.step), text, LogKind::Warn);
        }
    }

    fn epoch(&mut self, r: EpochRecord) {
        let x = r.step as f64;
        let p = &mut self.progress;
        p.step = p.step.max(r.step);
        p.epoch = r.epoch;
        p.lr = Some(r.lr);
        p.samples_per_sec = r.samples_per_sec;
        p.wall_time = r.wall_time;
        p.eta_at = Some((r.eta_secs, r.wall_time));
        // A run without validation data reports NaN.
        p.val_loss = Some(r.val_loss).filter(|v| v.is_finite());
        p.val_acc = r.val_acc;
        self.charts.val_loss.push(x, r.val_loss as f64);
        if let Some(a) = r.val_acc {
            self.charts.val_acc.push(x, a as f64);
        }
    }

    fn set_state(&mut self, s: RunState) {
        if self.state != Some(s) {
            self.push_log(Some(self.progress.step), s.as_str().into(), LogKind::State);
        }
        self.state = Some(s);
    }

    fn finish(&mut self, reason: StopReason, run_dir: String, error: Option<String>) {
        self.state = Some(RunState::Finished);
        self.finished = Some(reason);
        let kind = match reason {
            StopReason::Diverged | StopReason::Error => LogKind::Warn,
            _ => LogKind::State,
        };
        if let Some(error) = error {
            self.push_log(Some(self.progress.step), format!("error: {error}"), LogKind::Warn);
        }
        self.push_log(Some(self.progress.step), format!("finished ({}): {run_dir}", reason.as_str()), kind);
        self.info.get_or_insert_with(RunInfo::default).run_dir = run_dir;
        if let Overlay::Editor(_) = self.overlay {
            self.overlay = Overlay::None;
        }
        self.notice = Some("run finished: q quits".into());
    }

    fn set_techniques(&mut self, list: Vec<TechniqueView>) {
        // Keep the cursor on the same technique if the list was reordered.
        let name = self.techniques.get(self.selected).map(|t| t.name.clone());
        self.techniques = list;
        self.selected = name
            .and_then(|n| self.techniques.iter().position(|t| t.name == n))
            .unwrap_or(self.selected)
            .min(self.techniques.len().saturating_sub(1));
        let Overlay::Editor(ed) = &mut self.overlay else {
            return;
        };
        let super::editor::Target::Technique(name) = &ed.target else {
            return;
        };
        match self.techniques.iter().find(|t| &t.name == name) {
            Some(t) => {
                for f in &mut ed.fields {
                    if let Some(p) = t.params.iter().find(|p| p.name == f.name) {
                        f.current = p.value.clone();
                    }
                }
            }
            None => {
                self.notice = Some(format!("{name} was unloaded"));
                self.overlay = Overlay::None;
            }
        }
    }

    pub(super) fn push_log(&mut self, step: Option<u64>, text: String, kind: LogKind) {
        if self.log.len() >= LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(LogEntry { step, text, kind });
        self.dirty = true;
    }

    /// The event channel closed: the trainer is gone, with or without a
    /// `Finished` event.
    pub fn on_disconnected(&mut self) {
        if self.disconnected {
            return;
        }
        self.disconnected = true;
        if self.finished.is_none() {
            self.push_log(None, "the trainer stopped without finishing".into(), LogKind::Warn);
            self.state = Some(RunState::Finished);
        }
        self.dirty = true;
    }

    pub(super) fn input_mode(&self) -> InputMode {
        match self.overlay {
            Overlay::None => InputMode::Normal,
            Overlay::Help => InputMode::Help,
            Overlay::Editor(_) => InputMode::Editor,
            Overlay::ConfirmQuit => InputMode::ConfirmQuit,
        }
    }

    /// Handles a key; returns the command to send to the trainer, if any.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<Command> {
        let action = map_key(self.input_mode(), key)?;
        self.dirty = true;
        self.notice = None;
        self.act(action)
    }

    /// True while a trainer may still act on commands.
    fn live(&self) -> bool {
        !self.replay
            && !self.disconnected
            && matches!(self.state, None | Some(RunState::Running) | Some(RunState::Paused))
    }

    fn refuse(&mut self) -> Option<Command> {
        self.notice = Some(match self.state {
            _ if self.replay => "viewing a finished run".into(),
            Some(RunState::Stopping) => "the run is stopping".into(),
            _ => "the run has finished".into(),
        });
        None
    }

    fn send(&mut self, notice: String, command: Command) -> Option<Command> {
        self.notice = Some(notice);
        Some(command)
    }

    fn act(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::TogglePause if !self.live() => self.refuse(),
            Action::TogglePause => match self.state {
                Some(RunState::Paused) => self.send("resume requested".into(), Command::Resume),
                _ => self.send("pause requested".into(), Command::Pause),
            },
            Action::StepOnce if !self.live() => self.refuse(),
            Action::StepOnce => {
                if self.state == Some(RunState::Paused) {
                    self.send("one step requested".into(), Command::StepOnce)
                } else {
                    self.notice = Some("n steps once while paused: press p first".into());
                    None
                }
            }
            Action::Stop | Action::Interrupt if self.live() => {
                self.overlay = Overlay::None;
                self.state = Some(RunState::Stopping);
                self.push_log(Some(self.progress.step), "stop requested".into(), LogKind::State);
                self.send("stopping after this step; q quits once finished".into(), Command::Stop)
            }
            Action::Stop => self.refuse(),
            Action::Interrupt => {
                // A second Ctrl+C while stopping, or one after the end: the
                // user wants out.
                if self.state == Some(RunState::Stopping) && !self.disconnected {
                    self.overlay = Overlay::ConfirmQuit;
                } else {
                    self.quit = true;
                }
                None
            }
            Action::Checkpoint if !self.live() => self.refuse(),
            Action::Checkpoint => self.send("checkpoint requested".into(), Command::Checkpoint),
            Action::SelectNext => {
                self.selected = (self.selected + 1).min(self.techniques.len().saturating_sub(1));
                None
            }
            Action::SelectPrev => {
                self.selected = self.selected.saturating_sub(1);
                None
            }
            Action::ToggleTechnique if !self.live() => self.refuse(),
            Action::ToggleTechnique => {
                let Some(t) = self.techniques.get(self.selected) else {
                    self.notice = Some("no techniques loaded".into());
                    return None;
                };
                let (technique, enabled) = (t.name.clone(), !t.enabled);
                let word = if enabled { "on" } else { "off" };
                self.send(format!("requested: {technique} {word}"), Command::Toggle { technique, enabled })
            }
            Action::EditTechnique if !self.live() => self.refuse(),
            Action::EditTechnique => {
                match self.techniques.get(self.selected) {
                    None => self.notice = Some("no techniques loaded".into()),
                    Some(t) => match Editor::for_technique(t) {
                        Some(ed) => self.overlay = Overlay::Editor(ed),
                        None => self.notice = Some(format!("{} has no parameters", t.name)),
                    },
                }
                None
            }
            Action::EditLearningRate if !self.live() => self.refuse(),
            Action::EditLearningRate => {
                self.overlay = Overlay::Editor(Editor::for_learning_rate(self.progress.lr));
                None
            }
            Action::ToggleLogScale => {
                self.log_scale = !self.log_scale;
                None
            }
            Action::ToggleSmoothing => {
                self.smoothing = !self.smoothing;
                None
            }
            Action::ToggleHelp => {
                self.overlay = match self.overlay {
                    Overlay::Help => Overlay::None,
                    _ => Overlay::Help,
                };
                None
            }
            Action::Quit => {
                if self.live() || (self.state == Some(RunState::Stopping) && !self.disconnected) {
                    self.overlay = Overlay::ConfirmQuit;
                } else {
                    self.quit = true;
                }
                None
            }
            Action::Confirm(yes) => {
                self.overlay = Overlay::None;
                if !yes {
                    return None;
                }
                self.quit = true;
                // Leaving the dashboard ends the run the proper way rather
                // than leaving a trainer nobody can steer.
                self.live().then_some(Command::Stop)
            }
            Action::Edit(key) => self.edit(key),
        }
    }

    fn edit(&mut self, key: EditKey) -> Option<Command> {
        let Overlay::Editor(ed) = &mut self.overlay else {
            return None;
        };
        match key {
            EditKey::Char(c) => ed.type_char(c),
            EditKey::Backspace => ed.backspace(),
            EditKey::Clear => ed.clear(),
            EditKey::Next => ed.select(1),
            EditKey::Prev => ed.select(-1),
            EditKey::Cancel => self.overlay = Overlay::None,
            EditKey::Submit => {
                let command = ed.submit()?;
                self.overlay = Overlay::None;
                if !self.live() {
                    return self.refuse();
                }
                let notice = match &command {
                    Command::SetParam { technique, param, value } => {
                        format!("requested: {technique}.{param} = {value}")
                    }
                    Command::SetLearningRate { lr } => format!("requested: learning rate {lr}"),
                    _ => String::new(),
                };
                return self.send(notice, command);
            }
        }
        None
    }

    /// Draws the whole dashboard onto the frame.
    pub fn draw(&self, frame: &mut Frame) {
        layout::draw(self.screen(), frame);
    }

    /// What a frame shows, borrowed from the state.
    fn screen(&self) -> Screen<'_> {
        let header = Header {
            title: &self.title,
            info: self.info.as_ref(),
            state: self.state,
            finished: self.finished,
            progress: &self.progress,
            eta: self.eta(),
            theme: self.theme,
        };
        let footer = Footer {
            state: self.state,
            confirm_quit: self.overlay == Overlay::ConfirmQuit,
            notice: self.notice.as_deref(),
            hint: self.info.as_ref().map(|i| i.hint.as_str()),
            theme: self.theme,
        };
        Screen {
            header,
            footer,
            charts: &self.charts,
            log_scale: self.log_scale,
            smoothing: self.smoothing,
            grads: &self.grads,
            techniques: &self.techniques,
            technique_metrics: &self.technique_metrics,
            selected: self.selected,
            log: &self.log,
            overlay: &self.overlay,
            theme: self.theme,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.quit
    }

    /// True once the run ended (a `Finished` event, or the trainer went away).
    pub fn is_finished(&self) -> bool {
        self.state == Some(RunState::Finished)
    }

    /// Something changed since the last [`App::mark_drawn`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    pub fn mark_drawn(&mut self) {
        self.dirty = false;
    }

    /// Forces a redraw, e.g. after a resize.
    pub fn mark_dirty(&mut self) {
        self.dirty = true;
    }

    /// The ETA in seconds: the last epoch's estimate counted down, or before
    /// the first epoch end an estimate from the step rate.
    pub(super) fn eta(&self) -> Option<f64> {
        if self.state == Some(RunState::Finished) {
            return None;
        }
        let p = &self.progress;
        if let Some((eta, at)) = p.eta_at {
            return Some((eta - (p.wall_time - at)).max(0.0));
        }
        let info = self.info.as_ref()?;
        let total = (info.epochs * info.steps_per_epoch) as f64;
        (p.step > 0 && p.wall_time > 0.0 && total > 0.0)
            .then(|| (total - p.step as f64).max(0.0) * p.wall_time / p.step as f64)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::protocol::{ParamView, ToggleClass};
    use crossterm::event::{KeyCode, KeyModifiers};
    use ratatui::backend::TestBackend;
    use ratatui::buffer::Buffer;
    use ratatui::style::{Color, Modifier};
    use ratatui::Terminal;

    pub fn techniques(dropout_on: bool) -> Vec<TechniqueView> {
        vec![
            TechniqueView {
                name: "dropout".into(),
                enabled: dropout_on,
                class: ToggleClass::Structural,
                params: vec![ParamView {
                    name: "rate".into(),
                    value: "0.5".into(),
                    range: "0 ..= 0.95".into(),
                    help: "share of hidden units dropped".into(),
                }],
                status: "rate 0.5".into(),
            },
            TechniqueView {
                name: "early_stopping".into(),
                enabled: true,
                class: ToggleClass::Live,
                params: vec![
                    ParamView {
                        name: "patience".into(),
                        value: "5".into(),
                        range: "1 ..= 100".into(),
                        help: "epochs without improvement".into(),
                    },
                    ParamView {
                        name: "mode".into(),
                        value: "min".into(),
                        range: "min | max".into(),
                        help: String::new(),
                    },
                ],
                status: "patience 0/5, best epoch 3".into(),
            },
        ]
    }

    pub fn step(step: u64) -> StepRecord {
        let loss = 2.0 * (-(step as f32) / 20.0).exp() + 0.05;
        StepRecord {
            step,
            epoch: (step as usize - 1) / 10 + 1,
            loss,
            objective: None,
            acc: Some(1.0 - loss / 2.1),
            lr: 0.01,
            samples_per_sec: 12345.0,
            wall_time: step as f64 * 0.1,
            grad_norms: vec![
                ("layer0.weight".into(), 0.05 / step as f32),
                ("layer0.bias".into(), 0.01),
                ("layer1.weight".into(), 0.2),
                ("layer1.bias".into(), 0.02),
            ],
            saturation: vec![(0, 0.12)],
            metrics: vec![("dropout.kept".into(), 0.5)],
        }
    }

    /// The scripted run of the tests: started, two techniques, 50 steps, 5
    /// epochs, a marker and a log line.
    pub fn scripted() -> App {
        let mut app = App::new("digits-mlp", true);
        app.apply(RunEvent::Started(Started {
            run_dir: "runs/digits-mlp-20240101-000000".into(),
            device: "cpu".into(),
            epochs: 5,
            steps_per_epoch: 10,
            parameters: 12_345,
            ..Started::default()
        }));
        app.apply(RunEvent::Techniques { techniques: techniques(true) });
        for s in 1..=50u64 {
            app.apply(RunEvent::Step(step(s)));
            if s == 30 {
                app.apply(RunEvent::Marker { step: 30, label: "dropout off".into() });
            }
            if s % 10 == 0 {
                let e = s as usize / 10;
                app.apply(RunEvent::Epoch(EpochRecord {
                    step: s,
                    epoch: e,
                    loss: step(s).loss,
                    val_loss: step(s).loss * 1.1,
                    val_acc: Some(0.5 + 0.08 * e as f32),
                    lr: 0.01,
                    samples_per_sec: 12000.0,
                    wall_time: s as f64 * 0.1,
                    eta_secs: (50 - s) as f64 * 0.1,
                }));
            }
        }
        app.apply(RunEvent::log("checkpoint written at step 50"));
        app
    }

    pub fn render(app: &App, w: u16, h: u16) -> Buffer {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| app.draw(f)).unwrap();
        t.backend().buffer().clone()
    }

    pub fn text(buf: &Buffer) -> String {
        let a = buf.area;
        let mut s = String::new();
        for y in a.top()..a.bottom() {
            for x in a.left()..a.right() {
                s.push_str(buf[(x, y)].symbol());
            }
            s.push('\n');
        }
        s
    }

    fn key(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    fn code(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn renders_the_scripted_run_at_80x24_and_120x40() {
        let app = scripted();
        for (w, h) in [(80, 24), (120, 40)] {
            let s = text(&render(&app, w, h));
            for needle in [
                "digits-mlp",
                "running",
                "cpu",
                "dropout",
                "early_stopping",
                "[on ]",
                "dropout off",
                "loss",
                "acc",
                "epoch 5/5",
            ] {
                assert!(s.contains(needle), "{w}x{h}: no `{needle}` in\n{s}");
            }
        }
        let big = text(&render(&app, 120, 40));
        for needle in ["grad", "layer1.weight", "checkpoint written", "12,345"] {
            assert!(big.contains(needle), "no `{needle}` in\n{big}");
        }
    }

    #[test]
    fn shows_paused_and_off() {
        let mut app = scripted();
        app.apply(RunEvent::State { step: 0, state: RunState::Paused });
        app.apply(RunEvent::Techniques { techniques: techniques(false) });
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("PAUSED") || s.contains("paused"), "{s}");
        assert!(s.contains("[off]"), "{s}");
    }

    #[test]
    fn marker_label_on_the_loss_chart() {
        let app = scripted();
        let buf = render(&app, 120, 40);
        let s = text(&buf);
        // The chart's top rows, not just the log, carry the label.
        let chart_rows: String = s.lines().skip(2).take(6).collect();
        assert!(chart_rows.contains("dropout off"), "{s}");
    }

    #[test]
    fn help_overlay_lists_every_key() {
        let mut app = scripted();
        assert_eq!(app.on_key(key('?')), None);
        for (w, h) in [(80, 24), (120, 40)] {
            let s = text(&render(&app, w, h));
            for needle in ["pause / resume", "Ctrl+C", "log scale", "learning rate"] {
                assert!(s.contains(needle), "{w}x{h}: no `{needle}` in\n{s}");
            }
        }
        app.on_key(code(KeyCode::Esc));
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn no_color_render_has_only_default_styles() {
        let mut app = scripted();
        app.on_key(key('j'));
        for (w, h) in [(80, 24), (120, 40)] {
            for overlay in [Overlay::None, Overlay::Help, Overlay::ConfirmQuit] {
                app.overlay = overlay;
                let buf = render(&app, w, h);
                for cell in buf.content() {
                    assert_eq!(cell.fg, Color::Reset);
                    assert_eq!(cell.bg, Color::Reset);
                    assert_eq!(cell.modifier, Modifier::empty());
                }
            }
        }
    }

    #[test]
    fn colored_render_shows_the_same_panels() {
        let mut app = scripted();
        app.theme = Theme::new(false);
        let buf = render(&app, 80, 24);
        let s = text(&buf);
        for needle in ["digits-mlp", "[on ]", "dropout off", "gradients", "events"] {
            assert!(s.contains(needle), "no `{needle}` in\n{s}");
        }
        // NO_COLOR in the test environment makes this theme plain too.
        if app.theme.is_colored() {
            assert!(buf.content().iter().any(|c| c.fg != Color::Reset));
        }
    }

    #[test]
    fn tiny_terminals_do_not_panic() {
        let mut app = scripted();
        for (w, h) in [(20, 5), (1, 1), (0, 0), (39, 11), (40, 12), (60, 15), (79, 23)] {
            let s = text(&render(&app, w, h));
            if (w, h) == (20, 5) {
                assert!(s.contains("too small"), "{s}");
            }
        }
        app.on_key(key('e'));
        app.on_key(key('?'));
        for (w, h) in [(20, 5), (45, 13)] {
            render(&app, w, h);
        }
    }

    #[test]
    fn pause_resume_follows_state() {
        let mut app = scripted();
        assert_eq!(app.on_key(key('p')), Some(Command::Pause));
        app.apply(RunEvent::State { step: 0, state: RunState::Paused });
        assert_eq!(app.on_key(key('n')), Some(Command::StepOnce));
        assert_eq!(app.on_key(key('p')), Some(Command::Resume));
        app.apply(RunEvent::State { step: 0, state: RunState::Running });
        assert_eq!(app.on_key(key('n')), None);
        assert_eq!(app.on_key(key('c')), Some(Command::Checkpoint));
    }

    #[test]
    fn space_toggles_with_negated_flag() {
        let mut app = scripted();
        assert_eq!(app.on_key(key(' ')), Some(Command::Toggle { technique: "dropout".into(), enabled: false }));
        app.on_key(code(KeyCode::Down));
        assert_eq!(app.on_key(key('t')), Some(Command::Toggle { technique: "early_stopping".into(), enabled: false }));
        app.apply(RunEvent::Techniques { techniques: techniques(false) });
        app.on_key(key('k'));
        assert_eq!(app.on_key(key(' ')), Some(Command::Toggle { technique: "dropout".into(), enabled: true }));
    }

    #[test]
    fn editor_rejects_out_of_range_and_sends_valid() {
        let mut app = scripted();
        assert_eq!(app.on_key(key('e')), None);
        assert_eq!(app.input_mode(), InputMode::Editor);
        for c in "1.5".chars() {
            assert_eq!(app.on_key(key(c)), None);
        }
        assert_eq!(app.on_key(code(KeyCode::Enter)), None);
        assert_eq!(app.input_mode(), InputMode::Editor);
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("outside"), "{s}");
        app.on_key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        for c in "0.25".chars() {
            app.on_key(key(c));
        }
        assert_eq!(
            app.on_key(code(KeyCode::Enter)),
            Some(Command::SetParam { technique: "dropout".into(), param: "rate".into(), value: "0.25".into() })
        );
        assert_eq!(app.overlay, Overlay::None);
        // Esc cancels without a command.
        app.on_key(key('e'));
        app.on_key(key('9'));
        assert_eq!(app.on_key(code(KeyCode::Esc)), None);
        assert_eq!(app.overlay, Overlay::None);
    }

    #[test]
    fn learning_rate_editor() {
        let mut app = scripted();
        app.on_key(KeyEvent::new(KeyCode::Char('L'), KeyModifiers::SHIFT));
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("learning rate"), "{s}");
        for c in "0.001".chars() {
            app.on_key(key(c));
        }
        assert_eq!(app.on_key(code(KeyCode::Enter)), Some(Command::SetLearningRate { lr: 0.001 }));
    }

    #[test]
    fn quit_asks_while_training_and_not_after() {
        let mut app = scripted();
        assert_eq!(app.on_key(key('q')), None);
        assert!(!app.should_quit());
        assert!(text(&render(&app, 80, 24)).contains("y/n"));
        assert_eq!(app.on_key(key('n')), None);
        assert!(!app.should_quit());
        app.on_key(key('q'));
        assert_eq!(app.on_key(key('y')), Some(Command::Stop));
        assert!(app.should_quit());

        let mut done = scripted();
        done.apply(RunEvent::Finished {
            step: 50,
            epoch: 5,
            reason: StopReason::Completed,
            run_dir: "runs/x".into(),
            error: None,
        });
        assert_eq!(done.on_key(key('q')), None);
        assert!(done.should_quit());
    }

    #[test]
    fn ctrl_c_stops_and_stays_open() {
        let mut app = scripted();
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(app.on_key(ctrl_c), Some(Command::Stop));
        assert!(!app.should_quit());
        assert!(text(&render(&app, 80, 24)).contains("stopping"));
        app.apply(RunEvent::Finished {
            step: 50,
            epoch: 5,
            reason: StopReason::User,
            run_dir: "runs/x".into(),
            error: None,
        });
        assert!(!app.should_quit());
        let s = text(&render(&app, 80, 24));
        assert!(s.contains("finished"), "{s}");
        assert_eq!(app.on_key(key('p')), None);
        assert_eq!(app.on_key(key('q')), None);
        assert!(app.should_quit());
    }

    #[test]
    fn dirty_flag_tracks_changes() {
        let mut app = scripted();
        assert!(app.is_dirty());
        app.mark_drawn();
        assert!(!app.is_dirty());
        app.on_key(key('x'));
        assert!(!app.is_dirty(), "an unmapped key changes nothing");
        app.on_key(key('l'));
        assert!(app.is_dirty());
        app.mark_drawn();
        app.apply(RunEvent::log("hello"));
        assert!(app.is_dirty());
    }

    #[test]
    fn vanishing_gradients_are_flagged() {
        let mut app = scripted();
        let mut r = step(51);
        r.grad_norms[0].1 = 1e-6;
        app.apply(RunEvent::Step(r));
        let s = text(&render(&app, 120, 40));
        assert!(s.contains("VANISHING"), "{s}");
        let mut r = step(52);
        r.grad_norms[2].1 = f32::NAN;
        app.apply(RunEvent::Step(r));
        let s = text(&render(&app, 120, 40));
        assert!(s.contains("EXPLODING"), "{s}");
    }
}
