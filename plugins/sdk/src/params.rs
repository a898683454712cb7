//! Parameter schemas and values. The SDK checks every value against the schema
//! (kind, range, choices) before the technique sees it, so techniques read
//! parameters without validating them.

use std::fmt;

use traintop_plugin_abi::ParamKind;

/// A declared parameter.
#[derive(Clone, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ParamKind,
    pub default_value: f64,
    pub min: f64,
    pub max: f64,
    /// Choice names, comma-separated (Choice); default layers as text (Layers).
    pub choices: &'static str,
    pub help: &'static str,
    /// Changing it rebuilds the graph.
    pub structural: bool,
}

impl Param {
    pub fn float(name: &'static str, default: f64, min: f64, max: f64, help: &'static str) -> Self {
        Self { name, kind: ParamKind::Float, default_value: default, min, max, choices: "", help, structural: false }
    }
    pub fn int(name: &'static str, default: i64, min: i64, max: i64, help: &'static str) -> Self {
        Self { kind: ParamKind::Int, ..Self::float(name, default as f64, min as f64, max as f64, help) }
    }
    pub fn boolean(name: &'static str, default: bool, help: &'static str) -> Self {
        Self { kind: ParamKind::Bool, ..Self::float(name, default as u8 as f64, 0.0, 1.0, help) }
    }
    /// `choices` comma-separated; `default` is one of them.
    pub fn choice(name: &'static str, choices: &'static str, default: &str, help: &'static str) -> Self {
        let index = choices.split(',').position(|c| c.trim() == default).unwrap_or(0);
        Self { kind: ParamKind::Choice, choices, ..Self::float(name, index as f64, 0.0, 0.0, help) }
    }
    /// Layer indices; empty text means the technique's default set.
    pub fn layers(name: &'static str, help: &'static str) -> Self {
        Self { kind: ParamKind::Layers, ..Self::float(name, 0.0, 0.0, 0.0, help) }
    }
    /// Marks a parameter whose change needs a graph rebuild.
    pub fn structural(mut self) -> Self {
        self.structural = true;
        self
    }

    fn choice_names(&self) -> Vec<&'static str> {
        self.choices.split(',').map(str::trim).filter(|c| !c.is_empty()).collect()
    }

    /// Parses and checks a value from text.
    pub fn parse(&self, text: &str) -> Result<Value, String> {
        let text = text.trim().trim_matches('"');
        let err = |what: &str| format!("{}: expected {what}, got {text:?}", self.name);
        match self.kind {
            ParamKind::Float => {
                let v: f64 = text.parse().map_err(|_| err("a number"))?;
                if !(self.min..=self.max).contains(&v) || !v.is_finite() {
                    return Err(format!("{}: {v} is outside {} ..= {}", self.name, self.min, self.max));
                }
                Ok(Value::Float(v))
            }
            ParamKind::Int => {
                let v: i64 = text.parse().map_err(|_| err("an integer"))?;
                if (v as f64) < self.min || (v as f64) > self.max {
                    return Err(format!("{}: {v} is outside {} ..= {}", self.name, self.min, self.max));
                }
                Ok(Value::Int(v))
            }
            ParamKind::Bool => match text {
                "true" | "1" | "on" => Ok(Value::Bool(true)),
                "false" | "0" | "off" => Ok(Value::Bool(false)),
                _ => Err(err("true or false")),
            },
            ParamKind::Choice => {
                let names = self.choice_names();
                names
                    .iter()
                    .position(|c| *c == text)
                    .map(|i| Value::Choice(names[i].to_string()))
                    .ok_or_else(|| err(&format!("one of {}", names.join(" | "))))
            }
            ParamKind::Layers => {
                let inner = text.trim_start_matches('[').trim_end_matches(']');
                let layers = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| s.parse::<usize>().map_err(|_| err("a list of layer indices like [0, 1]")))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Value::Layers(layers))
            }
            other => Err(format!("{}: this SDK cannot parse {other:?} parameters", self.name)),
        }
    }

    pub fn default(&self) -> Value {
        match self.kind {
            ParamKind::Float => Value::Float(self.default_value),
            ParamKind::Int => Value::Int(self.default_value as i64),
            ParamKind::Bool => Value::Bool(self.default_value != 0.0),
            ParamKind::Choice => {
                Value::Choice(self.choice_names().get(self.default_value as usize).copied().unwrap_or("").to_string())
            }
            ParamKind::Layers => Value::Layers(vec![]),
            // A kind of a newer ABI crate than this SDK knows: its number.
            _ => Value::Float(self.default_value),
        }
    }
}

/// A parameter value.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    Float(f64),
    Int(i64),
    Bool(bool),
    Choice(String),
    /// Empty: the technique's default layers.
    Layers(Vec<usize>),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Float(v) => write!(f, "{v}"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
            Value::Choice(v) => write!(f, "{v}"),
            Value::Layers(v) => write!(f, "[{}]", v.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")),
        }
    }
}

/// Why a parameter was not set; the message names the parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SetError {
    UnknownParam(String),
    InvalidValue(String),
}

impl SetError {
    /// The ABI status code for it.
    pub fn status(&self) -> i32 {
        match self {
            SetError::UnknownParam(_) => traintop_plugin_abi::UNKNOWN_PARAM,
            SetError::InvalidValue(_) => traintop_plugin_abi::INVALID_VALUE,
        }
    }
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetError::UnknownParam(m) | SetError::InvalidValue(m) => f.write_str(m),
        }
    }
}

/// The current values of a plugin's parameters.
#[derive(Clone, Debug, Default)]
pub struct ParamValues {
    values: Vec<(String, Value)>,
}

impl ParamValues {
    pub fn defaults(schema: &[Param]) -> Self {
        Self { values: schema.iter().map(|p| (p.name.to_string(), p.default())).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets a value from text after checking it against the schema.
    pub fn set(&mut self, schema: &[Param], name: &str, text: &str) -> Result<(), SetError> {
        let spec = schema.iter().find(|p| p.name == name).ok_or_else(|| {
            let names: Vec<&str> = schema.iter().map(|p| p.name).collect();
            SetError::UnknownParam(format!("unknown parameter `{name}`; valid: {}", names.join(", ")))
        })?;
        let value = spec.parse(text).map_err(SetError::InvalidValue)?;
        if let Some(slot) = self.values.iter_mut().find(|(n, _)| n == name) {
            slot.1 = value;
        }
        Ok(())
    }

    pub fn float(&self, name: &str) -> f64 {
        match self.get(name) {
            Some(Value::Float(v)) => *v,
            Some(Value::Int(v)) => *v as f64,
            _ => 0.0,
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.get(name) {
            Some(Value::Int(v)) => *v,
            Some(Value::Float(v)) => *v as i64,
            _ => 0,
        }
    }

    pub fn boolean(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Value::Bool(true)))
    }

    pub fn choice(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::Choice(c)) => c,
            _ => "",
        }
    }

    /// The chosen layers, or `default` when the list is empty.
    pub fn layers(&self, name: &str, default: impl FnOnce() -> Vec<usize>) -> Vec<usize> {
        match self.get(name) {
            Some(Value::Layers(l)) if !l.is_empty() => l.clone(),
            _ => default(),
        }
    }
}
