//! A client's connection to a run, over any pair of byte streams (the run's
//! Unix socket, or ssh's pipe to `traintop attach --stdio` on another
//! machine): the hello exchange, then events in and requests out.

use std::fmt;
use std::io::{Read, Write};

use crate::protocol::{
    ClientHello, ClientId, ConnectionMessage, EventReader, FrameError, Hello, LineWriter, RunStatus, StreamItem, Want,
};

/// Why a connection did not come up or ended.
#[derive(Debug)]
pub enum ConnectionError {
    /// The other side closed before saying hello.
    Closed,
    /// It closed after printing lines that are not the protocol (a remote's
    /// login script); the message names them.
    NoHello(String),
    /// The server refused us or sent an error, in its words.
    Refused(String),
    /// Not the run protocol, or another major version of it.
    Protocol(String),
    Io(std::io::Error),
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::Closed => f.write_str("the run closed the connection before its hello"),
            ConnectionError::NoHello(m) => f.write_str(m),
            ConnectionError::Refused(m) => write!(f, "the run refused: {m}"),
            ConnectionError::Protocol(m) => write!(f, "not a traintop run on the other end: {m}"),
            ConnectionError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for ConnectionError {}

/// An open connection to a run after the hello exchange (not the engine's
/// training `Session`).
pub struct RunConnection<R: Read, W: Write> {
    /// The run's status when we connected.
    pub status: RunStatus,
    /// The server's hello (its protocol version and program).
    pub hello: Hello,
    pub events: EventReader<R>,
    pub requests: LineWriter<W>,
}

/// This process as a client: its pid and terminal.
pub fn local_client() -> ClientId {
    let tty = std::fs::read_link("/proc/self/fd/0")
        .ok()
        .map(|p| p.display().to_string())
        .filter(|p| p.starts_with("/dev/pts/") || p.starts_with("/dev/tty"));
    ClientId::Local { pid: std::process::id(), tty }
}

/// Reads the server's hello and status, then sends ours.
pub fn open<R: Read, W: Write>(
    read: R,
    write: W,
    client: ClientId,
    read_only: bool,
    want: Want,
) -> Result<RunConnection<R, W>, ConnectionError> {
    let mut events = EventReader::new(read);
    let hello = match next(&mut events)? {
        StreamItem::Connection(ConnectionMessage::Hello(h)) => h,
        other => return Err(unexpected(other, "a hello")),
    };
    let status = match next(&mut events)? {
        StreamItem::Connection(ConnectionMessage::Status(s)) => s,
        other => return Err(unexpected(other, "the run's status")),
    };
    let mut requests = LineWriter::new(write);
    let ours = ClientHello { hello: Hello::ours(), client, read_only, want };
    requests.send(&ours).and_then(|_| requests.flush()).map_err(ConnectionError::Io)?;
    Ok(RunConnection { status, hello, events, requests })
}

fn next<R: Read>(events: &mut EventReader<R>) -> Result<StreamItem, ConnectionError> {
    match events.next_item() {
        None => Err(ConnectionError::Closed),
        Some(Ok(item)) => Ok(item),
        Some(Err(FrameError::Io(e))) => Err(ConnectionError::Io(e)),
        Some(Err(e)) => Err(ConnectionError::Protocol(e.to_string())),
    }
}

/// An error (the server refused us), or a line out of its place.
fn unexpected(item: StreamItem, expected: &str) -> ConnectionError {
    let got = match item {
        StreamItem::Connection(ConnectionMessage::Error { message }) => return ConnectionError::Refused(message),
        StreamItem::Connection(other) => describe(&other),
        StreamItem::Run(event) => describe(&event),
    };
    ConnectionError::Protocol(format!("expected {expected}, got {got}"))
}

/// "a `step` event": the tag of what came instead.
fn describe(what: &impl serde::Serialize) -> String {
    serde_json::to_value(what)
        .ok()
        .and_then(|v| v.get("event").and_then(|e| e.as_str()).map(|s| format!("a `{s}` event")))
        .unwrap_or_else(|| "something else".into())
}
