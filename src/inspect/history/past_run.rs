//! One run folder read for the history: its name and config, how it ended
//! (`summary.json`), its figures (`metrics.jsonl`), the technique changes
//! made while it trained (`events.jsonl`), how long it trained and when it
//! started. A folder that cannot be read comes back as `unreadable` with
//! the file and what was expected, so one broken folder never hides the
//! others.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::figures::{self, Figure, Figures};
use crate::inspect::diff::{flatten_config, technique_changes};
use crate::run_lock;
use crate::train::run_dir::{CONFIG_FILE, EVENTS_FILE, METRICS_FILE, SUMMARY_FILE};

/// A run as the history lists it (and `ls --all --json` prints it).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PastRun {
    /// `run.name` (the folder's name when the config cannot be read).
    pub name: String,
    pub run_dir: PathBuf,
    /// How it ended (summary's `stop_reason`: `completed`,
    /// `early_stopping`, `diverged`, `user`, `error`, `crashed`), or
    /// `running` (a process holds it), `dead` (no summary, no process), or
    /// `unreadable` (`error` says why).
    pub state: String,
    /// The best validation figure over its epochs.
    pub best: Option<Figure>,
    /// The latest epoch's figure.
    pub last: Option<Figure>,
    pub epoch: usize,
    pub epochs: usize,
    pub step: u64,
    /// The latest training loss recorded.
    pub loss: Option<f64>,
    /// Technique toggles and parameter edits carried out while it trained.
    pub changes: usize,
    /// Seconds of training.
    pub duration_secs: Option<f64>,
    /// Unix time it started.
    pub started: Option<f64>,
    /// Why the folder is unreadable, or the error the run ended in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The config as dotted keys, for `--where` (not printed).
    #[serde(skip)]
    pub config: BTreeMap<String, String>,
}

impl PastRun {
    /// The run folder's own name.
    pub fn folder_name(&self) -> String {
        self.run_dir.file_name().map_or_else(|| self.run_dir.display().to_string(), |n| n.to_string_lossy().into())
    }

    /// Whether it has ended (with a summary).
    pub fn finished(&self) -> bool {
        !matches!(self.state.as_str(), "running" | "dead" | "unreadable")
    }
}

/// Reads `dir`; never fails: what cannot be read makes it `unreadable`.
pub fn read(dir: &Path) -> PastRun {
    let mut run = PastRun { run_dir: dir.to_path_buf(), ..Default::default() };
    if let Err(why) = fill(&mut run, dir) {
        run.state = "unreadable".into();
        run.error = Some(why);
    }
    if run.name.is_empty() {
        run.name = run.folder_name();
    }
    run
}

fn fill(run: &mut PastRun, dir: &Path) -> Result<(), String> {
    let config = read_config(&dir.join(CONFIG_FILE))?;
    run.name = config.get("run.name").cloned().unwrap_or_default();
    run.epochs = config.get("run.epochs").and_then(|e| e.parse().ok()).unwrap_or(0);
    run.config = config;
    let summary = read_summary(&dir.join(SUMMARY_FILE))?;
    let metrics = dir.join(METRICS_FILE);
    let f: Figures = figures::read(&metrics).map_err(|e| format!("{}: {e}", metrics.display()))?;
    run.state = match &summary {
        Some(s) => s.stop_reason.clone(),
        None if run_lock::held(dir).is_some_and(|(held, _)| held) => "running".into(),
        None => "dead".into(),
    };
    run.error = summary.as_ref().and_then(|s| s.error.clone());
    run.duration_secs = summary.as_ref().and_then(|s| s.wall_time).or(f.wall_time);
    (run.best, run.last, run.step, run.epoch, run.loss) = (f.best, f.last, f.step, f.epoch, f.loss);
    if let Some(s) = &summary {
        run.step = s.steps.unwrap_or(run.step);
        run.epoch = s.epochs_run.unwrap_or(run.epoch);
    }
    let events = dir.join(EVENTS_FILE);
    run.changes = std::fs::File::open(&events).map(|f| technique_changes(BufReader::new(f)).len()).unwrap_or(0);
    run.started = started(&events).or_else(|| modified(&dir.join(CONFIG_FILE)));
    Ok(())
}

fn read_config(path: &Path) -> Result<BTreeMap<String, String>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e} (expected a run's config)", path.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| format!("{}: expected a run's TOML config: {}", path.display(), e.message()))?;
    Ok(flatten_config(&table))
}

/// The parts of `summary.json` the history shows.
#[derive(Deserialize)]
struct Summary {
    stop_reason: String,
    steps: Option<u64>,
    epochs_run: Option<usize>,
    wall_time: Option<f64>,
    error: Option<String>,
}

