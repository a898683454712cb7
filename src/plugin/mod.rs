//! The host side of the plugin ABI: finding and checking libraries (`loader`,
//! `descriptor`), the function table plugins call (`api`), parameters read
//! and set through the ABI (`param_calls`), the pipeline that runs them
//! (`host`), and which of their hooks is under way (`watch`).
//!
//! The plugin boundary: the five modules that load libraries, read what a
//! plugin hands over and call through the C ABI, and `watch` (which maps the
//! file a crashing plugin's supervisor reads), are the only ones in the crate
//! allowed `unsafe` (each block says why it is sound in `// SAFETY:`).

#[allow(unsafe_code)]
mod api;
mod call_state;
pub mod check;
#[allow(unsafe_code)]
pub mod descriptor;
mod events;
#[allow(unsafe_code)]
mod host;
#[allow(unsafe_code)]
pub mod loader;
mod mapped;
#[allow(unsafe_code)]
mod param_calls;
#[allow(unsafe_code)]
pub mod watch;

use std::path::PathBuf;

pub use events::PluginEvent;
pub use host::PluginHost;
pub use loader::{LoadError, LoadedLibrary};
pub use param_calls::{SettingError, SettingProblem};

use crate::config::{self, ConfigError, RunConfig};

/// Why the techniques of a run could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Refused(#[from] LoadError),
    /// A config entry at fault (unknown technique, bad setting), located.
    #[error("{0}")]
    Config(#[from] ConfigError),
}

