//! `traintop ls`: this user's runs on this machine (or, with `--ssh`, on
//! other machines), live and dead, one line each; `--json` for scripts.
//! `--all` adds finished runs, read from their folders (`ls_all.rs`).

use super::ls_all::{ls_all, AllArgs};
use super::ExitError;
use crate::client::find::{self, RunEntry};
use crate::client::{banner, ssh};
use crate::format::{clean_lines, duration};

/// `traintop ls`'s arguments.
#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// One JSON array (with --ssh: an object per host).
    #[arg(long)]
    json: bool,
    /// List the runs on HOST instead (`ssh HOST traintop ls --json`); repeatable.
    #[arg(long, value_name = "[USER@]HOST", conflicts_with = "all")]
    ssh: Vec<String>,
    #[command(flatten)]
    all: AllArgs,
}

impl LsArgs {
    /// `traintop ls`.
    pub fn call(self) -> Result<(), ExitError> {
        if self.all.all {
            return ls_all(&self.all, self.json);
        }
        ls(self.json, &self.ssh)
    }
}

/// Prints the runs here, or on each of `hosts`.
pub fn ls(json: bool, hosts: &[String]) -> Result<(), ExitError> {
    if hosts.is_empty() {
        let runs = find::list();
        if json {
            println!("{}", serde_json::to_string_pretty(&runs).unwrap_or_default());
        } else {
            print!("{}", clean_lines(&table(&runs, None)));
        }
        return Ok(());
    }
    let mut failed = Vec::new();
    let mut all = Vec::new();
    for host in hosts {
        match remote(host) {
            Ok(runs) => all.push((host.clone(), runs)),
            Err(e) => failed.push(e),
        }
    }
    if json {
        let by_host: serde_json::Map<String, serde_json::Value> =
            all.iter().map(|(h, r)| (h.clone(), serde_json::to_value(r).unwrap_or_default())).collect();
        println!("{}", serde_json::to_string_pretty(&by_host).unwrap_or_default());
    } else {
        for (host, runs) in &all {
            // A remote's names and folders: shown, never obeyed.
            print!("{}", clean_lines(&table(runs, Some(host))));
        }
    }
    match failed.is_empty() {
        true => Ok(()),
        false => Err(ExitError { code: 1, message: failed.join("\n") }),
    }
}

/// The runs of `host`, as its `traintop ls --json` says.
pub fn remote(host: &str) -> Result<Vec<RunEntry>, String> {
    let text = ssh::output(host, &["ls", "--json"])?;
    // A remote's login script may print before the list (a JSON array).
    let mut read = std::io::Cursor::new(text.as_bytes());
    let banner = banner::skip(&mut read, b'[').map_err(|e| format!("{host}: {e}"))?;
    let list = &text[read.position() as usize..];
    serde_json::from_str(list).map_err(|e| match banner.count {
        0 => format!("{host}: `traintop ls --json` answered something else ({e})"),
        _ => format!("{host}: the remote printed {} and then no run list ({e})", banner.describe()),
    })
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

/// One line per run under a header line; a dead run's resume command below it.
pub fn table(runs: &[RunEntry], host: Option<&str>) -> String {
    if runs.is_empty() {
        return match host {
            Some(h) => format!("{h}: no runs\n"),
            None => "no runs (traintop run CONFIG --detach starts one in the background)\n".into(),
        };
    }
    let mut out = String::new();
    let prefix = host.map(|h| format!("{h}  ")).unwrap_or_default();
    out.push_str(&format!(
        "{prefix}{:<28} {:<9} {:>11} {:>9} {:>8} {:>7} {:>10} {:>7} {:>7}  {}\n",
        "NAME", "STATE", "EPOCH", "STEP", "LOSS", "VAL_ACC", "SAMPLES/S", "ETA", "CLIENTS", "FOLDER"
    ));
    for run in runs {
        let s = run.status.as_ref();
        out.push_str(&format!(
            "{prefix}{:<28} {:<9} {:>11} {:>9} {:>8} {:>7} {:>10} {:>7} {:>7}  {}\n",
            run.folder_name(),
            run.state,
            opt(s, |s| format!("{}/{}", s.epoch, s.epochs)),
            opt(s, |s| s.step.to_string()),
            opt(s.and_then(|s| s.loss), |l| format!("{l:.4}")),
            opt(s.and_then(|s| s.val_acc), |a| format!("{a:.4}")),
            opt(s, |s| format!("{:.0}", s.samples_per_sec)),
            opt(s.filter(|s| s.stalled.is_none()).and_then(|s| s.eta_secs), duration),
            opt(s, |s| s.clients.to_string()),
            run.run_dir.display()
        ));
        if let Some(resume) = &run.resume {
            out.push_str(&format!("{prefix}  its process died; continue it with: {resume}\n"));
        }
        if let Some(note) = &run.note {
            out.push_str(&format!("{prefix}  {note}\n"));
        }
    }
    out
}
