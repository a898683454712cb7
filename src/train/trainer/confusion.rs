//! The validation split's confusion matrix at an epoch end: the same eval
//! pass that gives the validation loss and accuracy also keeps the output
//! layer, whose largest output per row is the predicted class, counted the
//! way `traintop evaluate` counts it ([`crate::train::metrics::Confusion`]).
//! It goes out as a `confusion` record (into `metrics.jsonl` too), so the
//! dashboard, `attach` and `view` all get it.

use super::Trainer;
use crate::data::{class_index, gather};
use crate::protocol::ConfusionRecord;
use crate::train::metrics::{argmax_rows, Confusion};

/// Validation figures: loss, accuracy and, for classification, the counts.
pub(super) struct Validation {
    pub loss: f32,
    pub accuracy: Option<f32>,
    pub counts: Option<Vec<Vec<u64>>>,
}

impl Trainer {
    /// One eval pass over the validation split.
    pub(super) fn validate_with_confusion(&mut self) -> anyhow::Result<Validation> {
        let classes = self.validation.n_classes;
        if classes == 0 {
            let (loss, accuracy) = self.validate()?;
            return Ok(Validation { loss, accuracy, counts: None });
        }
        let all: Vec<usize> = (0..self.validation.len()).collect();
        let (mut x, mut y) = (Vec::new(), Vec::new());
        gather(&self.validation, &all, &mut x, &mut y);
        let batch = self.config.run.batch_size.max(256);
        let (stats, outputs) = self.session.evaluate_with_outputs(&x, &y, all.len(), batch, &mut self.plugins)?;
        let truth: Vec<usize> = self.validation.targets.iter().map(|&t| class_index(t).unwrap_or(usize::MAX)).collect();
        let counts = Confusion::new(&truth, &argmax_rows(&outputs, classes), classes).counts;
        Ok(Validation { loss: stats.loss, accuracy: stats.accuracy, counts: Some(counts) })
    }

    /// The record of `counts`, at the current position.
    pub(super) fn confusion_record(&self, counts: Vec<Vec<u64>>) -> ConfusionRecord {
        let classes = counts.len();
        let classes = match self.validation.encoding.class_names() {
            Some(names) if names.len() == classes => names.to_vec(),
            _ => (0..classes).map(|c| c.to_string()).collect(),
        };
        ConfusionRecord { step: self.position.step, epoch: self.position.epoch, classes, counts }
    }
}
