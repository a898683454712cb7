//! Keys to actions. The mapping depends only on the key and on which
//! overlay has the keyboard, so it is a pure function; `App` turns actions
//! into state changes and commands. `KEYS` is what the help overlay lists,
//! kept next to the mapping so the two cannot drift apart.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Who receives keys right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    Help,
    Editor,
    ConfirmQuit,
}

/// Keys inside the value editor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EditKey {
    Char(char),
    Backspace,
    Clear,
    Next,
    Prev,
    Submit,
    Cancel,
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    TogglePause,
    StepOnce,
    Stop,
    Checkpoint,
    SelectNext,
    SelectPrev,
    ToggleTechnique,
    EditTechnique,
    EditLearningRate,
    ToggleLogScale,
    ToggleSmoothing,
    ToggleHelp,
    Quit,
    /// Ctrl+C: a graceful stop, not an exit, so the final state stays on
    /// screen.
    Interrupt,
    Confirm(bool),
    Edit(EditKey),
}

/// The keys of the normal view, as the help overlay shows them.
pub const KEYS: &[(&str, &str)] = &[
    ("p", "pause / resume"),
    ("n", "train one step (while paused)"),
    ("s", "stop gracefully (checkpoint, summary)"),
    ("c", "write a checkpoint now"),
    ("j k ↓ ↑", "select a technique"),
    ("space t", "switch the selected technique on/off"),
    ("e Enter", "edit the selected technique's parameters"),
    ("L", "set the learning rate"),
    ("l", "loss chart: log scale on/off"),
    ("m", "charts: smoothing (EMA) on/off"),
    ("?", "this help"),
    ("q", "quit (asks while the run trains)"),
    ("Ctrl+C", "stop the run gracefully; q quits after"),
];

/// The keys of the value editor, as the help overlay shows them.
pub const EDITOR_KEYS: &[(&str, &str)] = &[
    ("Tab ↓ ↑", "editor: choose the parameter"),
    ("Enter", "editor: send the value"),
    ("Ctrl+U", "editor: clear the value"),
    ("Esc", "editor: cancel"),
];

pub fn map_key(mode: InputMode, key: KeyEvent) -> Option<Action> {
    // Terminals that report releases and repeats (Windows, kitty protocol)
    // would otherwise toggle twice per press.
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return Some(Action::Interrupt);
    }
    match mode {
        InputMode::Normal if ctrl => None,
        InputMode::Normal => normal(key.code),
        InputMode::Help => match key.code {
            KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter => Some(Action::ToggleHelp),
            _ => None,
        },
        InputMode::ConfirmQuit => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Confirm(true)),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(Action::Confirm(false)),
            _ => None,
        },
        InputMode::Editor => editor(key.code, ctrl).map(Action::Edit),
    }
}

fn normal(code: KeyCode) -> Option<Action> {
    Some(match code {
        KeyCode::Char('p') => Action::TogglePause,
        KeyCode::Char('n') => Action::StepOnce,
        KeyCode::Char('s') => Action::Stop,
        KeyCode::Char('c') => Action::Checkpoint,
        KeyCode::Char('j') | KeyCode::Down => Action::SelectNext,
        KeyCode::Char('k') | KeyCode::Up => Action::SelectPrev,
        KeyCode::Char(' ') | KeyCode::Char('t') => Action::ToggleTechnique,
        KeyCode::Char('e') | KeyCode::Enter => Action::EditTechnique,
        KeyCode::Char('L') => Action::EditLearningRate,
        KeyCode::Char('l') => Action::ToggleLogScale,
        KeyCode::Char('m') => Action::ToggleSmoothing,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('q') => Action::Quit,
        _ => return None,
    })
}

fn editor(code: KeyCode, ctrl: bool) -> Option<EditKey> {
    Some(match code {
        KeyCode::Char('u') if ctrl => EditKey::Clear,
        _ if ctrl => return None,
        KeyCode::Esc => EditKey::Cancel,
        KeyCode::Enter => EditKey::Submit,
        KeyCode::Tab | KeyCode::Down | KeyCode::Right => EditKey::Next,
        KeyCode::BackTab | KeyCode::Up | KeyCode::Left => EditKey::Prev,
        KeyCode::Backspace | KeyCode::Delete => EditKey::Backspace,
        KeyCode::Char(c) => EditKey::Char(c),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn normal_keys() {
        let n = InputMode::Normal;
        assert_eq!(map_key(n, key(KeyCode::Char('p'))), Some(Action::TogglePause));
        assert_eq!(map_key(n, KeyEvent::new(KeyCode::Char('L'), KeyModifiers::SHIFT)), Some(Action::EditLearningRate));
        assert_eq!(map_key(n, key(KeyCode::Char('l'))), Some(Action::ToggleLogScale));
        assert_eq!(map_key(n, key(KeyCode::Down)), Some(Action::SelectNext));
        assert_eq!(map_key(n, key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn ctrl_c_interrupts_everywhere() {
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in [InputMode::Normal, InputMode::Help, InputMode::Editor, InputMode::ConfirmQuit] {
            assert_eq!(map_key(mode, k), Some(Action::Interrupt));
        }
    }

    #[test]
    fn releases_are_ignored() {
        let k = KeyEvent::new_with_kind(KeyCode::Char('p'), KeyModifiers::NONE, KeyEventKind::Release);
        assert_eq!(map_key(InputMode::Normal, k), None);
    }

    #[test]
    fn editor_takes_letters() {
        assert_eq!(map_key(InputMode::Editor, key(KeyCode::Char('q'))), Some(Action::Edit(EditKey::Char('q'))));
        assert_eq!(map_key(InputMode::Editor, key(KeyCode::Esc)), Some(Action::Edit(EditKey::Cancel)));
    }
}
