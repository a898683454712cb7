//! How a file's columns became the model's inputs: which columns, in which
//! order, and the categories of each one-hot encoded column. A run folder
//! keeps it (`encoding.json`) so that a new file given to `evaluate` or
//! `predict` is checked against the same columns and encoded the same way,
//! whatever order its rows put the categories in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The columns behind a data set's features.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Encoding {
    /// The target column ("" for sets without named columns).
    pub target: String,
    /// The feature columns as the file names them, before one-hot encoding,
    /// in the order their inputs come.
    pub columns: Vec<String>,
    /// For each one-hot encoded column (the target too, when its labels are
    /// names), its categories in input (or class) order.
    #[serde(default)]
    pub categories: BTreeMap<String, Vec<String>>,
}

impl Encoding {
    /// Plain numeric columns, no categories.
    pub fn numeric(target: &str, columns: &[String]) -> Self {
        Encoding { target: target.to_string(), columns: columns.to_vec(), categories: BTreeMap::new() }
    }

    /// The model input names of the columns: a one-hot column `c` becomes
    /// `c=VALUE` per category.
    pub fn feature_names(&self) -> Vec<String> {
        self.columns
            .iter()
            .flat_map(|c| match self.categories.get(c) {
                Some(values) => values.iter().map(|v| format!("{c}={v}")).collect(),
                None => vec![c.clone()],
            })
            .collect()
    }

    /// Class names when the target's labels were names, else `None`.
    pub fn class_names(&self) -> Option<&[String]> {
        self.categories.get(&self.target).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hot_columns_expand_into_named_inputs() {
        let mut e = Encoding::numeric("y", &["a".into(), "color".into(), "b".into()]);
        assert_eq!(e.feature_names(), vec!["a", "color", "b"]);
        e.categories.insert("color".into(), vec!["blue".into(), "red".into()]);
        assert_eq!(e.feature_names(), vec!["a", "color=blue", "color=red", "b"]);
        assert_eq!(e.class_names(), None);
        e.categories.insert("y".into(), vec!["no".into(), "yes".into()]);
        assert_eq!(e.class_names(), Some(&["no".to_string(), "yes".to_string()][..]));
    }

    #[test]
    fn round_trips_through_json() {
        let mut e = Encoding::numeric("label", &["x".into()]);
        e.categories.insert("x".into(), vec!["p".into(), "q".into()]);
        let text = serde_json::to_string(&e).unwrap();
        assert_eq!(serde_json::from_str::<Encoding>(&text).unwrap(), e);
    }
}
