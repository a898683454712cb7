//! A dashboard's link to a run: a thread that reads the run's events into a
//! channel and one that writes the dashboard's requests out, so the
//! dashboard itself never blocks on the connection.
//!
//! A connection that ends before the run finished (the server cut a client
//! off that fell behind, or a hiccup) is opened again when it can be: the
//! stream then starts over with the server's hello, and the dashboard
//! rebuilds its state from the history that follows (drop and resync).

use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::session::RunConnection;
use crate::protocol::{Request, RunEvent};

/// How long to keep trying to reconnect to a local socket before giving up.
pub const LOCAL_RECONNECT: Duration = Duration::from_secs(3);
/// The same over ssh: each try is a new ssh connection, which on a loaded
/// machine or a slow link takes seconds of its own.
pub const SSH_RECONNECT: Duration = Duration::from_secs(20);

/// Opens the connection again, if it can be (`None`: not possible or not now).
pub type Reconnect<R, W> = Box<dyn FnMut() -> Option<RunConnection<R, W>> + Send>;

/// Where a run's end can still be read once it cannot be reached (a local
/// run's folder): its records, or `None`.
pub type LastWord = Box<dyn FnOnce() -> Option<Vec<RunEvent>> + Send>;

/// Starts the two threads; the dashboard reads `events` and sends on
/// `requests`. `events` ends (disconnects) when the run is gone, after the
/// `last_word`'s records if it has any (sent as a fresh history, after a
/// hello).
pub fn spawn<R, W>(
    session: RunConnection<R, W>,
    mut reconnect: Reconnect<R, W>,
    window: Duration,
    last_word: Option<LastWord>,
) -> (Receiver<RunEvent>, Sender<Request>)
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
        for record in events.by_ref() {
            let Ok(record) = record else { break };
            finished |= matches!(record.event, RunEvent::Finished { .. });
            if event_tx.send(record.event).is_err() {
                return;
            }
        }
        if finished {
            return;
        }
        let Some(again) = retry(&mut reconnect, window) else {
            if let Some(records) = last_word.and_then(|read| read()) {
                for event in std::iter::once(RunEvent::Hello(hello)).chain(records) {
                    if event_tx.send(event).is_err() {
                        return;
                    }
                }
            }
            return;
        };
        if event_tx.send(RunEvent::Hello(again.hello)).is_err() {
            return;
        }
        *writer.lock().unwrap_or_else(|e| e.into_inner()) = again.requests;
        events = again.events;
    });
    (event_rx, request_tx)
}

fn retry<R: Read, W: Write>(reconnect: &mut Reconnect<R, W>, window: Duration) -> Option<RunConnection<R, W>> {
    let start = Instant::now();
    while start.elapsed() < window {
        if let Some(s) = reconnect() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::framing::encode;
    use crate::protocol::{EventReader, Hello, LineWriter, RecordRef, RunStatus};
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
        Box::new(|| None)
    }

    #[test]
    fn a_run_gone_before_its_records_came_is_read_from_its_last_word() {
        let folder = vec![RunEvent::log("epoch 1"), RunEvent::log("the end")];
        let said = folder.clone();
        let last_word: LastWord = Box::new(move || Some(said));
        let (events, _requests) = spawn(closing_after(&[]), never(), Duration::ZERO, Some(last_word));
        let got: Vec<RunEvent> = events.iter().collect();
        assert!(matches!(got.first(), Some(RunEvent::Hello(_))), "a fresh history starts with a hello: {got:?}");
        assert_eq!(got[1..], folder[..]);
    }

    #[test]
    fn without_a_last_word_the_stream_just_ends() {
        let (events, _requests) = spawn(closing_after(&[RunEvent::log("one")]), never(), Duration::ZERO, None);
        assert_eq!(events.iter().collect::<Vec<_>>(), vec![RunEvent::log("one")]);
        let nothing: LastWord = Box::new(|| None);
        let (events, _requests) = spawn(closing_after(&[]), never(), Duration::ZERO, Some(nothing));
        assert_eq!(events.iter().count(), 0);
    }
}
