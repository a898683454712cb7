//! Technique state that travels with checkpoints (enabled flags and parameter
//! values) and the cross-technique checks the source material asks for.

use crate::engine::StateStore;
use crate::plugin::PluginHost;

/// The techniques' settings as JSON, stored in checkpoints.
pub fn snapshot(host: &PluginHost) -> serde_json::Value {
    let list: Vec<serde_json::Value> = host
        .names()
        .map(|name| {
            let params: serde_json::Map<String, serde_json::Value> =
                host.param_values(name).into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
            serde_json::json!({ "name": name, "enabled": host.is_active(name), "params": params })
        })
        .collect();
    serde_json::Value::Array(list)
}

/// Applies a snapshot (resume): the run continues with the techniques as they
/// were when it stopped, including changes made from the dashboard. A setting
/// the plugin refuses, or a technique switched on that this run does not load,
/// is an error: the checkpoint does not fit the run.
pub fn restore(host: &mut PluginHost, snapshot: &serde_json::Value) -> Result<(), String> {
    let Some(list) = snapshot.as_array() else { return Ok(()) };
    for entry in list {
        let Some(name) = entry["name"].as_str() else { continue };
        let enabled = entry["enabled"].as_bool().unwrap_or(false);
        if !host.has(name) {
            if enabled {
                return Err(format!(
                    "technique `{name}` is on in the checkpoint but this run does not load it (name it in a [[technique]] entry)"
                ));
            }
            continue;
        }
        if let Some(params) = entry["params"].as_object() {
            for (k, v) in params {
                if let Some(v) = v.as_str() {
                    host.set_param(name, k, v).map_err(|e| format!("checkpoint's {e}"))?;
                }
            }
        }
        host.preset_enabled(name, enabled);
    }
    Ok(())
}

/// Applies a snapshot mid-run (a rollback): like [`restore`], but through
/// the switches a running model uses. Returns whether the graphs must be
/// rebuilt.
pub fn reapply(host: &mut PluginHost, snapshot: &serde_json::Value, store: &mut StateStore) -> Result<bool, String> {
    if *snapshot == self::snapshot(host) {
        return Ok(false);
    }
    let mut rebuild = false;
    for entry in snapshot.as_array().into_iter().flatten() {
        let Some(name) = entry["name"].as_str().filter(|n| host.has(n)) else { continue };
        for (k, v) in entry["params"].as_object().into_iter().flatten() {
            if let Some(v) = v.as_str() {
                rebuild |= host.set_param(name, k, v).map_err(|e| e.to_string())?;
            }
        }
        let enabled = entry["enabled"].as_bool().unwrap_or(false);
        rebuild |= host.set_enabled(name, enabled, store).map_err(|e| e.to_string())?;
    }
    Ok(rebuild)
}

/// Warnings about techniques that should not be combined: the source material
/// never uses dropout together with batch normalization on a layer.
pub fn conflicts(host: &PluginHost) -> Vec<String> {
    let layers_of = |name: &str| -> Option<Vec<usize>> {
        if !host.is_active(name) {
            return None;
        }
        let text = host.param(name, "layers").unwrap_or_default();
        let listed: Vec<usize> =
            text.trim_matches(|c| c == '[' || c == ']').split(',').filter_map(|s| s.trim().parse().ok()).collect();
        Some(if listed.is_empty() { (0..host.layers().saturating_sub(1)).collect() } else { listed })
    };
    match (layers_of("dropout"), layers_of("batch_norm")) {
        (Some(d), Some(b)) => {
            let shared: Vec<String> = d.iter().filter(|l| b.contains(l)).map(|l| l.to_string()).collect();
            if shared.is_empty() {
                vec![]
            } else {
                vec![format!(
                    "warning: dropout and batch_norm are both on for layer(s) {}; dropout is not used together with batch normalization",
                    shared.join(", ")
                )]
            }
        }
        _ => vec![],
    }
}
