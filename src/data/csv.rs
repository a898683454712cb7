//! CSV loading: a header row names the columns, one column (by name) is the
//! target and every other column is a feature, numeric or, when the config
//! lists it under `data.categorical`, one-hot encoded.
//!
//! Reading is the `csv` crate's (RFC 4180): quoted fields may hold commas,
//! doubled quotes and line breaks, lines may end in CRLF, a UTF-8 BOM is
//! dropped. Whitespace around fields is trimmed and blank lines are skipped.
//! Errors name the file, the line a record starts on and the column.
//!
//! A file for a model already trained (evaluate, predict) is read against
//! the run's [`Encoding`]: the same feature columns in any order, the same
//! categories, and the target optional where only predictions are wanted.

use std::collections::HashMap;
use std::path::Path;

use super::dataset::{Dataset, Task, MAX_CLASSES};
use super::encoding::Encoding;
use super::error::{io_reason, DataError};

/// How to read a training file.
#[derive(Debug, Clone, Copy)]
pub struct CsvOptions<'a> {
    /// The target column's name.
    pub target: &'a str,
    pub task: Task,
    /// Columns to one-hot encode (the target too, for named class labels).
    pub categorical: &'a [String],
}

/// A file read for a trained model.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRows {
    /// Targets are 0 where the file has no target column.
    pub dataset: Dataset,
    pub has_target: bool,
}

/// Loads a training file.
pub fn load_csv(path: &Path, options: &CsvOptions) -> Result<Dataset, DataError> {
    let (text, name) = read_text(path)?;
    load_csv_str(&text, &name, options)
}

/// Parses CSV text already in memory; `name` stands for the file in errors.
pub fn load_csv_str(text: &str, name: &str, options: &CsvOptions) -> Result<Dataset, DataError> {
    let table = Table::read(text, name)?;
    let plan = Plan::for_training(&table, options)?;
    Ok(table.encode(&plan)?.0)
}

/// Loads a file for a model trained with `encoding` and `classes` outputs
/// (0 for regression); `need_target` refuses a file without the target.
pub fn load_csv_for_model(
    path: &Path,
    encoding: &Encoding,
    classes: usize,
    need_target: bool,
) -> Result<NewRows, DataError> {
    let (text, name) = read_text(path)?;
    let table = Table::read(&text, &name)?;
    let plan = Plan::for_model(&table, encoding, classes, need_target)?;
    let (dataset, has_target) = table.encode(&plan)?;
    Ok(NewRows { dataset, has_target })
}

fn read_text(path: &Path) -> Result<(String, String), DataError> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| DataError::new(&name, format!("cannot read: {}", io_reason(&e))))?;
    let text = String::from_utf8(bytes).map_err(|_| DataError::new(&name, "not a text file (invalid UTF-8)"))?;
    Ok((text, name))
}

