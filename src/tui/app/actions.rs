//! What each key's action does to the dashboard, grouped by kind: leaving
//! (detach, stop, quit), controlling the run (pause, step, checkpoint),
//! steering it (techniques, parameters, the learning rate) and changing only
//! the view. Each returns the command to send to the run, if any.

use super::App;
use crate::protocol::{RunCommand, RunState};
use crate::tui::editor::Editor;
use crate::tui::input::{Action, EditKey};
use crate::tui::reading::Pane;
use crate::tui::state::{Leaving, LogKind, Overlay};

impl App {
    /// True while a trainer may still act on commands.
    pub(super) fn live(&self) -> bool {
        !self.link.replay()
            && !self.link.disconnected
            && matches!(self.state, None | Some(RunState::Running) | Some(RunState::Paused))
    }

    pub(super) fn refuse(&mut self) -> Option<RunCommand> {
        self.notice = Some(match self.state {
            _ if self.link.replay() => "viewing a finished run".into(),
            Some(RunState::Stopping) => "the run is stopping".into(),
            _ => "the run has finished".into(),
        });
        None
    }

    pub(super) fn send(&mut self, notice: String, command: RunCommand) -> Option<RunCommand> {
        if self.link.read_only {
            self.notice = Some("read-only: attach without --read-only to steer the run".into());
            return None;
        }
        self.notice = Some(notice);
        self.awaiting = Some(command.clone());
        Some(command)
    }

    /// Every command an action sends, in order (a divergence fix sends two:
    /// the fix, then resume).
    pub(super) fn act(&mut self, action: Action) -> Vec<RunCommand> {
        match action {
            Action::HalveLearningRate | Action::GradClipOn => self.fix(action),
            _ => self.act_once(action).into_iter().collect(),
        }
    }

    fn act_once(&mut self, action: Action) -> Option<RunCommand> {
        match action {
            Action::Back if self.view.confusion => {
                self.view.confusion = false;
                None
            }
            Action::Back if self.reading.cursor.is_some() => {
                self.reading.cursor = None;
                None
            }
            Action::Back | Action::Detach | Action::Stop | Action::Interrupt | Action::Quit | Action::Confirm(_) => {
                self.leave(action)
            }
            Action::RunAgain => self.run_again(),
            Action::TogglePause | Action::StepOnce | Action::Checkpoint => self.control(action),
            Action::ToggleTechnique | Action::EditTechnique | Action::EditLearningRate => self.steer(action),
            Action::ForkTechnique | Action::Keep(_) => self.fork_action(action),
            Action::Edit(key) => self.edit(key),
            Action::Export => {
                self.export();
                None
            }
            // Two commands: `act` takes these to `fix`.
            Action::HalveLearningRate | Action::GradClipOn => None,
            Action::SelectNext
            | Action::SelectPrev
            | Action::ToggleLogScale
            | Action::ToggleSmoothing
            | Action::ToggleBaseline
            | Action::ToggleConfusion
            | Action::NextPane
            | Action::ScrollPage(_)
            | Action::ScrollEdge(_)
            | Action::MoveCursor(_)
            | Action::Zoom
            | Action::ToggleHelp => {
                self.change_view(action);
                None
            }
        }
    }

    /// Detach, stop, quit, and the answer to "detach or stop?".
    fn leave(&mut self, action: Action) -> Option<RunCommand> {
        match action {
            Action::Detach | Action::Back => self.detach(),
            Action::Stop | Action::Interrupt if self.link.read_only => {
                self.overlay = Overlay::None;
                self.leaving = (action == Action::Interrupt).then_some(Leaving::Quit);
                self.send(String::new(), RunCommand::Stop)
            }
            // From the dashboard's keys `s` asks first; the questions'
            // own `s`/`y` and Ctrl+C stop at once.
            Action::Stop if self.live() && self.overlay == Overlay::None => {
                self.overlay = Overlay::ConfirmStop;
                None
            }
            Action::Stop | Action::Interrupt if self.live() => {
                self.overlay = Overlay::None;
                self.state = Some(RunState::Stopping);
                self.push_log(Some(self.progress.step), "stop requested".into(), LogKind::State);
                self.send("stopping after this step; q quits once finished".into(), RunCommand::Stop)
            }
            Action::Stop => self.refuse(),
            Action::Interrupt => {
                // A second Ctrl+C while stopping, or one after the end: the
                // user wants out.
                if self.state == Some(RunState::Stopping) && !self.link.disconnected {
                    self.overlay = Overlay::ConfirmQuit;
                } else {
                    self.leaving = Some(Leaving::Quit);
                }
                None
            }
            Action::Quit => self.ask_quit(),
            Action::Confirm(yes) => {
                self.overlay = Overlay::None;
                if !yes {
                    return None;
                }
                self.leaving = Some(Leaving::Quit);
                // Leaving the dashboard ends the run the proper way rather
                // than leaving a trainer nobody can steer.
                self.live().then_some(RunCommand::Stop)
            }
            _ => None,
        }
    }

    fn detach(&mut self) -> Option<RunCommand> {
        if self.link.attached() {
            self.overlay = Overlay::None;
            self.leaving = Some(Leaving::Detach);
        } else {
            self.notice = Some(match self.link.replay() {
                true => "viewing a run folder: q quits".into(),
                false => "this run lives in this process (--foreground): q quits".into(),
            });
        }
        None
    }

    /// `r`: leave to start the same run again, once this one has ended.
    fn run_again(&mut self) -> Option<RunCommand> {
        self.notice = match (self.link.again, self.is_finished()) {
            (true, true) => {
                self.leaving = Some(Leaving::Again);
                None
            }
            (true, false) => Some("r runs it again once it has finished (s stops it)".into()),
            (false, _) => Some("r runs again from traintop run's own dashboard".into()),
        };
        None
    }

