//! The host side of the plugin ABI: finding and checking libraries (`loader`),
//! the function table plugins call (`api`), and the pipeline that runs them
//! (`host`).

pub mod api;
mod call_state;
pub mod check;
pub mod host;
pub mod loader;

use std::path::PathBuf;

pub use host::{PluginHost, SettingError};
pub use loader::{LoadError, LoadedLibrary};

use crate::config::RunConfig;

/// Why the techniques of a run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(
        "technique `{name}` is not installed: no libtraintop_plugin_{name} found in {}.\n\
         Build the plugins with `cargo build --release` in the traintop folder (they land next to the \
         traintop binary), or add their folder to [plugins] dirs or {}",
        .searched.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
        loader::PLUGIN_PATH_ENV
    )]
    Missing { name: String, searched: Vec<PathBuf> },
    #[error("{0}")]
    Refused(#[from] LoadError),
    #[error("{file}: {source}")]
    Setting { file: String, source: SettingError },
}

/// Loads every plugin found and configures the ones the config names.
/// Plugins the config does not name are loaded switched off, so the dashboard
/// can switch them on. Returns the host and warnings about refused libraries.
pub fn setup(config: &RunConfig) -> Result<(PluginHost, Vec<String>), SetupError> {
    let dirs = loader::search_dirs(&config.plugins.dirs);
    let files = loader::discover(&dirs);
    let (libs, errors) = loader::load_all(&files);
    let mut warnings = vec![];
    for e in errors {
        // A broken library the run asked for is fatal; others are warnings.
        let named = config.techniques.iter().any(|t| e.to_string().contains(&format!("traintop_plugin_{}", t.name)));
        if named || matches!(&e, LoadError::Duplicate { name, .. } if config.techniques.iter().any(|t| &t.name == name))
        {
            return Err(SetupError::Refused(e));
        }
        warnings.push(format!("warning: {e}"));
    }
    for t in &config.techniques {
        if !libs.iter().any(|l| l.name == t.name) {
            return Err(SetupError::Missing { name: t.name.clone(), searched: dirs.clone() });
        }
    }
    let order: Vec<String> = config.techniques.iter().map(|t| t.name.clone()).collect();
    let mut host = PluginHost::new(libs, &order, config.run.seed);
    let file = config.source.display_name();
    for t in &config.techniques {
        for (key, value) in &t.params {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            host.set_param(&t.name, key, &text).map_err(|source| SetupError::Setting {
                file: match &t.location {
                    Some(l) => l.to_string(),
                    None => file.clone(),
                },
                source,
            })?;
        }
        host.preset_enabled(&t.name, t.enabled);
    }
    Ok((host, warnings))
}
