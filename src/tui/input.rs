//! Keys to actions. The mapping depends only on the key and on which
//! overlay has the keyboard, so it is a pure function; `App` turns actions
//! into state changes and commands. [`KEYS`] is the one table of the normal
//! view's keys: the mapping, the help overlay and the footer all read it.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::protocol::ForkBranch;

/// Who receives keys right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputMode {
    Normal,
    Help,
    Editor,
    ConfirmQuit,
    ConfirmStop,
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
    /// Leave the dashboard; the run goes on (a run server's client only).
    Detach,
    /// Esc: close what is open over the panels (the confusion matrix), and
    /// only with nothing open, detach.
    Back,
    Stop,
    Checkpoint,
    SelectNext,
    SelectPrev,
    ToggleTechnique,
    EditTechnique,
    EditLearningRate,
    ToggleLogScale,
    ToggleSmoothing,
    /// Show or hide the pinned baseline run's curves.
    ToggleBaseline,
    /// Show or hide the validation confusion matrix.
    ToggleConfusion,
    /// After a divergence: halve the learning rate and resume.
    HalveLearningRate,
    /// After a divergence: switch grad_clip on and resume.
    GradClipOn,
    /// Write the run's charts and series into its folder (`view` only).
    Export,
    /// Fork the run at the selected technique's switch.
    ForkTechnique,
    /// End a fork keeping this branch.
    Keep(ForkBranch),
    ToggleHelp,
    /// Tab: the scrolling keys move to the next pane.
    NextPane,
    /// Page Down (true) / Page Up in the focused pane.
    ScrollPage(bool),
    /// End (true: the newest) / Home in the focused pane.
    ScrollEdge(bool),
    /// The charts' cursor one notch right (true) or left.
    MoveCursor(bool),
    /// The charts' next zoom (all, then the last 10,000 / 1,000 / 100 steps).
    Zoom,
    Quit,
    /// After the end, in `traintop run`'s own dashboard: the same run again,
    /// from the start, in a new folder.
    RunAgain,
    /// Ctrl+C: a graceful stop, not an exit, so the final state stays on
    /// screen.
    Interrupt,
    Confirm(bool),
    Edit(EditKey),
}

/// A footer hint: the key as shown and its word.
pub type Hint = (&'static str, &'static str);

/// One key of the normal view: the codes that press it, what it does,
/// and how the help overlay and the footer name it.
pub struct Binding {
    pub codes: &'static [KeyCode],
    /// Pressed with Ctrl.
    pub ctrl: bool,
    pub action: Action,
    /// As the help overlay shows the keys, e.g. "j k ↓ ↑".
    pub keys: &'static str,
    pub help: &'static str,
    /// The footer's hint, `(key, word)`, for the keys it shows.
    pub hint: Option<Hint>,
    /// Shown in the footer whatever its width (help and quit).
    pub always: bool,
}

const fn key(codes: &'static [KeyCode], action: Action, keys: &'static str, help: &'static str) -> Binding {
    Binding { codes, ctrl: false, action, keys, help, hint: None, always: false }
}

const fn hinted(b: Binding, key: &'static str, word: &'static str) -> Binding {
    Binding { hint: Some((key, word)), ..b }
}

const fn always(b: Binding, key: &'static str, word: &'static str) -> Binding {
    Binding { hint: Some((key, word)), always: true, ..b }
}

use KeyCode::{Char, Down, End, Enter, Esc, Home, Left, PageDown, PageUp, Right, Tab, Up};

