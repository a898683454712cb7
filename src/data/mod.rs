//! Data sets for training: loading CSV, IDX and synthetic data into one
//! in-memory [`Dataset`], splitting off a validation set, and cutting
//! epochs into reproducible mini-batches.
//!
//! This module does not know about run configs; `config` builds a
//! [`DataSpec`] and hands it to [`load`].

mod batches;
mod csv;
mod dataset;
mod encoding;
mod error;
pub mod footprint;
mod idx;
mod spec;
mod split;
mod synthetic;

pub use batches::{epoch_order, gather, Batches};
pub use csv::{class_index, load_csv, load_csv_for_model, load_csv_str, CsvOptions, NewRows};
pub use dataset::{Dataset, Task, MAX_CLASSES};
pub use encoding::Encoding;
pub(crate) use error::io_reason;
pub use error::DataError;
pub use idx::load_idx;
pub use spec::{DataSource, DataSpec};
pub use split::{split, Split};
pub use synthetic::{synthetic, SyntheticKind};

/// Loads or generates the data set `spec` describes.
pub fn load(spec: &DataSpec) -> Result<Dataset, DataError> {
    let ds = match &spec.source {
        DataSource::Csv(path) => {
            load_csv(path, &CsvOptions { target: &spec.target, task: spec.task, categorical: &spec.categorical })?
        }
        DataSource::Idx { .. } | DataSource::Synthetic(_) if !spec.categorical.is_empty() => {
            return Err(DataError::new(
                spec.source.to_string(),
                "has no named columns, so data.categorical must be empty",
            ))
        }
        DataSource::Idx { images, labels } => load_idx(images, labels)?,
        DataSource::Synthetic(kind) => {
            if kind.task() != spec.task {
                return Err(DataError::new(
                    spec.source.to_string(),
                    format!("is a {} data set, but the task is {}", kind.task().name(), spec.task.name()),
                ));
            }
            synthetic(kind.name(), spec.samples, spec.features, spec.classes, spec.noise, spec.seed)?
        }
    };
    // IDX labels are class indices, but they can be fitted as values too.
    if spec.task == Task::Regression && ds.n_classes != 0 {
        return Ok(Dataset { n_classes: 0, ..ds });
    }
    Ok(ds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(source: DataSource, task: Task) -> DataSpec {
        DataSpec {
            source,
            target: "label".into(),
            task,
            categorical: vec![],
            samples: 64,
            features: 3,
            classes: 4,
            noise: 0.1,
            seed: 9,
        }
    }

    #[test]
    fn load_dispatches_on_source() {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("d.csv");
        std::fs::write(&csv_path, "a,label\n1,0\n2,1\n").unwrap();
        let ds = load(&spec(DataSource::Csv(csv_path), Task::Classification)).unwrap();
        assert_eq!((ds.len(), ds.n_classes), (2, 2));

        let images = dir.path().join("i.idx");
        let labels = dir.path().join("l.idx");
        std::fs::write(&images, idx::encode(&[2, 2], &[0, 255, 255, 0])).unwrap();
        std::fs::write(&labels, idx::encode(&[2], &[3, 1])).unwrap();
        let source = DataSource::Idx { images, labels };
        let ds = load(&spec(source.clone(), Task::Classification)).unwrap();
        assert_eq!((ds.len(), ds.n_features, ds.n_classes), (2, 2, 4));
        let ds = load(&spec(source, Task::Regression)).unwrap();
        assert_eq!(ds.n_classes, 0);

        let ds = load(&spec(DataSource::Synthetic(SyntheticKind::Blobs), Task::Classification)).unwrap();
        assert_eq!((ds.len(), ds.n_features, ds.n_classes), (64, 3, 4));
        assert_eq!(ds, synthetic("blobs", 64, 3, 4, 0.1, 9).unwrap());
    }

    #[test]
    fn synthetic_task_must_match() {
        let e = load(&spec(DataSource::Synthetic(SyntheticKind::Sine), Task::Classification)).unwrap_err();
        assert_eq!(e.to_string(), "synthetic:sine: is a regression data set, but the task is classification");
    }
}
