//! A dashboard's link to a run: a thread that reads the run's events into a
//! channel and one that writes the dashboard's requests out, so the
//! dashboard itself never blocks on the connection.
//!
//! A connection that ends before the run finished (the server cut a client
//! off that fell behind, a hiccup, an ssh link down) is opened again when it
//! can be: the stream then starts over with the server's hello, and the
//! dashboard rebuilds its state from the history that follows (drop and
//! resync). Meanwhile the [`LinkWatch`] says the link is lost, so the screen
//! shows "reconnecting" rather than a run that stopped.

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::session::RunConnection;
use crate::protocol::{ConnectionMessage, LinkWatch, Request, RunEvent, StreamItem};

/// How long to keep trying to reconnect to a local socket before giving up:
/// a run whose socket is gone for this long has ended.
pub const LOCAL_RECONNECT: Duration = Duration::from_secs(3);
/// The pause between two tries; over ssh each try is a new connection.
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// The longest pause between tries over ssh, reached by doubling.
const SLOWEST_RETRY: Duration = Duration::from_secs(5);

/// What one try to open the connection again gave.
pub enum Retried<R: Read, W: Write> {
    Back(Box<RunConnection<R, W>>),
    /// Not now (no answer, no socket); maybe later.
    NotYet,
    /// The far side answered and no longer serves the run: why.
    Never(String),
}

/// Opens the connection again, if it can be.
pub type Reconnect<R, W> = Box<dyn FnMut() -> Retried<R, W> + Send>;

/// Where a run's end can still be read once it cannot be reached (a local
/// run's folder): its records, or `None`.
pub type LastWord = Box<dyn FnOnce() -> Option<Vec<RunEvent>> + Send>;

/// How a broken link is tried again.
pub struct Retry {
    /// Give up after this long (`None`: keep trying, more slowly, until the
    /// screen closes: an ssh link may come back after minutes).
    pub give_up_after: Option<Duration>,
    /// Told when the link breaks, comes back or is given up.
    pub watch: Arc<LinkWatch>,
}

/// Starts the two threads; the dashboard reads `events` and sends on
/// `requests`. `events` carries the run's events and the connection's
/// messages (a hello tells the dashboard that a fresh history follows, an
/// error why the server closed). It ends (disconnects) when the run is gone,
/// after the `last_word`'s records if it has any (sent as a fresh history,
/// after a hello).
pub fn spawn<R, W>(
    session: RunConnection<R, W>,
    mut reconnect: Reconnect<R, W>,
    retry: Retry,
    last_word: Option<LastWord>,
) -> (Receiver<StreamItem>, Sender<Request>)
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let (event_tx, event_rx) = mpsc::channel();
    let (request_tx, request_rx) = mpsc::channel::<Request>();
    let writer = Arc::new(Mutex::new(session.requests));
    let out = Arc::clone(&writer);
    let _ = std::thread::Builder::new().name("requests".into()).spawn(move || {
        for request in request_rx {
            let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = w.send(&request).and_then(|_| w.flush());
        }
    });
    let (mut events, hello) = (session.events, session.hello);
    let _ = std::thread::Builder::new().name("events".into()).spawn(move || loop {
        let mut finished = false;
        while let Some(Ok(item)) = events.next_item() {
            finished |= matches!(item, StreamItem::Run(RunEvent::Finished { .. }));
            if event_tx.send(item).is_err() {
                return;
            }
        }
        if finished {
            return;
        }
        retry.watch.lost();
        let Some(again) = try_again(&mut reconnect, &retry) else {
            if let Some(records) = last_word.and_then(|read| read()) {
                retry.watch.restored();
                let hello = StreamItem::Connection(ConnectionMessage::Hello(hello));
                for item in std::iter::once(hello).chain(records.into_iter().map(StreamItem::Run)) {
                    if event_tx.send(item).is_err() {
                        return;
                    }
                }
            }
            return;
        };
        retry.watch.restored();
        if event_tx.send(StreamItem::Connection(ConnectionMessage::Hello(again.hello))).is_err() {
            return;
        }
        *writer.lock().unwrap_or_else(|e| e.into_inner()) = again.requests;
        events = again.events;
    });
    (event_rx, request_tx)
}

