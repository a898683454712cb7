//! Errors found after a config was read (the model does not fit in memory, a
//! technique names a layer the model lacks) still point at the line, or the
//! `--set`, that caused them: the config keeps its text and overrides.

use std::sync::Arc;

use super::error::{Applied, ConfigError, Reporter};
use super::spans::SpanMap;

/// What a [`super::RunConfig`] needs to blame a key after the fact.
#[derive(Debug, Clone, Default)]
pub struct Blame {
    pub(crate) file: String,
    pub(crate) text: Arc<str>,
    pub(crate) applied: Vec<Applied>,
}

/// Where keys were written is not part of what a config means.
impl PartialEq for Blame {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Blame {
    pub(crate) fn of(r: &Reporter) -> Blame {
        Blame { file: r.file.clone(), text: Arc::from(r.text), applied: r.applied.clone() }
    }

    /// Every `--set` applied, as typed, with the key it wrote.
    pub fn overrides(&self) -> Vec<(String, String)> {
        self.applied.iter().map(|a| (a.text.clone(), a.path.clone())).collect()
    }

    /// The error at `path`, located as a check during reading would locate it.
    pub fn error(&self, path: &str, message: impl Into<String>) -> ConfigError {
        let r = Reporter {
            file: self.file.clone(),
            text: &self.text,
            spans: SpanMap::parse(&self.text),
            applied: self.applied.clone(),
        };
        r.error(path, message)
    }
}
