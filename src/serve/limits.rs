//! What one peer may cost the run: how many connections are served at once,
//! how long a hello may take from the accept, and how much of a bad line
//! comes back in an error or a rejection. Beyond the connection cap the
//! listener answers one short error line itself and closes: no thread, no
//! buffer, so a storm of connections costs the run next to nothing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::format;

/// Connections served at once (watching clients, `ls`, peers still saying
/// hello). Each costs two threads; a dashboard per terminal is far fewer.
pub const MAX_CONNECTIONS: usize = 64;
/// From the accept to a complete client hello, however the bytes trickle in.
pub const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// Characters of a peer's text (a technique name, a declared client name)
/// echoed back in a rejection or the event log.
pub const ECHO_CHARS: usize = 80;
/// Characters of an error message about a peer's line (a parser's message
/// quotes the line).
pub const MESSAGE_CHARS: usize = 200;

/// `text` from a peer as it may be echoed: cut to `chars`, then cleaned of
/// control characters (cut first, so a huge line costs nothing to clean).
pub fn echo(text: &str, chars: usize) -> String {
    format::clean(&format::truncate(text, chars))
}

/// The connections being served; a [`Slot`] is one of them.
#[derive(Clone, Default)]
pub struct Slots {
    used: Arc<AtomicUsize>,
}

/// One connection's place, given back when dropped (whichever way its
/// thread ends).
pub struct Slot {
    used: Arc<AtomicUsize>,
}

impl Slots {
    /// A place for one more connection, or `None` at the cap.
    pub fn take(&self) -> Option<Slot> {
        let taken =
            self.used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < MAX_CONNECTIONS).then_some(n + 1));
        taken.ok().map(|_| Slot { used: Arc::clone(&self.used) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.used.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_stop_at_the_cap_and_come_back_when_dropped() {
        let slots = Slots::default();
        let held: Vec<Slot> = (0..MAX_CONNECTIONS).map(|_| slots.take().expect("below the cap")).collect();
        assert!(slots.take().is_none());
        drop(held);
        assert!(slots.take().is_some());
    }

    #[test]
    fn echoes_are_short_and_clean() {
        let long = format!("\u{1b}[2J{}", "x".repeat(1 << 20));
        let e = echo(&long, ECHO_CHARS);
        assert!(e.len() < 4 * ECHO_CHARS, "{}", e.len());
        assert!(e.starts_with(r"\x1b[2J") && e.ends_with('…'), "{e}");
    }
}
