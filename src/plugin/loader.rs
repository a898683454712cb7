//! Finding and loading plugin libraries, and checking what they declare before
//! anything of theirs runs.
//!
//! Search order: the config's `[plugins] dirs`, then `TRAINTOP_PLUGIN_PATH`
//! (a `:`-separated list), then the executable's folder (where `cargo build`
//! puts the workspace's plugins) and its `deps/` (where `cargo run` leaves
//! them). A plugin file is named
//! `libtraintop_plugin_<name>.so` (`.dylib` on macOS, `traintop_plugin_<name>.dll`
//! on Windows). Libraries are never unloaded: they may hold thread-local
//! destructors, and a toggle is only the host's flag.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use traintop_plugin_abi as abi;

/// Environment variable with extra plugin folders.
pub const PLUGIN_PATH_ENV: &str = "TRAINTOP_PLUGIN_PATH";
const FILE_PREFIX: &str = "traintop_plugin_";

/// Why a plugin was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: cannot load library: {reason}")]
    Library { path: PathBuf, reason: String },
    #[error("{path}: no `traintop_plugin_entry` symbol: not a traintop plugin")]
    NoEntry { path: PathBuf },
    #[error("{path}: plugin ABI {found}.x, this traintop speaks ABI {expected}.x: rebuild the plugin against traintop-plugin-sdk")]
    AbiMajor { path: PathBuf, found: u32, expected: u32 },
    #[error("{path}: invalid descriptor: {reason}")]
    Descriptor { path: PathBuf, reason: String },
    #[error("plugin `{name}` found twice: {first} and {second}; remove one or narrow [plugins] dirs")]
    Duplicate { name: String, first: PathBuf, second: PathBuf },
}

/// A parameter as declared by a loaded plugin, checked and copied to the host.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamInfo {
    pub name: String,
    pub kind: abi::ParamKind,
    pub default_value: f64,
    pub min: f64,
    pub max: f64,
    pub choices: Vec<String>,
    pub help: String,
    pub structural: bool,
}

impl ParamInfo {
    /// The allowed values as the dashboard shows them.
    pub fn range_text(&self) -> String {
        match self.kind {
            abi::ParamKind::Float | abi::ParamKind::Int => format!("{} ..= {}", self.min, self.max),
            abi::ParamKind::Bool => "true | false".into(),
            abi::ParamKind::Choice => self.choices.join(" | "),
            abi::ParamKind::Layers => "[layer, ...] (empty: default)".into(),
        }
    }
}

/// A library that passed every check.
pub struct LoadedLibrary {
    pub path: PathBuf,
    pub descriptor: &'static abi::Descriptor,
    pub class: abi::ToggleClass,
    pub name: String,
    pub version: String,
    pub description: String,
    pub params: Vec<ParamInfo>,
}

/// The folders searched, in order.
pub fn search_dirs(config_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config_dirs.to_vec();
    if let Ok(extra) = std::env::var(PLUGIN_PATH_ENV) {
        dirs.extend(std::env::split_paths(&extra));
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|p| p.parent().map(Path::to_path_buf)) {
        dirs.push(exe_dir.clone());
        // `cargo run` compiles the plugins as build-dependencies into deps/.
        dirs.push(exe_dir.join("deps"));
        // Test binaries live in target/<profile>/deps; the plugins one level up.
        if exe_dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(up) = exe_dir.parent() {
                dirs.push(up.to_path_buf());
            }
        }
    }
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// The plugin name a file would provide, if it is named like a plugin.
pub fn plugin_file_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.strip_suffix(std::env::consts::DLL_SUFFIX)?;
    let stem = stem.strip_prefix(std::env::consts::DLL_PREFIX).unwrap_or(stem);
    stem.strip_prefix(FILE_PREFIX).map(str::to_string)
}

/// Plugin files in `dirs`, first occurrence of each file name only.
pub fn discover(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut names = HashSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if let Some(name) = plugin_file_name(&f) {
                if names.insert(name) {
                    found.push(f);
                }
            }
        }
    }
    found
}

