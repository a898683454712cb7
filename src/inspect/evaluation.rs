//! `traintop evaluate`'s report: the eval graph's loss and accuracy (the
//! same figures the run logs for its validation split), the confusion matrix
//! with per-class precision and recall, or MSE and MAE for regression; as
//! text for people and JSON for scripts.

use std::fmt::Write as _;

use serde::Serialize;

use super::model::{Scored, TrainedModel};
use crate::data::{class_index, Dataset};
use crate::train::metrics::{argmax_rows, regression_errors, Confusion};

/// Figures of a model over one labelled data set.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub run: String,
    pub checkpoint: String,
    pub step: u64,
    /// What was scored: `validation split of FILE`, or the file.
    pub data: String,
    pub rows: usize,
    /// The eval graph's mean loss (cross-entropy, or MSE for regression).
    pub loss: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<Confusion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mse: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mae: Option<f64>,
}

/// Scores `data` (which must have targets) and derives the figures.
pub fn evaluate(
    model: &mut TrainedModel,
    data: &Dataset,
    what: String,
    class_names: Vec<String>,
) -> Result<Report, String> {
    if data.is_empty() {
        return Err(format!("{what}: no rows to evaluate"));
    }
    let Scored { stats, outputs } = model.score(data)?;
    let classes = model.classes();
    let mut report = Report {
        run: model.dir.display().to_string(),
        checkpoint: model.checkpoint.display().to_string(),
        step: model.position.step,
        data: what,
        rows: data.len(),
        loss: stats.loss,
        accuracy: stats.accuracy,
        classes: None,
        confusion: None,
        mse: None,
        mae: None,
    };
    if classes > 0 {
        let truth: Vec<usize> = data.targets.iter().map(|&t| class_index(t).unwrap_or(usize::MAX)).collect();
        report.confusion = Some(Confusion::new(&truth, &argmax_rows(&outputs, classes), classes));
        report.classes = Some(class_names);
    } else {
        let (mse, mae) = regression_errors(&outputs, &data.targets);
        report.mse = Some(mse);
        report.mae = Some(mae);
    }
    Ok(report)
}

/// Class labels as shown: the names when the target's labels were names.
pub fn class_labels(names: Option<&[String]>, classes: usize) -> Vec<String> {
    match names {
        Some(names) if names.len() == classes => names.to_vec(),
        _ => (0..classes).map(|c| c.to_string()).collect(),
    }
}

fn rate(r: Option<f64>) -> String {
    r.map_or("-".into(), |v| format!("{v:.3}"))
}

impl Report {
    /// The report as aligned text.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "run:        {}", self.run);
        let _ = writeln!(out, "checkpoint: {} (step {})", self.checkpoint, self.step);
        let _ = writeln!(out, "data:       {} ({} rows)", self.data, self.rows);
        let _ = writeln!(out, "loss:       {:.6}", self.loss);
        if let (Some(acc), Some(c)) = (self.accuracy, &self.confusion) {
            let _ =
                writeln!(out, "accuracy:   {acc:.4} ({}/{} predicted by the largest output)", c.correct(), c.total());
        }
        if let (Some(mse), Some(mae)) = (self.mse, self.mae) {
            let _ = writeln!(out, "mse:        {mse:.6}");
            let _ = writeln!(out, "mae:        {mae:.6}");
        }
        if let (Some(c), Some(labels)) = (&self.confusion, &self.classes) {
            out.push_str(&confusion_text(c, labels));
        }
        out
    }
}

/// The matrix (rows: true class, columns: predicted) and a per-class table.
fn confusion_text(c: &Confusion, labels: &[String]) -> String {
    let name_w = labels.iter().map(String::len).max().unwrap_or(1).max(5);
    let count_w = c.counts.iter().flatten().map(|n| n.to_string().len()).max().unwrap_or(1);
    let cell_w = labels.iter().map(String::len).max().unwrap_or(1).max(count_w).min(12) + 1;
    let mut out = String::from("\nconfusion matrix (rows: true class, columns: predicted)\n");
    let _ = write!(out, "{:name_w$}", "");
    for l in labels {
        let _ = write!(out, " {:>cell_w$}", truncate(l, cell_w));
    }
    out.push('\n');
    for (label, row) in labels.iter().zip(&c.counts) {
        let _ = write!(out, "{label:>name_w$}");
        for n in row {
            let _ = write!(out, " {n:>cell_w$}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "\n{:>name_w$} {:>9} {:>9} {:>9}", "class", "precision", "recall", "support");
    for (i, label) in labels.iter().enumerate() {
        let _ =
            writeln!(out, "{label:>name_w$} {:>9} {:>9} {:>9}", rate(c.precision[i]), rate(c.recall[i]), c.support[i]);
    }
    out
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        s.chars().take(width.saturating_sub(1)).chain(std::iter::once('~')).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_shows_matrix_and_rates() {
        let report = Report {
            run: "runs/x".into(),
            checkpoint: "runs/x/checkpoints/last.safetensors".into(),
            step: 40,
            data: "validation split of d.csv".into(),
            rows: 5,
            loss: 0.5,
            accuracy: Some(0.6),
            classes: Some(vec!["cat".into(), "dog".into(), "eel".into()]),
            confusion: Some(Confusion::new(&[0, 0, 1, 1, 2], &[0, 1, 1, 1, 0], 3)),
            mse: None,
            mae: None,
        };
        let text = report.to_text();
        let want = "\
run:        runs/x
checkpoint: runs/x/checkpoints/last.safetensors (step 40)
data:       validation split of d.csv (5 rows)
loss:       0.500000
accuracy:   0.6000 (3/5 predicted by the largest output)

confusion matrix (rows: true class, columns: predicted)
       cat  dog  eel
  cat    1    1    0
  dog    0    2    0
  eel    1    0    0

class precision    recall   support
  cat     0.500     0.500         2
  dog     0.667     1.000         2
  eel         -     0.000         1
";
        assert_eq!(text, want);
        assert_eq!(class_labels(None, 2), vec!["0", "1"]);
    }
}
