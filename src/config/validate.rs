//! Checks that serde cannot express (ranges, non-zero widths, files that
//! must exist), defaults that depend on other settings, and resolution of
//! relative paths. Each problem is reported at the key that causes it.

use super::blame::Blame;
use super::error::{ConfigError, Reporter};
use super::limits::{self, safe_run_name};
use super::schema::{DataSection, OptimizerSection, RawConfig, RawData, RawOptimizer, RunSection, TechniqueConfig};
use super::source::ConfigSource;
use super::RunConfig;
use crate::data::{DataSource, SyntheticKind};

pub(crate) fn finish(raw: RawConfig, source: ConfigSource, r: &Reporter) -> Result<RunConfig, ConfigError> {
    let run = raw.run;
    safe_run_name(&run.name).map_err(|m| r.error("run.name", m))?;
    in_range(r, "run.epochs", run.epochs, limits::MAX_EPOCHS)?;
    in_range(r, "run.batch_size", run.batch_size, limits::MAX_BATCH)?;
    in_range(r, "run.log_every", run.log_every, limits::MAX_LOG_EVERY)?;
    if !(run.checkpoint_secs.is_finite() && (0.0..=limits::MAX_CHECKPOINT_SECS).contains(&run.checkpoint_secs)) {
        let message =
            format!("must be between 0 and {} seconds, got {}", limits::MAX_CHECKPOINT_SECS, run.checkpoint_secs);
        return Err(r.error("run.checkpoint_secs", message));
    }
    if !limits::fits_f32(run.checkpoint_secs) {
        let message = format!(
            "must be 0 or between {} and {} seconds, got {}",
            limits::F32_SMALLEST_TEXT,
            limits::MAX_CHECKPOINT_SECS,
            limits::shown(run.checkpoint_secs)
        );
        return Err(r.error("run.checkpoint_secs", message));
    }
    if run.hint.contains(['\n', '\r']) {
        return Err(r.error("run.hint", "must be one line"));
    }
    divergence(&run, r)?;

    let data = data(raw.data, &source, r)?;

    if raw.model.hidden.len() > limits::MAX_LAYERS {
        return Err(r.error(
            "model.hidden",
            format!("{} hidden layers, at most {} allowed", raw.model.hidden.len(), limits::MAX_LAYERS),
        ));
    }
    for (i, &width) in raw.model.hidden.iter().enumerate() {
        if width == 0 {
            return Err(r.error(&format!("model.hidden[{i}]"), "width must be at least 1, got 0"));
        }
        if width > limits::MAX_WIDTH {
            return Err(r.error(
                &format!("model.hidden[{i}]"),
                format!("width {width} is above the limit of {}", limits::MAX_WIDTH),
            ));
        }
    }

    let optimizer = optimizer(raw.optimizer, r)?;

    let techniques = raw
        .techniques
        .into_iter()
        .enumerate()
        .map(|(i, table)| technique(i, table, r))
        .collect::<Result<Vec<_>, _>>()?;

    let mut plugins = raw.plugins;
    plugins.dirs = plugins.dirs.iter().map(|d| source.resolve(d)).collect();

    Ok(RunConfig {
        run,
        data,
        model: raw.model,
        optimizer,
        techniques,
        plugins,
        sweep: raw.sweep,
        notify_command: raw.notify.command,
        source,
        blame: Blame::of(r),
    })
}

/// The divergence rule's settings (`crate::train::divergence`).
fn divergence(run: &RunSection, r: &Reporter) -> Result<(), ConfigError> {
    let factor = run.divergence_factor;
    if !(factor > 1.0 && factor <= limits::MAX_DIVERGENCE_FACTOR) {
        let message = format!("must be above 1 and at most {:e}, got {factor}", limits::MAX_DIVERGENCE_FACTOR);
        return Err(r.error("run.divergence_factor", message));
    }
    if run.divergence_warmup > limits::MAX_LOG_EVERY {
        let message = format!("must be at most {}, got {}", limits::MAX_LOG_EVERY, run.divergence_warmup);
        return Err(r.error("run.divergence_warmup", message));
    }
    in_range(r, "run.snapshot_every", run.snapshot_every, limits::MAX_LOG_EVERY)?;
    if run.max_rollbacks > limits::MAX_ROLLBACKS {
        let message = format!("must be at most {}, got {}", limits::MAX_ROLLBACKS, run.max_rollbacks);
        return Err(r.error("run.max_rollbacks", message));
    }
    Ok(())
}

