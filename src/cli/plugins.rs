//! `traintop plugins list` and `traintop plugins check PATH`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::ExitError;
use crate::format::clean;
use crate::plugin::check::{check_library, PointReport};
use crate::plugin::loader::{self, LoadedLibrary};

/// `traintop plugins`'s arguments: which of its two subcommands.
#[derive(clap::Args, Debug)]
pub struct PluginsArgs {
    #[command(subcommand)]
    command: PluginsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PluginsCommand {
    /// Show every plugin found, with its parameters.
    List {
        /// Also search this folder.
        #[arg(long = "dir", value_name = "DIR")]
        dirs: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Load a plugin file, check its descriptor, and gradient-check its graph
    /// fragment on random data (for plugin authors).
    Check {
        path: PathBuf,
        /// Set a parameter before checking: --set rate=0.2
        #[arg(long = "set", value_name = "PARAM=VALUE")]
        settings: Vec<String>,
        #[arg(long)]
        json: bool,
    },
}

impl PluginsArgs {
    /// `traintop plugins list` or `traintop plugins check`.
    pub fn call(self) -> Result<(), ExitError> {
        match self.command {
            PluginsCommand::List { dirs, json } => list(&dirs, json),
            PluginsCommand::Check { path, settings, json } => check(&path, &settings, json),
        }
    }
}

#[derive(Serialize)]
struct ParamJson {
    name: String,
    kind: String,
    default: String,
    range: String,
    structural: bool,
    help: String,
}

#[derive(Serialize)]
struct PluginJson {
    name: String,
    version: String,
    class: String,
    description: String,
    path: String,
    params: Vec<ParamJson>,
}

fn describe(lib: &LoadedLibrary) -> PluginJson {
    PluginJson {
        name: lib.name.clone(),
        version: lib.version.clone(),
        class: format!("{:?}", lib.class).to_lowercase(),
        description: lib.description.clone(),
        path: lib.path.display().to_string(),
        params: lib
            .params
            .iter()
            .map(|p| ParamJson {
                name: p.name.clone(),
                kind: format!("{:?}", p.kind).to_lowercase(),
                default: match p.kind {
                    traintop_plugin_abi::ParamKind::Choice => {
                        p.choices.get(p.default_value as usize).cloned().unwrap_or_default()
                    }
                    traintop_plugin_abi::ParamKind::Bool => (p.default_value != 0.0).to_string(),
                    traintop_plugin_abi::ParamKind::Layers => "[] (all hidden)".into(),
                    _ => p.default_value.to_string(),
                },
                range: p.range_text(),
                structural: p.structural,
                help: p.help.clone(),
            })
            .collect(),
    }
}

/// Lists the plugins found in the search path.
pub fn list(extra_dirs: &[PathBuf], json: bool) -> Result<(), ExitError> {
    let dirs = loader::search_dirs(extra_dirs);
    let (libs, errors) = loader::load_all(&loader::discover(&dirs));
    let described: Vec<PluginJson> = libs.iter().map(describe).collect();
    if json {
        let v = serde_json::json!({
            "searched": dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>(),
            "plugins": described,
            "refused": errors.iter().map(|e| e.to_string()).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).expect("serializes"));
    } else {
        if described.is_empty() {
            println!(
                "no plugins found; searched: {}",
                dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            );
            println!("build them with `cargo build --release` in the traintop folder");
        }
        for p in &described {
            // Names, descriptions and help come from the library: text from
            // outside the process, printed with its control characters escaped.
            println!("{}", clean(&format!("{} {} ({}): {}", p.name, p.version, p.class, p.description)));
            for q in &p.params {
                let line = format!(
                    "    {:<18} {:<7} default {:<16} range {:<28} {}",
                    q.name, q.kind, q.default, q.range, q.help
                );
                println!("{}", clean(&line));
            }
        }
        for e in &errors {
            eprintln!("refused: {}", clean(&e.to_string()));
        }
    }
    Ok(())
}

/// Loads one plugin file and gradient-checks its fragment at every build point.
/// Exit 2 when the library is refused, 1 when a check fails.
pub fn check(path: &Path, settings: &[String], json: bool) -> Result<(), ExitError> {
    let lib = loader::load(path).map_err(|e| ExitError::input(e.to_string()))?;
    let info = describe(&lib);
    let pairs: Vec<(String, String)> = settings
        .iter()
        .map(|s| {
            s.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| ExitError::input(format!("--set {s}: expected PARAM=VALUE")))
        })
        .collect::<Result<_, _>>()?;
    let reports: Vec<PointReport> = check_library(lib, &pairs).map_err(ExitError::input)?;
    let ok = reports.iter().all(|r| r.passed);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "plugin": info, "points": reports, "passed": ok }))
                .expect("serializes")
        );
    } else {
        let head =
            format!("{} {} ({}): descriptor ok, {} parameters", info.name, info.version, info.class, info.params.len());
        println!("{}", clean(&head));
        for r in &reports {
            let verdict = if !r.used {
                "not used".to_string()
            } else if r.passed {
                "ok".to_string()
            } else {
                "FAILED".to_string()
            };
            println!(
                "  {:<11} {:<9} checked {:>3}  max |error| {:.2e}  {}",
                r.point, verdict, r.checked, r.max_abs_error, r.note
            );
        }
        println!("{}", if ok { "gradient check passed" } else { "gradient check FAILED" });
    }
    if ok {
        Ok(())
    } else {
        Err(ExitError { code: 1, message: format!("{}: gradient check failed", path.display()) })
    }
}
