//! JSON lines: one record per line, UTF-8, `\n`-terminated. The same framing
//! serves the run folder's files, a Unix socket and ssh's stdio, so the
//! reader and writer are generic over `io::Read` and `io::Write`.
//!
//! A line is bounded ([`MAX_LINE`]): a peer that never sends a newline costs
//! a bounded buffer and an error naming the line, never unbounded memory.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::connection::{ConnectionMessage, StreamItem};
use super::event::{Record, RunEvent};
use super::version::VersionError;

/// The longest line a reader accepts (bytes, without the newline).
pub const MAX_LINE: usize = 1 << 20;

/// One value as a line, newline included.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these types cannot fail: all map keys are strings.
    let mut line = serde_json::to_vec(value).unwrap_or_else(|e| panic!("protocol value not serializable: {e}"));
    line.push(b'\n');
    line
}

/// One line (with or without its newline) as a value.
pub fn decode<T: DeserializeOwned>(line: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(line.trim_end_matches(['\n', '\r']))
}

/// Writes values, one line each, in a single `write_all` per line so that
/// lines from two threads sharing a file never interleave inside a line.
pub struct LineWriter<W: Write> {
    inner: W,
}

impl<W: Write> LineWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    pub fn send<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.inner.write_all(&encode(value))
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }

    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Why a line could not be read.
#[derive(Debug)]
pub enum FrameError {
    Io(io::Error),
    /// The line is longer than [`MAX_LINE`] (it was skipped).
    TooLong {
        line: usize,
    },
    /// Not JSON, or not the expected record.
    Invalid {
        line: usize,
        message: String,
    },
    /// A hello from another major version; nothing after it can be read.
    Version {
        line: usize,
        error: VersionError,
    },
}

impl FrameError {
    /// Whether the stream can go on after this error (the bad line skipped).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, FrameError::TooLong { .. } | FrameError::Invalid { .. })
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Io(e) => write!(f, "{e}"),
            FrameError::TooLong { line } => write!(f, "line {line}: longer than {MAX_LINE} bytes"),
            FrameError::Invalid { line, message } => write!(f, "line {line}: {message}"),
            FrameError::Version { line, error } => write!(f, "line {line}: {error}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Reads values, one per line; blank lines are skipped.
pub struct LineReader<R: Read> {
    inner: BufReader<R>,
    line: usize,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self { inner: BufReader::new(inner), line: 0 }
    }

    /// The stream underneath (what it has buffered stays buffered).
    pub fn get_mut(&mut self) -> &mut R {
        self.inner.get_mut()
    }

    /// The number of the line last read (1-based).
    pub fn line(&self) -> usize {
        self.line
    }

    /// The next value; `None` at the end of the stream. A line cut short by
    /// the end of the stream is still read (and usually fails to parse).
    pub fn read<T: DeserializeOwned>(&mut self) -> Option<Result<T, FrameError>> {
        let text = match self.read_text()? {
            Ok(text) => text,
            Err(e) => return Some(Err(e)),
        };
        Some(self.parse(&text))
    }

    /// The next line that is not blank, as text.
    fn read_text(&mut self) -> Option<Result<String, FrameError>> {
        loop {
            match self.next_line() {
                Ok(Some(text)) if text.trim().is_empty() => continue,
                Ok(Some(text)) => return Some(Ok(text)),
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// `text` (the line last read) as a value; the error names the line.
    fn parse<T: DeserializeOwned>(&self, text: &str) -> Result<T, FrameError> {
        decode(text).map_err(|e| FrameError::Invalid { line: self.line, message: e.to_string() })
    }

    fn next_line(&mut self) -> Result<Option<String>, FrameError> {
        let mut buf = Vec::new();
        let n = (&mut self.inner).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf).map_err(FrameError::Io)?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        if buf.last() != Some(&b'\n') && buf.len() > MAX_LINE {
            self.skip_rest_of_line()?;
            return Err(FrameError::TooLong { line: self.line });
        }
        String::from_utf8(buf)
            .map(Some)
            .map_err(|_| FrameError::Invalid { line: self.line, message: "not UTF-8".into() })
    }

    /// Discards up to the next newline without holding the line in memory.
    fn skip_rest_of_line(&mut self) -> Result<(), FrameError> {
        loop {
            let chunk = self.inner.fill_buf().map_err(FrameError::Io)?;
            if chunk.is_empty() {
                return Ok(());
            }
            match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.inner.consume(i + 1);
                    return Ok(());
                }
                None => {
                    let n = chunk.len();
                    self.inner.consume(n);
                }
            }
        }
    }
}

/// Reads a trainer's stream: its [`Record`]s and the [`ConnectionMessage`]s
/// around them. Checks every hello's version and skips events from a newer
/// minor version that this build does not know.
pub struct EventReader<R: Read> {
    lines: LineReader<R>,
}

/// A line as the reader took it: a run's record or a connection message.
enum Line {
    Run(Record),
    Connection(ConnectionMessage),
}

/// The `event` tag alone, read only from a line whose tag no run event has.
#[derive(serde::Deserialize)]
struct Tag {
    event: String,
}

impl<R: Read> EventReader<R> {
    pub fn new(inner: R) -> Self {
        Self { lines: LineReader::new(inner) }
    }

    /// The next run event or connection message (its time left out), for a
    /// client of a live stream; after a `FrameError::Version` the caller
    /// should stop.
    pub fn next_item(&mut self) -> Option<Result<StreamItem, FrameError>> {
        Some(self.next_line()?.map(|line| match line {
            Line::Run(record) => StreamItem::Run(record.event),
            Line::Connection(message) => StreamItem::Connection(message),
        }))
    }

    fn next_line(&mut self) -> Option<Result<Line, FrameError>> {
        loop {
            let decoded = self.lines.read_text()?.and_then(|text| self.decode(&text));
            match decoded {
                Ok(Some(line)) => return Some(Ok(line)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// One line; `None` for an event this build does not know. A run
    /// event's line is parsed once, as before connection messages had a
    /// type of their own: only a tag no run event has is read again.
    fn decode(&self, text: &str) -> Result<Option<Line>, FrameError> {
        let record: Record = self.lines.parse(text)?;
        if !matches!(record.event, RunEvent::Unknown) {
            return Ok(Some(Line::Run(record)));
        }
        let tag: Tag = self.lines.parse(text)?;
        if !ConnectionMessage::TAGS.contains(&tag.event.as_str()) {
            return Ok(None);
        }
        let message: ConnectionMessage = self.lines.parse(text)?;
        if let ConnectionMessage::Hello(hello) = &message {
            hello.check().map_err(|error| FrameError::Version { line: self.lines.line(), error })?;
        }
        Ok(Some(Line::Connection(message)))
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<Record, FrameError>;

    /// The next run record (the connection messages skipped, a hello's
    /// version checked); after a `FrameError::Version` the caller should
    /// stop.
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.next_line()? {
                Ok(Line::Run(record)) => return Some(Ok(record)),
                Ok(Line::Connection(_)) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}
