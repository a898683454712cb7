//! `traintop view RUN_DIR`: one run folder in the dashboard. `traintop view
//! RUN_A RUN_B ...`: what differs between the runs' configs (read here, from
//! each folder's `config.toml`), handed to the dashboard's comparison screen
//! with the folders. `--export FILE` and `--csv FILE` write the run's charts
//! and series instead of opening a screen (for scripts and ssh).

use std::path::PathBuf;

use super::shared_args::ScreenArgs;
use super::ExitError;
use crate::inspect::diff::{varying_keys, RunFacts};
use crate::tui::{view_runs, DashboardOptions, RunToCompare, MAX_RUNS};

/// `traintop view`'s arguments.
#[derive(clap::Args, Debug)]
pub struct ViewArgs {
    #[arg(required = true, num_args = 1.., value_name = "RUN_DIR")]
    run_dirs: Vec<PathBuf>,
    /// Write the run's charts (loss, accuracy, gradient norms, confusion
    /// matrix) to FILE instead of opening the screen: FILE.svg or FILE.png.
    /// May be given several times.
    #[arg(long, value_name = "FILE")]
    export: Vec<PathBuf>,
    /// Write the run's series as CSV (a row per logged step, a column per
    /// figure) to FILE, or to RUN.csv in a folder. May be given several times.
    #[arg(long, value_name = "FILE")]
    csv: Vec<PathBuf>,
    /// The size of --export's pictures, WIDTHxHEIGHT in pixels.
    #[arg(long, value_name = "WxH", default_value = "1200x800")]
    size: String,
    #[command(flatten)]
    screen: ScreenArgs,
}

impl ViewArgs {
    /// `traintop view`: one folder's dashboard, or several compared.
    pub fn call(self) -> Result<(), ExitError> {
        if !self.export.is_empty() || !self.csv.is_empty() {
            return self.export();
        }
        view(self.run_dirs, self.screen)
    }

    /// `--export`/`--csv`: writes the files, says which, opens no screen.
    fn export(self) -> Result<(), ExitError> {
        let [dir] = self.run_dirs.as_slice() else {
            return Err(ExitError::input(format!(
                "--export and --csv take one run folder, got {}",
                self.run_dirs.len()
            )));
        };
        let size = crate::export::parse_size(&self.size).map_err(ExitError::input)?;
        let request = crate::export::ExportRequest { pictures: self.export, csv: self.csv, size };
        let written = crate::export::export(dir, &request).map_err(ExitError::input)?;
        for file in written {
            println!("wrote {}", file.display());
        }
        Ok(())
    }
}

/// One folder's dashboard, or several compared (also from `top`'s history).
pub fn view(mut run_dirs: Vec<PathBuf>, screen: ScreenArgs) -> Result<(), ExitError> {
    if run_dirs.len() != 1 {
        return compare(&run_dirs, screen.no_color, screen.mouse);
    }
    let run_dir = run_dirs.remove(0);
    let title = run_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ScreenArgs { no_color, mouse, refresh_ms } = screen;
    let options = DashboardOptions::new(title, refresh_ms, mouse, no_color);
    crate::tui::view_run(&run_dir, options).map_err(|e| ExitError::input(format!("{}: {e}", run_dir.display())))
}

/// The comparison screen over `dirs`.
pub fn compare(dirs: &[PathBuf], no_color: bool, mouse: bool) -> Result<(), ExitError> {
    if dirs.len() > MAX_RUNS {
        return Err(ExitError::input(format!("at most {MAX_RUNS} runs can be overlaid, got {}", dirs.len())));
    }
    let facts = dirs.iter().map(|d| RunFacts::read(d)).collect::<Result<Vec<_>, _>>().map_err(ExitError::input)?;
    let configs: Vec<_> = facts.iter().map(|f| &f.config).collect();
    let keys = varying_keys(&configs);
    let runs: Vec<RunToCompare> = dirs
        .iter()
        .zip(&facts)
        .map(|(dir, f)| RunToCompare {
            dir: dir.clone(),
            name: f.name.clone(),
            differences: keys
                .iter()
                .map(|k| {
                    let short = k.strip_prefix("technique.").unwrap_or(k);
                    format!("{short}={}", f.config.get(k).map_or("-", String::as_str))
                })
                .collect(),
        })
        .collect();
    view_runs(&runs, no_color, mouse).map_err(|e| ExitError::input(e.to_string()))
}
