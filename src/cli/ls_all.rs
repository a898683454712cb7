//! `traintop ls --all`: every run of this user's folders, finished ones
//! too, one line each: name, state or stop reason, best validation figure,
//! technique changes, duration, when it started, folder. Folders come from
//! the history's sources (`inspect::history`), or the DIRs given; a live or
//! dead run's state comes from its server record, as in plain `ls`.

use std::path::{Path, PathBuf};

use super::ExitError;
use crate::client::find;
use crate::format::{ago, clean_lines, duration};
use crate::inspect::history::{self, parse_where, PastRun, Query};

/// `ls --all`'s own arguments.
#[derive(clap::Args, Debug, Default)]
pub struct AllArgs {
    /// Also finished runs, read from their folders: ./runs and every out dir
    /// a run was started with (recorded in $XDG_STATE_HOME/traintop/out_dirs,
    /// else ~/.local/state/traintop/out_dirs).
    #[arg(long)]
    pub all: bool,
    /// With --all: look only in these folders (out dirs, sweep or run folders).
    #[arg(value_name = "DIR", requires = "all")]
    pub dirs: Vec<PathBuf>,
    /// With --all: only runs whose name or folder name holds TEXT (any case).
    #[arg(long, value_name = "TEXT", requires = "all")]
    pub filter: Option<String>,
    /// With --all: only runs whose config has KEY=VALUE, keys as --set
    /// writes them (technique.batch_norm.enabled=true); repeatable.
    #[arg(long = "where", value_name = "KEY=VALUE", requires = "all")]
    pub wheres: Vec<String>,
    /// With --all: order by name, folder, best (best first), state, changes
    /// (most first), duration (shortest first) or when (oldest first).
    #[arg(long, value_name = "COLUMN", default_value = "when", requires = "all")]
    pub sort: String,
    /// With --all: the order reversed.
    #[arg(long, requires = "all")]
    pub reverse: bool,
}

impl AllArgs {
    fn query(&self) -> Result<Query, ExitError> {
        let wheres = self.wheres.iter().map(|w| parse_where(w)).collect::<Result<_, _>>().map_err(ExitError::input)?;
        let sort = self.sort.parse().map_err(|e: String| ExitError::input(format!("--sort: {e}")))?;
        Ok(Query { filter: self.filter.clone(), wheres, sort, reverse: self.reverse })
    }
}

/// Prints the runs `args` asks for.
pub fn ls_all(args: &AllArgs, json: bool) -> Result<(), ExitError> {
    let query = args.query()?;
    let runs = query.apply(gather(&args.dirs));
    if json {
        println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default());
    } else {
        print!("{}", clean_lines(&table(&runs, now())));
    }
    Ok(())
}

/// The run folders of `dirs` (none: the history's sources), each with the
/// state its server record gives where it has one. With no folders named,
/// a live run outside every source is listed too.
pub fn gather(dirs: &[PathBuf]) -> Vec<PastRun> {
    let sources = if dirs.is_empty() { history::default_sources() } else { dirs.to_vec() };
    let mut runs = history::read_all(&sources);
    for entry in find::list() {
        let at = canonical(&entry.run_dir);
        match runs.iter_mut().find(|r| canonical(&r.run_dir) == at) {
            Some(run) if run.state != "unreadable" => run.state = entry.state,
            Some(_) => {}
            None if dirs.is_empty() => {
                let mut run = history::read(&entry.run_dir);
                run.state = entry.state;
                runs.push(run);
            }
            None => {}
        }
    }
    runs
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Unix time now.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// `val_acc 0.9833`, or `-` for a run without an epoch.
pub fn best_text(run: &PastRun) -> String {
    run.best.map_or_else(|| "-".into(), |b| format!("{} {:.4}", b.metric.name(), b.value))
}

/// One line per run under a header; an unreadable folder's reason below it.
pub fn table(runs: &[PastRun], now: f64) -> String {
    if runs.is_empty() {
        return "no runs found (traintop ls --all DIR looks in a folder of runs)\n".into();
    }
    let line = |cells: [&str; 7]| {
        format!(
            "{:<24} {:<14} {:<15} {:>7} {:>8} {:>9}  {}\n",
            cells[0], cells[1], cells[2], cells[3], cells[4], cells[5], cells[6]
        )
    };
    let mut out = line(["NAME", "STATE", "BEST", "CHANGES", "DURATION", "WHEN", "FOLDER"]);
    for run in runs {
        let when = run.started.map_or_else(|| "-".into(), |t| ago(t, now));
        out.push_str(&line([
            &run.name,
            &run.state,
            &best_text(run),
            &run.changes.to_string(),
            &run.duration_secs.map_or_else(|| "-".into(), duration),
            &when,
            &run.run_dir.display().to_string(),
        ]));
        if let Some(why) = run.error.as_ref().filter(|_| run.state == "unreadable" || run.state == "error") {
            out.push_str(&format!("  {why}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::history::Figure;
    use crate::protocol::ValMetric;

    #[test]
    fn a_line_per_run_with_its_figures_and_an_unreadable_ones_reason() {
        let runs = vec![
            PastRun {
                name: "iris".into(),
                run_dir: "/r/iris-1".into(),
                state: "completed".into(),
                best: Some(Figure { metric: ValMetric::ValAcc, value: 0.96667, epoch: 3 }),
                changes: 2,
                duration_secs: Some(75.0),
                started: Some(1000.0),
                ..Default::default()
            },
            PastRun {
                name: "wine-2".into(),
                run_dir: "/r/wine-2".into(),
                state: "unreadable".into(),
                error: Some("/r/wine-2/summary.json: expected a JSON object with a stop_reason".into()),
                ..Default::default()
            },
        ];
        let text = table(&runs, 1000.0 + 7200.0);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("NAME") && lines[0].ends_with("FOLDER"), "{text}");
        for cell in ["iris", "completed", "val_acc 0.9667", " 2 ", "1m15s", "2h ago", "/r/iris-1"] {
            assert!(lines[1].contains(cell), "{cell} in {text}");
        }
        assert!(lines[2].contains("unreadable") && lines[3].contains("summary.json: expected"), "{text}");
        assert!(table(&[], 0.0).starts_with("no runs found"));
    }
}
