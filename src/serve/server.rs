//! One run's server: the socket in the owner-only directory, the records
//! that say where it is, the fan-out of the run's events to its clients, and
//! the requests they send back to the trainer. Every run has one, with a
//! dashboard or without; it goes away with the run (socket and records
//! removed), or stays behind as a dead run if the process is killed.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use super::fanout::{Fanout, Keep, Line, Publisher};
use super::listener::{self, Handler, Listener, Peer};
use super::record::{host_name, ServerRecord};
use super::socket_dir;
use crate::protocol::framing::encode;
use crate::protocol::{RecordRef, Request, RunCommand, RunEvent, RunStatus};

/// A run's socket and clients, for as long as it lives.
pub struct Server {
    pub record: ServerRecord,
    publisher: Publisher<RunEvent>,
    notes: Arc<Notes>,
    status: Arc<Mutex<RunStatus>>,
    /// A client asked for a stop (the trainer may be unable to take it: a
    /// plugin hook that hangs).
    stop_asked: Arc<AtomicBool>,
    _listener: Listener,
}

impl Server {
    /// Serves the run in `run_dir` (absolute), sending clients' requests to
    /// `commands`. The folder's earlier records (a resumed run's) become the
    /// start of the history new clients see.
    pub fn start(run_dir: &Path, name: &str, commands: Sender<Request>) -> io::Result<Self> {
        let dir = socket_dir::ensure()?;
        let pid = std::process::id();
        let record = ServerRecord {
            pid,
            host: host_name(),
            socket: dir.join(format!("{pid}.sock")),
            run_dir: run_dir.to_path_buf(),
            name: name.to_string(),
            started: now(),
        };
        let status = Arc::new(Mutex::new(RunStatus {
            name: name.to_string(),
            run_dir: run_dir.display().to_string(),
            pid,
            host: record.host.clone(),
            ..Default::default()
        }));
        let fanout = Arc::new(Fanout::default());
        super::history::replay(run_dir, |event| {
            lock(&status).apply(&event);
            fanout.publish(line(&event), keep(&event));
        });
        let encoder_status = Arc::clone(&status);
        let publisher = Publisher::start(Arc::clone(&fanout), move |event: &RunEvent| {
            lock(&encoder_status).apply(event);
            (line(event), keep(event))
        })?;
        let events_file = crate::run_files::open_append(&run_dir.join("events.jsonl"))?;
        let notes = Arc::new(Notes { file: Mutex::new(events_file), publisher: publisher.clone() });
        let stop_asked = Arc::new(AtomicBool::new(false));
        let handler = RunHandler {
            status: Arc::clone(&status),
            commands: Mutex::new(commands),
            notes: Arc::clone(&notes),
            stop_asked: Arc::clone(&stop_asked),
        };
        let listener = listener::serve(&record.socket, Arc::clone(&fanout), Arc::new(handler))?;
        record.write()?;
        Ok(Self { record, publisher, notes, status, stop_asked, _listener: listener })
    }

    /// What `ls` and new clients are told about the run now.
    pub fn status(&self) -> RunStatus {
        lock(&self.status).clone()
    }

    /// Marks the run as stalled in a plugin hook (`technique.hook`), or no
    /// longer stalled; `ls` shows it.
    pub fn set_stalled(&self, hook: Option<String>) {
        lock(&self.status).stalled = hook;
    }

    /// Whether a client has asked for a stop.
    pub fn stop_asked(&self) -> bool {
        self.stop_asked.load(Ordering::SeqCst)
    }

    /// Hands one of the trainer's events to the clients (never waits).
    pub fn publish(&self, event: &RunEvent) {
        self.publisher.send(event.clone(), matches!(event, RunEvent::Step(_)));
    }

    /// Records an event of the server's own (e.g. the run lost its
    /// terminal) in `events.jsonl` and sends it to the clients.
    pub fn note(&self, event: RunEvent) {
        self.notes.note(event);
    }
}

/// What a client that attached now would be sent first, read from the run
/// folder alone (its server gone): the folder's records, thinned as a
/// server's history thins them.
pub fn folder_backlog(run_dir: &Path) -> Vec<Line> {
    let fanout = Fanout::default();
    super::history::replay(run_dir, |event| fanout.publish(line(&event), keep(&event)));
    fanout.subscribe(Box::new(|| {})).history
}

impl Drop for Server {
    fn drop(&mut self) {
        self.record.remove();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn line(event: &RunEvent) -> Line {
    let bytes = encode(&RecordRef::now(event));
    Arc::from(String::from_utf8_lossy(&bytes).as_ref())
}

/// How long an event stays in the history new clients get.
fn keep(event: &RunEvent) -> Keep {
    match event {
        RunEvent::Started(_) | RunEvent::Finished { .. } => Keep::Always,
        RunEvent::Techniques { .. } => Keep::Latest("techniques"),
        RunEvent::State { .. } => Keep::Latest("state"),
        RunEvent::Step(_) => Keep::Series("step"),
        RunEvent::Epoch(_) => Keep::Series("epoch"),
        // The dashboard shows the latest matrix only.
        RunEvent::Confusion(_) => Keep::Latest("confusion"),
        // A fork's branch B: a series of its own, as the steps are.
        RunEvent::Branch { .. } => Keep::Series("branch"),
        RunEvent::Unknown => Keep::Never,
        _ => Keep::Log,
    }
}

/// The server's own records: appended to `events.jsonl` (one write per
/// line, so they never split a line the trainer writes) and sent out.
struct Notes {
    file: Mutex<File>,
    publisher: Publisher<RunEvent>,
}

impl Notes {
    fn note(&self, event: RunEvent) {
        let file = lock(&self.file);
        // One write per record; one that fails part way (a full disk) is
        // cut back, so the log still ends with a whole line.
        if (&*file).write_all(&encode(&RecordRef::now(&event))).is_err() {
            let _ = crate::run_files::trim_torn_tail(&file);
        }
        drop(file);
        self.publisher.send(event, false);
    }
}

struct RunHandler {
    status: Arc<Mutex<RunStatus>>,
    commands: Mutex<Sender<Request>>,
    notes: Arc<Notes>,
    stop_asked: Arc<AtomicBool>,
}

impl Handler for RunHandler {
    fn status(&self) -> RunStatus {
        lock(&self.status).clone()
    }

    fn request(&self, peer: &Peer, request: Request) {
        // The server knows who is on the other end; the request says only
        // what it wants.
        let request = Request::new(peer.client.clone(), request.command);
        if matches!(request.command, RunCommand::Stop) {
            self.stop_asked.store(true, Ordering::SeqCst);
        }
        let _ = lock(&self.commands).send(request);
    }

    fn note(&self, event: RunEvent) {
        self.notes.note(event);
    }
}
