//! The grid of a sweep: each `--vary KEY=V1,V2,...` is an axis, a variant is
//! one value of every axis, and the runs are the variants times the seeds.
//! Keys are `--set` keys; a variant's overrides are checked exactly as
//! `run --set` checks them, before anything starts.

use serde::{Deserialize, Serialize};

/// One varied key and the values it takes, in the order given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Axis {
    pub key: String,
    pub values: Vec<String>,
}

impl Axis {
    /// Reads `KEY=V1,V2,...`. Commas inside brackets or quotes belong to a
    /// value (`model.hidden=[64,64],[128]` has two values).
    pub fn parse(text: &str) -> Result<Axis, String> {
        let (key, values) = text.split_once('=').ok_or_else(|| {
            format!("--vary {text:?}: expected KEY=V1,V2,... (e.g. technique.batch_norm.enabled=false,true)")
        })?;
        let key = key.trim();
        if key.is_empty() || key.split('.').any(|s| s.trim().is_empty()) {
            return Err(format!("--vary {text:?}: \"{key}\" is not a valid key path"));
        }
        let values = split_values(values);
        if values.iter().any(|v| v.is_empty()) || values.is_empty() {
            return Err(format!("--vary {text:?}: a value is empty (expected KEY=V1,V2,...)"));
        }
        let mut seen = Vec::new();
        for v in &values {
            if seen.contains(v) {
                return Err(format!("--vary {text:?}: the value {v} is listed twice"));
            }
            seen.push(v.clone());
        }
        Ok(Axis { key: key.to_string(), values })
    }

    /// The key as labels show it: `technique.` dropped, since every
    /// technique key starts with it.
    pub fn short_key(&self) -> &str {
        self.key.strip_prefix("technique.").unwrap_or(&self.key)
    }
}

/// Splits on commas outside brackets and quotes.
fn split_values(text: &str) -> Vec<String> {
    let (mut out, mut current, mut depth, mut quote) = (Vec::new(), String::new(), 0i32, None);
    for c in text.chars() {
        match (c, quote) {
            ('"' | '\'', None) => quote = Some(c),
            (q, Some(open)) if q == open => quote = None,
            ('[' | '{', None) => depth += 1,
            (']' | '}', None) => depth -= 1,
            (',', None) if depth == 0 => {
                out.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    out
}

/// Every combination of the axes' values, the first axis varying slowest;
/// each variant is the index of its value on every axis.
pub fn variants(axes: &[Axis]) -> Vec<Vec<usize>> {
    axes.iter().fold(vec![vec![]], |acc, axis| {
        acc.iter().flat_map(|prefix| (0..axis.values.len()).map(move |i| [prefix.clone(), vec![i]].concat())).collect()
    })
}

/// The `--set` overrides of a variant.
pub fn overrides(axes: &[Axis], variant: &[usize]) -> Vec<String> {
    axes.iter().zip(variant).map(|(a, &i)| format!("{}={}", a.key, a.values[i])).collect()
}

/// A variant in words: `batch_norm.enabled=true, optimizer.lr=0.1`.
pub fn label(axes: &[Axis], variant: &[usize]) -> String {
    if axes.is_empty() {
        return "(config as is)".into();
    }
    axes.iter().zip(variant).map(|(a, &i)| format!("{}={}", a.short_key(), a.values[i])).collect::<Vec<_>>().join(", ")
}

/// A variant as a folder name: letters, digits, `.`, `_`, `-`, and `=`
/// written as `-`.
pub fn slug(axes: &[Axis], variant: &[usize]) -> String {
    let text = axes
        .iter()
        .zip(variant)
        .map(|(a, &i)| format!("{}-{}", a.short_key(), a.values[i]))
        .collect::<Vec<_>>()
        .join("_");
    let clean: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '-' }).collect();
    let clean = clean.trim_start_matches(['.', '-']).to_string();
    if clean.is_empty() {
        "base".into()
    } else {
        clean.chars().take(80).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_split_outside_brackets_and_quotes() {
        let a = Axis::parse("model.hidden=[64,64], [128] ,\"a,b\"").unwrap();
        assert_eq!(a.values, ["[64,64]", "[128]", "\"a,b\""]);
        assert!(Axis::parse("nokey").unwrap_err().contains("expected KEY=V1,V2"));
        assert!(Axis::parse("a..b=1").unwrap_err().contains("not a valid key path"));
        assert!(Axis::parse("a=1,,2").unwrap_err().contains("empty"));
        assert!(Axis::parse("a=1,1").unwrap_err().contains("listed twice"));
    }

    #[test]
    fn the_grid_is_every_combination_first_axis_slowest() {
        let axes = [Axis::parse("a=1,2").unwrap(), Axis::parse("technique.b.enabled=x,y,z").unwrap()];
        let v = variants(&axes);
        assert_eq!(v.len(), 6);
        assert_eq!(v[0], [0, 0]);
        assert_eq!(v[1], [0, 1]);
        assert_eq!(v[3], [1, 0]);
        assert_eq!(overrides(&axes, &v[5]), ["a=2", "technique.b.enabled=z"]);
        assert_eq!(label(&axes, &v[5]), "a=2, b.enabled=z");
        assert_eq!(slug(&axes, &v[5]), "a-2_b.enabled-z");
        assert_eq!(variants(&[]), vec![Vec::<usize>::new()]);
    }
}
