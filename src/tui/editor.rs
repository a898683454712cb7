//! The inline value editor for a technique's parameters and the learning
//! rate. Values are checked here against the range text the trainer sent
//! ("lo ..= hi", "lo .. hi" or "a | b"), so a typo shows up next to the field
//! instead of as a rejected command in the log a moment later; the trainer
//! still checks again.

use crate::protocol::{RunCommand, TechniqueView};

/// What the editor's value goes to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Technique(String),
    LearningRate,
}

/// One editable value.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub current: String,
    pub range: String,
    pub help: String,
}

/// What a range text allows.
#[derive(Clone, Debug, PartialEq)]
pub enum Range {
    /// `lo ..= hi` (inclusive) or `lo .. hi` (exclusive upper end). Whether
    /// the parameter wants a whole number is not in the range text, so that
    /// is left to the trainer's check.
    Numeric {
        lo: f64,
        hi: f64,
        inclusive: bool,
    },
    /// A strictly positive number (the learning rate).
    Positive,
    Choices(Vec<String>),
    /// Anything, even empty: the range text is not one the dashboard reads
    /// (e.g. a layer list, where empty means the default).
    Free,
}

impl Range {
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        let numeric = |sep: &str, inclusive: bool| {
            let (lo, hi) = text.split_once(sep)?;
            let (lo, hi) = (lo.trim(), hi.trim());
            let (l, h) = (lo.parse::<f64>().ok()?, hi.parse::<f64>().ok()?);
            Some(Range::Numeric { lo: l, hi: h, inclusive })
        };
        if let Some(r) = numeric("..=", true) {
            return r;
        }
        if !text.contains("..=") {
            if let Some(r) = numeric("..", false) {
                return r;
            }
        }
        if text.contains('|') {
            let choices: Vec<String> =
                text.split('|').map(|c| c.trim().to_string()).filter(|c| !c.is_empty()).collect();
            if choices.len() > 1 {
                return Range::Choices(choices);
            }
        }
        Range::Free
    }

    /// `Err` carries the message the editor shows.
    pub fn check(&self, value: &str) -> Result<(), String> {
        let value = value.trim();
        if value.is_empty() && *self != Range::Free {
            return Err("type a value".into());
        }
        let number = || match value.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(format!("`{value}` is not a number")),
        };
        match self {
            Range::Numeric { lo, hi, inclusive } => {
                let v = number()?;
                let above = if *inclusive { v > *hi } else { v >= *hi };
                if v < *lo || above {
                    let op = if *inclusive { "..=" } else { ".." };
                    return Err(format!("{value} is outside {lo} {op} {hi}"));
                }
                Ok(())
            }
            Range::Positive => match number()? {
                v if v > 0.0 => Ok(()),
                _ => Err("must be greater than 0".into()),
            },
            Range::Choices(choices) => {
                // The trainer reads these spellings of a boolean too.
                let boolean = choices.len() == 2 && choices.iter().all(|c| c == "true" || c == "false");
                let alias = boolean && ["on", "off", "1", "0"].contains(&value);
                if alias || choices.iter().any(|c| c == value) {
                    Ok(())
                } else {
                    Err(format!("choose one of {}", choices.join(", ")))
                }
            }
            Range::Free => Ok(()),
        }
    }
}

/// The open editor.
#[derive(Clone, Debug, PartialEq)]
pub struct Editor {
    pub target: Target,
    pub fields: Vec<Field>,
    pub index: usize,
    pub buffer: String,
    /// The buffer still holds the current value untouched: the first typed
    /// character replaces it, as in a spreadsheet cell, while Backspace or
    /// Enter keep it editable.
    pub fresh: bool,
    pub error: Option<String>,
}

impl Editor {
    /// `None` when the technique has no parameters to edit.
    pub fn for_technique(t: &TechniqueView) -> Option<Self> {
        let fields: Vec<Field> = t
            .params
            .iter()
            .map(|p| Field {
                name: p.name.clone(),
                current: p.value.clone(),
                range: p.range.clone(),
                help: p.help.clone(),
            })
            .collect();
        (!fields.is_empty()).then(|| Self::with(Target::Technique(t.name.clone()), fields))
    }

    pub fn for_learning_rate(current: Option<f32>) -> Self {
        let field = Field {
            name: "learning rate".into(),
            current: current.map(|v| v.to_string()).unwrap_or_default(),
            range: "> 0".into(),
            help: "applies from the next batch".into(),
        };
        Self::with(Target::LearningRate, vec![field])
    }

    fn with(target: Target, fields: Vec<Field>) -> Self {
        let buffer = fields[0].current.clone();
        Self { target, fields, index: 0, buffer, fresh: true, error: None }
    }

    pub fn title(&self) -> String {
        match &self.target {
            Target::Technique(name) => format!("edit {name}"),
            Target::LearningRate => "set learning rate".into(),
        }
    }

