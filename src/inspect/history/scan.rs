//! Which run folders a set of folders holds. A source is a run folder
//! itself (it has `config.toml`), a sweep folder (`sweep.json`: its task
//! folders hold one run each), or an out dir whose children are run
//! folders and sweep folders. Only names are read here, never a run's
//! files, so scanning hundreds of runs costs a few `readdir`s.

use std::path::{Path, PathBuf};

/// A run folder's config, which every run folder has from its first moment.
const CONFIG_FILE: &str = "config.toml";
/// A sweep folder's manifest.
const SWEEP_FILE: &str = "sweep.json";

/// The run folders in `sources`, each once (by canonical path), in the
/// order found.
pub fn run_folders(sources: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for source in sources {
        collect(source, 0, &mut out);
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|d| seen.insert(d.canonicalize().unwrap_or_else(|_| d.clone())));
    out
}

/// `dir` as a run folder, a sweep, or an out dir; `depth` bounds the walk
/// (an out dir holds sweeps, which hold tasks, which hold runs).
fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if dir.join(CONFIG_FILE).is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    let sweep = dir.join(SWEEP_FILE).is_file();
    if depth > 2 || (depth == 2 && !sweep) {
        return;
    }
    for child in children(dir) {
        match sweep {
            // A sweep's task folder: the runs inside it.
            true => children(&child).into_iter().filter(|r| r.join(CONFIG_FILE).is_file()).for_each(|r| out.push(r)),
            false => collect(&child, depth + 1, out),
        }
    }
}

/// The folders in `dir` (not hidden ones: `.embedded` holds the demo's data),
/// sorted by name, which for run folders is by start time.
fn children(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn run(dir: &Path) -> PathBuf {
        fs::create_dir_all(dir).unwrap();
        fs::write(dir.join(CONFIG_FILE), "").unwrap();
        dir.to_path_buf()
    }

    #[test]
    fn out_dirs_sweeps_and_run_folders_each_once() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("runs");
        let a = run(&out.join("iris-1"));
        let b = run(&out.join("iris-2"));
        let sweep = out.join("iris-sweep-1");
        fs::create_dir_all(&sweep).unwrap();
        fs::write(sweep.join(SWEEP_FILE), "{}").unwrap();
        let c = run(&sweep.join("seed1").join("iris-3"));
        fs::create_dir_all(out.join("not-a-run").join("deeper")).unwrap();
        fs::create_dir_all(out.join(".embedded")).unwrap();
        let found = run_folders(&[out.clone(), a.clone(), sweep.clone()]);
        assert_eq!(found, vec![a.clone(), b.clone(), c.clone()]);
        assert_eq!(run_folders(&[tmp.path().join("missing")]), Vec::<PathBuf>::new());
    }
}