/// Tries until the connection is back, the far side says never (the watch
/// is told why), or the retry's time is up.
fn try_again<R: Read, W: Write>(reconnect: &mut Reconnect<R, W>, retry: &Retry) -> Option<RunConnection<R, W>> {
    let start = Instant::now();
    let mut pause = RETRY_PAUSE;
    while retry.give_up_after.is_none_or(|limit| start.elapsed() < limit) {
        match reconnect() {
            Retried::Back(s) => return Some(*s),
            Retried::Never(why) => {
                retry.watch.give_up(why);
                return None;
            }
            Retried::NotYet => {}
        }
        std::thread::sleep(pause);
        if retry.give_up_after.is_none() {
            pause = (pause * 2).min(SLOWEST_RETRY);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::encode;
    use crate::protocol::{EventReader, Hello, LineWriter, LinkState, RecordRef, RunStatus};
    use std::io::Cursor;

    /// A connection whose run sends `events` and then closes.
    fn closing_after(events: &[RunEvent]) -> RunConnection<Cursor<Vec<u8>>, Vec<u8>> {
        let bytes = events.iter().flat_map(|e| encode(&RecordRef::now(e))).collect();
        RunConnection {
            status: RunStatus::default(),
            hello: Hello::ours(),
            events: EventReader::new(Cursor::new(bytes)),
            requests: LineWriter::new(Vec::new()),
        }
    }

    fn never() -> Reconnect<Cursor<Vec<u8>>, Vec<u8>> {
        Box::new(|| Retried::NotYet)
    }

    fn at_once() -> Retry {
        Retry { give_up_after: Some(Duration::ZERO), watch: Arc::default() }
    }

    #[test]
    fn a_run_gone_before_its_records_came_is_read_from_its_last_word() {
        let folder = vec![RunEvent::log("epoch 1"), RunEvent::log("the end")];
        let said = folder.clone();
        let last_word: LastWord = Box::new(move || Some(said));
        let (events, _requests) = spawn(closing_after(&[]), never(), at_once(), Some(last_word));
        let got: Vec<StreamItem> = events.iter().collect();
        let hello = matches!(got.first(), Some(StreamItem::Connection(ConnectionMessage::Hello(_))));
        assert!(hello, "a fresh history starts with a hello: {got:?}");
        assert_eq!(got[1..], folder.into_iter().map(StreamItem::Run).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn without_a_last_word_the_stream_just_ends() {
        let (events, _requests) = spawn(closing_after(&[RunEvent::log("one")]), never(), at_once(), None);
        assert_eq!(events.iter().collect::<Vec<_>>(), vec![StreamItem::Run(RunEvent::log("one"))]);
        let nothing: LastWord = Box::new(|| None);
        let (events, _requests) = spawn(closing_after(&[]), never(), at_once(), Some(nothing));
        assert_eq!(events.iter().count(), 0);
    }

    #[test]
    fn a_broken_link_is_tried_again_and_the_watch_says_so() {
        let watch = Arc::new(LinkWatch::default());
        let (said, seen) = (Arc::clone(&watch), Arc::new(Mutex::new(Vec::new())));
        let states = Arc::clone(&seen);
        let mut tries = 0;
        let reconnect: Reconnect<_, _> = Box::new(move || {
            states.lock().unwrap().push(said.state());
            tries += 1;
            match tries {
                1 => Retried::NotYet,
                2 => Retried::Back(Box::new(closing_after(&[RunEvent::log("again")]))),
                _ => Retried::Never("no run named x".into()),
            }
        });
        let retry = Retry { give_up_after: None, watch: Arc::clone(&watch) };
        let (events, _requests) = spawn(closing_after(&[RunEvent::log("first")]), reconnect, retry, None);
        let got: Vec<StreamItem> = events.iter().collect();
        assert_eq!(got.len(), 3, "first, the hello of the new connection, again: {got:?}");
        assert!(matches!(got[1], StreamItem::Connection(ConnectionMessage::Hello(_))));
        let seen = seen.lock().unwrap();
        assert!(matches!(seen[0], LinkState::Reconnecting(_)) && matches!(seen[1], LinkState::Reconnecting(_)));
        assert_eq!(watch.state(), LinkState::GaveUp("no run named x".into()), "the far side said never");
    }
}
