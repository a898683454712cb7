//! Loading the real plugin libraries in tests, and building the broken fixture
//! plugins under tests/fixtures/plugins into their own target folder.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use traintop::plugin::loader;
use traintop::plugin::PluginHost;

/// Where cargo put the traintop binary and the workspace's plugins.
pub fn release_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_traintop")).parent().unwrap().to_path_buf()
}

/// A workspace plugin's library: next to the binary (`cargo build`) or in its
/// deps/ (where cargo leaves plugins built as traintop's build-dependencies).
pub fn plugin_path(name: &str) -> PathBuf {
    let file = format!("{}traintop_plugin_{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let dir = release_dir();
    [dir.join(&file), dir.join("deps").join(&file)]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{file} not built in {} (cargo build --release builds it)", dir.display()))
}

/// A host with one real plugin, switched on, with `settings` applied.
pub fn host_with(name: &str, settings: &[(&str, &str)], layers: usize) -> PluginHost {
    let lib = loader::load(&plugin_path(name)).expect("plugin loads");
    let mut host = PluginHost::new(vec![lib], &[name.to_string()], 5);
    host.set_layers(layers);
    for (k, v) in settings {
        host.set_param(name, k, v).expect("valid setting");
    }
    host.preset_enabled(name, true);
    host
}

/// Builds a cargo project (a fixture workspace or an out-of-tree plugin) into
/// target/fixture-plugins and returns the folder holding its libraries.
pub fn cargo_build(manifest: &Path) -> PathBuf {
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fixture-plugins");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building {} failed", manifest.display());
    target.join("release")
}

/// The broken fixture plugins, built once per test binary.
pub fn fixtures() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        cargo_build(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plugins/Cargo.toml"))
    })
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures().join(format!(
        "{}traintop_plugin_fixture_{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ))
}

/// Copies a library into `dir` under a plugin file name for `as_name`.
pub fn install(lib: &Path, dir: &Path, as_name: &str) -> PathBuf {
    let dest =
        dir.join(format!("{}traintop_plugin_{as_name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX));
    std::fs::copy(lib, &dest).unwrap();
    dest
}
