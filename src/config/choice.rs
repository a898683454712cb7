//! Enum-valued settings written as strings in TOML (`activation = "tanh"`),
//! with one error message format that lists every accepted name.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// A setting chosen by name from a fixed list.
pub(crate) trait Choice: Sized + Copy + 'static {
    /// What the user is choosing, for messages: "activation".
    const WHAT: &'static str;
    /// Canonical names, in the order they are suggested.
    const NAMES: &'static [&'static str];
    /// Other accepted spellings, listed after the canonical names.
    const ALIASES: &'static [&'static str] = &[];

    fn from_name(name: &str) -> Option<Self>;
    fn name(self) -> &'static str;
}

pub(crate) fn unknown<T: Choice>(name: &str) -> String {
    let quoted = |names: &[&str]| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let mut message = format!("unknown {} \"{name}\", expected one of {}", T::WHAT, quoted(T::NAMES));
    if !T::ALIASES.is_empty() {
        message.push_str(&format!(" (or their aliases {})", quoted(T::ALIASES)));
    }
    message
}

pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<T, D::Error> {
    let name = String::deserialize(d)?;
    T::from_name(&name).ok_or_else(|| D::Error::custom(unknown::<T>(&name)))
}

pub(crate) fn serialize<S: Serializer, T: Choice>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.name())
}

/// For settings whose default depends on other settings.
pub(crate) mod option {
    use super::*;

    pub(crate) fn deserialize<'de, D: Deserializer<'de>, T: Choice>(d: D) -> Result<Option<T>, D::Error> {
        super::deserialize(d).map(Some)
    }

    /// Writes the name; `None` is left out by `skip_serializing_if`.
    pub(crate) fn serialize<S: Serializer, T: Choice>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => super::serialize(v, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fruit {
        Apple,
        Pear,
    }

    impl Choice for Fruit {
        const WHAT: &'static str = "fruit";
        const NAMES: &'static [&'static str] = &["apple", "pear"];
        const ALIASES: &'static [&'static str] = &["malus"];
        fn from_name(name: &str) -> Option<Self> {
            match name {
                "apple" | "malus" => Some(Fruit::Apple),
                "pear" => Some(Fruit::Pear),
                _ => None,
            }
        }
        fn name(self) -> &'static str {
            match self {
                Fruit::Apple => "apple",
                Fruit::Pear => "pear",
            }
        }
    }

    #[derive(Debug, serde::Deserialize, serde::Serialize)]
    struct Basket {
        #[serde(deserialize_with = "deserialize", serialize_with = "serialize")]
        fruit: Fruit,
    }

    #[test]
    fn round_trips_and_lists_names() {
        let b: Basket = toml::from_str("fruit = \"malus\"").unwrap();
        assert_eq!(b.fruit, Fruit::Apple);
        assert_eq!(toml::to_string(&b).unwrap().trim(), "fruit = \"apple\"");
        let e = toml::from_str::<Basket>("fruit = \"fig\"").unwrap_err();
        assert_eq!(
            e.message(),
            "unknown fruit \"fig\", expected one of \"apple\", \"pear\" (or their aliases \"malus\")"
        );
        assert_eq!(Fruit::from_name("pear").map(Fruit::name), Some("pear"));
    }
}