/// `1 <= value <= max`.
fn in_range(r: &Reporter, path: &str, value: usize, max: usize) -> Result<(), ConfigError> {
    if value == 0 {
        return Err(r.error(path, "must be at least 1, got 0"));
    }
    if value > max {
        return Err(r.error(path, format!("must be at most {max}, got {value}")));
    }
    Ok(())
}

/// `0 <= value < 1`, and an f32 ([`limits::fits_f32`]); NaN is outside
/// every range, so it fails too.
fn in_unit_range(r: &Reporter, path: &str, value: f64) -> Result<(), ConfigError> {
    if !(0.0..1.0).contains(&value) {
        return Err(r.error(path, format!("must be in [0, 1), got {value}")));
    }
    if !limits::fits_f32(value) {
        let message = format!(
            "must be in [0, 1), and 0 or at least {} (the smallest normal f32), got {}",
            limits::F32_SMALLEST_TEXT,
            limits::shown(value)
        );
        return Err(r.error(path, message));
    }
    Ok(())
}

/// Above 0, and an f32 ([`limits::fits_f32`]).
fn positive(r: &Reporter, path: &str, value: f64) -> Result<(), ConfigError> {
    // NaN is not greater than 0 either.
    if value.is_nan() || value <= 0.0 {
        return Err(r.error(path, format!("must be greater than 0, got {value}")));
    }
    if !limits::fits_f32(value) {
        let message = format!(
            "must be between {} and {} (f32's positive normal range), got {}",
            limits::F32_SMALLEST_TEXT,
            limits::F32_LARGEST_TEXT,
            limits::shown(value)
        );
        return Err(r.error(path, message));
    }
    Ok(())
}

/// What a float outside f32's range is told, where 0 and both signs are fine.
fn not_f32(value: f64) -> String {
    format!(
        "must be 0 or of a magnitude between {} and {} (f32's normal range), got {}",
        limits::F32_SMALLEST_TEXT,
        limits::F32_LARGEST_TEXT,
        limits::shown(value)
    )
}

/// The first float in `value` (a number, or one inside a list or table)
/// that f32 cannot hold.
fn unfit_float(value: &toml::Value) -> Option<f64> {
    match value {
        toml::Value::Float(f) => Some(*f).filter(|f| !limits::fits_f32(*f)),
        toml::Value::Array(items) => items.iter().find_map(unfit_float),
        toml::Value::Table(table) => table.values().find_map(unfit_float),
        _ => None,
    }
}

