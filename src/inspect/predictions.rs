//! `traintop predict`'s output: one CSV row per input row, in order. For
//! classification the predicted class (its name when the labels were
//! names) and the probability of every class; for regression the value.

use std::io::Write;

use crate::train::metrics::{argmax_rows, softmax};

/// Writes the predictions for `outputs` (`rows x outputs` of the model's
/// last layer) as CSV; `labels` names the classes (empty for regression).
pub fn write_csv<W: Write>(out: W, outputs: &[f32], labels: &[String]) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    if labels.is_empty() {
        w.write_record(["prediction"])?;
        for v in outputs {
            w.write_record([v.to_string()])?;
        }
        return w.flush().map_err(Into::into);
    }
    let classes = labels.len();
    let header: Vec<String> =
        std::iter::once("prediction".to_string()).chain(labels.iter().map(|l| format!("p_{l}"))).collect();
    w.write_record(&header)?;
    let probabilities = softmax(outputs, classes);
    let predicted = argmax_rows(outputs, classes);
    for (row, class) in probabilities.chunks_exact(classes).zip(predicted) {
        let fields = std::iter::once(labels[class].clone()).chain(row.iter().map(|p| p.to_string()));
        w.write_record(fields)?;
    }
    w.flush().map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_get_the_argmax_and_probabilities() {
        let mut out = Vec::new();
        write_csv(&mut out, &[0.0, 0.0, 10.0, -1.0, 0.0, -1.0], &["a, b".into(), "c".into(), "d".into()]).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "prediction,\"p_a, b\",p_c,p_d");
        assert!(lines[1].starts_with("d,"), "{text}");
        assert!(lines[2].starts_with("c,"), "{text}");
        let p: Vec<f32> = lines[1].split(',').skip(1).map(|v| v.parse().unwrap()).collect();
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn regression_writes_values() {
        let mut out = Vec::new();
        write_csv(&mut out, &[1.5, -2.0], &[]).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "prediction\n1.5\n-2\n");
    }
}
