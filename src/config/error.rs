//! Config errors, and the bookkeeping that blames each one on the right
//! place: a line and column of the file, or the `--set` override that
//! introduced the bad value.

use std::fmt;
use std::path::PathBuf;

use super::spans::{is_within, line_col, SpanMap};

/// A place in a config file, shown as `file:line:column` (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// Where a bad value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A known place in the file.
    At(Location),
    /// Somewhere in the file (e.g. a required key that is absent).
    File(String),
    /// A `--set KEY=VALUE` override, as the user typed it.
    Override(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read at all.
    Read { path: PathBuf, reason: String },
    /// The file or an override holds something we cannot use.
    Invalid {
        origin: Origin,
        /// Dotted path such as `model.hidden[1]`, when one key is at fault.
        field: Option<String>,
        /// What is wrong and what was expected.
        message: String,
    },
}

impl ConfigError {
    /// Config problems are usage errors, which exit with status 2.
    pub fn exit_code(&self) -> i32 {
        2
    }

    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => field.as_deref(),
            ConfigError::Read { .. } => None,
        }
    }

    pub fn location(&self) -> Option<&Location> {
        match self {
            ConfigError::Invalid { origin: Origin::At(loc), .. } => Some(loc),
            _ => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, reason } => {
                write!(f, "cannot read config {}: {reason}", path.display())
            }
            ConfigError::Invalid { origin, field, message } => {
                match origin {
                    Origin::At(loc) => write!(f, "{loc}: ")?,
                    Origin::File(file) => write!(f, "{file}: ")?,
                    Origin::Override(text) => write!(f, "--set {text}: ")?,
                }
                if let Some(field) = field {
                    write!(f, "{field}: ")?;
                }
                f.write_str(message)
            }
        }
    }
}

impl std::error::Error for ConfigError {}

/// An override that was applied, with the path it wrote to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Applied {
    /// `KEY=VALUE` as given.
    pub text: String,
    /// Path in the document, e.g. `technique[2].rate`.
    pub path: String,
}

/// Turns "this path is wrong" into an error that points at its origin.
pub(crate) struct Reporter<'a> {
    pub file: String,
    pub text: &'a str,
    pub spans: SpanMap,
    pub applied: Vec<Applied>,
}

impl Reporter<'_> {
    pub(crate) fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        self.error_near(path, None, message)
    }

    /// Like [`Reporter::error`], falling back to byte `offset` of the file
    /// when `path` says nothing about where the problem is.
    pub(crate) fn error_near(&self, path: &str, offset: Option<usize>, message: impl Into<String>) -> ConfigError {
        self.build(path, self.spans.offset_of(path).or(offset), message)
    }

    /// An error about the key at `path` itself (say, an unknown one), shown
    /// at the key rather than at its value.
    pub(crate) fn key_error(&self, path: &str, offset: Option<usize>, message: impl Into<String>) -> ConfigError {
        let at = self.spans.key_offset_of(path).or(self.spans.offset_of(path));
        self.build(path, at.or(offset), message)
    }

    fn build(&self, path: &str, offset: Option<usize>, message: impl Into<String>) -> ConfigError {
        let origin = match self.blamed_override(path) {
            Some(applied) => Origin::Override(applied.text.clone()),
            None => match offset {
                Some(offset) => Origin::At(self.location_at(offset)),
                None => Origin::File(self.file.clone()),
            },
        };
        ConfigError::Invalid { origin, field: (!path.is_empty()).then(|| path.to_string()), message: message.into() }
    }

    pub(crate) fn location_at(&self, offset: usize) -> Location {
        let (line, column) = line_col(self.text, offset);
        Location { file: self.file.clone(), line, column }
    }

    /// Where `path` is written in the file, if it is written there at all
    /// (rather than added or replaced by an override).
    pub(crate) fn location_of(&self, path: &str) -> Option<Location> {
        let replaced = self.applied.iter().any(|a| is_within(path, &a.path));
        if replaced || !self.spans.contains(path) {
            return None;
        }
        self.spans.offset_of(path).map(|o| self.location_at(o))
    }

    /// The last override that wrote `path` or something inside it; or that
    /// wrote below a `path` the file never mentioned (so `--set foo.x=1`
    /// is blamed for the unknown key `foo`).
    fn blamed_override(&self, path: &str) -> Option<&Applied> {
        self.applied
            .iter()
            .rev()
            .find(|a| is_within(path, &a.path) || (is_within(&a.path, path) && !self.spans.contains(path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporter<'a>(text: &'a str, applied: Vec<Applied>) -> Reporter<'a> {
        Reporter { file: "c.toml".into(), text, spans: SpanMap::parse(text), applied }
    }

    #[test]
    fn display_formats() {
        let e = ConfigError::Read { path: "x.toml".into(), reason: "No such file or directory".into() };
        assert_eq!(e.to_string(), "cannot read config x.toml: No such file or directory");
        assert_eq!(e.exit_code(), 2);
        let r = reporter("[model]\nhidden = [64, 0]\n", vec![]);
        let e = r.error("model.hidden[1]", "width must be at least 1, got 0");
        assert_eq!(e.to_string(), "c.toml:2:15: model.hidden[1]: width must be at least 1, got 0");
        assert_eq!(e.field(), Some("model.hidden[1]"));
        assert_eq!(e.location().map(|l| l.line), Some(2));
        assert_eq!(e.exit_code(), 2);
        assert_eq!(r.error("data.path", "missing").to_string(), "c.toml: data.path: missing");
        assert_eq!(r.error("", "bad").to_string(), "c.toml: bad");
        assert_eq!(r.error_near("", Some(8), "bad").to_string(), "c.toml:2:1: bad");
    }

    #[test]
    fn blames_overrides() {
        let applied = vec![
            Applied { text: "run.epochs=abc".into(), path: "run.epochs".into() },
            Applied { text: "foo.x=1".into(), path: "foo.x".into() },
        ];
        let r = reporter("[run]\nepochs = 3\n", applied);
        assert_eq!(r.error("run.epochs", "bad").to_string(), "--set run.epochs=abc: run.epochs: bad");
        assert_eq!(r.error("foo", "unknown").to_string(), "--set foo.x=1: foo: unknown");
        // `run` is in the file, so a problem with it is the file's.
        assert!(r.error("run", "bad").to_string().starts_with("c.toml:1:1"));
        assert_eq!(r.location_of("run.epochs"), None);
        assert_eq!(r.location_of("run").map(|l| l.to_string()), Some("c.toml:1:1".into()));
    }
}
