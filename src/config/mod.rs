//! Run configuration: a TOML file describing one training run (data,
//! model, optimizer, techniques, plugins), plus `--set KEY=VALUE`
//! overrides, read into a checked [`RunConfig`] with every default filled
//! in. Errors point at the file, line, column and key at fault.
//!
//! Reading goes: parse TOML -> apply overrides to the table -> let serde
//! read the sections -> check ranges and files and resolve paths.

mod blame;
mod choice;
mod error;
pub(crate) mod limits;
mod notify;
mod overrides;
mod schema;
mod source;
mod spans;
mod sweep;
mod validate;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use crate::data::Task;
use crate::data::{io_reason, DataSource, DataSpec};
pub use blame::Blame;
pub use error::{ConfigError, Location, Origin};
pub use limits::{safe_run_name, MAX_WIDTH};
pub use notify::{user_config_file, user_notify_command, NotifySection};
pub use schema::FolderPlugins;
pub use schema::{
    Activation, DataSection, Device, ModelSection, OnDivergence, OptimizerKind, OptimizerSection, PluginsSection,
    RunSection, TechniqueConfig,
};
pub use source::{ConfigSource, EMBEDDED};
pub use sweep::{SlurmSection, SweepSection};

use error::Reporter;
use spans::{child, SpanMap};

/// A checked run description.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    pub run: RunSection,
    pub data: DataSection,
    pub model: ModelSection,
    pub optimizer: OptimizerSection,
    /// The `[[technique]]` entries, in file order, then any added by overrides.
    pub techniques: Vec<TechniqueConfig>,
    pub plugins: PluginsSection,
    /// `[sweep]`: read by `traintop sweep` only.
    pub sweep: Option<SweepSection>,
    /// `[notify] command` of the config given to `run` (never of a run
    /// folder's copy, which is not written either).
    pub notify_command: Option<String>,
    pub source: ConfigSource,
    /// Where each key was set (file line or `--set`), for errors found after
    /// reading, such as a model too large for the machine.
    pub blame: Blame,
}

