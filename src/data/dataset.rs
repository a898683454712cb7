//! The in-memory table every loader produces: a dense row-major feature
//! matrix plus one target per row, and the task that says how to read it.

use super::encoding::Encoding;

/// Class labels at or above this are rejected: they are almost surely a
/// regression target or a typo, and the one-hot output would be huge.
pub const MAX_CLASSES: usize = 65536;

/// What the targets mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Task {
    /// Targets are class indices `0..n_classes`, stored as `f32`.
    #[default]
    Classification,
    /// Targets are real values.
    Regression,
}

impl Task {
    pub const NAMES: &'static [&'static str] = &["classification", "regression"];

    pub fn name(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }

    pub fn from_name(name: &str) -> Option<Task> {
        match name {
            "classification" => Some(Task::Classification),
            "regression" => Some(Task::Regression),
            _ => None,
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A loaded data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Row-major, `len() x n_features`.
    pub features: Vec<f32>,
    /// Class index as `f32` for classification, the value for regression.
    pub targets: Vec<f32>,
    pub n_features: usize,
    /// 0 for regression.
    pub n_classes: usize,
    pub feature_names: Vec<String>,
    /// The columns behind the features (one-hot categories included).
    pub encoding: Encoding,
    /// Where the rows came from (file path or `synthetic:NAME`), for messages.
    pub source: String,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    pub fn task(&self) -> Task {
        if self.n_classes == 0 {
            Task::Regression
        } else {
            Task::Classification
        }
    }

    /// # Panics
    /// If `i >= self.len()`; indices come from the program, not from input.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.features[i * self.n_features..(i + 1) * self.n_features]
    }

    /// The rows at `idx`, in that order (repeats allowed). Keeps `n_classes`
    /// so a subset without some class still has the full output width.
    ///
    /// # Panics
    /// If an index is out of range; indices come from the program.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let mut features = Vec::with_capacity(idx.len() * self.n_features);
        let mut targets = Vec::with_capacity(idx.len());
        for &i in idx {
            features.extend_from_slice(self.row(i));
            targets.push(self.targets[i]);
        }
        Dataset {
            features,
            targets,
            n_features: self.n_features,
            n_classes: self.n_classes,
            feature_names: self.feature_names.clone(),
            encoding: self.encoding.clone(),
            source: self.source.clone(),
        }
    }
}

#[cfg(test)]
pub(crate) fn toy(n: usize) -> Dataset {
    Dataset {
        features: (0..n * 2).map(|v| v as f32).collect(),
        targets: (0..n).map(|i| (i % 3) as f32).collect(),
        n_features: 2,
        n_classes: 3,
        feature_names: vec!["a".into(), "b".into()],
        encoding: Encoding::numeric("label", &["a".into(), "b".into()]),
        source: "toy".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_len() {
        let ds = toy(4);
        assert_eq!(ds.len(), 4);
        assert!(!ds.is_empty());
        assert_eq!(ds.row(0), &[0.0, 1.0]);
        assert_eq!(ds.row(3), &[6.0, 7.0]);
        assert_eq!(ds.task(), Task::Classification);
    }

    #[test]
    fn subset_keeps_order_and_class_count() {
        let ds = toy(5);
        let sub = ds.subset(&[4, 0, 4]);
        assert_eq!(sub.len(), 3);
        assert_eq!(sub.row(0), ds.row(4));
        assert_eq!(sub.row(1), ds.row(0));
        assert_eq!(sub.targets, vec![1.0, 0.0, 1.0]);
        assert_eq!(sub.n_classes, 3);
        assert!(ds.subset(&[]).is_empty());
    }

    #[test]
    fn task_names_round_trip() {
        for name in Task::NAMES {
            assert_eq!(Task::from_name(name).unwrap().name(), *name);
        }
        assert_eq!(Task::from_name("cls"), None);
        assert_eq!(Task::Regression.to_string(), "regression");
    }
}