fn data(raw: RawData, source: &ConfigSource, r: &Reporter) -> Result<DataSection, ConfigError> {
    let text = raw.path.ok_or_else(|| {
        r.error("data.path", "missing; expected a CSV file, idx:IMAGES_FILE,LABELS_FILE or synthetic:NAME")
    })?;
    let parsed = DataSource::parse(&text, |p| source.resolve(p)).map_err(|m| r.error("data.path", m))?;
    for file in parsed.files() {
        if !file.exists() {
            return Err(r.error("data.path", format!("file not found: {}", file.display())));
        }
        if !file.is_file() {
            return Err(r.error("data.path", format!("not a file: {}", file.display())));
        }
    }
    let synthetic = match parsed {
        DataSource::Synthetic(kind) => Some(kind),
        _ => None,
    };
    let task = match (raw.task, synthetic) {
        (Some(task), Some(kind)) if task != kind.task() => {
            return Err(r.error(
                "data.task",
                format!("synthetic:{} is a {} data set, got \"{}\"", kind.name(), kind.task().name(), task.name()),
            ))
        }
        (Some(task), _) => task,
        (None, kind) => RawData::default_task(kind),
    };
    if synthetic.is_none() && raw.target.trim().is_empty() {
        return Err(r.error("data.target", "must name a column"));
    }
    categorical(r, &raw.categorical, &parsed)?;
    in_unit_range(r, "data.validation", raw.validation)?;
    in_range(r, "data.samples", raw.samples, limits::MAX_SAMPLES)?;
    in_range(r, "data.features", raw.features, limits::MAX_FEATURES)?;
    if synthetic.is_some_and(|k| k != SyntheticKind::Sine) && raw.classes < 2 {
        return Err(r.error("data.classes", format!("must be at least 2, got {}", raw.classes)));
    }
    if raw.classes > limits::MAX_CLASSES {
        return Err(r.error("data.classes", format!("must be at most {}, got {}", limits::MAX_CLASSES, raw.classes)));
    }
    if !(raw.noise >= 0.0 && raw.noise.is_finite()) {
        return Err(r.error("data.noise", format!("must be 0 or more, got {}", raw.noise)));
    }
    if !limits::fits_f32(raw.noise) {
        let message = format!(
            "must be 0 or between {} and {} (f32's normal range), got {}",
            limits::F32_SMALLEST_TEXT,
            limits::F32_LARGEST_TEXT,
            limits::shown(raw.noise)
        );
        return Err(r.error("data.noise", message));
    }
    Ok(DataSection {
        path: parsed.to_string(),
        target: raw.target,
        task,
        categorical: raw.categorical,
        validation: raw.validation,
        samples: raw.samples,
        features: raw.features,
        classes: raw.classes,
        noise: raw.noise,
    })
}

/// Column names can only be checked against the file when it is read; here
/// only what is wrong whatever the file holds.
fn categorical(r: &Reporter, columns: &[String], source: &DataSource) -> Result<(), ConfigError> {
    if !columns.is_empty() && !matches!(source, DataSource::Csv(_)) {
        return Err(r.error("data.categorical", "only a CSV file has named columns to one-hot encode"));
    }
    for (i, column) in columns.iter().enumerate() {
        if column.trim().is_empty() {
            return Err(r.error(&format!("data.categorical[{i}]"), "must name a column"));
        }
        if columns[..i].contains(column) {
            return Err(r.error(&format!("data.categorical[{i}]"), format!("\"{column}\" is listed twice")));
        }
    }
    Ok(())
}

fn optimizer(raw: RawOptimizer, r: &Reporter) -> Result<OptimizerSection, ConfigError> {
    let lr = raw.lr.unwrap_or_else(|| raw.kind.default_lr());
    positive(r, "optimizer.lr", lr)?;
    in_unit_range(r, "optimizer.momentum", raw.momentum)?;
    in_unit_range(r, "optimizer.beta1", raw.beta1)?;
    in_unit_range(r, "optimizer.beta2", raw.beta2)?;
    positive(r, "optimizer.eps", raw.eps)?;
    Ok(OptimizerSection {
        kind: raw.kind,
        lr,
        momentum: raw.momentum,
        beta1: raw.beta1,
        beta2: raw.beta2,
        eps: raw.eps,
    })
}

fn technique(i: usize, mut params: toml::Table, r: &Reporter) -> Result<TechniqueConfig, ConfigError> {
    let at = format!("technique[{i}]");
    let name = match params.remove("name") {
        Some(toml::Value::String(name)) if !name.trim().is_empty() => name,
        Some(toml::Value::String(_)) => return Err(r.error(&format!("{at}.name"), "must not be empty")),
        Some(other) => {
            return Err(r.error(&format!("{at}.name"), format!("expected a string, got {}", other.type_str())))
        }
        None => return Err(r.error(&format!("{at}.name"), "missing; every [[technique]] needs a name")),
    };
    let enabled = match params.remove("enabled") {
        None => true,
        Some(toml::Value::Boolean(b)) => b,
        Some(other) => {
            return Err(r.error(&format!("{at}.enabled"), format!("expected true or false, got {}", other.type_str())))
        }
    };
    // A technique reads its parameters as f32 (the plugin ABI's floats).
    for (key, value) in &params {
        if let Some(bad) = unfit_float(value) {
            return Err(r.error(&format!("{at}.{key}"), not_f32(bad)));
        }
    }
    Ok(TechniqueConfig { name, enabled, params, location: r.location_of(&at) })
}