    pub fn field(&self) -> &Field {
        &self.fields[self.index]
    }

    fn range(&self) -> Range {
        match self.target {
            Target::LearningRate => Range::Positive,
            Target::Technique(_) => Range::parse(&self.field().range),
        }
    }

    /// Moves to another field (wrapping), dropping what was typed.
    pub fn select(&mut self, delta: isize) {
        let n = self.fields.len() as isize;
        self.index = (self.index as isize + delta).rem_euclid(n) as usize;
        self.buffer = self.field().current.clone();
        self.fresh = true;
        self.error = None;
    }

    pub fn type_char(&mut self, c: char) {
        if self.fresh {
            self.buffer.clear();
            self.fresh = false;
        }
        self.buffer.push(c);
        self.error = None;
    }

    pub fn backspace(&mut self) {
        self.fresh = false;
        self.buffer.pop();
        self.error = None;
    }

    pub fn clear(&mut self) {
        self.fresh = false;
        self.buffer.clear();
        self.error = None;
    }

    /// The command for the typed value, or `None` with `error` set.
    pub fn submit(&mut self) -> Option<RunCommand> {
        let value = self.buffer.trim().to_string();
        if let Err(e) = self.range().check(&value) {
            self.error = Some(e);
            return None;
        }
        match &self.target {
            Target::LearningRate => match value.parse::<f32>() {
                Ok(lr) if lr.is_finite() && lr > 0.0 => Some(RunCommand::SetLearningRate { lr }),
                _ => {
                    self.error = Some("out of f32 range".into());
                    None
                }
            },
            Target::Technique(name) => {
                Some(RunCommand::SetParam { technique: name.clone(), param: self.field().name.clone(), value })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ParamView, ToggleClass};

    fn dropout() -> TechniqueView {
        TechniqueView {
            name: "dropout".into(),
            enabled: true,
            class: ToggleClass::Live,
            params: vec![
                ParamView {
                    name: "rate".into(),
                    value: "0.5".into(),
                    range: "0 ..= 0.95".into(),
                    help: "share of units dropped".into(),
                },
                ParamView {
                    name: "mode".into(),
                    value: "inverted".into(),
                    range: "inverted | plain".into(),
                    help: String::new(),
                },
            ],
            status: String::new(),
        }
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(Range::parse("0 ..= 0.95"), Range::Numeric { lo: 0.0, hi: 0.95, inclusive: true });
        assert!(matches!(Range::parse("0 .. 1"), Range::Numeric { inclusive: false, .. }));
        assert_eq!(Range::parse("norm | value"), Range::Choices(vec!["norm".into(), "value".into()]));
        assert_eq!(Range::parse("[layer, ...] (empty: default)"), Range::Free);
    }

    #[test]
    fn checks_values() {
        let r = Range::parse("0 ..= 0.95");
        assert!(r.check("0.95").is_ok());
        assert!(r.check("0.96").is_err());
        assert!(r.check("-0.1").is_err());
        assert!(r.check("abc").is_err());
        assert!(r.check("NaN").is_err());
        assert!(r.check("").is_err());
        let ex = Range::parse("0 .. 1");
        assert!(ex.check("1").is_err());
        let b = Range::parse("true | false");
        assert!(b.check("on").is_ok());
        assert!(b.check("yes").is_err());
        assert!(Range::Free.check("").is_ok());
        let c = Range::parse("norm | value");
        assert!(c.check("value").is_ok());
        assert!(c.check("other").is_err());
    }

    #[test]
    fn typing_replaces_then_appends() {
        let mut e = Editor::for_technique(&dropout()).unwrap();
        assert_eq!(e.buffer, "0.5");
        for c in "0.3".chars() {
            e.type_char(c);
        }
        assert_eq!(e.buffer, "0.3");
        assert_eq!(
            e.submit(),
            Some(RunCommand::SetParam { technique: "dropout".into(), param: "rate".into(), value: "0.3".into() })
        );
    }

    #[test]
    fn out_of_range_sets_error() {
        let mut e = Editor::for_technique(&dropout()).unwrap();
        e.type_char('2');
        assert_eq!(e.submit(), None);
        assert!(e.error.as_deref().unwrap().contains("outside"));
        e.select(1);
        assert_eq!(e.field().name, "mode");
        assert_eq!(e.error, None);
        e.select(1);
        assert_eq!(e.field().name, "rate");
    }

    #[test]
    fn learning_rate_must_be_positive() {
        let mut e = Editor::for_learning_rate(Some(0.01));
        e.type_char('0');
        assert_eq!(e.submit(), None);
        e.clear();
        for c in "0.003".chars() {
            e.type_char(c);
        }
        assert_eq!(e.submit(), Some(RunCommand::SetLearningRate { lr: 0.003 }));
    }
}
