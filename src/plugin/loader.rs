//! Finding and loading plugin libraries, and checking what they declare before
//! anything of theirs runs.
//!
//! Search order: the config's `[plugins] dirs` (for a config read from a run
//! folder, only the `--trust-plugins` folders: see
//! `RunConfig::from_run_folder`), then `TRAINTOP_PLUGIN_PATH`
//! (a `:`-separated list), then the executable's folder (where `cargo build`
//! puts the workspace's plugins) and its `deps/` (where `cargo run` leaves
//! them). A plugin file is named
//! `libtraintop_plugin_<name>.so` (`.dylib` on macOS, `traintop_plugin_<name>.dll`
//! on Windows). Libraries are never unloaded: they may hold thread-local
//! destructors, and a toggle is only the host's flag.
//!
//! Nothing is loaded just because it was found: a run loads the techniques
//! its config names (from any searched folder) and, to offer them in the
//! dashboard, the plugins in the binary's own folders; `plugins list` loads
//! what it lists but runs no technique (no state is created). A file reaches
//! the dynamic loader only if it is a regular file, checked on a descriptor
//! opened without blocking, and its descriptor is checked by
//! [`super::descriptor`] before use.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use traintop_plugin_abi as abi;

use super::descriptor::{self, Memory, Refusal};

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
    #[error(
        "{path}: plugin built against ABI {found}.{found_minor}, this traintop speaks ABI {expected}.{expected_minor} \
         and loads only ABI {expected}.x plugins: rebuild the plugin against this traintop's traintop-plugin-sdk"
    )]
    AbiMajor { path: PathBuf, found: u32, found_minor: u32, expected: u32, expected_minor: u32 },
    #[error("{path}: invalid descriptor: {reason}")]
    Descriptor { path: PathBuf, reason: String },
    #[error("plugin `{name}` found twice: {first} and {second}; remove one or narrow [plugins] dirs")]
    Duplicate { name: String, first: PathBuf, second: PathBuf },
}

pub use super::descriptor::ParamInfo;

/// A library that passed every check.
pub struct LoadedLibrary {
    pub path: PathBuf,
    /// Its descriptor in this host's layout (see `descriptor::check`).
    pub descriptor: abi::Descriptor,
    /// The ABI minor version it was built against.
    pub abi_minor: u32,
    pub class: crate::protocol::ToggleClass,
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
    dirs.extend(own_dirs());
    let mut seen = HashSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// The binary's own folders: where `cargo build` puts the workspace's plugins.
/// Plugins found here are as trusted as the binary itself.
pub fn own_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![];
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
    dirs
}

/// The plugin name a file would provide, if it is named like a plugin.
pub fn plugin_file_name(path: &Path) -> Option<String> {
    let file = path.file_name()?.to_str()?;
    let stem = file.strip_suffix(std::env::consts::DLL_SUFFIX)?;
    let stem = stem.strip_prefix(std::env::consts::DLL_PREFIX).unwrap_or(stem);
    stem.strip_prefix(FILE_PREFIX).map(str::to_string)
}

/// Plugin files in `dirs`, first occurrence of each file name only. Only
/// regular files (or links to them) count: a FIFO or device named like a
/// plugin is skipped (`stat` never blocks; opening a FIFO would).
pub fn discover(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut found = vec![];
    let mut names = HashSet::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            if let Some(name) = plugin_file_name(&f) {
                if std::fs::metadata(&f).is_ok_and(|m| m.is_file()) && names.insert(name) {
                    found.push(f);
                }
            }
        }
    }
    found
}

/// Where the plugin providing technique `name` would be found: its file in
/// the first folder of `dirs` that has one.
pub fn find(files: &[PathBuf], name: &str) -> Option<PathBuf> {
    files.iter().find(|f| plugin_file_name(f).as_deref() == Some(name)).cloned()
}

/// Opens `path` without blocking and checks it is a regular file, so that
/// nothing but a plain file ever reaches the dynamic loader.
fn check_regular_file(path: &Path) -> Result<(), String> {
    use std::fs::OpenOptions;
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let file = options.open(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    Ok(())
}

/// Loads a library and checks its descriptor.
pub fn load(path: &Path) -> Result<LoadedLibrary, LoadError> {
    let library_error = |reason: String| LoadError::Library { path: path.to_path_buf(), reason };
    check_regular_file(path).map_err(library_error)?;
    // SAFETY: loading runs the library's initializers; traintop loads only files
    // named as plugins from folders the user configured or its own folder (the
    // trust model in the README).
    let library = unsafe { libloading::Library::new(path) }.map_err(|e| library_error(e.to_string()))?;
    // Never unloaded (see the module header): leak the handle.
    let library: &'static libloading::Library = Box::leak(Box::new(library));
    // SAFETY: the symbol's type is fixed by the ABI crate both sides build with.
    let entry: libloading::Symbol<abi::EntryFn> =
        unsafe { library.get(abi::ENTRY_SYMBOL) }.map_err(|_| LoadError::NoEntry { path: path.to_path_buf() })?;
    let entry: abi::EntryFn = *entry;
    // SAFETY: calling the entry is the ABI's contract; it returns a pointer
    // that `descriptor::check` verifies before anything else reads it.
    let descriptor = unsafe { entry() };
    let memory = Memory::current(descriptor::object_base(entry as usize));
    // SAFETY: on Linux every read is checked against the process's memory map;
    // elsewhere the plugin's pointers are trusted as its code is.
    let checked = unsafe { descriptor::check(descriptor, &memory) }.map_err(|r| match r {
        Refusal::Major(found, found_minor) => LoadError::AbiMajor {
            path: path.to_path_buf(),
            found,
            found_minor,
            expected: abi::ABI_MAJOR,
            expected_minor: abi::ABI_MINOR,
        },
        Refusal::Invalid(reason) => LoadError::Descriptor { path: path.to_path_buf(), reason },
    })?;
    Ok(LoadedLibrary {
        path: path.to_path_buf(),
        descriptor: checked.descriptor,
        abi_minor: checked.abi_minor,
        class: checked.class,
        name: checked.name,
        version: checked.version,
        description: checked.description,
        params: checked.params,
    })
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