#[cfg(test)]
mod tests {
    use crate::config::{ConfigSource, RunConfig};

    fn err(text: &str) -> String {
        RunConfig::from_str(text, ConfigSource::embedded("/cfg"), &[]).unwrap_err().to_string()
    }

    /// Checks that `text` (given after a valid data section when it does not
    /// have one) fails with exactly `want`.
    fn check(text: &str, want: &str) {
        let doc = if text.contains("[data]") {
            text.to_string()
        } else {
            format!("[data]\npath = \"synthetic:xor\"\n{text}")
        };
        assert_eq!(err(&doc), want, "for\n{doc}");
    }

    #[test]
    fn run_section() {
        check(
            "[run]\nname = \" \"\n",
            "<embedded>:4:8: run.name: ' ' is not allowed: use letters, digits, '.', '_' and '-' (the name becomes a folder name)",
        );
        check(
            "[run]\nname = \"../../../tmp/x\"\n",
            "<embedded>:4:8: run.name: '/' is not allowed: use letters, digits, '.', '_' and '-' (the name becomes a folder name)",
        );
        check(
            &format!("[run]\nname = \"{}\"\n", "a".repeat(300)),
            "<embedded>:4:8: run.name: is 300 bytes long, at most 200 allowed",
        );
        check("[run]\nname = \"\"\n", "<embedded>:4:8: run.name: must not be empty");
        check(
            "[run]\nepochs = 2000000000\n",
            "<embedded>:4:10: run.epochs: must be at most 1000000000, got 2000000000",
        );
        check(
            "[run]\nbatch_size = 9223372036854775807\n",
            "<embedded>:4:14: run.batch_size: must be at most 16777216, got 9223372036854775807",
        );
        check("[run]\nepochs = 0\n", "<embedded>:4:10: run.epochs: must be at least 1, got 0");
        check("[run]\nbatch_size = 0\n", "<embedded>:4:14: run.batch_size: must be at least 1, got 0");
        check("[run]\nlog_every = 0\n", "<embedded>:4:13: run.log_every: must be at least 1, got 0");
        check("[run]\nhint = \"a\\nb\"\n", "<embedded>:4:8: run.hint: must be one line");
    }

    #[test]
    fn data_path() {
        check(
            "[run]\nepochs = 1\n[data]\n",
            "<embedded>:3:1: data.path: missing; expected a CSV file, idx:IMAGES_FILE,LABELS_FILE or synthetic:NAME",
        );
        assert_eq!(
            err(""),
            "<embedded>: data.path: missing; expected a CSV file, idx:IMAGES_FILE,LABELS_FILE or synthetic:NAME"
        );
        check(
            "[data]\npath = \"synthetic:moons\"\n",
            "<embedded>:2:8: data.path: unknown synthetic data set \"moons\", expected one of synthetic:spirals, synthetic:blobs, synthetic:xor, synthetic:sine",
        );
        check("[data]\npath = \"../data/none.csv\"\n", "<embedded>:2:8: data.path: file not found: /data/none.csv");
        check("[data]\npath = \"/\"\n", "<embedded>:2:8: data.path: not a file: /");
        check(
            "[data]\npath = \"idx:a\"\n",
            "<embedded>:2:8: data.path: expected idx:IMAGES_FILE,LABELS_FILE, got \"idx:a\"",
        );
        check("[data]\npath = \"idx:/no/img,/no/lbl\"\n", "<embedded>:2:8: data.path: file not found: /no/img");
    }

