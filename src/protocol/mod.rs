//! The run protocol: the one typed language between a trainer and everyone who
//! watches or steers it. The trainer reports [`RunEvent`]s, a server greets
//! and answers its clients with [`ConnectionMessage`]s, clients send
//! [`Request`]s (a [`RunCommand`] and the [`ClientId`] that sent it), and every
//! request is answered by an `Accepted` or `Rejected` event. The run folder's
//! `events.jsonl` and `metrics.jsonl` hold exactly these records ([`Record`]:
//! an event and its wall-clock time), one JSON object per line ([`framing`]),
//! and `traintop view` reads them back through the same types.
//!
//! Versioning: a stream (a file segment, a connection) starts with a
//! [`Hello`] naming the protocol version (a connection message, also at the
//! top of each file segment). A newer minor version may add fields and
//! variants; readers skip what they do not know. Another major
//! version is refused with a message naming both versions.
//!
//! This is the bottom floor of the house: it imports nothing from traintop.

pub(crate) mod command;
pub(crate) mod connection;
pub(crate) mod event;
mod float;
pub(crate) mod framing;
pub mod link;
mod narration;
pub(crate) mod session;
pub(crate) mod technique;
mod val_metric;
pub(crate) mod version;

pub use command::{ClientId, ForkBranch, Request, RunCommand};
pub use connection::{ConnectionMessage, StreamItem};
pub use event::{
    ConfusionRecord, EpochRecord, LogLevel, Record, RecordRef, RunEvent, RunState, RunStatus, Started, StepRecord,
    StopReason,
};
pub use framing::{encode, EventReader, FrameError, LineReader, LineWriter};
pub use link::{LinkState, LinkWatch};
pub use session::{ClientHello, Want};
pub use technique::{ParamView, TechniqueView, ToggleClass};
pub use val_metric::ValMetric;
pub use version::{Hello, Version, VersionError, PROTOCOL};

#[cfg(test)]
mod tests;
