//! `traintop top`: the runs of this machine and of other hosts on one
//! screen. Hosts come from `--ssh HOST` (repeatable) and from
//! `hosts = ["gpu1", "me@gpu2"]` in `$XDG_CONFIG_HOME/traintop/hosts.toml`
//! (else `~/.config/traintop/hosts.toml`). Each host is asked on its own
//! thread (`ssh HOST traintop ls --json`), so a slow or dead host only
//! leaves its rows stale, with its error shown. Past runs of this machine
//! (`h`) come from the folders `ls --all` reads, or `--out DIR`'s
//! (`top_history.rs`); Enter there opens `view`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;

use super::attach::{self, AttachOptions};
use super::shared_args::ScreenArgs;
use super::signals;
use super::top_history::{self, PastRuns};
use super::ExitError;
use crate::client::find::{self, RunEntry};
use crate::sweep::board::board;
use crate::sweep::manifest::{Manifest, MANIFEST_FILE};
use crate::sweep::probe::{self, TaskState};
use crate::tui::sweep_board::{BoardView, EffectView, VariantView};
use crate::tui::top::{run_top, TopChoice, TopCursor, TopRow, TopSnapshot};

/// How often this machine's runs are asked.
const LOCAL_EVERY: Duration = Duration::from_millis(1000);
/// How often each other host is asked (an ssh connection each time).
const REMOTE_EVERY: Duration = Duration::from_secs(3);

/// `traintop top`'s arguments.
#[derive(clap::Args, Debug)]
pub struct TopArgs {
    /// Also show the runs on HOST; repeatable.
    #[arg(long, value_name = "[USER@]HOST")]
    ssh: Vec<String>,
    /// Past runs (h) from DIR (an out dir, a sweep or a run folder) instead
    /// of the folders `traintop ls --all` reads; repeatable.
    #[arg(long, value_name = "DIR")]
    out: Vec<PathBuf>,
    #[command(flatten)]
    screen: ScreenArgs,
}

impl TopArgs {
    /// `traintop top`.
    pub fn call(self) -> Result<(), ExitError> {
        let ScreenArgs { no_color, mouse, refresh_ms } = self.screen;
        top(&TopOptions { hosts: self.ssh, outs: self.out, no_color, mouse, refresh_ms })
    }
}

#[derive(Clone, Debug, Default)]
pub struct TopOptions {
    pub hosts: Vec<String>,
    pub outs: Vec<PathBuf>,
    pub no_color: bool,
    pub mouse: bool,
    pub refresh_ms: u64,
}

/// The hosts file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HostsFile {
    #[serde(default)]
    hosts: Vec<String>,
}

/// Where the hosts file lives.
pub fn hosts_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("traintop").join("hosts.toml"))
}

/// The hosts of the hosts file (none when it does not exist).
pub(crate) fn configured_hosts() -> Result<Vec<String>, ExitError> {
    let Some(path) = hosts_file() else { return Ok(Vec::new()) };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ExitError::input(format!("{}: {e}", path.display()))),
    };
    toml::from_str::<HostsFile>(&text)
        .map(|f| f.hosts)
        .map_err(|e| ExitError::input(format!("{}: {e}(expected: hosts = [\"gpu1\", \"me@gpu2\"])", path.display())))
}

type Latest = Arc<Mutex<BTreeMap<Option<String>, Result<Vec<RunEntry>, String>>>>;

pub fn top(opts: &TopOptions) -> Result<(), ExitError> {
    let mut hosts = opts.hosts.clone();
    for h in configured_hosts()? {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let flags = signals::install()?;
    let latest: Latest = Arc::default();
    latest.lock().unwrap_or_else(|e| e.into_inner()).insert(None, Ok(find::list()));
    poll(&latest, None, LOCAL_EVERY);
    for host in &hosts {
        poll(&latest, Some(host.clone()), REMOTE_EVERY);
    }
    let past = top_history::poll(opts.outs.clone(), dead_dirs(&latest));
    // Why the last run opened from the list could not be shown.
    let notice: Mutex<Option<String>> = Mutex::default();
    let sweeps = Mutex::new(Sweeps::default());
    let snapshot = || {
        let mut s = snapshot(&latest, &past, &mut sweeps.lock().unwrap_or_else(|e| e.into_inner()));
        if let Some(n) = notice.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            s.errors.insert(0, n);
        }
        s
    };
    let mut cursor = TopCursor::default();
    let refresh = Duration::from_millis(opts.refresh_ms.clamp(100, 1000));
    loop {
        let choice = run_top(&snapshot, &mut cursor, refresh, opts.no_color, &flags.any)
            .map_err(|e| ExitError::runtime(anyhow::anyhow!("top: {e}")))?;
        let result = match choice {
            TopChoice::Quit => return Ok(()),
            TopChoice::Open(row) => open(&row, opts, &flags),
            TopChoice::View(dirs) => view(&dirs, opts),
        };
        *notice.lock().unwrap_or_else(|e| e.into_inner()) = result.err().map(|e| e.message);
        if flags.hung_up() || flags.stopped() {
            return Ok(());
        }
    }
}

/// A live run's dashboard, until the user comes back.
fn open(row: &TopRow, opts: &TopOptions, flags: &signals::Flags) -> Result<(), ExitError> {
    let attach = AttachOptions {
        run: Some(row.run_dir.clone()),
        ssh: row.host.clone(),
        no_color: opts.no_color,
        mouse: opts.mouse,
        refresh_ms: opts.refresh_ms,
        ..Default::default()
    };
    attach::dashboard(&attach, flags)
}