/// Loads the techniques the config names, and the plugins in the binary's own
/// folders (switched off, so the dashboard can switch them on), and configures
/// them. Returns the host and warnings about refused libraries of the latter.
pub fn setup(config: &RunConfig) -> Result<(PluginHost, Vec<String>), SetupError> {
    let dirs = loader::search_dirs(&config.plugins.dirs);
    let files = loader::discover(&dirs);
    let mut libs = vec![];
    for (i, t) in config.techniques.iter().enumerate() {
        let file = loader::find(&files, &t.name).ok_or_else(|| unknown_technique(config, i, &files, &dirs))?;
        let lib = loader::load(&file)?;
        if lib.name != t.name {
            return Err(SetupError::Config(config.error_at(
                &technique_key(config, i, "name"),
                format!("{} declares technique `{}`, not `{}`", file.display(), lib.name, t.name),
            )));
        }
        for (key, value) in &t.params {
            check_layers(config, &lib, key, value).map_err(|m| config.error_at(&technique_key(config, i, key), m))?;
        }
        libs.push(lib);
    }
    let own = loader::own_dirs();
    let offered: Vec<PathBuf> = files
        .iter()
        .filter(|f| f.parent().is_some_and(|d| own.iter().any(|o| o == d)))
        .filter(|f| !config.techniques.iter().any(|t| loader::plugin_file_name(f).as_deref() == Some(&t.name)))
        .cloned()
        .collect();
    let (extra, errors) = loader::load_all(&offered);
    let mut warnings: Vec<String> = errors.iter().map(|e| format!("warning: {e}")).collect();
    for lib in extra {
        if let Some(first) = libs.iter().find(|l| l.name == lib.name) {
            let e =
                LoadError::Duplicate { name: lib.name.clone(), first: first.path.clone(), second: lib.path.clone() };
            warnings.push(format!("warning: {e}"));
        } else {
            libs.push(lib);
        }
    }
    let order: Vec<String> = config.techniques.iter().map(|t| t.name.clone()).collect();
    let mut host = PluginHost::new(libs, &order, config.run.seed);
    for (i, t) in config.techniques.iter().enumerate() {
        for (key, value) in &t.params {
            let at = technique_key(config, i, key);
            let text = match value {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            host.set_param(&t.name, key, &text).map_err(|e| config.error_at(&at, e.to_string()))?;
        }
        host.preset_enabled(&t.name, t.enabled);
    }
    Ok((host, warnings))
}

/// The key to blame for entry `i`: the key itself, except the name of an
/// entry an override made (no override wrote `name`; blaming the entry names
/// the `--set` that made it).
fn technique_key(config: &RunConfig, i: usize, key: &str) -> String {
    if key == "name" && config.techniques[i].location.is_none() {
        format!("technique[{i}]")
    } else {
        format!("technique[{i}].{key}")
    }
}

fn unknown_technique(config: &RunConfig, i: usize, files: &[PathBuf], dirs: &[PathBuf]) -> SetupError {
    let name = &config.techniques[i].name;
    let installed: Vec<String> = files.iter().filter_map(|f| loader::plugin_file_name(f)).collect();
    let hint = match suggest(name, &installed) {
        Some(s) => format!("; did you mean \"{s}\"?"),
        None => String::new(),
    };
    let searched = dirs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
    let installed = if installed.is_empty() { "none".to_string() } else { installed.join(", ") };
    let message = match &config.plugins.folder {
        Some(folder) => not_available(name, &searched, &installed, folder),
        None => format!(
            "unknown technique \"{name}\"{hint} No libtraintop_plugin_{name} found in {searched}. Installed: \
             {installed}.\nBuild the plugins with `cargo build --release` in the traintop folder (they land next \
             to the traintop binary), or add their folder to [plugins] dirs or {}",
            loader::PLUGIN_PATH_ENV
        ),
    };
    SetupError::Config(config.error_at(&technique_key(config, i, "name"), message))
}

/// A technique a run folder names whose plugin is not in a folder the user
/// trusts: what to do about it. The folder's own `[plugins] dirs` are never
/// searched unless named with `--trust-plugins` (loading a plugin runs it).
fn not_available(name: &str, searched: &str, installed: &str, folder: &config::FolderPlugins) -> String {
    let declared = match folder.untrusted.as_slice() {
        [] => String::new(),
        dirs => {
            let list = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>();
            let flags = list.iter().map(|d| format!("--trust-plugins {d}")).collect::<Vec<_>>().join(" ");
            format!(
                " The run folder's config names [plugins] dirs = [{}]; traintop does not load plugins a run \
                 folder points at. If you trust the code there, pass {flags}.",
                list.join(", ")
            )
        }
    };
    format!(
        "technique \"{name}\": its plugin (libtraintop_plugin_{name}) is not in the folders searched for a run \
         folder's plugins ({searched}: those of --trust-plugins, {env}, the traintop binary's). Installed: \
         {installed}.{declared} Or install the plugin into a folder of {env}, or go on without the technique: \
         traintop resume RUN_DIR --drop-technique {name}",
        env = loader::PLUGIN_PATH_ENV
    )
}

/// The closest installed name, if it is close enough to be a typo.
fn suggest<'a>(name: &str, installed: &'a [String]) -> Option<&'a str> {
    installed
        .iter()
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.as_str())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(here + 1);
            prev = here;
        }
    }
    row[b.len()]
}

/// A layer list must name layers the model has: a technique asked for a
/// layer that does not exist would silently do nothing there.
fn check_layers(config: &RunConfig, lib: &LoadedLibrary, key: &str, value: &toml::Value) -> Result<(), String> {
    let is_layers = lib.params.iter().any(|p| p.name == key && p.kind == traintop_plugin_abi::ParamKind::Layers);
    let Some(list) = value.as_array().filter(|_| is_layers) else { return Ok(()) };
    let hidden = config.model.hidden.len();
    for v in list {
        let Some(layer) = v.as_integer() else { continue };
        if layer < 0 || layer as u64 >= hidden as u64 {
            let has = match hidden {
                0 => "the model has no hidden layers".to_string(),
                1 => "the model has 1 hidden layer (index 0)".to_string(),
                n => format!("the model has {n} hidden layers (indices 0 to {})", n - 1),
            };
            return Err(format!("layer {layer} does not exist: {has}"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_names_only() {
        let installed = vec!["dropout".to_string(), "batch_norm".to_string(), "l2".to_string()];
        assert_eq!(suggest("dropot", &installed), Some("dropout"));
        assert_eq!(suggest("batchnorm", &installed), Some("batch_norm"));
        assert_eq!(suggest("transformer", &installed), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "ab"), 2);
    }
}