impl RunConfig {
    /// Reads the config at `path` and applies `overrides` (`KEY=VALUE`).
    pub fn from_file(path: &Path, overrides: &[String]) -> Result<RunConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: io_reason(&e) })?;
        RunConfig::from_str(&text, ConfigSource::file(path), overrides)
    }

    /// Reads a run folder's `config.toml` (`path`) for a command that loads
    /// its plugins (resume, fork, evaluate, predict). A run folder may have
    /// come from anyone: its `[plugins] dirs` are set aside, and plugins come
    /// only from `trusted` (the user's `--trust-plugins`), then
    /// `TRAINTOP_PLUGIN_PATH` and the binary's folder. The techniques in
    /// `drop` are taken out of the config (`resume --drop-technique`); a name
    /// the config does not have is an error.
    pub fn from_run_folder(
        path: &Path,
        overrides: &[String],
        trusted: &[PathBuf],
        drop: &[String],
    ) -> Result<RunConfig, ConfigError> {
        let mut config = RunConfig::from_file(path, overrides)?;
        let trusted: Vec<PathBuf> =
            trusted.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())).collect();
        let declared = std::mem::replace(&mut config.plugins.dirs, trusted);
        let untrusted = declared.into_iter().filter(|d| !config.plugins.dirs.contains(d)).collect();
        for name in drop {
            if !config.techniques.iter().any(|t| &t.name == name) {
                let names: Vec<&str> = config.techniques.iter().map(|t| t.name.as_str()).collect();
                let has = if names.is_empty() { "none".to_string() } else { names.join(", ") };
                return Err(config.error_at(
                    "technique",
                    format!("--drop-technique {name}: the run has no technique `{name}` (it has: {has})"),
                ));
            }
        }
        config.techniques.retain(|t| !drop.contains(&t.name));
        config.plugins.folder = Some(FolderPlugins { untrusted, dropped: drop.to_vec() });
        // A folder's config names no command to run (see config/notify.rs).
        config.notify_command = None;
        Ok(config)
    }

    /// Reads config text; `source` names it in errors and anchors its
    /// relative paths.
    pub fn from_str(text: &str, source: ConfigSource, overrides: &[String]) -> Result<RunConfig, ConfigError> {
        let mut reporter =
            Reporter { file: source.display_name(), text, spans: SpanMap::default(), applied: Vec::new() };
        let mut table: toml::Table = toml::from_str(text)
            .map_err(|e| reporter.error_near("", e.span().map(|s| s.start), syntax_message(&e, text)))?;
        reporter.spans = SpanMap::parse(text);
        reporter.applied = overrides::apply(&mut table, overrides)?;

        // Re-render only when overrides changed the table, so that without
        // them serde's spans are the file's own.
        let rendered;
        let (de_text, de_spans) = if reporter.applied.is_empty() {
            (text, None)
        } else {
            rendered =
                toml::to_string(&table).map_err(|e| reporter.error("", format!("cannot apply overrides: {e}")))?;
            let spans = SpanMap::parse(&rendered);
            (rendered.as_str(), Some(spans))
        };
        let raw = toml::from_str(de_text).map_err(|e| {
            let spans = de_spans.as_ref().unwrap_or(&reporter.spans);
            serde_error(&e, spans, de_spans.is_none(), &reporter)
        })?;
        validate::finish(raw, source, &reporter)
    }

    /// An error about the key at `path` (`model.hidden`, `technique[1].layers`)
    /// found after the config was read, pointing at the line or `--set`
    /// that set it.
    pub fn error_at(&self, path: &str, message: impl Into<String>) -> ConfigError {
        self.blame.error(path, message)
    }

    /// The dotted path of the `[[technique]]` entry named `name`.
    pub fn technique_path(&self, name: &str) -> Option<String> {
        self.techniques.iter().position(|t| t.name == name).map(|i| format!("technique[{i}]"))
    }

    /// `p` made absolute against the config's folder.
    pub fn resolve_path(&self, p: &str) -> PathBuf {
        self.source.resolve(p)
    }

    /// What to hand to [`crate::data::load`]; the data seed is the run seed.
    pub fn data_spec(&self) -> DataSpec {
        // `data.path` was checked when the config was read; a path edited
        // since then that no longer parses is treated as a CSV file, whose
        // loader will say what is wrong with it.
        let source = DataSource::parse(&self.data.path, |p| self.resolve_path(p))
            .unwrap_or_else(|_| DataSource::Csv(self.resolve_path(&self.data.path)));
        DataSpec {
            source,
            target: self.data.target.clone(),
            task: self.data.task,
            categorical: self.data.categorical.clone(),
            samples: self.data.samples,
            features: self.data.features,
            classes: self.data.classes,
            noise: self.data.noise,
            seed: self.run.seed,
        }
    }

    /// The fully resolved config (defaults filled in, paths absolute), in a
    /// form [`RunConfig::from_str`] reads back to an equal config. Used to
    /// record what a run actually used.
    pub fn to_toml_string(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            run: &'a RunSection,
            data: &'a DataSection,
            model: &'a ModelSection,
            optimizer: &'a OptimizerSection,
            plugins: &'a PluginsSection,
            #[serde(rename = "technique")]
            techniques: &'a [TechniqueConfig],
        }
        let out = Out {
            run: &self.run,
            data: &self.data,
            model: &self.model,
            optimizer: &self.optimizer,
            plugins: &self.plugins,
            techniques: &self.techniques,
        };
        // Only values a config could not have been read with fail here
        // (a seed above i64::MAX, a non-UTF-8 path set by code); say so in
        // the file rather than panic while writing a run folder.
        toml::to_string(&out).unwrap_or_else(|e| format!("# cannot write this config as TOML: {e}\n"))
    }
}

/// A syntax error's message on one line. toml 1 says "duplicate key"
/// without naming it; the key is the text under the error's span.
fn syntax_message(e: &toml::de::Error, text: &str) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let key = e.span().and_then(|s| text.get(s)).map(str::trim).filter(|k| !k.is_empty());
    match key {
        Some(key) if message == "duplicate key" => format!("duplicate key `{key}`"),
        _ => message,
    }
}

