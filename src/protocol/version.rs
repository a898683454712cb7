//! The protocol's version and the hello that opens every stream.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A protocol version. Same major: compatible (a newer minor only adds
/// fields and variants, which older readers skip). Another major: refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

/// The version this build speaks.
/// 1.1 added the `confusion` record; 1.2 the `rolled_back` event and
/// `diverged`'s `cause`; 1.3 forks (`fork` and `keep` commands,
/// `fork_started`, `branch` and `fork_ended` events); 1.4 the `crashed`
/// stop reason, the status's `stalled` hook and `attached`'s `says` label.
pub const PROTOCOL: Version = Version { major: 1, minor: 4 };

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The first record of a stream: who is speaking, in which version. Its
/// shape never changes, so that any version can read any other's hello.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: Version,
    /// The program and its version, e.g. "traintop 0.1.0", for messages.
    pub program: String,
}

impl Hello {
    /// This build's hello.
    pub fn ours() -> Self {
        Self { protocol: PROTOCOL, program: format!("traintop {}", env!("CARGO_PKG_VERSION")) }
    }

    /// Accepts a peer's hello when it speaks our major version.
    pub fn check(&self) -> Result<(), VersionError> {
        if self.protocol.major == PROTOCOL.major {
            Ok(())
        } else {
            Err(VersionError { ours: PROTOCOL, theirs: self.protocol, program: self.program.clone() })
        }
    }
}

/// A peer speaking another major version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionError {
    pub ours: Version,
    pub theirs: Version,
    /// The peer's program, as its hello named it.
    pub program: String,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "written in run protocol {} (by {}), but this traintop reads protocol {}.x (it speaks {}); use a traintop of the same major version",
            self.theirs, self.program, self.ours.major, self.ours
        )
    }
}

impl std::error::Error for VersionError {}