/// The file's records as text, each with the line it starts on.
struct Table {
    name: String,
    header: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

impl Table {
    fn read(text: &str, name: &str) -> Result<Table, DataError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        // A record's position is where the reader stood before it, ahead of
        // any blank lines it skipped (and its line count leaves those out):
        // lines are counted from the first byte of the record itself.
        let newlines: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
        let line_at = |byte: u64| {
            let from = (byte as usize).min(text.len());
            let start = from + text[from..].bytes().take_while(|b| matches!(b, b'\r' | b'\n')).count();
            newlines.partition_point(|&nl| nl < start) + 1
        };
        let mut records = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(name, &e))?;
            if record.iter().all(str::is_empty) {
                continue;
            }
            let line = record.position().map_or(0, |p| line_at(p.byte()));
            records.push((line, record.iter().map(str::to_string).collect::<Vec<_>>()));
        }
        let mut records = records.into_iter();
        let (header_line, header) =
            records.next().ok_or_else(|| DataError::new(name, "file is empty; expected a header row"))?;
        if let Some(blank) = header.iter().position(String::is_empty) {
            return Err(DataError::at_line(name, header_line, format!("header column {} has no name", blank + 1)));
        }
        for (i, column) in header.iter().enumerate() {
            if header[..i].contains(column) {
                return Err(DataError::at_line(name, header_line, format!("column \"{column}\" appears twice")));
            }
        }
        let rows: Vec<(usize, Vec<String>)> = records.collect();
        for (line, fields) in &rows {
            if fields.len() != header.len() {
                return Err(DataError::at_line(
                    name,
                    *line,
                    format!("expected {} fields as in the header, found {}", header.len(), fields.len()),
                ));
            }
        }
        if rows.is_empty() {
            return Err(DataError::new(name, "no data rows after the header"));
        }
        Ok(Table { name: name.to_string(), header, rows })
    }

    fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|c| c == name)
    }

    /// Distinct values of a column, in numeric order when they are all
    /// numbers and text order otherwise (never in row order, which a
    /// shuffled copy of the file would change).
    fn categories(&self, col: usize) -> Vec<String> {
        let mut values: Vec<String> = self.rows.iter().map(|(_, f)| f[col].clone()).collect();
        values.sort();
        values.dedup();
        let numbers: Option<Vec<f64>> = values.iter().map(|v| v.parse::<f64>().ok()).collect();
        if let Some(numbers) = numbers {
            let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(values).collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            return pairs.into_iter().map(|(_, v)| v).collect();
        }
        values
    }

    /// Turns the records into features and targets as `plan` says; also
    /// says whether the file had the target.
    fn encode(&self, plan: &Plan) -> Result<(Dataset, bool), DataError> {
        let width: usize = plan.features.iter().map(|f| f.kind.width()).sum();
        let lookups: Vec<Option<HashMap<&str, usize>>> = plan.features.iter().map(|f| f.kind.lookup()).collect();
        let target_lookup = plan.target.as_ref().and_then(|t| t.kind.lookup());
        let mut features = Vec::with_capacity(self.rows.len() * width);
        let mut targets = Vec::with_capacity(self.rows.len());
        let mut max_class = 0usize;
        for (line, fields) in &self.rows {
            for (feature, lookup) in plan.features.iter().zip(&lookups) {
                let field = &fields[feature.col];
                let at =
                    |what: String| DataError::at_line(&self.name, *line, format!("column {}: {what}", feature.name));
                match lookup {
                    None => features.push(parse_number(field).map_err(|w| at(format!("{w}{}", NUMERIC_HINT)))?),
                    Some(index) => {
                        let hot =
                            *index.get(field.as_str()).ok_or_else(|| at(unknown_category(field, &feature.kind)))?;
                        features.extend((0..feature.kind.width()).map(|k| if k == hot { 1.0 } else { 0.0 }));
                    }
                }
            }
            let Some(target) = &plan.target else {
                targets.push(0.0);
                continue;
            };
            let field = &fields[target.col];
            let at = |what: String| DataError::at_line(&self.name, *line, format!("column {}: {what}", target.name));
            let value = match &target_lookup {
                Some(index) => {
                    *index.get(field.as_str()).ok_or_else(|| at(unknown_category(field, &target.kind)))? as f32
                }
                None => parse_number(field).map_err(at)?,
            };
            if plan.task == Task::Classification {
                let class = class_index(value)
                    .ok_or_else(|| at(format!("class labels must be integers in 0..{MAX_CLASSES}, got \"{field}\"")))?;
                if let Some(classes) = plan.classes.filter(|&c| class >= c) {
                    return Err(at(format!(
                        "class {class} is not one of the {classes} classes the model was trained on"
                    )));
                }
                max_class = max_class.max(class);
            }
            targets.push(value);
        }
        let n_classes = match (plan.task, plan.classes, &plan.target) {
            (Task::Regression, _, _) => 0,
            (Task::Classification, Some(classes), _) => classes,
            (Task::Classification, None, Some(Target { kind: Kind::OneHot(labels), .. })) => labels.len(),
            (Task::Classification, None, _) => max_class + 1,
        };
        let dataset = Dataset {
            features,
            targets,
            n_features: width,
            n_classes,
            feature_names: plan.encoding.feature_names(),
            encoding: plan.encoding.clone(),
            source: self.name.clone(),
        };
        Ok((dataset, plan.target.is_some()))
    }
}

const NUMERIC_HINT: &str = " (list the column in data.categorical to one-hot encode it)";