/// The normal view's keys: the one table the key handler, the help overlay
/// and the footer read, so the three cannot drift apart. Help lists them in
/// this order; the footer shows the `always` ones, then the others' hints
/// as far as they fit, in [`FOOTER_ORDER`].
pub const KEYS: &[Binding] = &[
    hinted(key(&[Char('p')], Action::TogglePause, "p", "pause / resume"), "p", "pause"),
    hinted(key(&[Char('n')], Action::StepOnce, "n", "train one step (while paused)"), "n", "step"),
    hinted(key(&[Char('s')], Action::Stop, "s", "stop gracefully (asks; checkpoint, summary)"), "s", "stop"),
    hinted(key(&[Char('c')], Action::Checkpoint, "c", "write a checkpoint now"), "c", "ckpt"),
    key(&[Char('d')], Action::Detach, "d Esc", "detach: close this screen, the run goes on"),
    key(&[Esc], Action::Back, "", ""),
    key(&[Char('j'), Down], Action::SelectNext, "j k ↓ ↑", "select a technique, or scroll the pane Tab chose"),
    key(&[Char('k'), Up], Action::SelectPrev, "", ""),
    hinted(
        key(&[Char(' '), Char('t')], Action::ToggleTechnique, "space t", "switch the selected technique on/off"),
        "space",
        "toggle",
    ),
    hinted(
        key(&[Char('e'), Enter], Action::EditTechnique, "e Enter", "edit the selected technique's parameters"),
        "e",
        "edit",
    ),
    key(&[Tab], Action::NextPane, "Tab PgUp PgDn", "pane to scroll: techniques, gradients, events; Home End"),
    key(&[PageDown], Action::ScrollPage(true), "", ""),
    key(&[PageUp], Action::ScrollPage(false), "", ""),
    key(&[End], Action::ScrollEdge(true), "", ""),
    key(&[Home], Action::ScrollEdge(false), "", ""),
    hinted(
        key(&[Char('f')], Action::ForkTechnique, "f A B", "fork on the selected technique's switch; A or B keeps one"),
        "f",
        "fork",
    ),
    key(&[Char('A')], Action::Keep(ForkBranch::A), "", ""),
    key(&[Char('B')], Action::Keep(ForkBranch::B), "", ""),
    hinted(key(&[Char('L')], Action::EditLearningRate, "L", "set the learning rate"), "L", "lr"),
    hinted(
        key(&[Char('l')], Action::ToggleLogScale, "l m b", "charts: log scale, smoothing, the --baseline run"),
        "l",
        "log",
    ),
    hinted(key(&[Char('m')], Action::ToggleSmoothing, "m", ""), "m", "smooth"),
    key(&[Char('b')], Action::ToggleBaseline, "", ""),
    key(&[Left], Action::MoveCursor(false), "← → z E", "charts: cursor (Esc hides), zoom; E exports (view)"),
    key(&[Right], Action::MoveCursor(true), "", ""),
    key(&[Char('z')], Action::Zoom, "", ""),
    key(&[Char('E')], Action::Export, "", ""),
    key(&[Char('C')], Action::ToggleConfusion, "C", "confusion matrix (heat map) on/off; Esc closes it"),
    key(&[Char('h')], Action::HalveLearningRate, "h g", "after a divergence: halve lr / grad_clip on"),
    key(&[Char('g')], Action::GradClipOn, "", ""),
    key(&[Char('r')], Action::RunAgain, "r", "after the end: run it again in a new folder (traintop run)"),
    // Not listed in the help itself, whose title says how to close it.
    always(key(&[Char('?')], Action::ToggleHelp, "?", ""), "?", "help"),
    always(key(&[Char('q')], Action::Quit, "q", "quit (asks while the run trains: detach or stop)"), "q", "quit"),
    Binding {
        ctrl: true,
        ..key(&[Char('c'), Char('C')], Action::Interrupt, "Ctrl+C", "stop the run gracefully; q quits after")
    },
];

/// The footer's hints, most useful first (the table's order is the help's).
pub const FOOTER_ORDER: &[Action] = &[
    Action::TogglePause,
    Action::Stop,
    Action::ToggleTechnique,
    Action::EditTechnique,
    Action::ForkTechnique,
    Action::StepOnce,
    Action::EditLearningRate,
    Action::ToggleLogScale,
    Action::ToggleSmoothing,
    Action::Checkpoint,
];

