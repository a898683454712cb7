//! The run protocol on a run's socket (or ssh's pipe): what a client says
//! first, and what a run server says about its run to anyone who connects.
//!
//! A connection goes: the server sends its [`Hello`](super::Hello) and a
//! `RunStatus` (as `hello` and `status` events); the client answers with a
//! [`ClientHello`]; a watching client then gets the run's history and its
//! live events, and may send [`Request`](super::Request)s. A line the server
//! cannot take is answered by an `error` event and the connection closed.

use serde::{Deserialize, Serialize};

use super::command::ClientId;
use super::version::Hello;

/// A client's first line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientHello {
    #[serde(flatten)]
    pub hello: Hello,
    /// Who this is; commands are recorded under this name.
    pub client: ClientId,
    /// Watch only: the server refuses its commands.
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub want: Want,
}

/// What a client connects for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// The history, then the live events.
    #[default]
    Watch,
    /// The status line only (`traintop ls`).
    Status,
}
