//! What `traintop resume RUN --set KEY=VALUE` may change. The run goes on
//! from its checkpoint, so only settings that can change mid-run may differ
//! from the run folder's config: the epoch count, the logging and checkpoint
//! intervals, the divergence policy, the learning rate, the device, and the
//! techniques (switches and parameters).
//! Each is applied at the resume step and recorded there (an `override` event).
//! Everything else is refused, naming the key: the optimizer's kind and
//! constants (the checkpoint holds that optimizer's state), the model's
//! widths and activation (its tensors), the seed and the batch size (the data
//! order and the position in the epoch), the data (another set is another
//! run), and the run's name and output folder (the folder exists).

use crate::config::{ConfigError, RunConfig};

/// A `--set` that took effect on resume.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    /// The key as the config names it (`optimizer.lr`, `technique[0].rate`).
    pub key: String,
    /// `KEY=VALUE` as the user typed it.
    pub text: String,
}

/// Keys that may change on resume, by prefix.
const CHANGEABLE: [&str; 12] = [
    "run.epochs",
    "run.log_every",
    "run.checkpoint_secs",
    "run.device",
    "run.hint",
    "run.on_divergence",
    "run.divergence_factor",
    "run.divergence_warmup",
    "run.snapshot_every",
    "run.max_rollbacks",
    "optimizer.lr",
    "technique",
];

/// Why a key may not change.
fn reason(key: &str) -> &'static str {
    match key.split(['.', '[']).next().unwrap_or("") {
        "optimizer" => "the checkpoint holds this optimizer's state; start a new run to change it",
        "model" => "the checkpoint holds this model's tensors; start a new run to change it",
        "data" => "another data set is another run; start a new run to change it",
        _ if key == "run.seed" || key == "run.batch_size" => {
            "the data order and the position in the epoch depend on it; start a new run to change it"
        }
        // The modes were set when the folder was made; flipping the key
        // would leave them as they are and the config saying otherwise.
        _ if key == "run.shared_group" => {
            "the folder's modes were set when it was created; use chmod (-R g+rX or g-rwx) to change who may read it"
        }
        _ => "it names the run folder, which already exists",
    }
}

/// Compares the run's own config (`base`) with the one the overrides made
/// (`resumed`): refuses a change that cannot apply mid-run, naming the key;
/// returns the changes that apply.
pub fn check(base: &RunConfig, resumed: &RunConfig) -> Result<Vec<Applied>, ConfigError> {
    let before = as_table(base);
    let after = as_table(resumed);
    let mut applied = vec![];
    for (text, key) in resumed.blame.overrides() {
        let (old, new) = (lookup(&before, &key, base), lookup(&after, &key, resumed));
        if old == new && !key.starts_with("technique") {
            continue;
        }
        if !CHANGEABLE
            .iter()
            .any(|c| key == *c || key.starts_with(&format!("{c}[")) || key.starts_with(&format!("{c}.")))
        {
            return Err(resumed.error_at(&key, format!("cannot change when resuming: {}", reason(&key))));
        }
        applied.push(Applied { key, text });
    }
    Ok(applied)
}

fn as_table(c: &RunConfig) -> toml::Table {
    toml::from_str(&c.to_toml_string()).unwrap_or_default()
}

/// The value at a dotted key; `technique[i]` entries are found by name, since
/// an override may add one.
fn lookup(table: &toml::Table, key: &str, config: &RunConfig) -> Option<toml::Value> {
    let mut parts = key.split('.');
    let first = parts.next()?;
    let mut value = if let Some(rest) = first.strip_prefix("technique[") {
        let index: usize = rest.strip_suffix(']')?.parse().ok()?;
        let name = &config.techniques.get(index)?.name;
        let list = table.get("technique")?.as_array()?;
        list.iter().find(|t| t.get("name").and_then(|n| n.as_str()) == Some(name))?.clone()
    } else {
        table.get(first)?.clone()
    };
    for part in parts {
        let (name, index) = match part.split_once('[') {
            Some((n, i)) => (n, i.trim_end_matches(']').parse::<usize>().ok()),
            None => (part, None),
        };
        value = value.get(name)?.clone();
        if let Some(i) = index {
            value = value.get(i)?.clone();
        }
    }
    Some(value)
}

