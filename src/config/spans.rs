//! Where each key and value of a TOML document sits, so that any error —
//! from serde or from our own checks — can name both the field
//! (`model.hidden[1]`) and its line and column.
//!
//! Paths are written `section.key`, with `[i]` for array elements:
//! `technique[0].rate`. The root table has the empty path.
//!
//! The spans come from toml's own parse tree (`toml::de::DeTable`, every key
//! and value a public `Spanned`), the same parser whose error spans
//! `path_at` maps back to keys, so both always agree.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    path: String,
    key: Option<Range<usize>>,
    value: Option<Range<usize>>,
}

/// Every path in a document with the byte spans of its key and value.
#[derive(Debug, Clone, Default)]
pub(crate) struct SpanMap {
    entries: Vec<Entry>,
}

impl SpanMap {
    /// Empty when `text` is not valid TOML; callers report syntax errors
    /// from their own parse.
    pub(crate) fn parse(text: &str) -> SpanMap {
        let Ok(root) = DeTable::parse(text) else { return SpanMap::default() };
        let mut entries = Vec::new();
        // The root has no place of its own to point at.
        entries.push(Entry { path: String::new(), key: None, value: None });
        record_table(root.get_ref(), "", &mut entries);
        SpanMap { entries }
    }

    /// Byte offset to show for `path`: its value, else its key, else the
    /// first thing inside it, else the nearest enclosing path that has one.
    pub(crate) fn offset_of(&self, path: &str) -> Option<usize> {
        let mut path = path;
        loop {
            if let Some(offset) = self.own_offset(path) {
                return Some(offset);
            }
            if path.is_empty() {
                return None;
            }
            path = parent(path);
        }
    }

    /// Byte offset of the key of `path`, when it is written as a key.
    pub(crate) fn key_offset_of(&self, path: &str) -> Option<usize> {
        let entry = self.entries.iter().find(|e| e.path == path)?;
        entry.key.as_ref().map(|s| s.start)
    }

    fn own_offset(&self, path: &str) -> Option<usize> {
        if path.is_empty() {
            // Pointing at the first line for a whole-file problem misleads.
            return None;
        }
        let entry = self.entries.iter().find(|e| e.path == path)?;
        if let Some(span) = entry.value.as_ref().or(entry.key.as_ref()) {
            return Some(span.start);
        }
        self.entries
            .iter()
            .filter(|e| is_within(&e.path, path) && e.path != path)
            .filter_map(|e| e.key.as_ref().or(e.value.as_ref()).map(|s| s.start))
            .min()
    }

    pub(crate) fn contains(&self, path: &str) -> bool {
        self.entries.iter().any(|e| e.path == path)
    }

    /// The innermost path whose key or value covers byte `offset`.
    pub(crate) fn path_at(&self, offset: usize) -> Option<&str> {
        self.entries
            .iter()
            .flat_map(|e| [&e.key, &e.value].into_iter().flatten().map(move |s| (e, s)))
            .filter(|(_, s)| s.start <= offset && offset < s.end)
            .min_by_key(|(e, s)| (s.end - s.start, usize::MAX - e.path.len()))
            .map(|(e, _)| e.path.as_str())
    }
}

/// `a.b[2]` -> `a.b`, `a.b` -> `a`, `a` -> ``.
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind(['.', '[']) {
        Some(cut) => &path[..cut],
        None => "",
    }
}

/// Whether `path` is `outer` or lies inside it (`outer.x`, `outer[3]`).
pub(crate) fn is_within(path: &str, outer: &str) -> bool {
    outer.is_empty()
        || path == outer
        || path.strip_prefix(outer).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

pub(crate) fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// Records each key of `table` (at `path`) and everything inside it.
fn record_table(table: &DeTable<'_>, path: &str, out: &mut Vec<Entry>) {
    for (key, value) in table {
        record(child(path, key.get_ref()), Some(key.span()), value, out);
    }
}

/// Records `value` at `path`, then what it holds. A span the parser has no
/// text for (an implicit table, such as `a` in `[a.b]`) is empty, and left
/// out: the path then points at what is inside it.
fn record(path: String, key: Option<Range<usize>>, value: &Spanned<DeValue<'_>>, out: &mut Vec<Entry>) {
    let value_span = Some(value.span()).filter(|s| !s.is_empty());
    out.push(Entry { path: path.clone(), key: key.filter(|s| !s.is_empty()), value: value_span });
    match value.get_ref() {
        DeValue::Table(table) => record_table(table, &path, out),
        DeValue::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                record(format!("{path}[{i}]"), None, item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"# comment
[run]
epochs = 5

[model]
hidden = [64, 0]
activation = "relu"

[[technique]]
name = "dropout"
rate = 0.5

[[technique]]
name = "clip"
when = 1979-05-27T07:32:00Z

[a.b]
c = { d = 1 }
"#;

    fn at(map: &SpanMap, path: &str) -> (usize, usize) {
        line_col(DOC, map.offset_of(path).unwrap())
    }

    #[test]
    fn finds_lines_and_columns() {
        let map = SpanMap::parse(DOC);
        assert_eq!(at(&map, "run.epochs"), (3, 10));
        assert_eq!(at(&map, "model.hidden"), (6, 10));
        assert_eq!(at(&map, "model.hidden[1]"), (6, 15));
        assert_eq!(at(&map, "model.activation"), (7, 14));
        assert_eq!(at(&map, "technique[1].name"), (14, 8));
        assert_eq!(at(&map, "technique[1].when"), (15, 8));
        assert_eq!(at(&map, "a.b.c.d"), (18, 11));
        // Missing keys fall back to the enclosing table.
        assert_eq!(at(&map, "run.seed").0, 2);
        assert_eq!(at(&map, "technique[0]").0, 9);
        assert_eq!(at(&map, "technique[1]").0, 13);
        assert!(map.contains("a.b.c"));
        assert_eq!(map.key_offset_of("run.epochs"), DOC.find("epochs"));
        assert_eq!(map.key_offset_of("model.hidden[0]"), None);
        assert!(!map.contains("run.seed"));
    }

    #[test]
    fn maps_offsets_back_to_paths() {
        let map = SpanMap::parse(DOC);
        let offset = DOC.find("0]").unwrap();
        assert_eq!(map.path_at(offset), Some("model.hidden[1]"));
        let offset = DOC.find("activation").unwrap();
        assert_eq!(map.path_at(offset), Some("model.activation"));
        let offset = DOC.find("0.5").unwrap();
        assert_eq!(map.path_at(offset), Some("technique[0].rate"));
    }

    #[test]
    fn invalid_toml_gives_an_empty_map() {
        let map = SpanMap::parse("[run\n");
        assert_eq!(map.offset_of("run"), None);
        // The root has no position of its own.
        assert_eq!(SpanMap::parse("").offset_of("data"), None);
        assert_eq!(SpanMap::parse("[run]\n").offset_of("data"), None);
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent("a.b[2]"), "a.b");
        assert_eq!(parent("a.b"), "a");
        assert_eq!(parent("a"), "");
        assert!(is_within("a.b[1]", "a.b"));
        assert!(is_within("a.b", "a.b"));
        assert!(!is_within("a.bc", "a.b"));
        assert!(is_within("x", ""));
        assert_eq!(child("", "a"), "a");
        assert_eq!(line_col("ab\ncé\nx", 6), (2, 3));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