/// Blames a serde error on a key: the innermost path under its span.
/// `own_text` says the spans are the file's, so a bare span is still a
/// usable location.
fn serde_error(e: &toml::de::Error, spans: &SpanMap, own_text: bool, r: &Reporter) -> ConfigError {
    let offset = e.span().map(|s| s.start);
    let mut path = offset.and_then(|o| spans.path_at(o)).unwrap_or("").to_string();
    let mut message = e.message().trim().to_string();
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.strip_suffix('`')) {
        // serde reports the table that lacks the key; name the key itself.
        path = child(&path, name);
        message = "missing required field".into();
    }
    if path == "technique" && message.contains("expected a sequence") {
        message.push_str("; write each technique as a [[technique]] table");
    }
    let fallback = offset.filter(|_| own_text);
    if message.starts_with("unknown field") {
        // The key is what is wrong, not its value.
        return r.key_error(&path, fallback, message);
    }
    r.error_near(&path, fallback, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, overrides: &[&str]) -> Result<RunConfig, ConfigError> {
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        RunConfig::from_str(text, ConfigSource::embedded("/cfg"), &overrides)
    }

    fn err(text: &str, overrides: &[&str]) -> String {
        parse(text, overrides).unwrap_err().to_string()
    }

    const SYN: &str = "[data]\npath = \"synthetic:spirals\"\n";

    #[test]
    fn a_duplicate_key_is_named_at_its_second_line() {
        let e = err("[data]\npath = \"synthetic:spirals\"\n[run]\nepochs = 3\nepochs = 4\n", &[]);
        assert_eq!(e, "<embedded>:5:1: duplicate key `epochs`");
    }

    #[test]
    fn minimal_config_gets_every_default() {
        let c = parse(SYN, &[]).unwrap();
        assert_eq!(c.run, RunSection::default());
        assert_eq!(c.run.name, "run");
        assert_eq!((c.run.seed, c.run.epochs, c.run.batch_size), (42, 10, 32));
        assert_eq!(c.run.device, Device::Cpu);
        assert_eq!(c.run.out_dir, Path::new("runs"));
        assert_eq!(c.run.log_every, 10);
        assert_eq!(c.data.path, "synthetic:spirals");
        assert_eq!(c.data.target, "label");
        assert_eq!(c.data.task, Task::Classification);
        assert_eq!(c.data.validation, 0.2);
        assert_eq!((c.data.samples, c.data.features, c.data.classes), (1000, 2, 3));
        assert_eq!(c.data.noise, 0.1);
        assert_eq!(c.model.hidden, vec![64, 64]);
        assert_eq!(c.model.activation, Activation::Relu);
        assert_eq!(c.optimizer.kind, OptimizerKind::Adam);
        assert_eq!(c.optimizer.lr, 0.001);
        assert_eq!(c.optimizer.momentum, 0.9);
        assert_eq!((c.optimizer.beta1, c.optimizer.beta2, c.optimizer.eps), (0.9, 0.999, 1e-8));
        assert!(c.techniques.is_empty());
        assert!(c.plugins.dirs.is_empty());
        assert_eq!(c.source.display_name(), "<embedded>");
    }

    const FULL: &str = r#"
[run]
name = "spiral-tanh"
seed = 7
epochs = 3
batch_size = 16
device = "cuda"
out_dir = "out"
log_every = 5

[data]
path = "synthetic:sine"
validation = 0.1
samples = 200
noise = 0.05

[model]
hidden = [32, 16, 8]
activation = "tansig"

[optimizer]
kind = "momentum"
momentum = 0.8

[[technique]]
name = "dropout"
rate = 0.25

[[technique]]
name = "clip"
enabled = false
max_norm = 1.0
schedule = { warmup = 3 }

