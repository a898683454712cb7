//! Where each key and value of a TOML document sits, so that any error —
//! from serde or from our own checks — can name both the field
//! (`model.hidden[1]`) and its line and column.
//!
//! Paths are written `section.key`, with `[i]` for array elements:
//! `technique[0].rate`. The root table has the empty path.

use std::ops::Range;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

// toml hands out byte spans only through `toml::Spanned`, whose protocol is a
// struct with these names. Speaking it directly (instead of using
// `Spanned<T>`) lets us accept values that carry no span, such as the
// implicit `a` in `[a.b]`, where `Spanned<T>` would fail the whole parse.
const SPANNED: &str = "$__serde_spanned_private_Spanned";
const START: &str = "$__serde_spanned_private_start";
const END: &str = "$__serde_spanned_private_end";
const VALUE: &str = "$__serde_spanned_private_value";
const FIELDS: &[&str] = &[START, END, VALUE];

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
        let mut entries = Vec::new();
        let seed = ValueSeed { path: String::new(), key: None, out: &mut entries };
        match seed.deserialize(toml::de::Deserializer::new(text)) {
            Ok(()) => SpanMap { entries },
            Err(_) => SpanMap::default(),
        }
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

struct ValueSeed<'a> {
    path: String,
    key: Option<Range<usize>>,
    out: &'a mut Vec<Entry>,
}

impl<'a> ValueSeed<'a> {
    fn record(self, value: Option<Range<usize>>) -> (String, &'a mut Vec<Entry>) {
        self.out.push(Entry { path: self.path.clone(), key: self.key, value });
        (self.path, self.out)
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_struct(SPANNED, FIELDS, self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        match first {
            Some((name, _)) if name == START => {
                let start: usize = map.next_value()?;
                map.next_key_seed(KeySeed)?;
                let end: usize = map.next_value()?;
                map.next_key_seed(KeySeed)?;
                // The root reports an empty span; it has no place to point at.
                let span = (start < end).then_some(start..end);
                let (path, out) = self.record(span);
                map.next_value_seed(ShapeSeed { path, out })
            }
            first => {
                let (path, out) = self.record(None);
                visit_table(first, map, &path, out)
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        let (path, out) = self.record(None);
        visit_array(seq, &path, out)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.record(None);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.record(None);
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.record(None);
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.record(None);
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.record(None);
        Ok(())
    }
}

/// The value inside a span: a table, an array or a scalar.
struct ShapeSeed<'a> {
    path: String,
    out: &'a mut Vec<Entry>,
}

impl<'de> DeserializeSeed<'de> for ShapeSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ShapeSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first = map.next_key_seed(KeySeed)?;
        visit_table(first, map, &self.path, self.out)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        visit_array(seq, &self.path, self.out)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
}

fn visit_table<'de, A: MapAccess<'de>>(
    mut key: Option<(String, Option<Range<usize>>)>,
    mut map: A,
    path: &str,
    out: &mut Vec<Entry>,
) -> Result<(), A::Error> {
    while let Some((name, span)) = key {
        if name.starts_with("$__") {
            // toml's private encoding of a datetime: a leaf for our purposes.
            map.next_value::<IgnoredAny>()?;
        } else {
            map.next_value_seed(ValueSeed { path: child(path, &name), key: span, out })?;
        }
        key = map.next_key_seed(KeySeed)?;
    }
    Ok(())
}

fn visit_array<'de, A: SeqAccess<'de>>(mut seq: A, path: &str, out: &mut Vec<Entry>) -> Result<(), A::Error> {
    let mut i = 0;
    while seq.next_element_seed(ValueSeed { path: format!("{path}[{i}]"), key: None, out })?.is_some() {
        i += 1;
    }
    Ok(())
}

/// A table key with its span when the parser knows it.
struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = (String, Option<Range<usize>>);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct(SPANNED, FIELDS, self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = (String, Option<Range<usize>>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((v.to_string(), None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut start = None;
        let mut end = None;
        let mut name = None;
        while let Some(field) = map.next_key::<String>()? {
            match field.as_str() {
                START => start = Some(map.next_value::<usize>()?),
                END => end = Some(map.next_value::<usize>()?),
                VALUE => name = Some(map.next_value::<String>()?),
                _ => return Err(de::Error::custom("unexpected key encoding")),
            }
        }
        let name = name.ok_or_else(|| de::Error::custom("key without a name"))?;
        let span = start.zip(end).map(|(s, e)| s..e).filter(|s| !s.is_empty());
        Ok((name, span))
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