fn unknown_category(field: &str, kind: &Kind) -> String {
    let known = match kind {
        Kind::OneHot(values) => values,
        Kind::Number => return format!("unexpected value \"{field}\""),
    };
    let mut shown: Vec<String> = known.iter().take(10).map(|v| format!("\"{v}\"")).collect();
    if known.len() > shown.len() {
        shown.push(format!("and {} more", known.len() - shown.len()));
    }
    format!("\"{field}\" is not a category the model was trained with ({})", shown.join(", "))
}

fn csv_error(name: &str, e: &csv::Error) -> DataError {
    let message = match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        _ => e.to_string(),
    };
    match e.position() {
        Some(p) => DataError::at_line(name, p.line() as usize, message),
        None => DataError::new(name, message),
    }
}

/// How a column becomes inputs (or a target).
#[derive(Debug, Clone)]
enum Kind {
    Number,
    /// One input per category, in this order.
    OneHot(Vec<String>),
}

impl Kind {
    fn width(&self) -> usize {
        match self {
            Kind::Number => 1,
            Kind::OneHot(values) => values.len(),
        }
    }

    fn lookup(&self) -> Option<HashMap<&str, usize>> {
        match self {
            Kind::Number => None,
            Kind::OneHot(values) => Some(values.iter().enumerate().map(|(i, v)| (v.as_str(), i)).collect()),
        }
    }
}

struct Feature {
    name: String,
    /// Index in the file's header.
    col: usize,
    kind: Kind,
}

struct Target {
    name: String,
    col: usize,
    kind: Kind,
}

/// Which header column feeds which input, and how.
struct Plan {
    features: Vec<Feature>,
    target: Option<Target>,
    task: Task,
    /// The model's class count, when reading for a trained model.
    classes: Option<usize>,
    encoding: Encoding,
}

impl Plan {
    /// Every column but the target is a feature, in file order.
    fn for_training(table: &Table, o: &CsvOptions) -> Result<Plan, DataError> {
        let name = &table.name;
        let target_col = table.column(o.target).ok_or_else(|| {
            DataError::new(
                name,
                format!("no column named \"{}\"; available columns: {}", o.target, table.header.join(", ")),
            )
            .for_key("data.target")
        })?;
        if table.header.len() == 1 {
            return Err(DataError::new(name, format!("no feature columns besides the target \"{}\"", o.target)));
        }
        for c in o.categorical {
            if table.column(c).is_none() {
                return Err(DataError::new(
                    name,
                    format!(
                        "data.categorical lists \"{c}\", which is not a column; available columns: {}",
                        table.header.join(", ")
                    ),
                )
                .for_key("data.categorical"));
            }
        }
        let one_hot = |col: usize| o.categorical.contains(&table.header[col]).then(|| table.categories(col));
        let target_kind = match (one_hot(target_col), o.task) {
            (Some(_), Task::Regression) => {
                return Err(DataError::new(
                    name,
                    format!(
                        "data.categorical lists the target \"{}\", but a regression target must be numeric",
                        o.target
                    ),
                ))
            }
            (Some(labels), Task::Classification) if labels.len() > MAX_CLASSES => {
                return Err(DataError::new(
                    name,
                    format!("the target has {} labels, more than {MAX_CLASSES}", labels.len()),
                ))
            }
            (Some(labels), Task::Classification) => Kind::OneHot(labels),
            (None, _) => Kind::Number,
        };
        let features: Vec<Feature> = (0..table.header.len())
            .filter(|&c| c != target_col)
            .map(|col| Feature {
                name: table.header[col].clone(),
                col,
                kind: one_hot(col).map_or(Kind::Number, Kind::OneHot),
            })
            .collect();
        let mut encoding = Encoding::numeric(o.target, &features.iter().map(|f| f.name.clone()).collect::<Vec<_>>());
        for f in &features {
            if let Kind::OneHot(values) = &f.kind {
                encoding.categories.insert(f.name.clone(), values.clone());
            }
        }
        if let Kind::OneHot(labels) = &target_kind {
            encoding.categories.insert(o.target.to_string(), labels.clone());
        }
        let target = Some(Target { name: o.target.to_string(), col: target_col, kind: target_kind });
        Ok(Plan { features, target, task: o.task, classes: None, encoding })
    }