[plugins]
dirs = ["plugins", "/opt/traintop"]
"#;

    #[test]
    fn full_config() {
        let c = parse(FULL, &[]).unwrap();
        assert_eq!(c.run.name, "spiral-tanh");
        assert_eq!((c.run.seed, c.run.epochs, c.run.batch_size, c.run.log_every), (7, 3, 16, 5));
        assert_eq!(c.run.device, Device::Cuda);
        assert_eq!(c.data.task, Task::Regression, "sine defaults to regression");
        assert_eq!(c.model.hidden, vec![32, 16, 8]);
        assert_eq!(c.model.activation, Activation::Tanh);
        assert_eq!(c.optimizer.kind, OptimizerKind::Momentum);
        assert_eq!(c.optimizer.lr, 0.01, "SGD-family default rate");
        assert_eq!(c.optimizer.momentum, 0.8);
        assert_eq!(c.techniques.len(), 2);
        let dropout = &c.techniques[0];
        assert_eq!((dropout.name.as_str(), dropout.enabled), ("dropout", true));
        assert_eq!(dropout.params.get("rate"), Some(&toml::Value::Float(0.25)));
        assert!(!dropout.params.contains_key("name"));
        assert_eq!(dropout.location.as_ref().map(ToString::to_string), Some("<embedded>:25:1".to_string()));
        let clip = &c.techniques[1];
        assert!(!clip.enabled);
        assert_eq!(clip.params["schedule"]["warmup"], toml::Value::Integer(3));
        assert_eq!(clip.location.as_ref().map(|l| l.line), Some(29));
        assert_eq!(c.plugins.dirs, vec![PathBuf::from("/cfg/plugins"), PathBuf::from("/opt/traintop")]);
    }

    #[test]
    fn round_trips_through_toml() {
        let c = parse(FULL, &["technique.ema.decay=0.99"]).unwrap();
        let text = c.to_toml_string();
        let back = RunConfig::from_str(&text, c.source.clone(), &[]).unwrap();
        assert_eq!(back, c, "{text}");
        // Written paths are absolute, so the copy reads the same anywhere.
        let moved = RunConfig::from_str(&text, ConfigSource::embedded("/elsewhere"), &[]).unwrap();
        assert_eq!(moved.plugins, c.plugins);
        assert!(text.contains("[[technique]]"), "{text}");

        let minimal = parse(SYN, &[]).unwrap();
        let back = RunConfig::from_str(&minimal.to_toml_string(), minimal.source.clone(), &[]).unwrap();
        assert_eq!(back, minimal);
    }

    #[test]
    fn round_trips_a_csv_config_read_from_disk() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("configs")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/x.csv"), "a,label\n1,0\n").unwrap();
        let file = dir.path().join("configs/x.toml");
        std::fs::write(&file, "[data]\npath = \"../data/x.csv\"\n[optimizer]\nlr = 1e-8\n").unwrap();
        let c = RunConfig::from_file(&file, &[]).unwrap();
        let csv = dir.path().join("data/x.csv");
        assert_eq!(c.data.path, csv.display().to_string());
        assert_eq!(c.data_spec().source, DataSource::Csv(csv));
        assert_eq!(c.resolve_path("a.txt"), dir.path().join("configs/a.txt"));
        let back = RunConfig::from_str(&c.to_toml_string(), c.source.clone(), &[]).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn data_spec_carries_the_run_seed() {
        let c = parse(FULL, &[]).unwrap();
        let spec = c.data_spec();
        assert_eq!(spec.source, DataSource::Synthetic(crate::data::SyntheticKind::Sine));
        assert_eq!(spec.seed, 7);
        assert_eq!((spec.samples, spec.task), (200, Task::Regression));
        assert_eq!(spec.noise, 0.05);
        let ds = crate::data::load(&spec).unwrap();
        assert_eq!(ds.len(), 200);
    }

    /// The repository root, whether this module is built in the main crate
    /// (where `file!()` is relative) or included by path from elsewhere.
    fn repo_root() -> PathBuf {
        let here = Path::new(file!());
        match here.ancestors().nth(3) {
            Some(root) if here.is_absolute() => root.to_path_buf(),
            _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
        }
    }

    #[test]
    fn bad_config_fixtures_fail_as_expected() {
        let dir = repo_root().join("tests/fixtures/bad_configs");
        let expected = std::fs::read_to_string(dir.join("EXPECTED.txt")).unwrap();
        let mut checked = 0;
        for line in expected.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
            let (file, want) = line.split_once(" => ").unwrap();
            let e = RunConfig::from_file(&dir.join(file), &[]).unwrap_err();
            assert!(e.to_string().contains(want), "{file}: {e}\nwanted: {want}");
            assert_eq!(e.exit_code(), 2);
            checked += 1;
        }
        let tomls = std::fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("toml".as_ref()))
            .count();
        assert_eq!(checked, tomls, "every fixture is listed in EXPECTED.txt");
        // With the fault overridden away, each points at the real data file.
        let fixed = RunConfig::from_file(&dir.join("zero_width.toml"), &["model.hidden=[64,1]".to_string()]).unwrap();
        assert_eq!(PathBuf::from(&fixed.data.path), repo_root().join("data/digits.csv"));
    }

    #[test]
    fn missing_file() {
        let e = RunConfig::from_file(Path::new("configs/nope.toml"), &[]).unwrap_err();
        assert_eq!(e.to_string(), "cannot read config configs/nope.toml: No such file or directory");
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = err("[data]\npath = \"synthetic:xor\"\nseed = \n", &[]);
        assert!(e.starts_with("<embedded>:3:8: "), "{e}");
        let e = err("[run\n", &[]);
        assert!(e.starts_with("<embedded>:1:5: "), "{e}");
    }

    #[test]
    fn unknown_keys_list_the_valid_ones() {
        let e = err("[run]\nepochs = 2\nepoch = 3\n[data]\npath = \"synthetic:xor\"\n", &[]);
        assert_eq!(
            e,
            "<embedded>:3:1: run.epoch: unknown field `epoch`, expected one of `name`, `seed`, `epochs`, `batch_size`, `device`, `out_dir`, `log_every`, `checkpoint_secs`, `hint`, `on_divergence`, `divergence_factor`, `divergence_warmup`, `snapshot_every`, `max_rollbacks`, `shared_group`"
        );
        let e = err("[data]\npath = \"synthetic:xor\"\n[modle]\nhidden = [1]\n", &[]);
        assert!(e.starts_with("<embedded>:3:2: modle: unknown field `modle`, expected one of `run`, `data`"), "{e}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let e = err("[run]\nepochs = \"ten\"\n", &[]);
        assert_eq!(e, "<embedded>:2:10: run.epochs: invalid type: string \"ten\", expected usize");
        let e = err(&format!("{SYN}[model]\nhidden = [64, \"x\"]\n"), &[]);
        assert!(e.starts_with("<embedded>:4:15: model.hidden[1]: invalid type: string \"x\""), "{e}");
        let e = err(&format!("{SYN}[model]\nhidden = [64, -1]\n"), &[]);
        assert!(e.starts_with("<embedded>:4:15: model.hidden[1]: invalid value: integer `-1`"), "{e}");
        let e = err(&format!("{SYN}[technique]\nname = \"x\"\n"), &[]);
        assert!(e.ends_with("write each technique as a [[technique]] table"), "{e}");
    }

    #[test]
    fn unknown_choices_list_the_valid_names() {
        let e = err(&format!("{SYN}[model]\nactivation = \"gelu\"\n"), &[]);
        assert_eq!(
            e,
            "<embedded>:4:14: model.activation: unknown activation \"gelu\", expected one of \"relu\", \"tanh\", \"sigmoid\", \"linear\" (or their aliases \"poslin\", \"tansig\", \"logsig\", \"purelin\")"
        );
        let e = err(&format!("{SYN}[optimizer]\nkind = \"rmsprop\"\n"), &[]);
        assert_eq!(
            e,
            "<embedded>:4:8: optimizer.kind: unknown optimizer \"rmsprop\", expected one of \"sgd\", \"momentum\", \"adam\""
        );
        let e = err("[run]\ndevice = \"tpu\"\n", &[]);
        assert!(e.starts_with("<embedded>:2:10: run.device: unknown device \"tpu\""), "{e}");
        let e = err("[data]\npath = \"synthetic:xor\"\ntask = \"ranking\"\n", &[]);
        assert!(e.starts_with("<embedded>:3:8: data.task: unknown task \"ranking\""), "{e}");
    }

    #[test]
    fn divergence_settings_are_checked_at_their_key() {
        let c = parse(&format!("[run]\non_divergence = \"rollback\"\nmax_rollbacks = 5\n{SYN}"), &[]).unwrap();
        assert_eq!((c.run.on_divergence, c.run.max_rollbacks), (Some(OnDivergence::Rollback), 5));
        assert_eq!(parse(SYN, &[]).unwrap().run.on_divergence, None, "unset: the launch decides");
        let e = err("[run]\non_divergence = \"retry\"\n", &[]);
        assert_eq!(
            e,
            "<embedded>:2:17: run.on_divergence: unknown on_divergence \"retry\", expected one of \"stop\", \"rollback\", \"pause\""
        );
        let e = err(&format!("[run]\ndivergence_factor = 1.0\n{SYN}"), &[]);
        assert_eq!(e, "<embedded>:2:21: run.divergence_factor: must be above 1 and at most 1e30, got 1");
        assert!(err(SYN, &["run.divergence_factor=nan"]).contains("must be above 1"));
        assert_eq!(
            err(SYN, &["run.snapshot_every=0"]),
            "--set run.snapshot_every=0: run.snapshot_every: must be at least 1, got 0"
        );
        assert_eq!(
            err(SYN, &["run.max_rollbacks=101"]),
            "--set run.max_rollbacks=101: run.max_rollbacks: must be at most 100, got 101"
        );
        assert!(err(SYN, &["run.divergence_warmup=-1"]).contains("run.divergence_warmup: invalid value"));
    }

    #[test]
    fn overrides_apply_before_checks() {
        let c = parse(
            SYN,
            &[
                "run.epochs=5",
                "optimizer.lr=0.01",
                "model.hidden=[32,32]",
                "run.device=cuda",
                "data.path=synthetic:xor",
                "technique.dropout.rate=0.3",
            ],
        )
        .unwrap();
        assert_eq!(c.run.epochs, 5);
        assert_eq!(c.optimizer.lr, 0.01);
        assert_eq!(c.model.hidden, vec![32, 32]);
        assert_eq!(c.run.device, Device::Cuda);
        assert_eq!(c.data.path, "synthetic:xor");
        assert_eq!(c.techniques.len(), 1);
        assert!(!c.techniques[0].enabled);
        assert_eq!(c.techniques[0].location, None);

        let text = "[data]\npath = \"synthetic:xor\"\n\n[[technique]]\nname = \"dropout\"\nrate = 0.5\n";
        let c = parse(text, &["technique.dropout.enabled=false"]).unwrap();
        assert!(!c.techniques[0].enabled);
        assert_eq!(c.techniques[0].params["rate"], toml::Value::Float(0.5));
        assert_eq!(c.techniques[0].location.as_ref().map(|l| l.line), Some(4));
    }

    #[test]
    fn override_errors_name_the_override() {
        assert_eq!(
            err(SYN, &["run.epochs=abc"]),
            "--set run.epochs=abc: run.epochs: invalid type: string \"abc\", expected usize"
        );
        assert_eq!(
            err(SYN, &["model.hidden=[32,0]"]),
            "--set model.hidden=[32,0]: model.hidden[1]: width must be at least 1, got 0"
        );
        assert_eq!(
            err(SYN, &["optimizer.lr=-1"]),
            "--set optimizer.lr=-1: optimizer.lr: must be greater than 0, got -1"
        );
        assert!(err(SYN, &["run.foo=1"]).starts_with("--set run.foo=1: run.foo: unknown field `foo`"));
        assert!(err(SYN, &["foo.bar=1"]).starts_with("--set foo.bar=1: foo: unknown field `foo`"));
        assert_eq!(
            err(SYN, &["data.path=missing.csv"]),
            "--set data.path=missing.csv: data.path: file not found: /cfg/missing.csv"
        );
        assert_eq!(err(SYN, &["oops"]), "--set oops: expected KEY=VALUE");
        // An error elsewhere in the file still points at the file.
        let e = err("[run]\nepochs = 0\n[data]\npath = \"synthetic:xor\"\n", &["optimizer.lr=0.1"]);
        assert_eq!(e, "<embedded>:2:10: run.epochs: must be at least 1, got 0");
        // The last override of a key is the one blamed.
        assert!(err(SYN, &["run.epochs=1", "run.epochs=0"]).starts_with("--set run.epochs=0: "));
    }
}