/// Loads a library and checks its descriptor.
pub fn load(path: &Path) -> Result<LoadedLibrary, LoadError> {
    let library_error = |reason: String| LoadError::Library { path: path.to_path_buf(), reason };
    // SAFETY: loading runs the library's initializers; traintop loads only files
    // named as plugins from folders the user configured or its own folder.
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| library_error(e.to_string()))?;
    // Never unloaded (see the module header): leak the handle.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the symbol's type is fixed by the ABI crate both sides build with.
    let entry: libloading::Symbol<abi::EntryFn> =
        unsafe { library.get(abi::ENTRY_SYMBOL) }.map_err(|_| LoadError::NoEntry { path: path.to_path_buf() })?;
    // SAFETY: calling the entry is the ABI's contract; it returns a static.
    let descriptor = unsafe { entry() };
    let bad = |reason: &str| LoadError::Descriptor { path: path.to_path_buf(), reason: reason.to_string() };
    if descriptor.is_null() {
        return Err(bad("the entry returned no descriptor"));
    }
    // Read the version fields first: they are at the same place in every ABI.
    // SAFETY: non-null pointer to the plugin's static descriptor.
    let (major, size) = unsafe { ((*descriptor).abi_major, (*descriptor).size) };
    if major != abi::ABI_MAJOR {
        return Err(LoadError::AbiMajor { path: path.to_path_buf(), found: major, expected: abi::ABI_MAJOR });
    }
    if size < std::mem::size_of::<abi::Descriptor>() {
        return Err(bad(&format!(
            "descriptor size {size} is smaller than ABI {}.{}'s",
            abi::ABI_MAJOR,
            abi::ABI_MINOR
        )));
    }
    // SAFETY: same major and a size covering every field we read.
    let d: &'static abi::Descriptor = unsafe { &*descriptor };
    // SAFETY: descriptor strings live as long as the library, which is never unloaded.
    let text = |s: abi::Str, what: &str| {
        unsafe { s.as_str() }.map(str::to_string).ok_or_else(|| bad(&format!("{what} is not UTF-8")))
    };
    let name = text(d.name, "name")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(bad(&format!("name {name:?} must be non-empty lowercase letters, digits and _")));
    }
    let version = text(d.version, "version")?;
    let class = abi::ToggleClass::try_from(d.class).map_err(|v| bad(&format!("unknown toggle class {v}")))?;
    let description = text(d.description, "description")?;
    let specs: &[abi::ParamSpec] = if d.n_params == 0 {
        &[]
    } else if d.params.is_null() {
        return Err(bad("parameter table is null"));
    } else {
        // SAFETY: the descriptor promises `n_params` specs at `params`.
        unsafe { std::slice::from_raw_parts(d.params, d.n_params) }
    };
    let mut params = vec![];
    for spec in specs {
        let name = text(spec.name, "parameter name")?;
        let kind =
            abi::ParamKind::try_from(spec.kind).map_err(|v| bad(&format!("parameter `{name}`: unknown kind {v}")))?;
        let p = ParamInfo {
            name,
            kind,
            default_value: spec.default_value,
            min: spec.min,
            max: spec.max,
            choices: text(spec.choices, "parameter choices")?
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect(),
            help: text(spec.help, "parameter help")?,
            structural: spec.structural != 0,
        };
        check_param(&p, &params).map_err(|r| bad(&format!("parameter `{}`: {r}", p.name)))?;
        params.push(p);
    }
    Ok(LoadedLibrary { path: path.to_path_buf(), descriptor: d, class, name, version, description, params })
}

/// An invalid schema is refused at load time, before the config is checked
/// against it.
fn check_param(p: &ParamInfo, earlier: &[ParamInfo]) -> Result<(), String> {
    if p.name.is_empty() || p.name == "name" || p.name == "enabled" {
        return Err("name must be non-empty and not `name` or `enabled`".into());
    }
    if earlier.iter().any(|e| e.name == p.name) {
        return Err("declared twice".into());
    }
    if p.help.is_empty() {
        return Err("has no help text".into());
    }
    match p.kind {
        abi::ParamKind::Float | abi::ParamKind::Int => {
            if p.min.is_nan() || p.max.is_nan() || p.min > p.max {
                return Err(format!("range {} ..= {} is empty", p.min, p.max));
            }
            if !(p.min..=p.max).contains(&p.default_value) {
                return Err(format!("default {} is outside {} ..= {}", p.default_value, p.min, p.max));
            }
        }
        abi::ParamKind::Choice => {
            if p.choices.is_empty() || p.default_value as usize >= p.choices.len() {
                return Err("a choice needs choices and a default among them".into());
            }
        }
        abi::ParamKind::Bool | abi::ParamKind::Layers => {}
    }
    Ok(())
}

/// Loads every plugin found, refusing two with the same name.
pub fn load_all(files: &[PathBuf]) -> (Vec<LoadedLibrary>, Vec<LoadError>) {
    let (mut ok, mut errors): (Vec<LoadedLibrary>, Vec<LoadError>) = (vec![], vec![]);
    for f in files {
        match load(f) {
            Ok(lib) => {
                if let Some(first) = ok.iter().find(|l| l.name == lib.name) {
                    errors.push(LoadError::Duplicate {
                        name: lib.name.clone(),
                        first: first.path.clone(),
                        second: lib.path.clone(),
                    });
                } else {
                    ok.push(lib);
                }
            }
            Err(e) => errors.push(e),
        }
    }
    (ok, errors)
}
