//! What a sweep task's folder says about its run: not started, running,
//! stopped (resumable), done, or failed; and its validation figures per
//! epoch. Read from the run folder itself (its lock says whether a process
//! runs it, `summary.json` how it ended, `metrics.jsonl` its epochs), so the
//! same answer comes whoever started, stopped or resumed the run, and
//! `traintop sweep probe` gives it for folders on another host.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::run_lock;

/// A run's state as a sweep sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// No run folder yet.
    Pending,
    /// A process holds the run folder.
    Running,
    /// Stopped by a user, a signal or a cancelled job: resumable.
    Stopped,
    /// Ended on its own: completed, early-stopped or diverged.
    Done,
    /// Ended in an error or a crash (resume retries it).
    Failed,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Stopped => "stopped",
            TaskState::Done => "done",
            TaskState::Failed => "failed",
        }
    }

    /// Whether `sweep resume` starts it again.
    pub fn unfinished(self) -> bool {
        !matches!(self, TaskState::Done | TaskState::Running)
    }
}

/// Validation figures at the end of one epoch.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    pub val_loss: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_acc: Option<f64>,
}

/// One task's run, as its folder shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub out: PathBuf,
    pub state: TaskState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_dir: Option<PathBuf>,
    /// The pid holding the run folder (a running run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// summary.json's stop_reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
    /// The epochs the run's config asks for.
    #[serde(default)]
    pub epochs: usize,
    /// The latest epoch's figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<EpochPoint>,
    /// Every epoch's figures (when asked for: a report's curves).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<EpochPoint>,
}

/// The run folder inside a task's `out` (the newest, should there be more).
pub fn run_dir_in(out: &Path) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("config.toml").is_file())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// Reads the task folder `out`; `curve` also reads every epoch's figures.
pub fn probe(out: &Path, curve: bool) -> Probe {
    let mut p = Probe {
        out: out.to_path_buf(),
        state: TaskState::Pending,
        run_dir: None,
        pid: None,
        stop_reason: None,
        epochs: 0,
        last: None,
        curve: vec![],
    };
    let Some(dir) = run_dir_in(out) else { return p };
    let live = run_lock::held(&dir);
    p.stop_reason = summary_reason(&dir);
    p.state = match (live, p.stop_reason.as_deref()) {
        (Some((true, pid)), _) => {
            p.pid = pid;
            TaskState::Running
        }
        (_, Some("completed" | "early_stopping" | "diverged")) => TaskState::Done,
        (_, Some("error" | "crashed")) => TaskState::Failed,
        _ => TaskState::Stopped,
    };
    p.epochs = planned_epochs(&dir).unwrap_or(0);
    let metrics = dir.join("metrics.jsonl");
    if curve {
        p.curve = all_epochs(&metrics);
        p.last = p.curve.last().copied();
    } else {
        p.last = last_epoch(&metrics);
    }
    p.run_dir = Some(dir);
    p
}

fn summary_reason(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("stop_reason")?.as_str().map(str::to_string)
}

fn planned_epochs(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    table.get("run")?.get("epochs")?.as_integer().map(|e| e as usize)
}

/// An epoch record of metrics.jsonl, or None for any other line.
fn epoch_point(line: &str) -> Option<EpochPoint> {
    if !line.contains("\"event\":\"epoch\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    Some(EpochPoint {
        epoch: v.get("epoch")?.as_u64()? as usize,
        val_loss: v.get("val_loss")?.as_f64()?,
        val_acc: v.get("val_acc").and_then(|a| a.as_f64()),
    })
}

/// Every epoch's figures, the latest record of an epoch winning (a resumed
/// or rolled-back run writes some epochs twice).
fn all_epochs(metrics: &Path) -> Vec<EpochPoint> {
    let Ok(file) = File::open(metrics) else { return vec![] };
    let mut points: Vec<EpochPoint> = Vec::new();
    for p in BufReader::new(file).lines().map_while(Result::ok).filter_map(|l| epoch_point(&l)) {
        points.retain(|q| q.epoch < p.epoch);
        points.push(p);
    }
    points
}

/// The last epoch record, read from the end of the file backwards (a long
/// run's metrics.jsonl holds tens of megabytes of step records).
fn last_epoch(metrics: &Path) -> Option<EpochPoint> {
    let mut file = File::open(metrics).ok()?;
    let len = file.metadata().ok()?.len();
    let mut window = 64 * 1024u64;
    loop {
        let start = len.saturating_sub(window);
        file.seek(SeekFrom::Start(start)).ok()?;
        let mut bytes = Vec::new();
        file.by_ref().take(len - start).read_to_end(&mut bytes).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        if let Some(p) = text.lines().rev().find_map(epoch_point) {
            return Some(p);
        }
        if start == 0 {
            return None;
        }
        window *= 4;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_tells_its_state_and_figures() {
        let out = tempfile::tempdir().unwrap();
        assert_eq!(probe(out.path(), false).state, TaskState::Pending);
        let dir = out.path().join("r-1");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "[run]\nepochs = 5\n").unwrap();
        let lines = [
            r#"{"event":"epoch","epoch":1,"val_loss":2.0,"val_acc":0.1}"#,
            r#"{"event":"step","step":3}"#,
            r#"{"event":"epoch","epoch":2,"val_loss":1.0,"val_acc":0.5}"#,
            r#"{"event":"epoch","epoch":2,"val_loss":0.9,"val_acc":0.6}"#,
        ];
        std::fs::write(dir.join("metrics.jsonl"), lines.join("\n") + "\n").unwrap();
        let p = probe(out.path(), true);
        assert_eq!(p.state, TaskState::Stopped);
        assert_eq!(p.epochs, 5);
        assert_eq!(p.curve.len(), 2);
        assert_eq!(p.last, Some(EpochPoint { epoch: 2, val_loss: 0.9, val_acc: Some(0.6) }));
        assert_eq!(probe(out.path(), false).last, p.last);
        std::fs::write(dir.join("summary.json"), r#"{"stop_reason":"completed"}"#).unwrap();
        assert_eq!(probe(out.path(), false).state, TaskState::Done);
        std::fs::write(dir.join("summary.json"), r#"{"stop_reason":"user"}"#).unwrap();
        assert!(probe(out.path(), false).state.unfinished());
    }
}