    /// The trained model's columns, found by name in this file.
    fn for_model(table: &Table, encoding: &Encoding, classes: usize, need_target: bool) -> Result<Plan, DataError> {
        let name = &table.name;
        let trained_on = || format!("the model was trained on {}", encoding.columns.join(", "));
        let missing: Vec<&str> =
            encoding.columns.iter().filter(|c| table.column(c).is_none()).map(String::as_str).collect();
        if !missing.is_empty() {
            let what = if missing.len() == 1 { "column" } else { "columns" };
            return Err(DataError::new(name, format!("missing {what} {}; {}", missing.join(", "), trained_on())));
        }
        let target_col = table.column(&encoding.target);
        if need_target && target_col.is_none() {
            return Err(DataError::new(name, format!("missing the target column \"{}\"", encoding.target)));
        }
        let extra: Vec<&str> = table
            .header
            .iter()
            .filter(|c| **c != encoding.target && !encoding.columns.contains(c))
            .map(String::as_str)
            .collect();
        if !extra.is_empty() {
            let what = if extra.len() == 1 { "column" } else { "columns" };
            return Err(DataError::new(name, format!("extra {what} {}; {}", extra.join(", "), trained_on())));
        }
        let kind = |c: &str| encoding.categories.get(c).cloned().map_or(Kind::Number, Kind::OneHot);
        let features = encoding
            .columns
            .iter()
            .map(|c| Feature { name: c.clone(), col: table.column(c).expect("checked above"), kind: kind(c) })
            .collect();
        let target = target_col.map(|col| Target { name: encoding.target.clone(), col, kind: kind(&encoding.target) });
        let task = if classes == 0 { Task::Regression } else { Task::Classification };
        Ok(Plan { features, target, task, classes: Some(classes), encoding: encoding.clone() })
    }
}

fn parse_number(field: &str) -> Result<f32, String> {
    match field.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(format!("expected a finite number, got \"{field}\"")),
        Err(_) => Err(format!("expected a number, got \"{field}\"")),
    }
}

