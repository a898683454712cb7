//! `traintop sweep report`: the leaderboard and the main effects as
//! Markdown tables (to paste into a report), every run as a CSV row, and the
//! variants' validation curves as an SVG (`curves.rs`).

use std::fmt::Write;

use super::board::{interval, Board};
use super::manifest::Manifest;
use super::probe::Probe;
use crate::format::clean;

/// The Markdown report of a sweep.
pub fn markdown(m: &Manifest, probes: &[Probe], b: &Board) -> String {
    let mut out = String::new();
    let done = probes.iter().filter(|p| p.state == super::probe::TaskState::Done).count();
    let _ = writeln!(
        out,
        "### {}: {} variants x {} seeds, {done}/{} runs done\n",
        clean(&m.name),
        m.variant_count(),
        m.seeds.len(),
        m.tasks.len()
    );
    let _ = writeln!(out, "Ranked by {} at the last epoch (mean over seeds, 95% t interval).\n", b.metric.name());
    let _ = writeln!(out, "| rank | variant | runs | mean | sd | 95% interval |");
    let _ = writeln!(out, "| ---: | --- | ---: | ---: | ---: | --- |");
    for (rank, row) in b.rows.iter().enumerate() {
        let (mean, sd, ci) = match row.spread {
            Some(s) => (format!("{:.4}", s.mean), format!("{:.4}", s.sd), interval(s.low(), s.high())),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let n = row.spread.map_or(0, |s| s.n);
        let _ =
            writeln!(out, "| {} | {} | {n}/{} | {mean} | {sd} | {ci} |", rank + 1, clean(&row.label), row.tasks.len());
    }
    if !b.effects.is_empty() {
        let _ = writeln!(out, "\nWhat helped (main effect: mean difference against the key's first value, pooled over the other keys; Welch 95% interval):\n");
        let _ = writeln!(out, "| key | value vs baseline | difference | 95% interval | runs | verdict |");
        let _ = writeln!(out, "| --- | --- | ---: | --- | ---: | --- |");
        for e in &b.effects {
            let ci = interval(e.diff.diff - e.diff.half_width, e.diff.diff + e.diff.half_width);
            let _ = writeln!(
                out,
                "| {} | {} vs {} | {:+.4} | {ci} | {} vs {} | {} |",
                clean(&e.key),
                clean(&e.value),
                clean(&e.baseline),
                e.diff.diff,
                e.runs.1,
                e.runs.0,
                e.verdict(b.metric)
            );
        }
    }
    out
}

/// One row per run: its variant's values, seed, state and figures.
pub fn csv(m: &Manifest, probes: &[Probe]) -> Result<String, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = m.axes.iter().map(|a| a.key.clone()).collect();
    header.extend(["seed", "state", "stop_reason", "epoch", "val_loss", "val_acc", "run_dir"].map(String::from));
    w.write_record(&header).map_err(|e| e.to_string())?;
    for (task, p) in m.tasks.iter().zip(probes) {
        let mut row: Vec<String> = m.axes.iter().zip(&task.variant).map(|(a, &i)| a.values[i].clone()).collect();
        let last = p.last;
        row.extend([
            task.seed.to_string(),
            p.state.as_str().into(),
            p.stop_reason.clone().unwrap_or_default(),
            last.map_or(String::new(), |l| l.epoch.to_string()),
            last.map_or(String::new(), |l| l.val_loss.to_string()),
            last.and_then(|l| l.val_acc).map_or(String::new(), |a| a.to_string()),
            p.run_dir.as_ref().map_or(String::new(), |d| d.display().to_string()),
        ]);
        w.write_record(&row).map_err(|e| e.to_string())?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    String::from_utf8(bytes).map_err(|e| e.to_string())
}