/// `None` when there is no summary (the run has not ended).
fn read_summary(path: &Path) -> Result<Option<Summary>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}: expected a JSON object with a stop_reason ({e})", path.display()))
}

/// The time of the event log's first record (the hello a run starts
/// with); at most 64 KiB are read, whatever the file holds.
fn started(events: &Path) -> Option<f64> {
    use std::io::Read;
    let mut first = String::new();
    BufReader::new(std::fs::File::open(events).ok()?.take(64 * 1024)).read_line(&mut first).ok()?;
    serde_json::from_str::<serde_json::Value>(&first).ok()?["time"].as_f64()
}

fn modified(path: &Path) -> Option<f64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs_f64())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A run folder named `folder` under `out`: config, summary (unless
    /// `reason` is None), two epochs ending at `acc`, one toggle.
    pub fn folder(out: &Path, folder: &str, name: &str, reason: Option<&str>, acc: f64) -> PathBuf {
        let dir = out.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        let config = format!(
            "[run]\nname = \"{name}\"\nepochs = 2\n\n[[technique]]\nname = \"batch_norm\"\nenabled = {}\n",
            name.contains("bn")
        );
        std::fs::write(dir.join(CONFIG_FILE), config).unwrap();
        let metrics = format!(
            "{{\"event\":\"epoch\",\"step\":4,\"epoch\":1,\"val_loss\":1.0,\"val_acc\":0.1}}\n\
             {{\"event\":\"epoch\",\"step\":8,\"epoch\":2,\"loss\":0.5,\"val_loss\":0.5,\"val_acc\":{acc},\"wall_time\":1.5}}\n"
        );
        std::fs::write(dir.join(METRICS_FILE), metrics).unwrap();
        let events = "{\"time\":1000.0,\"event\":\"hello\",\"protocol\":{\"major\":1,\"minor\":4},\"program\":\"traintop 0.1.0\"}\n\
             {\"time\":1001.0,\"event\":\"accepted\",\"step\":3,\"from\":{\"kind\":\"dashboard\"},\"command\":\"toggle\",\"technique\":\"dropout\",\"enabled\":true}\n";
        std::fs::write(dir.join(EVENTS_FILE), events).unwrap();
        if let Some(r) = reason {
            let summary = format!("{{\"stop_reason\":\"{r}\",\"steps\":8,\"epochs_run\":2,\"wall_time\":2.0}}");
            std::fs::write(dir.join(SUMMARY_FILE), summary).unwrap();
        }
        dir
    }

    #[test]
    fn a_finished_folder_gives_its_figures_changes_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let run = read(&folder(tmp.path(), "iris-1", "iris", Some("completed"), 0.9));
        assert_eq!((run.name.as_str(), run.state.as_str()), ("iris", "completed"));
        assert_eq!(run.best.map(|b| (b.value, b.epoch)), Some((0.9, 2)));
        assert_eq!((run.changes, run.step, run.epoch, run.epochs), (1, 8, 2, 2));
        assert_eq!((run.duration_secs, run.started), (Some(2.0), Some(1000.0)));
        assert_eq!(run.config.get("technique.batch_norm.enabled").map(String::as_str), Some("false"));
        assert!(run.finished());
    }

    #[test]
    fn a_folder_without_summary_or_process_is_dead_with_its_last_figures() {
        let tmp = tempfile::tempdir().unwrap();
        let run = read(&folder(tmp.path(), "iris-1", "iris", None, 0.7));
        assert_eq!(run.state, "dead");
        assert_eq!((run.step, run.loss, run.duration_secs), (8, Some(0.5), Some(1.5)));
        assert!(!run.finished());
    }

    #[test]
    fn broken_files_make_the_folder_unreadable_with_the_file_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = folder(tmp.path(), "iris-1", "iris", Some("completed"), 0.9);
        std::fs::write(dir.join(SUMMARY_FILE), "{\"steps\": 3").unwrap();
        let run = read(&dir);
        assert_eq!((run.state.as_str(), run.name.as_str()), ("unreadable", "iris"));
        let why = run.error.unwrap();
        assert!(why.contains("summary.json") && why.contains("stop_reason"), "{why}");
        std::fs::write(dir.join(CONFIG_FILE), "[run\n").unwrap();
        let run = read(&dir);
        assert_eq!(run.name, "iris-1", "the folder's name stands in");
        assert!(run.error.unwrap().contains("config.toml: expected a run's TOML config"));
        let run = read(&tmp.path().join("gone"));
        assert!(run.error.unwrap().contains("expected a run's config"));
    }
}
