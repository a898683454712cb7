//! Running the real `traintop` binary in tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary cargo built, or `TRAINTOP_BIN` where the tests were carried
/// to another machine (scripts/gpu-bundle.sh).
pub fn bin() -> Command {
    let path = std::env::var_os("TRAINTOP_BIN").map(PathBuf::from);
    let mut c = Command::new(path.unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_traintop"))));
    c.env_remove("TRAINTOP_PLUGIN_PATH").env("NO_COLOR", "1");
    c
}

/// The repository (configs/, data/): `TRAINTOP_ROOT` where the tests were
/// carried to another machine, else where they were built.
pub fn repo() -> PathBuf {
    std::env::var_os("TRAINTOP_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

pub fn config(name: &str) -> PathBuf {
    repo().join("configs").join(name)
}

/// Runs `traintop` with `args`, failing the test on a crash signal.
pub fn run(args: &[&str]) -> Output {
    let out = bin().args(args).output().expect("traintop runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Rust's own panic message; plugin panics are reported differently, as log lines.
    assert!(!stderr.contains("thread '"), "traintop panicked: {stderr}");
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The only run folder under `out`.
pub fn run_dir(out: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    assert_eq!(dirs.len(), 1, "expected one run folder in {}: {dirs:?}", out.display());
    dirs[0].clone()
}

pub fn summary(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).unwrap()
}

/// Trains a config headlessly into a fresh temp folder; returns (folder guard, run folder, output).
pub fn train(config_name: &str, extra: &[&str]) -> (tempfile::TempDir, PathBuf, Output) {
    let out = tempfile::tempdir().unwrap();
    let cfg = config(config_name);
    let mut args = vec!["run", cfg.to_str().unwrap(), "--headless", "--quiet", "--out", out.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{config_name} failed: {}\n{}", stderr(&o), stdout(&o));
    let dir = run_dir(out.path());
    (out, dir, o)
}

/// `--set` arguments for each of `keys` (`KEY=VALUE`).
pub fn sets<'a>(keys: &[&'a str]) -> Vec<&'a str> {
    keys.iter().flat_map(|k| ["--set", *k]).collect()
}
