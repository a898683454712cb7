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

/// Starts the two threads; the dashboard reads `events` and sends on
/// `requests`. `events` ends (disconnects) when the run is gone.
pub fn spawn<R, W>(
    session: RunConnection<R, W>,
    mut reconnect: Reconnect<R, W>,
    window: Duration,
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
    let mut events = session.events;
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
        let Some(again) = retry(&mut reconnect, window) else { return };
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
