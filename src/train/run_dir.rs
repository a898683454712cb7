//! The run folder: `<out_dir>/<name>-<timestamp>/` with the resolved config,
//! `metrics.jsonl`, `events.jsonl`, `summary.json`, `encoding.json` (the data's
//! columns and categories) and `checkpoints/{last,best}`.
//!
//! Both logs hold run protocol records, written by [`RunDir::record`] alone:
//! steps and epochs to `metrics.jsonl`, everything else to `events.jsonl`.
//! Each run (and each resume) starts both with a hello (a connection
//! message, written by `greet`) naming the protocol version, so `traintop
//! view` knows how to read what follows.
//!
//! The folder is private (0700, files 0600) unless `run.shared_group` lets
//! the group read; every file is made through [`crate::run_files`], which
//! sets those modes, writes logs in whole lines and replaces files through
//! temporary files no planted symlink can redirect.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::protocol::{encode, ConnectionMessage, Hello, RecordRef, RunEvent};
use crate::run_files::{self, Access, AppendLog};
use crate::run_lock::{self, RunLock};

/// File names inside a run folder.
pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.jsonl";
pub const EVENTS_FILE: &str = "events.jsonl";
pub const SUMMARY_FILE: &str = "summary.json";
pub const ENCODING_FILE: &str = "encoding.json";
pub const LAST_CHECKPOINT: &str = "checkpoints/last.safetensors";
pub const BEST_CHECKPOINT: &str = "checkpoints/best.safetensors";

/// An open run folder and its append-only logs.
pub struct RunDir {
    pub path: PathBuf,
    /// A random id, written as the first line of `config.toml` and stored in
    /// every checkpoint, so a resume can tell this run's checkpoints from
    /// another's (and a config edited by hand keeps its id).
    pub id: String,
    metrics: AppendLog,
    events: AppendLog,
    /// When this handle opened the folder, on the monotonic clock: a wall
    /// clock set back mid-run made durations read 0.0.
    started: Instant,
    /// The folder's writer lock ([`crate::run_lock`]), held while this
    /// handle lives: taken by [`RunDir::create`], handed over by a resume
    /// ([`RunDir::hold`]), which takes it before it writes anything.
    lock: Option<RunLock>,
}

