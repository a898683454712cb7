//! CSV loading: a header row names the columns, one column (by name) is the
//! target and every other column is a numeric feature.
//!
//! Only the simple dialect our data files use is supported: fields are split
//! on commas, surrounding whitespace and one pair of surrounding double
//! quotes are stripped, and blank lines are skipped. Quoted commas are not.

use std::path::Path;

use super::dataset::{Dataset, Task, MAX_CLASSES};
use super::error::{io_reason, DataError};

/// Loads `path`, taking the column named `target` as the target.
pub fn load_csv(path: &Path, target: &str, task: Task) -> Result<Dataset, DataError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::new(&name, format!("cannot read: {}", io_reason(&e))))?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::new(&name, "not a text file (invalid UTF-8)"))?;
    load_csv_str(&text, &name, target, task)
}

/// Parses CSV text already in memory; `name` stands for the file in errors.
pub fn load_csv_str(text: &str, name: &str, target: &str, task: Task) -> Result<Dataset, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line)).filter(|(_, line)| !line.trim().is_empty());

    let (header_line, header) =
        lines.next().ok_or_else(|| DataError::new(name, "file is empty; expected a header row"))?;
    let columns: Vec<String> = split_fields(header).map(str::to_string).collect();
    if let Some(blank) = columns.iter().position(String::is_empty) {
        return Err(DataError::at_line(name, header_line, format!("header column {} has no name", blank + 1)));
    }
    let target_col = columns.iter().position(|c| c == target).ok_or_else(|| {
        DataError::new(name, format!("no column named \"{target}\"; available columns: {}", columns.join(", ")))
    })?;
    let feature_names: Vec<String> =
        columns.iter().enumerate().filter(|&(i, _)| i != target_col).map(|(_, c)| c.clone()).collect();
    if feature_names.is_empty() {
        return Err(DataError::new(name, format!("no feature columns besides the target \"{target}\"")));
    }

    let mut features = Vec::new();
    let mut targets = Vec::new();
    let mut max_class = 0usize;
    for (line_no, line) in lines {
        let mut found = 0;
        for (col, field) in split_fields(line).enumerate() {
            found += 1;
            if col >= columns.len() {
                continue;
            }
            let value = parse_number(field)
                .map_err(|what| DataError::at_line(name, line_no, format!("column {}: {what}", columns[col])))?;
            if col == target_col {
                if task == Task::Classification {
                    let class = class_index(value).ok_or_else(|| {
                        DataError::at_line(
                            name,
                            line_no,
                            format!(
                                "column {}: class labels must be integers in 0..{MAX_CLASSES}, got \"{field}\"",
                                columns[col]
                            ),
                        )
                    })?;
                    max_class = max_class.max(class);
                }
                targets.push(value);
            } else {
                features.push(value);
            }
        }
        if found != columns.len() {
            return Err(DataError::at_line(
                name,
                line_no,
                format!("expected {} fields as in the header, found {found}", columns.len()),
            ));
        }
    }
    if targets.is_empty() {
        return Err(DataError::new(name, "no data rows after the header"));
    }

    Ok(Dataset {
        features,
        targets,
        n_features: feature_names.len(),
        n_classes: match task {
            Task::Classification => max_class + 1,
            Task::Regression => 0,
        },
        feature_names,
        source: name.to_string(),
    })
}

fn split_fields(line: &str) -> impl Iterator<Item = &str> {
    line.split(',').map(|field| {
        let field = field.trim();
        field.strip_prefix('"').and_then(|f| f.strip_suffix('"')).unwrap_or(field)
    })
}

fn parse_number(field: &str) -> Result<f32, String> {
    match field.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, got \"{field}\"")),
        Err(_) => Err(format!("expected a number, got \"{field}\"")),
    }
}