    #[test]
    fn data_ranges() {
        check(
            "[data]\npath = \"synthetic:sine\"\ntask = \"classification\"\n",
            "<embedded>:3:8: data.task: synthetic:sine is a regression data set, got \"classification\"",
        );
        check(
            "[data]\npath = \"synthetic:xor\"\ntask = \"regression\"\n",
            "<embedded>:3:8: data.task: synthetic:xor is a classification data set, got \"regression\"",
        );
        for (value, shown) in [("1.5", "1.5"), ("1", "1"), ("-0.1", "-0.1"), ("nan", "NaN")] {
            check(
                &format!("[data]\npath = \"synthetic:xor\"\nvalidation = {value}\n"),
                &format!("<embedded>:3:14: data.validation: must be in [0, 1), got {shown}"),
            );
        }
        check(
            "[data]\npath = \"synthetic:xor\"\nsamples = 0\n",
            "<embedded>:3:11: data.samples: must be at least 1, got 0",
        );
        check(
            "[data]\npath = \"synthetic:blobs\"\nclasses = 1\n",
            "<embedded>:3:11: data.classes: must be at least 2, got 1",
        );
        check(
            "[data]\npath = \"synthetic:xor\"\ncategorical = [\"x0\"]\n",
            "<embedded>:3:15: data.categorical: only a CSV file has named columns to one-hot encode",
        );
        check(
            "[data]\npath = \"synthetic:xor\"\nnoise = -1\n",
            "<embedded>:3:9: data.noise: must be 0 or more, got -1",
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.csv"), "a,label\n1,0\n").unwrap();
        let e =
            RunConfig::from_str("[data]\npath = \"x.csv\"\ntarget = \"\"\n", ConfigSource::embedded(dir.path()), &[])
                .unwrap_err();
        assert_eq!(e.to_string(), "<embedded>:3:10: data.target: must name a column");
    }

    #[test]
    fn model_widths() {
        check("[model]\nhidden = [64, 0]\n", "<embedded>:4:15: model.hidden[1]: width must be at least 1, got 0");
        check(
            "[model]\nhidden = [9223372036854775807]\n",
            "<embedded>:4:11: model.hidden[0]: width 9223372036854775807 is above the limit of 16777216",
        );
        assert!(RunConfig::from_str(
            "[data]\npath = \"synthetic:xor\"\n[model]\nhidden = []\n",
            ConfigSource::embedded("/"),
            &[]
        )
        .is_ok());
    }

    #[test]
    fn optimizer_ranges() {
        check("[optimizer]\nlr = 0\n", "<embedded>:4:6: optimizer.lr: must be greater than 0, got 0");
        check("[optimizer]\nlr = -0.1\n", "<embedded>:4:6: optimizer.lr: must be greater than 0, got -0.1");
        check("[optimizer]\nmomentum = 1.0\n", "<embedded>:4:12: optimizer.momentum: must be in [0, 1), got 1");
        check("[optimizer]\nbeta1 = -1\n", "<embedded>:4:9: optimizer.beta1: must be in [0, 1), got -1");
        check("[optimizer]\nbeta2 = 1\n", "<embedded>:4:9: optimizer.beta2: must be in [0, 1), got 1");
        check("[optimizer]\neps = 0\n", "<embedded>:4:7: optimizer.eps: must be greater than 0, got 0");
    }

    /// Every float a config sets is trained with as an f32: a value f32
    /// cannot hold (1e39 is inf, 1e-50 is 0) is refused at its key.
    #[test]
    fn floats_must_fit_f32() {
        const POSITIVE: &str = "must be between 1.1754944e-38 and 3.4028235e38 (f32's positive normal range)";
        check("[optimizer]\nlr = 1e39\n", &format!("<embedded>:4:6: optimizer.lr: {POSITIVE}, got 1e39"));
        check("[optimizer]\nlr = 1e-50\n", &format!("<embedded>:4:6: optimizer.lr: {POSITIVE}, got 1e-50"));
        check("[optimizer]\nlr = inf\n", &format!("<embedded>:4:6: optimizer.lr: {POSITIVE}, got inf"));
        check("[optimizer]\neps = 1e-45\n", &format!("<embedded>:4:7: optimizer.eps: {POSITIVE}, got 1e-45"));
        check(
            "[optimizer]\nmomentum = 1e-40\n",
            "<embedded>:4:12: optimizer.momentum: must be in [0, 1), and 0 or at least 1.1754944e-38 (the smallest normal f32), got 1e-40",
        );
        check(
            "[optimizer]\nbeta2 = 1e-300\n",
            "<embedded>:4:9: optimizer.beta2: must be in [0, 1), and 0 or at least 1.1754944e-38 (the smallest normal f32), got 1e-300",
        );
        check(
            "[data]\npath = \"synthetic:xor\"\nvalidation = 1e-39\n",
            "<embedded>:3:14: data.validation: must be in [0, 1), and 0 or at least 1.1754944e-38 (the smallest normal f32), got 1e-39",
        );
        check(
            "[data]\npath = \"synthetic:xor\"\nnoise = 1e39\n",
            "<embedded>:3:9: data.noise: must be 0 or between 1.1754944e-38 and 3.4028235e38 (f32's normal range), got 1e39",
        );
        check(
            "[run]\ncheckpoint_secs = 1e-320\n",
            "<embedded>:4:19: run.checkpoint_secs: must be 0 or between 1.1754944e-38 and 86400 seconds, got 1e-320",
        );
        // The edges themselves are fine, and so is 0 where 0 is allowed.
        for ok in ["lr = 1.1754944e-38", "lr = 3.4028235e38", "momentum = 0.0", "beta1 = 1.1754944e-38"] {
            let doc = format!("[data]\npath = \"synthetic:xor\"\n[optimizer]\n{ok}\n");
            assert!(RunConfig::from_str(&doc, ConfigSource::embedded("/cfg"), &[]).is_ok(), "{ok}");
        }
    }

    #[test]
    fn float_overrides_must_fit_f32() {
        let base = "[data]\npath = \"synthetic:xor\"\n[optimizer]\nlr = 0.01\n";
        let err = |set: &str| {
            RunConfig::from_str(base, ConfigSource::embedded("/cfg"), &[set.to_string()]).unwrap_err().to_string()
        };
        assert_eq!(
            err("optimizer.lr=1e39"),
            "--set optimizer.lr=1e39: optimizer.lr: must be between 1.1754944e-38 and 3.4028235e38 (f32's positive normal range), got 1e39"
        );
        assert_eq!(
            err("optimizer.lr=1e-50"),
            "--set optimizer.lr=1e-50: optimizer.lr: must be between 1.1754944e-38 and 3.4028235e38 (f32's positive normal range), got 1e-50"
        );
        // A technique's own floats reach it as f32 too.
        assert_eq!(
            err("technique.dropout.rate=1e39"),
            "--set technique.dropout.rate=1e39: technique[0].rate: must be 0 or of a magnitude between 1.1754944e-38 and 3.4028235e38 (f32's normal range), got 1e39"
        );
        let e = RunConfig::from_str(
            &format!("{base}[[technique]]\nname = \"l2\"\nlambda = 1e-60\n"),
            ConfigSource::embedded("/cfg"),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "<embedded>:7:10: technique[0].lambda: must be 0 or of a magnitude between 1.1754944e-38 and 3.4028235e38 (f32's normal range), got 1e-60"
        );
        assert_eq!(e.exit_code(), 2);
    }

    #[test]
    fn technique_entries() {
        check(
            "[[technique]]\nrate = 0.5\n",
            "<embedded>:3:1: technique[0].name: missing; every [[technique]] needs a name",
        );
        check("[[technique]]\nname = 3\n", "<embedded>:4:8: technique[0].name: expected a string, got integer");
        check("[[technique]]\nname = \"\"\n", "<embedded>:4:8: technique[0].name: must not be empty");
        check(
            "[[technique]]\nname = \"a\"\n[[technique]]\nname = \"b\"\nenabled = \"yes\"\n",
            "<embedded>:7:11: technique[1].enabled: expected true or false, got string",
        );
    }
}