/// The help overlay's rows: every key with a description.
pub fn help_rows() -> impl Iterator<Item = (&'static str, &'static str)> {
    KEYS.iter().filter(|b| !b.help.is_empty()).map(|b| (b.keys, b.help)).chain(EDITOR_KEYS.iter().copied())
}

/// The footer's hints: those always shown, then the rest in footer order.
pub fn footer_hints() -> (Vec<Hint>, Vec<Hint>) {
    let always = KEYS.iter().filter(|b| b.always).filter_map(|b| b.hint).collect();
    let rest = FOOTER_ORDER
        .iter()
        .filter_map(|a| KEYS.iter().find(|b| b.action == *a && !b.always).and_then(|b| b.hint))
        .collect();
    (always, rest)
}

fn binding(code: KeyCode, ctrl: bool) -> Option<Action> {
    KEYS.iter().find(|b| b.ctrl == ctrl && b.codes.contains(&code)).map(|b| b.action)
}

/// The keys of the value editor, as the help overlay shows them.
pub const EDITOR_KEYS: &[(&str, &str)] = &[("Tab Enter ^U Esc", "editor: next field (↓ ↑ too), send, clear, cancel")];

pub fn map_key(mode: InputMode, key: KeyEvent) -> Option<Action> {
    // Terminals that report releases and repeats (Windows, kitty protocol)
    // would otherwise toggle twice per press.
    if key.kind != KeyEventKind::Press {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    // Ctrl bindings (Ctrl+C) work whatever has the keyboard.
    if let Some(action) = binding(key.code, true).filter(|_| ctrl) {
        return Some(action);
    }
    match mode {
        InputMode::Normal if ctrl => None,
        InputMode::Normal => binding(key.code, false),
        InputMode::Help => match key.code {
            KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Esc | KeyCode::Enter => Some(Action::ToggleHelp),
            _ => None,
        },
        InputMode::ConfirmQuit => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Confirm(true)),
            KeyCode::Char('d') | KeyCode::Char('D') => Some(Action::Detach),
            KeyCode::Char('s') | KeyCode::Char('S') => Some(Action::Stop),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(Action::Confirm(false)),
            _ => None,
        },
        InputMode::ConfirmStop => match key.code {
            KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Char('s') | KeyCode::Char('S') => Some(Action::Stop),
            KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => Some(Action::Confirm(false)),
            _ => None,
        },
        InputMode::Editor => editor(key.code, ctrl).map(Action::Edit),
    }
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
        assert_eq!(map_key(n, KeyEvent::new(KeyCode::Char('E'), KeyModifiers::SHIFT)), Some(Action::Export));
    }

    #[test]
    fn ctrl_c_interrupts_everywhere() {
        let k = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        for mode in
            [InputMode::Normal, InputMode::Help, InputMode::Editor, InputMode::ConfirmQuit, InputMode::ConfirmStop]
        {
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

    #[test]
    fn one_table_drives_keys_help_and_footer() {
        for b in KEYS {
            let mods = if b.ctrl { KeyModifiers::CONTROL } else { KeyModifiers::NONE };
            for &code in b.codes {
                assert_eq!(map_key(InputMode::Normal, KeyEvent::new(code, mods)), Some(b.action), "{}", b.keys);
            }
            if let Some((k, _)) = b.hint {
                assert!(b.keys.split(' ').any(|x| x == k), "hint key {k} is not one of `{}`", b.keys);
            }
        }
        let rows: Vec<(&str, &str)> = help_rows().collect();
        for b in KEYS.iter().filter(|b| !b.help.is_empty()) {
            assert!(rows.contains(&(b.keys, b.help)), "help lacks {}", b.keys);
        }
        let (always, rest) = footer_hints();
        assert_eq!(always, [("?", "help"), ("q", "quit")]);
        assert_eq!(rest.len(), FOOTER_ORDER.len(), "every footer action has a hinted key");
        assert_eq!(rest[0], ("p", "pause"));
    }
}