/// Labels are stored as `f32`, so "2.0" is accepted as class 2.
pub(crate) fn class_index(value: f32) -> Option<usize> {
    if value >= 0.0 && value.fract() == 0.0 && value < MAX_CLASSES as f32 {
        Some(value as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        load_csv_str(text, "data/x.csv", "label", Task::Classification).unwrap_err().to_string()
    }

    #[test]
    fn parses_features_targets_and_class_count() {
        let ds = load_csv_str("a,label,b\n1,0,2\n\n3.5,2,-4\r\n", "mem", "label", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.features, vec![1.0, 2.0, 3.5, -4.0]);
        assert_eq!(ds.targets, vec![0.0, 2.0]);
        assert_eq!(ds.n_features, 2);
        assert_eq!(ds.n_classes, 3);
        assert_eq!(ds.source, "mem");
    }

    #[test]
    fn regression_accepts_real_targets() {
        let ds = load_csv_str("x,y\n1,0.5\n2,-1.25\n", "mem", "y", Task::Regression).unwrap();
        assert_eq!(ds.targets, vec![0.5, -1.25]);
        assert_eq!(ds.n_classes, 0);
    }

    #[test]
    fn strips_quotes_and_bom() {
        let ds = load_csv_str("\u{feff}\"a\", \"label\"\n\"1\",\"1\"\n", "mem", "label", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, vec!["a"]);
        assert_eq!(ds.features, vec![1.0]);
    }

    #[test]
    fn bad_number_names_line_column_and_text() {
        let text = "f1,f2,f3,label\n1,2,3,0\n\n1,2,abc,1\n";
        assert_eq!(err(text), "data/x.csv:4: column f3: expected a number, got \"abc\"");
        assert_eq!(err("f,label\nnan,0\n"), "data/x.csv:2: column f: expected a finite number, got \"nan\"");
    }

    #[test]
    fn wrong_field_count_names_line() {
        assert_eq!(err("a,b,label\n1,2,0\n1,2\n"), "data/x.csv:3: expected 3 fields as in the header, found 2");
        assert_eq!(err("a,b,label\n1,2,0,9\n"), "data/x.csv:2: expected 3 fields as in the header, found 4");
    }

    #[test]
    fn empty_and_header_only_files_are_errors() {
        assert_eq!(err(""), "data/x.csv: file is empty; expected a header row");
        assert_eq!(err("\n  \n"), "data/x.csv: file is empty; expected a header row");
        assert_eq!(err("a,label\n"), "data/x.csv: no data rows after the header");
    }

    #[test]
    fn missing_target_lists_columns() {
        assert_eq!(err("a,b,class\n1,2,0\n"), "data/x.csv: no column named \"label\"; available columns: a, b, class");
    }

    #[test]
    fn header_problems() {
        assert_eq!(err("a,,label\n"), "data/x.csv:1: header column 2 has no name");
        assert_eq!(err("label\n1\n"), "data/x.csv: no feature columns besides the target \"label\"");
    }

    #[test]
    fn class_labels_must_be_non_negative_integers() {
        assert_eq!(
            err("a,label\n1,0\n1,1.5\n"),
            "data/x.csv:3: column label: class labels must be integers in 0..65536, got \"1.5\""
        );
        assert!(err("a,label\n1,-1\n").contains(":2: column label: class labels"));
        assert!(err("a,label\n1,1e9\n").contains("got \"1e9\""));
        assert_eq!(class_index(2.0), Some(2));
    }

    #[test]
    fn load_csv_reads_files_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, "a,label\n1,1\n2,0\n").unwrap();
        let ds = load_csv(&path, "label", Task::Classification).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.source, path.display().to_string());

        let missing = dir.path().join("nope.csv");
        let e = load_csv(&missing, "label", Task::Classification).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: cannot read: No such file or directory", missing.display()));

        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let e = load_csv(&path, "label", Task::Classification).unwrap_err();
        assert!(e.to_string().ends_with("not a text file (invalid UTF-8)"));
    }

    #[test]
    fn repo_data_files_load() {
        // `file!()` is absolute when this module is included by path from a
        // scratch crate, relative to the manifest in the main crate.
        let here = Path::new(file!());
        let root = match here.ancestors().nth(3) {
            Some(root) if here.is_absolute() => root.to_path_buf(),
            _ => Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf(),
        };
        let data = root.join("data");
        let iris = load_csv(&data.join("iris.csv"), "label", Task::Classification).unwrap();
        assert_eq!((iris.len(), iris.n_features, iris.n_classes), (150, 4, 3));
        let digits = load_csv(&data.join("digits.csv"), "label", Task::Classification).unwrap();
        assert_eq!((digits.len(), digits.n_features, digits.n_classes), (1797, 64, 10));
        for name in ["wine.csv", "breast_cancer.csv"] {
            let ds = load_csv(&data.join(name), "label", Task::Classification).unwrap();
            assert!(ds.n_classes >= 2, "{name}");
        }
    }
}
