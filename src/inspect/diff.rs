//! What differs between runs: their resolved configs compared key by key
//! (techniques by name, not by position in the file), the technique changes
//! made while they trained, and their summary figures side by side.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::protocol::{EventReader, RunCommand, RunEvent};
use crate::train::run_dir::{CONFIG_FILE, EVENTS_FILE, SUMMARY_FILE};

/// A run folder's config as dotted keys (`optimizer.lr`,
/// `technique.dropout.rate`) with their values written as TOML.
pub fn flatten_config(table: &toml::Table) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (section, value) in table {
        match (section.as_str(), value) {
            ("technique", toml::Value::Array(entries)) => {
                for entry in entries {
                    let Some(t) = entry.as_table() else { continue };
                    let name = t.get("name").and_then(|n| n.as_str()).unwrap_or("?");
                    for (k, v) in t.iter().filter(|(k, _)| *k != "name") {
                        flatten(&format!("technique.{name}.{k}"), v, &mut out);
                    }
                }
            }
            _ => flatten(section, value, &mut out),
        }
    }
    out
}

fn flatten(prefix: &str, value: &toml::Value, out: &mut BTreeMap<String, String>) {
    match value {
        toml::Value::Table(t) => {
            for (k, v) in t {
                flatten(&format!("{prefix}.{k}"), v, out);
            }
        }
        toml::Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// A run folder read for comparison.
#[derive(Clone, Debug)]
pub struct RunFacts {
    pub name: String,
    pub config: BTreeMap<String, String>,
    /// `summary.json`, or `Null` for a run still going (or killed).
    pub summary: serde_json::Value,
    /// Technique toggles and parameter edits made while it trained.
    pub changes: Vec<String>,
}

impl RunFacts {
    pub fn read(dir: &Path) -> Result<RunFacts, String> {
        let config_path = dir.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("{}: not a run folder ({e})", config_path.display()))?;
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| format!("{}: {}", config_path.display(), e.message()))?;
        let summary = std::fs::read_to_string(dir.join(SUMMARY_FILE))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(serde_json::Value::Null);
        let changes = std::fs::File::open(dir.join(EVENTS_FILE)).map(technique_changes).unwrap_or_default();
        let name = dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(RunFacts { name, config: flatten_config(&table), summary, changes })
    }
}

/// The technique toggles and parameter edits an event log records as
/// carried out (from the dashboard, a client, or `resume --set`), as short
/// lines. A log that cannot be read further ends the list.
pub fn technique_changes(events: impl std::io::Read) -> Vec<String> {
    let mut out = vec![];
    for record in EventReader::new(events) {
        let Ok(record) = record else { break };
        match record.event {
            RunEvent::Accepted { step, request } => {
                if matches!(request.command, RunCommand::Toggle { .. } | RunCommand::SetParam { .. }) {
                    out.push(format!("step {step}: {}", request.command.label()));
                }
            }
            RunEvent::Override { step, set, key } if key.starts_with("technique.") => {
                out.push(format!("step {step}: {set} (resume --set)"));
            }
            _ => {}
        }
    }
    out
}

/// Keys whose values are not the same in every run (absent counts as a value).
/// `run.name` and `run.out_dir` name the run rather than describe it, and
/// are left out.
pub fn varying_keys(runs: &[&BTreeMap<String, String>]) -> Vec<String> {
    let mut keys: Vec<&String> = runs.iter().flat_map(|r| r.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| !matches!(k.as_str(), "run.name" | "run.out_dir"))
        .filter(|k| runs.windows(2).any(|w| w[0].get(*k) != w[1].get(*k)))
        .cloned()
        .collect()
}

/// Summary figures compared; in this order.
pub const SUMMARY_KEYS: &[&str] = &[
    "stop_reason",
    "epochs_run",
    "steps",
    "best_epoch",
    "best_val_loss",
    "final_loss",
    "final_val_loss",
    "final_val_acc",
    "samples_per_sec",
    "wall_time",
];

/// One line of the comparison.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    pub key: String,
    pub a: Option<String>,
    pub b: Option<String>,
    /// `b - a` where both are numbers (summary figures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<f64>,
}

/// `traintop diff`: what differs in the configs, and the figures.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub config: Vec<Row>,
    pub changes_a: Vec<String>,
    pub changes_b: Vec<String>,
    pub summary: Vec<Row>,
}

fn figure(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(match n.as_f64() {
            Some(f) if n.is_f64() => format!("{f:.4}"),
            _ => n.to_string(),
        }),
        other => Some(other.to_string()),
    }
}

pub fn compare(a: &RunFacts, b: &RunFacts) -> Comparison {
    let config = varying_keys(&[&a.config, &b.config])
        .into_iter()
        .map(|key| Row { a: a.config.get(&key).cloned(), b: b.config.get(&key).cloned(), key, delta: None })
        .collect();
    let summary = SUMMARY_KEYS
        .iter()
        .map(|&key| {
            let (va, vb) = (&a.summary[key], &b.summary[key]);
            let delta = va.as_f64().zip(vb.as_f64()).map(|(x, y)| y - x);
            Row { key: key.to_string(), a: figure(va), b: figure(vb), delta }
        })
        .collect();
    Comparison {
        a: a.name.clone(),
        b: b.name.clone(),
        config,
        changes_a: a.changes.clone(),
        changes_b: b.changes.clone(),
        summary,
    }
}