    fn ask_quit(&mut self) -> Option<RunCommand> {
        if self.link.read_only {
            self.leaving = Some(if self.live() { Leaving::Detach } else { Leaving::Quit });
        } else if self.live() || (self.state == Some(RunState::Stopping) && !self.link.disconnected) {
            self.overlay = Overlay::ConfirmQuit;
        } else {
            self.leaving = Some(Leaving::Quit);
        }
        None
    }

    /// Pause or resume, one step while paused, a checkpoint now.
    fn control(&mut self, action: Action) -> Option<RunCommand> {
        if !self.live() {
            return self.refuse();
        }
        match action {
            Action::TogglePause => match self.state {
                Some(RunState::Paused) => self.send("resume requested".into(), RunCommand::Resume),
                _ => self.send("pause requested".into(), RunCommand::Pause),
            },
            Action::StepOnce if self.state == Some(RunState::Paused) => {
                self.send("one step requested".into(), RunCommand::StepOnce)
            }
            Action::StepOnce => {
                self.notice = Some("n steps once while paused: press p first".into());
                None
            }
            Action::Checkpoint => self.send("checkpoint requested".into(), RunCommand::Checkpoint),
            _ => None,
        }
    }

    /// Switch the selected technique, or open an editor for its parameters
    /// or for the learning rate.
    fn steer(&mut self, action: Action) -> Option<RunCommand> {
        if !self.live() {
            return self.refuse();
        }
        if action == Action::EditLearningRate {
            self.overlay = Overlay::Editor(Editor::for_learning_rate(self.progress.lr));
            return None;
        }
        let Some(t) = self.techniques.get(self.selected) else {
            self.notice = Some("no techniques loaded".into());
            return None;
        };
        if action == Action::EditTechnique {
            match Editor::for_technique(t) {
                Some(ed) => self.overlay = Overlay::Editor(ed),
                None => self.notice = Some(format!("{} has no parameters", t.name)),
            }
            return None;
        }
        let (technique, enabled) = (t.name.clone(), !t.enabled);
        let word = if enabled { "on" } else { "off" };
        self.send(format!("requested: {technique} {word}"), RunCommand::Toggle { technique, enabled })
    }

    /// Fork at the selected technique's switch, or keep a branch.
    fn fork_action(&mut self, action: Action) -> Option<RunCommand> {
        if !self.live() {
            return self.refuse();
        }
        let forked = self.fork.as_ref().is_some_and(|f| f.kept.is_none());
        match action {
            Action::Keep(branch) if forked => {
                self.send(format!("requested: keep {}", branch.letter()), RunCommand::Keep { branch })
            }
            Action::Keep(_) => {
                self.notice = Some("not forked: f forks the selected technique's switch".into());
                None
            }
            _ if forked => {
                self.notice = Some("already forked: A or B keeps one branch first".into());
                None
            }
            _ => {
                let Some(t) = self.techniques.get(self.selected) else {
                    self.notice = Some("no techniques loaded".into());
                    return None;
                };
                let (technique, enabled) = (t.name.clone(), !t.enabled);
                let word = if enabled { "on" } else { "off" };
                let notice = format!("requested: fork, A with {technique} {word}, B as before");
                self.send(notice, RunCommand::Fork { technique, enabled })
            }
        }
    }

    /// Selection, scales, smoothing and help: nothing reaches the run.
    fn change_view(&mut self, action: Action) {
        match action {
            Action::SelectNext | Action::SelectPrev if self.reading.focus != Pane::Techniques => {
                self.scroll(if action == Action::SelectNext { 1 } else { -1 });
            }
            Action::SelectNext | Action::SelectPrev => self.change_selection(action == Action::SelectNext),
            Action::NextPane => self.reading.focus = self.reading.focus.next(),
            Action::ScrollPage(down) => {
                let page = self.pane_rows(self.reading.focus).max(1) as isize;
                self.scroll(if down { page } else { -page });
            }
            Action::ScrollEdge(end) => self.scroll(if end { isize::MAX / 2 } else { -(isize::MAX / 2) }),
            Action::MoveCursor(right) => self.move_cursor(right),
            Action::Zoom => self.reading.next_zoom(),
            Action::ToggleLogScale => self.view.log_scale = !self.view.log_scale,
            Action::ToggleSmoothing => self.view.smoothing = !self.view.smoothing,
            Action::ToggleBaseline => self.toggle_baseline(),
            Action::ToggleConfusion => self.view.confusion = !self.view.confusion,
            Action::ToggleHelp => {
                self.overlay = match self.overlay {
                    Overlay::Help => Overlay::None,
                    _ => Overlay::Help,
                };
            }
            _ => {}
        }
    }

    /// The next (or previous) technique.
    pub(super) fn change_selection(&mut self, next: bool) {
        self.selected = match next {
            true => (self.selected + 1).min(self.techniques.len().saturating_sub(1)),
            false => self.selected.saturating_sub(1),
        };
    }

    fn toggle_baseline(&mut self) {
        self.view.baseline = !self.view.baseline;
        self.notice = Some(match &self.baseline {
            None => "no baseline: start with --baseline RUN_DIR to pin a run behind this one".into(),
            Some(b) if self.view.baseline => format!("baseline {} shown", b.name),
            Some(b) => format!("baseline {} hidden (b shows it)", b.name),
        });
    }

    fn edit(&mut self, key: EditKey) -> Option<RunCommand> {
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
                    RunCommand::SetParam { technique, param, value } => {
                        format!("requested: {technique}.{param} = {value}")
                    }
                    RunCommand::SetLearningRate { lr } => format!("requested: learning rate {lr}"),
                    _ => String::new(),
                };
                return self.send(notice, command);
            }
        }
        None
    }
}
