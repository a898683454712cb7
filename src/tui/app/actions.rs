//! What each key's action does to the dashboard, grouped by kind: leaving
//! (detach, stop, quit), controlling the run (pause, step, checkpoint),
//! steering it (techniques, parameters, the learning rate) and changing only
//! the view. Each returns the command to send to the run, if any.

use super::App;
use crate::protocol::{Command, RunState};
use crate::tui::editor::Editor;
use crate::tui::input::{Action, EditKey};
use crate::tui::state::{LogKind, Overlay};

impl App {
    /// True while a trainer may still act on commands.
    pub(super) fn live(&self) -> bool {
        !self.replay
            && !self.disconnected
            && matches!(self.state, None | Some(RunState::Running) | Some(RunState::Paused))
    }

    pub(super) fn refuse(&mut self) -> Option<Command> {
        self.notice = Some(match self.state {
            _ if self.replay => "viewing a finished run".into(),
            Some(RunState::Stopping) => "the run is stopping".into(),
            _ => "the run has finished".into(),
        });
        None
    }

    pub(super) fn send(&mut self, notice: String, command: Command) -> Option<Command> {
        if self.read_only {
            self.notice = Some("read-only: attach without --read-only to steer the run".into());
            return None;
        }
        self.notice = Some(notice);
        Some(command)
    }

    pub(super) fn act(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Back if self.show_confusion => {
                self.show_confusion = false;
                None
            }
            Action::Back | Action::Detach | Action::Stop | Action::Interrupt | Action::Quit | Action::Confirm(_) => {
                self.leave(action)
            }
            Action::TogglePause | Action::StepOnce | Action::Checkpoint => self.control(action),
            Action::ToggleTechnique | Action::EditTechnique | Action::EditLearningRate => self.steer(action),
            Action::ForkTechnique | Action::Keep(_) => self.fork_action(action),
            Action::Edit(key) => self.edit(key),
            Action::HalveLearningRate | Action::GradClipOn => self.fix(action),
            Action::SelectNext
            | Action::SelectPrev
            | Action::ToggleLogScale
            | Action::ToggleSmoothing
            | Action::ToggleBaseline
            | Action::ToggleConfusion
            | Action::ToggleHelp => {
                self.change_view(action);
                None
            }
        }
    }

    /// Detach, stop, quit, and the answer to "detach or stop?".
    fn leave(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Detach | Action::Back => self.detach(),
            Action::Stop | Action::Interrupt if self.read_only => {
                self.overlay = Overlay::None;
                self.quit = action == Action::Interrupt;
                self.send(String::new(), Command::Stop)
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
            Action::Quit => self.ask_quit(),
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
            _ => None,
        }
    }

    fn detach(&mut self) -> Option<Command> {
        if self.attached {
            self.overlay = Overlay::None;
            self.detached = true;
            self.quit = true;
        } else {
            self.notice = Some(match self.replay {
                true => "viewing a run folder: q quits".into(),
                false => "this run lives in this process (--foreground): q quits".into(),
            });
        }
        None
    }

    fn ask_quit(&mut self) -> Option<Command> {
        if self.read_only {
            self.detached = self.live();
            self.quit = true;
        } else if self.live() || (self.state == Some(RunState::Stopping) && !self.disconnected) {
            self.overlay = Overlay::ConfirmQuit;
        } else {
            self.quit = true;
        }
        None
    }

    /// Pause or resume, one step while paused, a checkpoint now.
    fn control(&mut self, action: Action) -> Option<Command> {
        if !self.live() {
            return self.refuse();
        }
        match action {
            Action::TogglePause => match self.state {
                Some(RunState::Paused) => self.send("resume requested".into(), Command::Resume),
                _ => self.send("pause requested".into(), Command::Pause),
            },
            Action::StepOnce if self.state == Some(RunState::Paused) => {
                self.send("one step requested".into(), Command::StepOnce)
            }
            Action::StepOnce => {
                self.notice = Some("n steps once while paused: press p first".into());
                None
            }
            Action::Checkpoint => self.send("checkpoint requested".into(), Command::Checkpoint),
            _ => None,
        }
    }

    /// Switch the selected technique, or open an editor for its parameters
    /// or for the learning rate.
    fn steer(&mut self, action: Action) -> Option<Command> {
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
        self.send(format!("requested: {technique} {word}"), Command::Toggle { technique, enabled })
    }

    /// Fork at the selected technique's switch, or keep a branch.
    fn fork_action(&mut self, action: Action) -> Option<Command> {
        if !self.live() {
            return self.refuse();
        }
        let forked = self.fork.as_ref().is_some_and(|f| f.kept.is_none());
        match action {
            Action::Keep(branch) if forked => {
                self.send(format!("requested: keep {}", branch.letter()), Command::Keep { branch })
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
                self.send(notice, Command::Fork { technique, enabled })
            }
        }
    }

    /// Selection, scales, smoothing and help: nothing reaches the run.
    fn change_view(&mut self, action: Action) {
        match action {
            Action::SelectNext => {
                self.selected = (self.selected + 1).min(self.techniques.len().saturating_sub(1));
            }
            Action::SelectPrev => self.selected = self.selected.saturating_sub(1),
            Action::ToggleLogScale => self.log_scale = !self.log_scale,
            Action::ToggleSmoothing => self.smoothing = !self.smoothing,
            Action::ToggleBaseline => self.toggle_baseline(),
            Action::ToggleConfusion => self.show_confusion = !self.show_confusion,
            Action::ToggleHelp => {
                self.overlay = match self.overlay {
                    Overlay::Help => Overlay::None,
                    _ => Overlay::Help,
                };
            }
            _ => {}
        }
    }

    fn toggle_baseline(&mut self) {
        self.show_baseline = !self.show_baseline;
        self.notice = Some(match &self.baseline {
            None => "no baseline: start with --baseline RUN_DIR to pin a run behind this one".into(),
            Some(b) if self.show_baseline => format!("baseline {} shown", b.name),
            Some(b) => format!("baseline {} hidden (b shows it)", b.name),
        });
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
}
