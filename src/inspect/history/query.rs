//! Choosing and ordering past runs: `--filter TEXT` (in the run's name or
//! folder name, any case), `--where KEY=VALUE` (a value of the run's
//! config, keys as `--set` writes them: `technique.batch_norm.enabled=true`)
//! and `--sort COLUMN`.

use std::cmp::Ordering;
use std::str::FromStr;

use super::past_run::PastRun;

/// A column to sort by. Each sorts the way a reader looks for it: names,
/// folders and states alphabetically, the best figure best first, changes
/// most first, duration shortest first, start time oldest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    Name,
    Folder,
    Best,
    State,
    Changes,
    Duration,
    #[default]
    When,
}

const COLUMNS: &str = "name, folder, best, state, changes, duration, when";

impl FromStr for SortKey {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "name" => SortKey::Name,
            "folder" => SortKey::Folder,
            "best" => SortKey::Best,
            "state" | "reason" | "stop_reason" => SortKey::State,
            "changes" => SortKey::Changes,
            "duration" => SortKey::Duration,
            "when" | "started" => SortKey::When,
            _ => return Err(format!("no column `{s}` to sort by (expected one of: {COLUMNS})")),
        })
    }
}

/// What to list, in which order.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub filter: Option<String>,
    /// Config keys and the values they must have.
    pub wheres: Vec<(String, String)>,
    pub sort: SortKey,
    pub reverse: bool,
}

/// `KEY=VALUE` of `--where`.
pub fn parse_where(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), unquote(v.trim()).to_string())),
        _ => Err(format!("--where {s}: expected KEY=VALUE, e.g. technique.batch_norm.enabled=true")),
    }
}

/// `"tanh"` and `tanh` mean the same value (the config keeps strings bare).
fn unquote(v: &str) -> &str {
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

impl Query {
    /// The runs that match, in order.
    pub fn apply(&self, mut runs: Vec<PastRun>) -> Vec<PastRun> {
        runs.retain(|r| self.matches(r));
        runs.sort_by(|a, b| compare(self.sort, a, b));
        if self.reverse {
            runs.reverse();
        }
        runs
    }

    fn matches(&self, run: &PastRun) -> bool {
        let named = self.filter.as_ref().is_none_or(|text| {
            let text = text.to_lowercase();
            run.name.to_lowercase().contains(&text) || run.folder_name().to_lowercase().contains(&text)
        });
        named && self.wheres.iter().all(|(k, v)| run.config.get(k).is_some_and(|have| same_value(have, v)))
    }
}

/// A config value against what `--where` asked: the same text, or the
/// same number (`0.1` and `0.10`).
fn same_value(have: &str, want: &str) -> bool {
    have == want || matches!((have.parse::<f64>(), want.parse::<f64>()), (Ok(a), Ok(b)) if a == b)
}

fn compare(key: SortKey, a: &PastRun, b: &PastRun) -> Ordering {
    let by = match key {
        SortKey::Name => a.name.cmp(&b.name),
        SortKey::Folder => a.run_dir.cmp(&b.run_dir),
        SortKey::State => a.state.cmp(&b.state),
        SortKey::Changes => b.changes.cmp(&a.changes),
        SortKey::Duration => none_last(a.duration_secs, b.duration_secs, |x, y| x.total_cmp(y)),
        SortKey::When => none_last(a.started, b.started, |x, y| x.total_cmp(y)),
        SortKey::Best => none_last(a.best, b.best, |x, y| match (x.beats(y), y.beats(x)) {
            (true, _) => Ordering::Less,
            (_, true) => Ordering::Greater,
            _ => Ordering::Equal,
        }),
    };
    // Ties in start order, so a listing is the same every time.
    by.then_with(|| none_last(a.started, b.started, |x, y| x.total_cmp(y))).then_with(|| a.run_dir.cmp(&b.run_dir))
}

fn none_last<T>(a: Option<T>, b: Option<T>, f: impl Fn(&T, &T) -> Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => f(&x, &y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::super::figures::Figure;
    use super::*;
    use crate::protocol::ValMetric;

    fn run(name: &str, acc: Option<f64>, changes: usize, started: f64, bn: bool) -> PastRun {
        PastRun {
            name: name.into(),
            run_dir: format!("/runs/{name}-{started}").into(),
            state: "completed".into(),
            best: acc.map(|value| Figure { metric: ValMetric::ValAcc, value, epoch: 1 }),
            changes,
            started: Some(started),
            duration_secs: Some(10.0 - started),
            config: [
                ("technique.batch_norm.enabled".to_string(), bn.to_string()),
                ("optimizer.lr".into(), "0.1".into()),
            ]
            .into(),
            ..Default::default()
        }
    }

    fn names(runs: &[PastRun]) -> Vec<&str> {
        runs.iter().map(|r| r.name.as_str()).collect()
    }

    fn runs() -> Vec<PastRun> {
        vec![
            run("iris", Some(0.8), 0, 1.0, false),
            run("deep-bn", Some(0.95), 2, 2.0, true),
            run("wine", None, 1, 3.0, false),
        ]
    }

    #[test]
    fn filters_by_name_and_by_config_value() {
        let q = Query { filter: Some("IRI".into()), ..Default::default() };
        assert_eq!(names(&q.apply(runs())), ["iris"]);
        let q = Query { wheres: vec![parse_where("technique.batch_norm.enabled=true").unwrap()], ..Default::default() };
        assert_eq!(names(&q.apply(runs())), ["deep-bn"]);
        let q = Query { wheres: vec![parse_where("optimizer.lr=0.10").unwrap()], ..Default::default() };
        assert_eq!(q.apply(runs()).len(), 3, "numbers compare as numbers");
        let q = Query { wheres: vec![parse_where("model.activation=\"tanh\"").unwrap()], ..Default::default() };
        assert!(q.apply(runs()).is_empty(), "a key a run does not have does not match");
        assert!(parse_where("batch_norm").unwrap_err().contains("expected KEY=VALUE"));
    }

    #[test]
    fn sorts_each_column_the_way_it_is_read() {
        let sorted = |key: &str, reverse| {
            let q = Query { sort: key.parse().unwrap(), reverse, ..Default::default() };
            names(&q.apply(runs())).join(" ")
        };
        assert_eq!(sorted("when", false), "iris deep-bn wine");
        assert_eq!(sorted("best", false), "deep-bn iris wine", "best first, no figure last");
        assert_eq!(sorted("changes", false), "deep-bn wine iris");
        assert_eq!(sorted("name", true), "wine iris deep-bn");
        assert_eq!(sorted("duration", false), "wine deep-bn iris");
        assert!("size".parse::<SortKey>().unwrap_err().contains("expected one of: name"));
    }
}