pub fn stamp() -> String {
    // UTC, sortable, no separators a shell would need quoting for.
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const ID_LINE: &str = "# traintop run ";

/// The id in a run's `config.toml` text; empty for folders written before ids.
pub fn run_id(config_toml: &str) -> String {
    config_toml.lines().next().and_then(|l| l.strip_prefix(ID_LINE)).map(|id| id.trim().to_string()).unwrap_or_default()
}

/// A run's `config.toml` text without its id line (to write it again under
/// a new id, as a fork does).
pub fn without_id(config_toml: &str) -> &str {
    match config_toml.strip_prefix(ID_LINE) {
        Some(rest) => rest.split_once('\n').map_or("", |(_, body)| body),
        None => config_toml,
    }
}

impl RunDir {
    /// Creates a fresh folder under `out_dir` (a numeric suffix keeps two runs
    /// started in the same second apart) and writes the resolved config.
    /// The name must pass [`crate::config::safe_run_name`], so the folder is
    /// always directly inside `out_dir`. Private: see [`RunDir::create_with`].
    pub fn create(out_dir: &Path, name: &str, config_toml: &str) -> std::io::Result<Self> {
        Self::create_with(out_dir, name, config_toml, false)
    }

    /// [`RunDir::create`], group-readable when `shared_group` (`run.shared_group`).
    pub fn create_with(out_dir: &Path, name: &str, config_toml: &str, shared_group: bool) -> std::io::Result<Self> {
        let access = Access::shared(shared_group);
        crate::config::safe_run_name(name)
            .map_err(|m| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("run name {name:?}: {m}")))?;
        let base = format!("{name}-{}", stamp());
        fs::create_dir_all(out_dir)?;
        let mut path = out_dir.join(&base);
        let mut n = 1;
        // Created, not checked for: two runs started at once never share one.
        loop {
            match run_files::create_dir(&path, access) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    n += 1;
                    path = out_dir.join(format!("{base}-{n}"));
                }
                Err(e) => return Err(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
            }
        }
        run_files::create_dir(&path.join("checkpoints"), access)?;
        let lock = run_lock::acquire(&path).map_err(std::io::Error::other)?;
        let header = format!("{ID_LINE}{:016x}\n", rand::random::<u64>());
        let config_path = path.join(CONFIG_FILE);
        run_files::write_atomically(&config_path, (header + config_toml).as_bytes())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", config_path.display())))?;
        let mut dir = Self::open(&path)?;
        dir.hold(lock);
        Ok(dir)
    }

    /// Keeps the folder's writer lock for as long as this handle lives.
    pub fn hold(&mut self, lock: RunLock) {
        self.lock = Some(lock);
    }

    /// Hands the folder's writer lock to the caller (a live fork's branch B
    /// keeps it past this handle).
    pub fn release(&mut self) -> Option<RunLock> {
        self.lock.take()
    }

    /// Opens an existing run folder to append to its logs (resume; the
    /// caller holds its lock). A torn last line of either log (a crash in
    /// the middle of a write) is cut off first, and said so in the events.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let checkpoints = path.join("checkpoints");
        if !checkpoints.is_dir() {
            run_files::create_dir(&checkpoints, Access::of(path))?;
        }
        let (metrics, metrics_cut) = AppendLog::open(&path.join(METRICS_FILE))?;
        let (events, events_cut) = AppendLog::open(&path.join(EVENTS_FILE))?;
        let id = fs::read_to_string(path.join(CONFIG_FILE)).map(|t| run_id(&t)).unwrap_or_default();
        let mut dir = Self { path: path.to_path_buf(), id, metrics, events, started: Instant::now(), lock: None };
        dir.greet()?;
        for (file, cut) in [(METRICS_FILE, metrics_cut), (EVENTS_FILE, events_cut)] {
            if cut > 0 {
                let note = format!("{file}: cut off a torn last line ({cut} bytes without a newline) before appending");
                dir.record(&RunEvent::log(note))?;
            }
        }
        Ok(dir)
    }

    /// Starts a segment of both logs with a hello naming the protocol
    /// version (a fresh run's, or a resume's).
    fn greet(&mut self) -> std::io::Result<()> {
        let line = encode(&RecordRef::now(&ConnectionMessage::Hello(Hello::ours())));
        self.metrics.push(&line)?;
        self.events.push(&line)?;
        self.events.flush()
    }

    /// Appends an event, stamped with the wall-clock time, to the file it
    /// belongs in: steps and epochs to `metrics.jsonl`, the rest (flushed at
    /// once, since the event log is what explains a run that died) to
    /// `events.jsonl`.
    pub fn record(&mut self, event: &RunEvent) -> std::io::Result<()> {
        let line = encode(&RecordRef::now(event));
        if event.is_metric() {
            self.metrics.push(&line)?;
        }
        if !event.is_metric() {
            self.events.push(&line)?;
            self.events.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.metrics.flush()?;
        self.events.flush()
    }

    /// Flushes both logs and fsyncs them: called before a checkpoint is
    /// written, so the records it covers outlive it (a `kill -9` after the
    /// checkpoint leaves no hole before the resume point).
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.metrics.sync()?;
        self.events.sync()
    }

    pub fn write_summary<T: Serialize>(&mut self, summary: &T) -> std::io::Result<()> {
        // The summary is written even when the logs cannot be (a full disk).
        let flushed = self.flush();
        self.write_json(SUMMARY_FILE, summary)?;
        flushed
    }

    /// Writes `value` as pretty JSON to the file `name` of the folder, atomically.
    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        let path = self.path.join(name);
        run_files::write_atomically(&path, text.as_bytes())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
    }

    pub fn elapsed_secs(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}