/// `traintop view` of past runs: one, or several compared.
fn view(dirs: &[String], opts: &TopOptions) -> Result<(), ExitError> {
    let dirs: Vec<PathBuf> = dirs.iter().map(PathBuf::from).collect();
    let screen = ScreenArgs { no_color: opts.no_color, mouse: opts.mouse, refresh_ms: opts.refresh_ms };
    super::view::view(dirs, screen)
}

/// This machine's runs that the live list has without figures (dead ones),
/// for the history's reader to read too.
fn dead_dirs(latest: &Latest) -> impl Fn() -> Vec<PathBuf> + Send + 'static {
    let latest = Arc::clone(latest);
    move || {
        let l = latest.lock().unwrap_or_else(|e| e.into_inner());
        let Some(Ok(runs)) = l.get(&None) else { return Vec::new() };
        runs.iter().filter(|r| !r.live()).map(|r| r.run_dir.clone()).collect()
    }
}

/// Asks `host` (None: this machine) every `every`, on a thread of its own.
fn poll(latest: &Latest, host: Option<String>, every: Duration) {
    let latest = Arc::clone(latest);
    let _ = std::thread::Builder::new().name("top-poll".into()).spawn(move || loop {
        let result = match &host {
            None => Ok(find::list()),
            Some(h) => super::ls::remote(h),
        };
        latest.lock().unwrap_or_else(|e| e.into_inner()).insert(host.clone(), result);
        std::thread::sleep(every);
    });
}

/// The sweeps seen, and their leaderboards as last read (at most once per
/// [`LOCAL_EVERY`], not at every frame: each reads every run's folder).
#[derive(Default)]
struct Sweeps {
    dirs: Vec<PathBuf>,
    boards: Vec<BoardView>,
    read: Option<std::time::Instant>,
}

fn snapshot(latest: &Latest, past: &PastRuns, sweeps: &mut Sweeps) -> TopSnapshot {
    let l = latest.lock().unwrap_or_else(|e| e.into_inner());
    let mut out = TopSnapshot::default();
    for (host, result) in l.iter() {
        match result {
            Ok(runs) => out.rows.extend(runs.iter().map(|r| row(host.clone(), r))),
            Err(e) => out.errors.push(e.clone()),
        }
    }
    drop(l);
    for row in out.rows.iter_mut().filter(|r| r.host.is_none() && r.epochs == 0) {
        top_history::fill_dead(row, past);
    }
    let here: Vec<String> = out.rows.iter().filter(|r| r.host.is_none()).map(|r| r.run_dir.clone()).collect();
    out.past = top_history::rows(past, &here);
    group_sweeps(&mut out, sweeps);
    out
}

/// This machine's runs that belong to a sweep, named by their task and
/// kept together, with each sweep's leaderboard. A sweep seen once stays
/// on the screen after its last run ended (its finished runs leave the list).
fn group_sweeps(out: &mut TopSnapshot, sweeps: &mut Sweeps) {
    let known = sweeps.dirs.len();
    for r in out.rows.iter_mut().filter(|r| r.host.is_none()) {
        let Some(task) = Path::new(&r.run_dir).parent() else { continue };
        let Some(sweep) = task.parent().filter(|s| s.join(MANIFEST_FILE).is_file()) else { continue };
        if !sweeps.dirs.iter().any(|s| s == sweep) {
            sweeps.dirs.push(sweep.to_path_buf());
        }
        r.sweep = sweeps.dirs.iter().position(|s| s == sweep);
        r.name = task.file_name().map_or(r.name.clone(), |n| n.to_string_lossy().into_owned());
    }
    out.rows.sort_by_key(|r| r.sweep.map_or(0, |s| s + 1));
    let stale = sweeps.read.is_none_or(|at| at.elapsed() >= LOCAL_EVERY);
    if stale || sweeps.dirs.len() != known {
        sweeps.boards = sweeps.dirs.iter().map(|dir| board_view(dir)).collect();
        sweeps.read = Some(std::time::Instant::now());
    }
    out.boards = sweeps.boards.clone();
}

/// A sweep's leaderboard as `top` draws it.
fn board_view(dir: &Path) -> BoardView {
    let name = dir.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned());
    let Ok(m) = Manifest::load(dir) else { return BoardView { name, ..Default::default() } };
    let probes: Vec<_> = m.tasks.iter().map(|t| probe::probe(&t.out, false)).collect();
    let b = board(&m, &probes);
    let variants = b
        .rows
        .iter()
        .map(|r| VariantView {
            label: r.label.clone(),
            runs: (r.spread.map_or(0, |s| s.n), r.tasks.len()),
            done: r.done,
            running: r.running,
            figures: r.spread.map(|s| (s.mean, s.sd, s.low(), s.high())),
        })
        .collect();
    let effects = b
        .effects
        .iter()
        .map(|e| EffectView {
            key: e.key.clone(),
            value: e.value.clone(),
            baseline: e.baseline.clone(),
            diff: e.diff.diff,
            low: e.diff.diff - e.diff.half_width,
            high: e.diff.diff + e.diff.half_width,
            verdict: e.verdict(b.metric).into(),
        })
        .collect();
    let done = probes.iter().filter(|p| p.state == TaskState::Done).count();
    BoardView { name, metric: b.metric.name().into(), done, total: m.tasks.len(), variants, effects }
}

fn row(host: Option<String>, r: &RunEntry) -> TopRow {
    let s = r.status.clone().unwrap_or_default();
    TopRow {
        host,
        name: r.folder_name(),
        state: r.state.clone(),
        epoch: s.epoch,
        epochs: s.epochs,
        step: s.step,
        loss: s.loss,
        recent_loss: s.recent_loss,
        samples_per_sec: s.samples_per_sec,
        eta_secs: s.eta_secs,
        clients: s.clients,
        run_dir: r.run_dir.display().to_string(),
        sweep: None,
    }
}