/// Labels are stored as `f32`, so "2.0" is accepted as class 2.
pub fn class_index(value: f32) -> Option<usize> {
    if value >= 0.0 && value.fract() == 0.0 && value < MAX_CLASSES as f32 {
        Some(value as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LABEL: CsvOptions = CsvOptions { target: "label", task: Task::Classification, categorical: &[] };

    fn load(text: &str) -> Dataset {
        load_csv_str(text, "mem", &LABEL).unwrap()
    }

    fn err(text: &str) -> String {
        load_csv_str(text, "data/x.csv", &LABEL).unwrap_err().to_string()
    }

    fn with_categorical(text: &str, categorical: &[&str], target: &str, task: Task) -> Result<Dataset, String> {
        let categorical: Vec<String> = categorical.iter().map(|s| s.to_string()).collect();
        load_csv_str(text, "data/x.csv", &CsvOptions { target, task, categorical: &categorical })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_features_targets_and_class_count() {
        let ds = load("a,label,b\n1,0,2\n\n3.5,2,-4\r\n");
        assert_eq!(ds.feature_names, vec!["a", "b"]);
        assert_eq!(ds.features, vec![1.0, 2.0, 3.5, -4.0]);
        assert_eq!(ds.targets, vec![0.0, 2.0]);
        assert_eq!(ds.n_features, 2);
        assert_eq!(ds.n_classes, 3);
        assert_eq!(ds.source, "mem");
        assert_eq!(ds.encoding, Encoding::numeric("label", &["a".into(), "b".into()]));
    }

    #[test]
    fn regression_accepts_real_targets() {
        let opts = CsvOptions { target: "y", task: Task::Regression, categorical: &[] };
        let ds = load_csv_str("x,y\n1,0.5\n2,-1.25\n", "mem", &opts).unwrap();
        assert_eq!(ds.targets, vec![0.5, -1.25]);
        assert_eq!(ds.n_classes, 0);
    }

    #[test]
    fn strips_quotes_and_bom() {
        let ds = load("\u{feff}\"a\",\"label\"\n\"1\",\"1\"\n");
        assert_eq!(ds.feature_names, vec!["a"]);
        assert_eq!(ds.features, vec![1.0]);
        // The BOM as bytes at the start of a file, as Excel writes it.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bom.csv");
        std::fs::write(&path, b"\xef\xbb\xbfa,label\r\n2,1\r\n").unwrap();
        assert_eq!(load_csv(&path, &LABEL).unwrap().feature_names, vec!["a"]);
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks() {
        let text =
            "name,\"x, in cm\",label\r\n\"Smith, J.\",\"1.5\",0\r\n\"say \"\"hi\"\"\",2,1\r\n\"two\nlines\",3,0\r\n";
        let ds = with_categorical(text, &["name"], "label", Task::Classification).unwrap();
        assert_eq!(ds.encoding.columns, vec!["name", "x, in cm"]);
        assert_eq!(ds.encoding.categories["name"], vec!["Smith, J.", "say \"hi\"", "two\nlines"]);
        assert_eq!(ds.n_features, 4);
        assert_eq!(ds.row(0), &[1.0, 0.0, 0.0, 1.5]);
        assert_eq!(ds.row(2), &[0.0, 0.0, 1.0, 3.0]);
        // A record spanning lines is reported at the line it starts on.
        let e = with_categorical("a,label\n\"x\ny\",0\n1,abc\n", &["a"], "label", Task::Classification).unwrap_err();
        assert_eq!(e, "data/x.csv:4: column label: expected a number, got \"abc\"");
    }

    #[test]
    fn categorical_columns_are_one_hot_encoded() {
        let text = "size,color,label\n1,red,0\n2,blue,1\n3,red,1\n4,green,0\n";
        let ds = with_categorical(text, &["color"], "label", Task::Classification).unwrap();
        assert_eq!(ds.feature_names, vec!["size", "color=blue", "color=green", "color=red"]);
        assert_eq!(ds.row(0), &[1.0, 0.0, 0.0, 1.0]);
        assert_eq!(ds.row(1), &[2.0, 1.0, 0.0, 0.0]);
        assert_eq!(ds.row(3), &[4.0, 0.0, 1.0, 0.0]);
        // Numeric-looking categories are ordered as numbers.
        let ds = with_categorical("zip,label\n10,0\n9,1\n100,0\n", &["zip"], "label", Task::Classification).unwrap();
        assert_eq!(ds.encoding.categories["zip"], vec!["9", "10", "100"]);
    }

    #[test]
    fn named_class_labels_become_class_indices() {
        let text = "x,species\n1,virginica\n2,setosa\n3,versicolor\n4,setosa\n";
        let ds = with_categorical(text, &["species"], "species", Task::Classification).unwrap();
        assert_eq!(ds.targets, vec![2.0, 0.0, 1.0, 0.0]);
        assert_eq!(ds.n_classes, 3);
        assert_eq!(ds.encoding.class_names().unwrap(), ["setosa", "versicolor", "virginica"]);
        assert_eq!(ds.feature_names, vec!["x"]);
        let e = with_categorical(text, &["species"], "species", Task::Regression).unwrap_err();
        assert!(e.contains("a regression target must be numeric"), "{e}");
    }

    #[test]
    fn non_numeric_features_are_refused_with_a_hint() {
        let e = err("f1,city,label\n1,2,0\n3,Paris,1\n4,Rome,0\n");
        assert_eq!(
            e,
            "data/x.csv:3: column city: expected a number, got \"Paris\" (list the column in data.categorical to one-hot encode it)"
        );
        let e = with_categorical("a,label\n1,0\n", &["colour"], "label", Task::Classification).unwrap_err();
        assert_eq!(
            e,
            "data/x.csv: data.categorical lists \"colour\", which is not a column; available columns: a, label"
        );
    }

    #[test]
    fn bad_number_names_line_column_and_text() {
        let text = "f1,f2,f3,label\n1,2,3,0\n\n1,2,abc,1\n";
        assert!(err(text).starts_with("data/x.csv:4: column f3: expected a number, got \"abc\" (list"));
        assert!(err("a,label\r\n\r\n\r\n1,0\r\nx,1\r\n").starts_with("data/x.csv:5: column a:"));
        assert!(err("f,label\nnan,0\n").starts_with("data/x.csv:2: column f: expected a finite number, got \"nan\""));
        assert_eq!(err("f,label\n1,x\n"), "data/x.csv:2: column label: expected a number, got \"x\"");
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
        assert_eq!(err("a,,label\n1,2,3\n"), "data/x.csv:1: header column 2 has no name");
        assert_eq!(err("label\n1\n"), "data/x.csv: no feature columns besides the target \"label\"");
        assert_eq!(err("a,a,label\n1,2,0\n"), "data/x.csv:1: column \"a\" appears twice");
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

    fn write(dir: &Path, text: &str) -> std::path::PathBuf {
        let path = dir.join("new.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_new_file_is_read_with_the_trained_encoding() {
        let train =
            with_categorical("size,color,label\n1,red,0\n2,blue,2\n", &["color"], "label", Task::Classification)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        // Other column order, one category only: same inputs as in training.
        let path = write(dir.path(), "label,color,size\n1,blue,5\n");
        let rows = load_csv_for_model(&path, &train.encoding, 3, true).unwrap();
        assert!(rows.has_target);
        assert_eq!(rows.dataset.feature_names, train.feature_names);
        assert_eq!(rows.dataset.row(0), &[5.0, 1.0, 0.0]);
        assert_eq!(rows.dataset.n_classes, 3);
        // Without the target, for predictions.
        let path = write(dir.path(), "size,color\n5,red\n");
        let rows = load_csv_for_model(&path, &train.encoding, 3, false).unwrap();
        assert!(!rows.has_target);
        assert_eq!(rows.dataset.targets, vec![0.0]);
    }

    #[test]
    fn a_new_file_with_other_columns_or_values_is_refused() {
        let train =
            with_categorical("size,color,label\n1,red,0\n2,blue,1\n", &["color"], "label", Task::Classification)
                .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let e = |text: &str, need_target: bool| {
            let path = write(dir.path(), text);
            let name = path.display().to_string();
            let e = load_csv_for_model(&path, &train.encoding, 2, need_target).unwrap_err().to_string();
            e.strip_prefix(name.as_str()).unwrap().to_string()
        };
        assert_eq!(e("color,label\nred,0\n", true), ": missing column size; the model was trained on size, color");
        assert_eq!(
            e("size,color,weight,label\n1,red,3,0\n", true),
            ": extra column weight; the model was trained on size, color"
        );
        assert_eq!(e("size,color\n1,red\n", true), ": missing the target column \"label\"");
        assert_eq!(
            e("size,color,label\n1,purple,0\n", true),
            ":2: column color: \"purple\" is not a category the model was trained with (\"blue\", \"red\")"
        );
        assert_eq!(
            e("size,color,label\n1,red,2\n", true),
            ":2: column label: class 2 is not one of the 2 classes the model was trained on"
        );
    }

    #[test]
    fn load_csv_reads_files_and_reports_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.csv");
        std::fs::write(&path, "a,label\n1,1\n2,0\n").unwrap();
        let ds = load_csv(&path, &LABEL).unwrap();
        assert_eq!(ds.len(), 2);
        assert_eq!(ds.source, path.display().to_string());

        let missing = dir.path().join("nope.csv");
        let e = load_csv(&missing, &LABEL).unwrap_err();
        assert_eq!(e.to_string(), format!("{}: cannot read: No such file or directory", missing.display()));

        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        let e = load_csv(&path, &LABEL).unwrap_err();
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
        let iris = load_csv(&data.join("iris.csv"), &LABEL).unwrap();
        assert_eq!((iris.len(), iris.n_features, iris.n_classes), (150, 4, 3));
        let digits = load_csv(&data.join("digits.csv"), &LABEL).unwrap();
        assert_eq!((digits.len(), digits.n_features, digits.n_classes), (1797, 64, 10));
        for name in ["wine.csv", "breast_cancer.csv"] {
            let ds = load_csv(&data.join(name), &LABEL).unwrap();
            assert!(ds.n_classes >= 2, "{name}");
        }
    }
}
