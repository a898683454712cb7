//! The dashboard's state: what the trainer reported (folded in by `apply`),
//! what the user is doing (overlays, selection, view toggles) and whether
//! anything changed since the last frame. Histories are bounded, so a burst
//! of events costs a little memory and one redraw, never a backlog.

use std::collections::VecDeque;

use ratatui::crossterm::event::KeyEvent;
use ratatui::Frame;

use super::alerts::Alerts;
use super::baseline::{Baseline, Behind, BranchB};
use super::input::{map_key, InputMode};
use super::layout::{self, Screen};
use super::panels::footer::Footer;
use super::panels::gradients::GradHealth;
use super::panels::header::{self, Header};
use super::reading::Reading;
use super::state::{
    Charts, GradClip, Leaving, Link, LogEntry, LogKind, Overlay, Progress, Rollback, RunInfo, Source, ViewSettings,
};
use super::theme::Theme;
use crate::format::clean;
use crate::format::thousands;
use crate::protocol::{
    ConfusionRecord, ConnectionMessage, EpochRecord, LinkState, LogLevel, RunCommand, RunEvent, RunState, Started,
    StepRecord, StopReason, StreamItem, TechniqueView,
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
    /// The view's own settings (scales, smoothing, what is shown).
    pub(super) view: ViewSettings,
    /// Which pane scrolls, how far, the charts' cursor and zoom.
    pub(super) reading: Reading,
    /// The last frame's size, for page sizes and pane heights.
    last_area: std::cell::Cell<ratatui::layout::Rect>,
    pub(super) overlay: Overlay,
    /// A finished run pinned behind the live curves (`--baseline`).
    pub(super) baseline: Option<Baseline>,
    /// Branch B of a live fork: its curves, and the fork as it stands.
    pub(super) branch: Option<BranchB>,
    pub(super) fork: Option<ForkView>,
    /// The latest validation confusion matrix.
    pub(super) confusion: Option<ConfusionRecord>,
    /// The divergence the run paused at, until it runs again (the banner).
    pub(super) divergence: Option<Rollback>,
    /// A one-line answer to the last key, shown in the footer until the
    /// next key.
    pub(super) notice: Option<String>,
    /// The last command this screen sent, until the run answers it (the
    /// notice then says at which step it took effect, or why not).
    pub(super) awaiting: Option<RunCommand>,
    /// How this screen reaches its run.
    pub(super) link: Link,
    /// How a client's link stands now (lost: reconnecting).
    pub(super) connection: LinkState,
    /// Set once the user quits or detaches.
    pub(super) leaving: Option<Leaving>,
    /// Bells and desktop notifications still to send.
    pub(super) alerts: Alerts,
    /// The run folder `view` shows: where the export key writes.
    pub(super) run_folder: Option<std::path::PathBuf>,
    /// Something changed since the last frame.
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
            view: ViewSettings::default(),
            reading: Reading::default(),
            last_area: std::cell::Cell::default(),
            overlay: Overlay::None,
            baseline: None,
            branch: None,
            fork: None,
            confusion: None,
            divergence: None,
            notice: None,
            awaiting: None,
            link: Link::default(),
            connection: LinkState::Up,
            leaving: None,
            alerts: Alerts::default(),
            run_folder: None,
            dirty: true,
        }
    }

    /// Takes one line of the run's stream: a run event, or a message about
    /// the connection.
    pub fn receive(&mut self, item: StreamItem) {
        match item {
            StreamItem::Run(e) => self.apply(e),
            StreamItem::Connection(message) => self.on_connection(message),
        }
    }

    fn on_connection(&mut self, message: ConnectionMessage) {
        self.dirty = true;
        match message {
            // A stream that starts over (a client reconnected after the
            // server cut it off): the history follows, so start afresh.
            ConnectionMessage::Hello(_) if self.link.attached() => self.resync(),
            ConnectionMessage::Hello(_) | ConnectionMessage::Status(_) => {}
            ConnectionMessage::Error { .. } => {
                if let Some(text) = message.describe() {
                    self.push_log(None, text, LogKind::Warn);
                }
            }
        }
    }

    /// Folds one trainer event into the state. Live and replayed runs go
    /// through here alike, so `view` shows what the live dashboard showed.
    pub fn apply(&mut self, e: RunEvent) {
        self.dirty = true;
        match e {
            RunEvent::Unknown => {}
            RunEvent::Accepted { step, request } => self.accepted(step, request.command),
            RunEvent::Attached { .. } | RunEvent::Detached { .. } => self.narrate(&e, LogKind::State),
            RunEvent::Refused { .. } => self.narrate(&e, LogKind::Warn),
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
            RunEvent::Confusion(r) => self.confusion = Some(r),
            RunEvent::ForkStarted { .. } | RunEvent::Branch { .. } | RunEvent::ForkEnded { .. } => self.on_fork(e),
            RunEvent::State { state, .. } => self.set_state(state),
            RunEvent::Log { level, message } => {
                let kind = match level {
                    LogLevel::Warn => LogKind::Warn,
                    LogLevel::Info => LogKind::Info,
                };
                self.push_log(None, message, kind);
            }
            RunEvent::Rebuild { .. } => self.narrate(&e, LogKind::Info),
            RunEvent::Override { .. } | RunEvent::StopRequested { .. } => self.narrate(&e, LogKind::State),
            RunEvent::Rejected { ref request, ref reason, .. } => {
                self.refused(&request.command, reason);
                self.narrate(&e, LogKind::Warn)
            }
            RunEvent::Diverged { .. } => self.narrate(&e, LogKind::Warn),
            RunEvent::RolledBack { step, to_step, cause, lr, paused, .. } => {
                if paused {
                    self.alerts.note(step, format!("{}: diverged at step {step}, paused: waiting for you", self.title));
                }
                self.rolled_back(Rollback { step, to_step, cause, lr }, paused)
            }
            RunEvent::Finished { step, reason, run_dir, error, .. } => {
                self.alerts.ring(format!("{}: finished ({}) at step {step}", self.title, reason.as_str()));
                self.finish(reason, run_dir, error)
            }
        }
    }

    /// An event told in the event log in its own words, at its step.
    fn narrate(&mut self, e: &RunEvent, kind: LogKind) {
        if let Some(text) = e.describe() {
            self.push_log(e.step(), text, kind);
        }
    }

    /// A command the run refused: ours is answered with the run's reason.
    fn refused(&mut self, command: &RunCommand, reason: &str) {
        if self.awaiting.as_ref() == Some(command) {
            self.awaiting = None;
            self.notice = Some(format!("refused: {reason}"));
        }
    }

    /// A command the run took: its effect shows at once where the header
    /// has it (a rate set while paused), and ours is acknowledged.
    fn accepted(&mut self, step: u64, command: RunCommand) {
        if let RunCommand::SetLearningRate { lr } = command {
            self.progress.lr = Some(lr);
        }
        if self.awaiting.as_ref() == Some(&command) {
            self.awaiting = None;
            self.notice = Some(format!("{}: applied at step {step}", command.label()));
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
        // A resumed run's history holds the end it resumed from.
        if self.finished.take().is_some() {
            self.notice = None;
        }
    }

    fn step(&mut self, r: StepRecord) {
        let p = &mut self.progress;
        p.step = r.step;
        p.epoch = r.epoch;
        p.loss = Some(r.loss);
        p.lr = Some(r.lr);
        p.samples_per_sec = r.samples_per_sec;
        p.wall_time = r.wall_time;
        self.charts.add_step(&r);
        self.technique_metrics = r.metrics.clone();
        if let Some(flag) = self.grads.apply(&r) {
            let text = format!("gradients {flag}");
            self.push_log(Some(r.step), text, LogKind::Warn);
        }
    }

    fn epoch(&mut self, r: EpochRecord) {
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
        self.charts.add_epoch(&r);
    }

    fn set_state(&mut self, s: RunState) {
        if self.state != Some(s) {
            self.push_log(Some(self.progress.step), s.as_str().into(), LogKind::State);
        }
        self.state = Some(s);
        if s != RunState::Paused {
            self.divergence = None;
        }
    }

    /// The run went back to a good state: the charts with it, a marker
    /// there, and, when it paused for a choice, the banner.
    fn rolled_back(&mut self, d: Rollback, paused: bool) {
        self.charts.rewind(d.to_step);
        self.progress.step = d.to_step;
        let label = format!("rolled back from step {}, lr={}", d.step, d.lr);
        self.charts.markers.push_back((d.to_step, label.clone()));
        self.push_log(Some(d.to_step), label, LogKind::Warn);
        self.divergence = paused.then_some(d);
    }

    /// What `g` can do in this run.
    pub(super) fn grad_clip(&self) -> GradClip {
        match self.techniques.iter().find(|t| t.name == "grad_clip") {
            Some(t) if t.enabled => GradClip::On,
            Some(_) => GradClip::Off,
            None => GradClip::NotLoaded,
        }
    }

    fn finish(&mut self, reason: StopReason, run_dir: String, error: Option<String>) {
        self.state = Some(RunState::Finished);
        self.divergence = None;
        self.finished = Some(reason);
        let kind = match reason {
            StopReason::Diverged | StopReason::Error | StopReason::Crashed => LogKind::Warn,
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
        self.notice = Some(match self.link.again {
            true => "run finished: r runs it again · q quits".into(),
            false => "run finished: q quits".into(),
        });
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
        // Client names, plugin messages and reasons come from outside the
        // process: their control characters are shown, never sent.
        self.log.push_back(LogEntry { step, text: clean(&text), kind });
        self.reading.event_added();
        self.dirty = true;
    }

    /// Pins `baseline` behind the live curves (shown until `b` hides it).
    pub fn set_baseline(&mut self, baseline: Option<Baseline>) {
        self.baseline = baseline;
        self.view.baseline = true;
        self.dirty = true;
    }

    /// Makes this a run server's client (see [`App::attached`]).
    pub fn set_attached(&mut self, attached: bool, read_only: bool) {
        let source = if attached { Source::Attached } else { Source::InProcess };
        self.link = Link { source, read_only, ..self.link };
    }

    /// Ring for what happens after `step` (the dashboard of a live run).
    pub fn ring_after(&mut self, step: u64) {
        self.alerts = Alerts::after(step);
    }

    /// The bell and notification bytes due, if any.
    pub fn take_alerts(&mut self) -> Option<String> {
        self.alerts.take_escapes()
    }

    /// The user detached (rather than quit).
    pub fn detached(&self) -> bool {
        self.leaving == Some(Leaving::Detach)
    }

    /// The user asked for the run again (`r` after the end).
    pub fn again(&self) -> bool {
        self.leaving == Some(Leaving::Again)
    }

    /// Lets `r` start the run again once it has finished.
    pub fn offer_again(&mut self) {
        self.link.again = true;
    }

    /// Forgets the run's state (not the view's settings) before a fresh
    /// history.
    fn resync(&mut self) {
        let mut fresh = App::new(&self.title, false);
        fresh.theme = self.theme;
        fresh.view = self.view;
        fresh.reading = Reading { events_back: 0, ..self.reading };
        fresh.last_area = self.last_area.clone();
        fresh.selected = self.selected;
        fresh.link = Link { disconnected: false, ..self.link };
        fresh.baseline = self.baseline.take();
        fresh.alerts = std::mem::take(&mut self.alerts);
        fresh.alerts.catch_up(self.progress.step);
        *self = fresh;
        self.push_log(None, "reconnected: caught up with the run".into(), LogKind::State);
    }

    /// The event channel closed: the trainer is gone, with or without a
    /// `Finished` event, or the link was given up (the run may go on).
    pub fn on_disconnected(&mut self) {
        if self.link.disconnected {
            return;
        }
        self.link.disconnected = true;
        if let LinkState::GaveUp(why) = &self.connection {
            let text = format!("connection lost: {why}; the run may go on without this screen");
            self.push_log(None, text, LogKind::Warn);
        } else if self.finished.is_none() {
            self.push_log(None, "the trainer stopped without finishing".into(), LogKind::Warn);
            self.state = Some(RunState::Finished);
        }
        self.dirty = true;
    }

    /// How the link to the run stands now; redrawn when what the header
    /// says of it changes (each second while reconnecting).
    pub fn set_link(&mut self, state: LinkState) {
        if header::link_word(&state) != header::link_word(&self.connection) {
            self.dirty = true;
        }
        if self.connection == LinkState::Up && matches!(state, LinkState::Reconnecting(_)) {
            self.push_log(None, "connection lost: reconnecting".into(), LogKind::Warn);
        }
        self.connection = state;
    }

    pub(super) fn input_mode(&self) -> InputMode {
        match self.overlay {
            Overlay::None => InputMode::Normal,
            Overlay::Help => InputMode::Help,
            Overlay::Editor(_) => InputMode::Editor,
            Overlay::ConfirmQuit => InputMode::ConfirmQuit,
            Overlay::ConfirmStop => InputMode::ConfirmStop,
        }
    }

    /// Handles a key; returns every command to send to the trainer, in order
    /// (none, one, or a divergence fix and then resume).
    pub fn on_key(&mut self, key: KeyEvent) -> Vec<RunCommand> {
        let Some(action) = map_key(self.input_mode(), key) else { return vec![] };
        self.dirty = true;
        self.notice = None;
        self.act(action)
    }

    /// Draws the whole dashboard onto the frame.
    pub fn draw(&self, frame: &mut Frame) {
        self.last_area.set(frame.area());
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
            link: header::link_word(&self.connection),
            eta: self.eta(),
            theme: self.theme,
        };
        let footer = Footer {
            state: self.state,
            confirm_quit: self.overlay == Overlay::ConfirmQuit,
            confirm_stop: self.overlay == Overlay::ConfirmStop,
            notice: self.notice.as_deref(),
            hint: match &self.fork {
                Some(f) if f.kept.is_none() => Some(f.line.as_str()),
                _ => self.info.as_ref().map(|i| i.hint.as_str()),
            },
            attached: self.link.attached(),
            theme: self.theme,
        };
        Screen {
            header,
            footer,
            charts: &self.charts,
            log_scale: self.view.log_scale,
            smoothing: self.view.smoothing,
            grads: &self.grads,
            techniques: &self.techniques,
            technique_metrics: &self.technique_metrics,
            selected: self.selected,
            log: &self.log,
            overlay: &self.overlay,
            behind: Behind {
                baseline: self.baseline.as_ref().filter(|_| self.view.baseline),
                branch: self.branch.as_ref(),
            },
            confusion: self.view.confusion.then_some(self.confusion.as_ref()),
            divergence: self.divergence.as_ref().map(|d| (d, self.grad_clip())),
            reading: self.reading,
            theme: self.theme,
        }
    }

    pub fn should_quit(&self) -> bool {
        self.leaving.is_some()
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

mod actions;
mod export;
pub(super) mod fixes;
mod fork;
mod reading;
pub(super) use fork::ForkView;
#[cfg(test)]
pub(super) mod tests;
