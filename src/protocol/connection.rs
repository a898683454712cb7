//! What a stream says about itself rather than about the run: the server's
//! greeting, the run's status for a client that just connected, and the
//! error line sent before a connection is closed. Kept apart from
//! [`RunEvent`] so that a run's events (what the trainer reports, what the
//! run folder keeps) cannot be confused with the talk around them.
//!
//! On the wire nothing tells the two apart: both are internally tagged by
//! `event`, stamped with a `time`, so a connection message is one more line
//! of the same JSON-lines stream, byte for byte as before the split.

use serde::{Deserialize, Serialize};

use super::event::{RunEvent, RunStatus};
use super::version::Hello;

/// A message about a connection (or a stream's start, in a run folder's
/// files), never part of the run's own history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConnectionMessage {
    /// Opens a stream: the protocol version.
    Hello(Hello),
    /// What a run server says about its run to a client that connects
    /// (never in the run folder).
    Status(RunStatus),
    /// A line the server could not take, or why it refused; the connection
    /// is closed after it.
    Error { message: String },
}

impl ConnectionMessage {
    /// The `event` tags of the variants: a reader that meets a tag its run
    /// events do not know tries a connection message only for these, so a
    /// newer minor version's event is skipped rather than misread.
    pub(crate) const TAGS: [&'static str; 3] = ["hello", "status", "error"];
}

/// One line of a run's stream as a client reads it: about the connection,
/// or about the run.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamItem {
    Connection(ConnectionMessage),
    Run(RunEvent),
}

impl From<RunEvent> for StreamItem {
    fn from(event: RunEvent) -> Self {
        StreamItem::Run(event)
    }
}

impl From<ConnectionMessage> for StreamItem {
    fn from(message: ConnectionMessage) -> Self {
        StreamItem::Connection(message)
    }
}
