//! `traintop evaluate` and `traintop predict`: a trained run's model scored
//! on its own split (read and split again exactly as the run did) or on a
//! new CSV file with the run's columns.

use std::path::{Path, PathBuf};

use super::shared_args::TrustArgs;
use super::ExitError;
use crate::data::{load_csv_for_model, Dataset, Encoding, NewRows};
use crate::inspect::evaluation::{class_labels, evaluate as score_report};
use crate::inspect::{predictions, TrainedModel, Which};
use crate::train::prepare::datasets;

/// Which rows of the run's own data to score.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SplitChoice {
    #[default]
    Validation,
    Train,
}

/// Which checkpoint of a run to use.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum CheckpointArg {
    /// Where the run stopped.
    Last,
    /// The epoch with the lowest validation loss.
    Best,
}

impl From<CheckpointArg> for Which {
    fn from(c: CheckpointArg) -> Which {
        match c {
            CheckpointArg::Last => Which::Last,
            CheckpointArg::Best => Which::Best,
        }
    }
}

/// `traintop evaluate`'s arguments.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    run_dir: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// A labelled CSV file with the columns the run was trained on.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Which part of the run's own data to score (without --data).
    #[arg(long, value_enum, default_value_t = SplitChoice::Validation, conflicts_with = "data")]
    split: SplitChoice,
    #[arg(long, value_enum, default_value_t = CheckpointArg::Last)]
    checkpoint: CheckpointArg,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
}

impl EvaluateArgs {
    /// `traintop evaluate`.
    pub fn call(self) -> Result<(), ExitError> {
        let Self { run_dir: run, trust, data, split, checkpoint, json } = self;
        let (trust_plugins, checkpoint) = (trust.trust_plugins, checkpoint.into());
        evaluate(&EvaluateOptions { run, data, split, checkpoint, json, trust_plugins })
    }
}

/// `traintop predict`'s arguments.
#[derive(clap::Args, Debug)]
pub struct PredictArgs {
    run_dir: PathBuf,
    #[command(flatten)]
    trust: TrustArgs,
    /// CSV file with the columns the run was trained on (the target may be absent).
    #[arg(long, value_name = "FILE")]
    data: PathBuf,
    /// Where to write the predictions (`-` for standard output).
    #[arg(long, value_name = "FILE.csv")]
    out: PathBuf,
    #[arg(long, value_enum, default_value_t = CheckpointArg::Last)]
    checkpoint: CheckpointArg,
}

impl PredictArgs {
    /// `traintop predict`.
    pub fn call(self) -> Result<(), ExitError> {
        let Self { run_dir: run, trust, data, out, checkpoint } = self;
        let (trust_plugins, checkpoint) = (trust.trust_plugins, checkpoint.into());
        predict(&PredictOptions { run, data, out, checkpoint, trust_plugins })
    }
}

#[derive(Clone, Debug, Default)]
pub struct EvaluateOptions {
    pub run: PathBuf,
    /// A new labelled CSV file instead of the run's split.
    pub data: Option<PathBuf>,
    pub split: SplitChoice,
    pub checkpoint: Which,
    pub json: bool,
    /// Folders the user trusts to load the run's plugins from (`--trust-plugins`).
    pub trust_plugins: Vec<PathBuf>,
}

/// `traintop evaluate`.
pub fn evaluate(o: &EvaluateOptions) -> Result<(), ExitError> {
    let mut model = TrainedModel::open(&o.run, o.checkpoint, &o.trust_plugins).map_err(ExitError::input)?;
    let encoding = model.encoding().map_err(ExitError::input)?;
    let labels = class_labels(encoding.class_names(), model.classes());
    let (data, what) = match &o.data {
        Some(file) => (new_file(&model, &encoding, file, true)?.dataset, file.display().to_string()),
        None => own_split(&model, &encoding, o.split)?,
    };
    let report = score_report(&mut model, &data, what, labels).map_err(ExitError::input)?;
    if o.json {
        println!("{}", serde_json::to_string_pretty(&report).expect("report serializes"));
    } else {
        // Class names come from the data file: shown, never obeyed.
        print!("{}", crate::format::clean_lines(&report.to_text()));
    }
    Ok(())
}

/// A file for the model: the run's columns (any order), its categories.
fn new_file(model: &TrainedModel, encoding: &Encoding, file: &Path, need_target: bool) -> Result<NewRows, ExitError> {
    if encoding.target.is_empty() {
        return Err(ExitError::input(format!(
            "{}: the run was trained on {}, which has no named columns; --data takes runs trained on a CSV file",
            model.dir.display(),
            model.config.data.path
        )));
    }
    load_csv_for_model(file, encoding, model.classes(), need_target).map_err(|e| ExitError::input(e.to_string()))
}

/// The run's data read and split again with its seed, as the trainer did.
fn own_split(model: &TrainedModel, encoding: &Encoding, split: SplitChoice) -> Result<(Dataset, String), ExitError> {
    let (train, validation) = datasets(&model.config)?;
    if train.encoding != *encoding {
        return Err(ExitError::input(format!(
            "{}: its columns or categories are not the ones the run was trained on (was the file changed?)",
            model.config.data.path
        )));
    }
    match split {
        SplitChoice::Train => Ok((train, format!("training split of {}", model.config.data.path))),
        SplitChoice::Validation if validation.is_empty() => Err(ExitError::input(format!(
            "{}: the run holds out no validation rows (data.validation = {}); use --split train or --data FILE",
            model.dir.display(),
            model.config.data.validation
        ))),
        SplitChoice::Validation => Ok((validation, format!("validation split of {}", model.config.data.path))),
    }
}

#[derive(Clone, Debug, Default)]
pub struct PredictOptions {
    pub run: PathBuf,
    pub data: PathBuf,
    /// `-` for standard output.
    pub out: PathBuf,
    pub checkpoint: Which,
    /// Folders the user trusts to load the run's plugins from (`--trust-plugins`).
    pub trust_plugins: Vec<PathBuf>,
}

/// `traintop predict`.
pub fn predict(o: &PredictOptions) -> Result<(), ExitError> {
    let mut model = TrainedModel::open(&o.run, o.checkpoint, &o.trust_plugins).map_err(ExitError::input)?;
    let encoding = model.encoding().map_err(ExitError::input)?;
    let rows = new_file(&model, &encoding, &o.data, false)?;
    let scored = model.score(&rows.dataset).map_err(ExitError::input)?;
    let labels = if model.classes() > 0 { class_labels(encoding.class_names(), model.classes()) } else { vec![] };
    let to_stdout = o.out.as_os_str() == "-";
    let written = if to_stdout {
        predictions::write_csv(std::io::stdout().lock(), &scored.outputs, &labels)
    } else {
        std::fs::File::create(&o.out)
            .map_err(csv::Error::from)
            .and_then(|f| predictions::write_csv(std::io::BufWriter::new(f), &scored.outputs, &labels))
    };
    written.map_err(|e| ExitError::input(format!("{}: cannot write: {e}", o.out.display())))?;
    if !to_stdout {
        let mut line = format!("wrote {} predictions to {}", rows.dataset.len(), o.out.display());
        if let (true, Some(acc)) = (rows.has_target, scored.stats.accuracy) {
            line.push_str(&format!(" (accuracy on the file's labels: {acc:.4})"));
        }
        eprintln!("{line}");
    }
    Ok(())
}
