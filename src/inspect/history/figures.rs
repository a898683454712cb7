//! A run's figures from its `metrics.jsonl`: the best validation figure
//! over its epochs, its latest epoch, and where it stood last (step, loss,
//! wall time). Epoch records are few among the step records, so the file
//! is read once as bytes and only lines naming an epoch are parsed as
//! JSON; the last step is read from the file's tail.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::protocol::ValMetric;

/// A validation figure: `val_acc` where the task has an accuracy (higher
/// is better), `val_loss` otherwise (lower is better).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    pub metric: ValMetric,
    pub value: f64,
    pub epoch: usize,
}

impl Figure {
    /// Whether `self` is better than `other` (an accuracy beats a loss:
    /// a run with accuracies is judged by them).
    pub fn beats(&self, other: &Figure) -> bool {
        match (self.metric, other.metric) {
            (ValMetric::ValAcc, ValMetric::ValAcc) => self.value > other.value,
            (ValMetric::ValLoss, ValMetric::ValLoss) => self.value < other.value,
            (a, _) => a == ValMetric::ValAcc,
        }
    }
}

/// What the metrics say.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Figures {
    pub best: Option<Figure>,
    pub last: Option<Figure>,
    /// The latest record's step, epoch, training loss and wall time.
    pub step: u64,
    pub epoch: usize,
    pub loss: Option<f64>,
    pub wall_time: Option<f64>,
}

/// The fields of a record this reader wants.
#[derive(Deserialize)]
struct Line {
    event: String,
    #[serde(default)]
    step: u64,
    #[serde(default)]
    epoch: usize,
    loss: Option<f64>,
    val_loss: Option<f64>,
    val_acc: Option<f64>,
    wall_time: Option<f64>,
}

/// Reads `metrics`; a missing file (a run killed before its first step)
/// has no figures. A line that is not a record is skipped (a torn last
/// line of a killed run).
pub fn read(metrics: &Path) -> io::Result<Figures> {
    let file = match File::open(metrics) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Figures::default()),
        Err(e) => return Err(e),
    };
    let mut figures = Figures::default();
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        // The tag follows the time at the start of a record: only the
        // head of each line is searched, not its gradient norms.
        if contains(&line[..line.len().min(96)], b"\"event\":\"epoch\"") {
            if let Ok(record) = serde_json::from_slice::<Line>(&line) {
                epoch(&mut figures, &record);
            }
        }
        line.clear();
    }
    if let Some(record) = last_record(reader.get_mut())? {
        figures.step = record.step;
        figures.epoch = record.epoch;
        figures.loss = record.loss.filter(|l| l.is_finite());
        figures.wall_time = record.wall_time;
    }
    Ok(figures)
}

fn epoch(figures: &mut Figures, record: &Line) {
    let figure = match (record.val_acc, record.val_loss) {
        (Some(a), _) if a.is_finite() => Figure { metric: ValMetric::ValAcc, value: a, epoch: record.epoch },
        (_, Some(l)) if l.is_finite() => Figure { metric: ValMetric::ValLoss, value: l, epoch: record.epoch },
        _ => return,
    };
    if figures.best.is_none_or(|b| figure.beats(&b)) {
        figures.best = Some(figure);
    }
    figures.last = Some(figure);
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The last step or epoch record, from the last 64 KiB of the file.
fn last_record(file: &mut File) -> io::Result<Option<Line>> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)))?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail)?;
    let text = String::from_utf8_lossy(&tail);
    Ok(text
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .find(|r| r.event == "step" || r.event == "epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn best_last_and_the_latest_step() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let lines = [
            r#"{"event":"hello","protocol":{"major":1,"minor":4}}"#,
            r#"{"event":"step","step":8,"epoch":1,"loss":1.5,"wall_time":0.1}"#,
            r#"{"event":"epoch","step":8,"epoch":1,"loss":1.2,"val_loss":1.0,"val_acc":0.5}"#,
            r#"{"event":"epoch","step":16,"epoch":2,"loss":0.9,"val_loss":0.7,"val_acc":0.9}"#,
            r#"{"event":"epoch","step":24,"epoch":3,"loss":0.8,"val_loss":0.6,"val_acc":0.8}"#,
            r#"{"event":"step","step":30,"epoch":4,"loss":0.75,"wall_time":2.5}"#,
            r#"{"event":"step","st"#,
        ];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let f = read(&path).unwrap();
        assert_eq!(f.best, Some(Figure { metric: ValMetric::ValAcc, value: 0.9, epoch: 2 }));
        assert_eq!(f.last.map(|l| l.epoch), Some(3));
        assert_eq!((f.step, f.epoch, f.loss, f.wall_time), (30, 4, Some(0.75), Some(2.5)), "the torn line is skipped");
        assert_eq!(read(&tmp.path().join("none")).unwrap(), Figures::default());
    }

    #[test]
    fn without_accuracy_the_lowest_loss_is_best() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("metrics.jsonl");
        let lines = [r#"{"event":"epoch","epoch":1,"val_loss":0.5}"#, r#"{"event":"epoch","epoch":2,"val_loss":0.7}"#];
        std::fs::write(&path, lines.join("\n")).unwrap();
        let best = read(&path).unwrap().best.unwrap();
        assert_eq!((best.metric.name(), best.value, best.epoch), ("val_loss", 0.5, 1));
    }
}
