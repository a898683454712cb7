//! Notifications from an attached dashboard: when the run finishes (however
//! it ends: completed, early-stopped, diverged, failed, crashed) or pauses at
//! the divergence banner waiting for a person, the terminal rings its bell
//! and gets a desktop notification request (OSC 9, which iTerm2, Windows
//! Terminal, ConEmu and kitty show; OSC 777, which urxvt, foot and VTE-based
//! terminals show). Terminals that know neither ignore them.
//!
//! Only what happens while this dashboard watches rings: the history an
//! attach replays (steps up to the run's step when it connected) does not.

/// What to ring, and from which step on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Alerts {
    /// `None`: this screen never rings (`view` of a folder).
    after: Option<u64>,
    pending: Vec<String>,
}

impl Alerts {
    /// Rings for what happens after `step` (0: everything of a new run).
    pub fn after(step: u64) -> Alerts {
        Alerts { after: Some(step), pending: vec![] }
    }

    /// From now on, only what comes after `step` (a reconnect replays history).
    pub fn catch_up(&mut self, step: u64) {
        if let Some(after) = &mut self.after {
            *after = (*after).max(step);
        }
    }

    /// `text` happened at `step`.
    pub fn note(&mut self, step: u64, text: String) {
        if self.after.is_some_and(|after| step > after || after == 0) {
            self.pending.push(text);
        }
    }

    /// `text` happened now, whatever the step (a run ends once, so its
    /// end is never in the history an attach replays).
    pub fn ring(&mut self, text: String) {
        if self.after.is_some() {
            self.pending.push(text);
        }
    }

    /// The bytes to write to the terminal for what is pending: a bell, then
    /// each message as OSC 9 and OSC 777.
    pub fn take_escapes(&mut self) -> Option<String> {
        if self.pending.is_empty() {
            return None;
        }
        let mut out = String::from("\x07");
        for text in self.pending.drain(..) {
            // Control characters would end or break the sequence; `;`
            // separates OSC 777's fields.
            let clean: String =
                text.chars().map(|c| if c.is_control() || c == ';' { ' ' } else { c }).take(200).collect();
            out.push_str(&format!("\x1b]9;traintop: {clean}\x07\x1b]777;notify;traintop;{clean}\x07"));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_comes_after_the_replayed_history_rings() {
        let mut a = Alerts::after(100);
        a.note(90, "old".into());
        assert_eq!(a.take_escapes(), None);
        a.note(120, "digits: finished; \x1b]2;x".into());
        let bytes = a.take_escapes().unwrap();
        assert!(bytes.starts_with('\x07'));
        assert!(bytes.contains("\x1b]9;traintop: digits: finished   ]2 x\x07"), "{bytes:?}");
        assert!(bytes.contains("\x1b]777;notify;traintop;digits: finished   ]2 x\x07"), "{bytes:?}");
        let mut off = Alerts::default();
        off.note(5, "x".into());
        assert_eq!(off.take_escapes(), None, "view never rings");
        let mut new_run = Alerts::after(0);
        new_run.note(0, "diverged at once".into());
        assert!(new_run.take_escapes().is_some());
    }
}
