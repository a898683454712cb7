//! What to load: a description of a data set that does not depend on how
//! the run was configured, so the loaders can be used without a config.
//!
//! A data path is written as one of:
//! - `synthetic:NAME` — a generated set (see [`synthetic`](fn@super::synthetic));
//! - `idx:IMAGES_FILE,LABELS_FILE` — an MNIST-style IDX pair (file names
//!   containing commas are not supported);
//! - anything else — a CSV file.

use std::fmt;
use std::path::PathBuf;

use super::dataset::Task;
use super::synthetic::SyntheticKind;

/// Where the rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    Csv(PathBuf),
    Idx { images: PathBuf, labels: PathBuf },
    Synthetic(SyntheticKind),
}

impl DataSource {
    /// Reads a data path; `resolve` turns a file name as written into the
    /// path to open (configs resolve them against their own folder).
    pub fn parse(text: &str, resolve: impl Fn(&str) -> PathBuf) -> Result<DataSource, String> {
        if let Some(name) = text.strip_prefix("synthetic:") {
            return SyntheticKind::from_name(name).map(DataSource::Synthetic).ok_or_else(|| {
                format!(
                    "unknown synthetic data set \"{name}\", expected one of {}",
                    SyntheticKind::NAMES.iter().map(|n| format!("synthetic:{n}")).collect::<Vec<_>>().join(", ")
                )
            });
        }
        if let Some(pair) = text.strip_prefix("idx:") {
            return match pair.split_once(',') {
                Some((images, labels)) if !images.trim().is_empty() && !labels.trim().is_empty() => {
                    Ok(DataSource::Idx { images: resolve(images.trim()), labels: resolve(labels.trim()) })
                }
                _ => Err(format!("expected idx:IMAGES_FILE,LABELS_FILE, got \"{text}\"")),
            };
        }
        if text.trim().is_empty() {
            return Err("must name a CSV file, idx:IMAGES,LABELS or synthetic:NAME".into());
        }
        Ok(DataSource::Csv(resolve(text)))
    }

    /// The files this source reads, to check they exist before a run starts.
    pub fn files(&self) -> Vec<&PathBuf> {
        match self {
            DataSource::Csv(p) => vec![p],
            DataSource::Idx { images, labels } => vec![images, labels],
            DataSource::Synthetic(_) => Vec::new(),
        }
    }
}

/// Written back in the form [`DataSource::parse`] reads.
impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataSource::Csv(p) => write!(f, "{}", p.display()),
            DataSource::Idx { images, labels } => {
                write!(f, "idx:{},{}", images.display(), labels.display())
            }
            DataSource::Synthetic(kind) => write!(f, "synthetic:{}", kind.name()),
        }
    }
}

/// Everything [`super::load`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub source: DataSource,
    /// CSV column holding the target.
    pub target: String,
    pub task: Task,
    /// CSV columns to one-hot encode.
    pub categorical: Vec<String>,
    /// Synthetic sets only.
    pub samples: usize,
    pub features: usize,
    pub classes: usize,
    pub noise: f64,
    pub seed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<DataSource, String> {
        DataSource::parse(text, |p| Path::new("/base").join(p))
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("d/x.csv"), Ok(DataSource::Csv("/base/d/x.csv".into())));
        assert_eq!(parse("/abs.csv"), Ok(DataSource::Csv("/abs.csv".into())));
        assert_eq!(parse("synthetic:xor"), Ok(DataSource::Synthetic(SyntheticKind::Xor)));
        assert_eq!(
            parse("idx:a.idx, b.idx"),
            Ok(DataSource::Idx { images: "/base/a.idx".into(), labels: "/base/b.idx".into() })
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(
            parse("synthetic:moons").unwrap_err(),
            "unknown synthetic data set \"moons\", expected one of synthetic:spirals, synthetic:blobs, synthetic:xor, synthetic:sine"
        );
        assert!(parse("idx:only").unwrap_err().starts_with("expected idx:IMAGES_FILE,LABELS_FILE"));
        assert!(parse("idx:,b").is_err());
        assert!(parse(" ").is_err());
    }

    #[test]
    fn display_round_trips() {
        for text in ["/a/b.csv", "idx:/a,/b", "synthetic:sine"] {
            assert_eq!(parse(text).unwrap().to_string(), text);
        }
        assert_eq!(parse("idx:/a,/b").unwrap().files().len(), 2);
    }
}