impl Comparison {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let dash = || "-".to_string();
        let key_w = self.config.iter().chain(&self.summary).map(|r| r.key.len()).max().unwrap_or(0).max(6);
        let a_w = self
            .config
            .iter()
            .chain(&self.summary)
            .map(|r| r.a.as_ref().map_or(1, |v| v.chars().count()))
            .chain([self.a.chars().count(), 1])
            .max()
            .unwrap_or(1);
        let b_w = self
            .summary
            .iter()
            .map(|r| r.b.as_ref().map_or(1, |v| v.chars().count()))
            .chain([self.b.chars().count(), 1])
            .max()
            .unwrap_or(1);
        let _ = writeln!(out, "{:key_w$}  {:a_w$}  B", "", "A");
        let _ = writeln!(out, "{:key_w$}  {:a_w$}  {}", "run", self.a, self.b);
        out.push('\n');
        if self.config.is_empty() {
            let _ = writeln!(out, "config: the same");
        } else {
            let _ = writeln!(out, "config differences");
            for r in &self.config {
                let (a, b) = (r.a.clone().unwrap_or_else(dash), r.b.clone().unwrap_or_else(dash));
                let _ = writeln!(out, "{:key_w$}  {a:a_w$}  {b}", r.key);
            }
        }
        for (label, changes) in [("A", &self.changes_a), ("B", &self.changes_b)] {
            if !changes.is_empty() {
                let _ = writeln!(out, "\nchanged while {label} trained: {}", changes.join("; "));
            }
        }
        let _ = writeln!(out, "\nsummary");
        for r in &self.summary {
            let (a, b) = (r.a.clone().unwrap_or_else(dash), r.b.clone().unwrap_or_else(dash));
            let whole = !a.contains('.') && !b.contains('.');
            let delta = match r.delta {
                Some(d) if whole => format!("  {:+}", d as i64),
                Some(d) => format!("  {d:+.4}"),
                None => String::new(),
            };
            let line = format!("{:key_w$}  {a:a_w$}  {b:b_w$}{delta}", r.key);
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::protocol::{framing, ClientId, RecordRef, Request};

    fn events(list: &[RunEvent]) -> String {
        let mut text = String::new();
        for e in list {
            text += std::str::from_utf8(&framing::encode(&RecordRef { time: 0.0, event: e })).unwrap();
        }
        text
    }

    fn facts(name: &str, config: &str, summary: serde_json::Value, events: &str) -> RunFacts {
        RunFacts {
            name: name.into(),
            config: flatten_config(&toml::from_str(config).unwrap()),
            summary,
            changes: technique_changes(events.as_bytes()),
        }
    }

    #[test]
    fn techniques_compare_by_name_and_paths_by_key() {
        let a = "[run]\nname = \"a\"\n[model]\nhidden = [8, 8]\n[[technique]]\nname = \"l2\"\nenabled = true\nlambda = 0.01\n[[technique]]\nname = \"dropout\"\nrate = 0.5\n";
        let b = "[run]\nname = \"b\"\n[model]\nhidden = [8, 8]\n[[technique]]\nname = \"dropout\"\nrate = 0.2\n[[technique]]\nname = \"l2\"\nenabled = true\nlambda = 0.01\n";
        let flat = flatten_config(&toml::from_str(a).unwrap());
        assert_eq!(flat["model.hidden"], "[8, 8]");
        assert_eq!(flat["technique.l2.lambda"], "0.01");
        let (fa, fb) = (facts("a", a, serde_json::Value::Null, ""), facts("b", b, serde_json::Value::Null, ""));
        assert_eq!(varying_keys(&[&fa.config, &fb.config]), vec!["technique.dropout.rate"]);
    }

    #[test]
    fn comparison_text_lists_differences_changes_and_figures() {
        let a = facts(
            "base",
            "[model]\nactivation = \"sigmoid\"\n",
            serde_json::json!({ "stop_reason": "completed", "steps": 100, "final_val_acc": 0.5 }),
            "",
        );
        let b = facts(
            "bn",
            "[model]\nactivation = \"sigmoid\"\n[[technique]]\nname = \"batch_norm\"\nenabled = true\n",
            serde_json::json!({ "stop_reason": "completed", "steps": 100, "final_val_acc": 0.875 }),
            &events(&[
                RunEvent::Accepted {
                    step: 40,
                    request: Request::new(
                        ClientId::Dashboard,
                        RunCommand::Toggle { technique: "batch_norm".into(), enabled: false },
                    ),
                },
                RunEvent::Accepted { step: 41, request: Request::new(ClientId::Dashboard, RunCommand::Pause) },
            ]),
        );
        let c = compare(&a, &b);
        assert_eq!(
            c.config,
            vec![Row { key: "technique.batch_norm.enabled".into(), a: None, b: Some("true".into()), delta: None }]
        );
        // (The first line starts with spaces, which a `\` continuation drops.)
        let want = " ".repeat(30)
            + "A          B\n\
run                           base       bn

config differences
technique.batch_norm.enabled  -          true

changed while B trained: step 40: batch_norm off

summary
stop_reason                   completed  completed
epochs_run                    -          -
steps                         100        100        +0
best_epoch                    -          -
best_val_loss                 -          -
final_loss                    -          -
final_val_loss                -          -
final_val_acc                 0.5000     0.8750     +0.3750
samples_per_sec               -          -
wall_time                     -          -
";
        assert_eq!(c.to_text(), want);
    }
}