/// Applies the technique changes over the checkpoint's technique snapshot
/// (which otherwise wins, as it holds changes made from the dashboard).
pub fn patch_techniques(snapshot: &mut serde_json::Value, resumed: &RunConfig, applied: &[Applied]) {
    if !snapshot.is_array() {
        *snapshot = serde_json::Value::Array(vec![]);
    }
    let Some(list) = snapshot.as_array_mut() else { return };
    for a in applied {
        let Some(rest) = a.key.strip_prefix("technique[") else { continue };
        let Some((index, param)) = rest.split_once("].") else { continue };
        let Some(t) = index.parse::<usize>().ok().and_then(|i| resumed.techniques.get(i)) else { continue };
        let entry = match list.iter().position(|e| e["name"] == t.name.as_str()) {
            Some(i) => &mut list[i],
            None => {
                list.push(serde_json::json!({ "name": t.name, "enabled": t.enabled, "params": {} }));
                list.last_mut().expect("just pushed")
            }
        };
        if param == "enabled" {
            entry["enabled"] = serde_json::Value::Bool(t.enabled);
        } else if let Some(v) = t.params.get(param) {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if !entry["params"].is_object() {
                entry["params"] = serde_json::json!({});
            }
            entry["params"][param] = serde_json::Value::String(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSource;

    const BASE: &str = "[data]\npath = \"synthetic:xor\"\n[optimizer]\nkind = \"adam\"\n\n[[technique]]\nname = \"dropout\"\nrate = 0.5\n";

    fn resumed(sets: &[&str]) -> Result<Vec<Applied>, String> {
        let base = RunConfig::from_str(BASE, ConfigSource::embedded("/"), &[]).unwrap();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let new = RunConfig::from_str(BASE, ConfigSource::embedded("/"), &sets).map_err(|e| e.to_string())?;
        check(&base, &new).map_err(|e| e.to_string())
    }

    #[test]
    fn live_settings_apply_and_are_reported() {
        let a = resumed(&["optimizer.lr=0.5", "run.epochs=30", "technique.dropout.rate=0.1"]).unwrap();
        let keys: Vec<&str> = a.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["optimizer.lr", "run.epochs", "technique[0].rate"]);
        assert_eq!(a[0].text, "optimizer.lr=0.5");
        // Setting a fixed key to the value it has is no change.
        assert_eq!(resumed(&["optimizer.kind=adam"]).unwrap(), vec![]);
        let a = resumed(&["run.on_divergence=rollback", "run.max_rollbacks=5", "run.divergence_factor=100"]).unwrap();
        let keys: Vec<&str> = a.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(keys, ["run.on_divergence", "run.max_rollbacks", "run.divergence_factor"]);
    }

    #[test]
    fn fixed_settings_are_refused_naming_the_key() {
        let e = resumed(&["optimizer.kind=sgd"]).unwrap_err();
        assert_eq!(
            e,
            "--set optimizer.kind=sgd: optimizer.kind: cannot change when resuming: the checkpoint holds this optimizer's state; start a new run to change it"
        );
        for (set, key) in [
            ("model.hidden=[8]", "model.hidden"),
            ("run.seed=7", "run.seed"),
            ("data.path=synthetic:spirals", "data.path"),
            ("run.batch_size=7", "run.batch_size"),
            ("run.name=other", "run.name"),
            ("optimizer.beta1=0.5", "optimizer.beta1"),
        ] {
            let e = resumed(&[set]).unwrap_err();
            assert!(e.starts_with(&format!("--set {set}: {key}: cannot change when resuming")), "{e}");
        }
    }

    #[test]
    fn sharing_a_folder_is_a_chmod_not_a_resume() {
        let e = resumed(&["run.shared_group=true"]).unwrap_err();
        assert!(e.contains("run.shared_group: cannot change when resuming") && e.contains("chmod"), "{e}");
    }

    #[test]
    fn technique_changes_patch_the_snapshot() {
        let base = RunConfig::from_str(BASE, ConfigSource::embedded("/"), &[]).unwrap();
        let sets = ["technique.dropout.rate=0.1".to_string(), "technique.l2.enabled=true".to_string()];
        let new = RunConfig::from_str(BASE, ConfigSource::embedded("/"), &sets).unwrap();
        let applied = check(&base, &new).unwrap();
        let mut snap = serde_json::json!([{ "name": "dropout", "enabled": false, "params": { "rate": "0.5" } }]);
        patch_techniques(&mut snap, &new, &applied);
        assert_eq!(snap[0]["params"]["rate"], "0.1");
        assert_eq!(snap[0]["enabled"], false, "a parameter alone does not switch it on");
        assert_eq!(snap[1]["name"], "l2");
        assert_eq!(snap[1]["enabled"], true);
    }
}
