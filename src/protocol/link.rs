//! How a client's link to its run stands, told by the thread that reads the
//! run's stream to the screen that shows it. A link that breaks is not a run
//! that ended: while the reader tries again the screen says "connection
//! lost, reconnecting" and counts; a link given up says why, and only a
//! local run whose socket is gone without a word is called stopped.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The link, as a screen shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Records flow (or none are due).
    Up,
    /// Broken; reconnecting for this long so far.
    Reconnecting(Duration),
    /// No longer tried, for this reason (the far side answered, but no
    /// longer serves the run).
    GaveUp(String),
}

#[derive(Debug, Default)]
enum Inner {
    #[default]
    Up,
    Lost(Instant),
    GaveUp(String),
}

/// Shared between the stream's reader (which sets it) and the dashboard
/// (which reads it each tick).
#[derive(Debug, Default)]
pub struct LinkWatch {
    inner: Mutex<Inner>,
}

impl LinkWatch {
    /// The link broke; the reader is about to try again (a second call
    /// keeps the first break's time).
    pub fn lost(&self) {
        let mut inner = self.lock();
        if !matches!(*inner, Inner::Lost(_)) {
            *inner = Inner::Lost(Instant::now());
        }
    }

    /// The link is back (a fresh history follows).
    pub fn restored(&self) {
        *self.lock() = Inner::Up;
    }

    /// The reader stopped trying, for `why`.
    pub fn give_up(&self, why: String) {
        *self.lock() = Inner::GaveUp(why);
    }

    pub fn state(&self) -> LinkState {
        match &*self.lock() {
            Inner::Up => LinkState::Up,
            Inner::Lost(at) => LinkState::Reconnecting(at.elapsed()),
            Inner::GaveUp(why) => LinkState::GaveUp(why.clone()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_link_counts_from_when_it_broke_until_it_is_back_or_given_up() {
        let watch = LinkWatch::default();
        assert_eq!(watch.state(), LinkState::Up);
        watch.lost();
        std::thread::sleep(Duration::from_millis(20));
        watch.lost();
        let LinkState::Reconnecting(first) = watch.state() else { panic!("reconnecting") };
        assert!(first >= Duration::from_millis(20), "a second try keeps the first break's time: {first:?}");
        watch.restored();
        assert_eq!(watch.state(), LinkState::Up);
        watch.give_up("no run named x".into());
        assert_eq!(watch.state(), LinkState::GaveUp("no run named x".into()));
    }
}
