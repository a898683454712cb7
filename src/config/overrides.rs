//! `--set KEY=VALUE` overrides, applied to the parsed TOML table before it
//! is read into a config, so an override is checked exactly like the file.
//!
//! KEY is a dotted path (`optimizer.lr`). `technique.NAME.KEY` addresses the
//! `[[technique]]` entry named NAME, appending `{name = NAME, enabled =
//! false}` first when there is none. VALUE is read as a TOML value; text
//! that is not one is taken as a string, so `run.device=cuda` works.

use toml::{Table, Value};

use super::error::{Applied, ConfigError, Origin};
use super::spans::child;

/// Applies `overrides` in order and reports the path each one wrote.
pub(crate) fn apply(table: &mut Table, overrides: &[String]) -> Result<Vec<Applied>, ConfigError> {
    overrides
        .iter()
        .map(|text| {
            let fail =
                |message: String| ConfigError::Invalid { origin: Origin::Override(text.clone()), field: None, message };
            let (key, value) = text.split_once('=').ok_or_else(|| fail("expected KEY=VALUE".into()))?;
            let segments: Vec<&str> = key.trim().split('.').map(str::trim).collect();
            if segments.iter().any(|s| s.is_empty()) {
                return Err(fail(format!("\"{}\" is not a valid key path", key.trim())));
            }
            let path = set(table, &segments, parse_value(value)).map_err(fail)?;
            Ok(Applied { text: text.clone(), path })
        })
        .collect()
}

fn parse_value(text: &str) -> Value {
    // Parsing as the right-hand side of a one-key document reuses toml's own
    // value grammar; extra lines smuggled into `text` make it a string.
    match toml::from_str::<Table>(&format!("v = {text}")) {
        Ok(mut doc) if doc.len() == 1 => doc.remove("v").unwrap_or_else(|| Value::String(text.into())),
        _ => Value::String(text.to_string()),
    }
}

/// Sets `segments` to `value`, returning the path written.
fn set(root: &mut Table, segments: &[&str], value: Value) -> Result<String, String> {
    if segments[0] == "technique" && segments.len() > 1 {
        return set_technique(root, segments, value);
    }
    set_in(root, "", segments, value)
}

fn set_in(table: &mut Table, base: &str, segments: &[&str], value: Value) -> Result<String, String> {
    let mut table = table;
    let mut path = base.to_string();
    let (last, parents) = segments.split_last().ok_or_else(|| "empty key".to_string())?;
    for segment in parents {
        path = child(&path, segment);
        let entry = table.entry(segment.to_string()).or_insert_with(|| Value::Table(Table::new()));
        table = match entry {
            Value::Table(t) => t,
            other => return Err(format!("{path} holds a value of type {}, not a table", other.type_str())),
        };
    }
    table.insert(last.to_string(), value);
    Ok(child(&path, last))
}

fn set_technique(root: &mut Table, segments: &[&str], value: Value) -> Result<String, String> {
    if segments.len() < 3 {
        return Err("expected technique.NAME.KEY".into());
    }
    let name = segments[1];
    let entries = match root.entry("technique").or_insert_with(|| Value::Array(Vec::new())) {
        Value::Array(entries) => entries,
        other => {
            return Err(format!(
                "technique holds a value of type {}, not a list of [[technique]] tables",
                other.type_str()
            ))
        }
    };
    let found = entries.iter().position(|e| e.get("name").and_then(Value::as_str) == Some(name));
    let index = match found {
        Some(i) => i,
        None => {
            // Disabled unless the override itself enables it: naming a
            // parameter alone should not switch a technique on.
            let mut entry = Table::new();
            entry.insert("name".into(), Value::String(name.into()));
            entry.insert("enabled".into(), Value::Boolean(false));
            entries.push(Value::Table(entry));
            entries.len() - 1
        }
    };
    match &mut entries[index] {
        Value::Table(entry) => set_in(entry, &format!("technique[{index}]"), &segments[2..], value),
        other => Err(format!("technique[{index}] holds a value of type {}, not a table", other.type_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(doc: &str, overrides: &[&str]) -> Result<(Table, Vec<String>), String> {
        let mut table: Table = toml::from_str(doc).unwrap();
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        apply(&mut table, &overrides)
            .map(|applied| (table, applied.into_iter().map(|a| a.path).collect()))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn parses_values_as_toml_or_string() {
        assert_eq!(parse_value("5"), Value::Integer(5));
        assert_eq!(parse_value("0.01"), Value::Float(0.01));
        assert_eq!(parse_value("false"), Value::Boolean(false));
        assert_eq!(parse_value("[32,32]"), Value::Array(vec![Value::Integer(32), Value::Integer(32)]));
        assert_eq!(parse_value("\"x y\""), Value::String("x y".into()));
        assert_eq!(parse_value("cuda"), Value::String("cuda".into()));
        assert_eq!(parse_value("data/x.csv"), Value::String("data/x.csv".into()));
        assert_eq!(parse_value(""), Value::String("".into()));
        assert_eq!(parse_value("1\nx = 2"), Value::String("1\nx = 2".into()));
    }

    #[test]
    fn sets_nested_keys_creating_tables() {
        let (t, paths) = run("[run]\nepochs = 3\n", &["run.epochs=5", "optimizer.lr=0.01"]).unwrap();
        assert_eq!(t["run"]["epochs"], Value::Integer(5));
        assert_eq!(t["optimizer"]["lr"], Value::Float(0.01));
        assert_eq!(paths, vec!["run.epochs", "optimizer.lr"]);
    }

    #[test]
    fn technique_overrides_find_or_append() {
        let doc = "[[technique]]\nname = \"clip\"\n[[technique]]\nname = \"dropout\"\nrate = 0.5\n";
        let (t, paths) =
            run(doc, &["technique.dropout.rate=0.3", "technique.ema.decay=0.99", "technique.ema.enabled=true"])
                .unwrap();
        let list = t["technique"].as_array().unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(list[1]["rate"], Value::Float(0.3));
        assert_eq!(list[2]["name"], Value::String("ema".into()));
        assert_eq!(list[2]["enabled"], Value::Boolean(true));
        assert_eq!(list[2]["decay"], Value::Float(0.99));
        assert_eq!(paths, vec!["technique[1].rate", "technique[2].decay", "technique[2].enabled"]);

        let (t, _) = run("", &["technique.dropout.rate=0.3"]).unwrap();
        assert_eq!(t["technique"][0]["enabled"], Value::Boolean(false));
    }

    #[test]
    fn malformed_overrides_are_named() {
        assert_eq!(run("", &["run.epochs"]).unwrap_err(), "--set run.epochs: expected KEY=VALUE");
        assert_eq!(
            run("", &["run..epochs=1"]).unwrap_err(),
            "--set run..epochs=1: \"run..epochs\" is not a valid key path"
        );
        assert_eq!(
            run("[run]\nepochs = 3\n", &["run.epochs.x=1"]).unwrap_err(),
            "--set run.epochs.x=1: run.epochs holds a value of type integer, not a table"
        );
        assert_eq!(
            run("", &["technique.dropout=1"]).unwrap_err(),
            "--set technique.dropout=1: expected technique.NAME.KEY"
        );
        assert_eq!(
            run("technique = 3", &["technique.a.b=1"]).unwrap_err(),
            "--set technique.a.b=1: technique holds a value of type integer, not a list of [[technique]] tables"
        );
    }
}
